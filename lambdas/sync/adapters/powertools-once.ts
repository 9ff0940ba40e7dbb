/**
 * The Powertools idempotency adapter of {@link Once}. Each unit is a `makeIdempotent` call on
 * a small function whose first argument carries the key (selected by the JMESPath
 * `idempotencyKey`), so the idempotency record costs exactly one PutItem to acquire and one
 * UpdateItem to complete. `makeIdempotent` is used rather than `makeHandlerIdempotent`, whose
 * Middy path could delete records it never acquired.
 *
 * Whether a result came from the store is told by a nonce: a fresh call returns the nonce it
 * was given, a stored result returns the nonce of the call that completed it.
 */
import { randomUUID } from 'node:crypto';
import { makeIdempotent, type IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Once } from '../domain/ports.js';

interface UnitInput {
  readonly idempotencyKey: string;
  readonly nonce: string;
}

/** JMESPath selecting the key from a unit's input; give it to the {@link IdempotencyConfig}. */
export const UNIT_KEY_PATH = 'idempotencyKey';

/** Runs units once through a Powertools persistence layer. */
export class PowertoolsOnce implements Once {
  private readonly unit: (input: UnitInput, work: () => Promise<object>) => Promise<{ nonce: string; value: object }>;

  /** @param config must select {@link UNIT_KEY_PATH}; call its `registerLambdaContext` on every invocation. */
  constructor(persistenceStore: BasePersistenceLayer, config: IdempotencyConfig) {
    this.unit = makeIdempotent(async (input: UnitInput, work: () => Promise<object>) => ({ nonce: input.nonce, value: await work() }), { persistenceStore, config });
  }

  async run<T extends object>(key: string, work: () => Promise<T>): Promise<{ value: T; duplicate: boolean }> {
    const nonce = randomUUID();
    const out = await this.unit({ idempotencyKey: key, nonce }, work);
    return { value: out.value as T, duplicate: out.nonce !== nonce };
  }
}
