/**
 * The saga handlers' wiring, once per container: configuration, the SDK-backed ports and the
 * Powertools idempotency wrapper keyed on the payload's `idempotencyKey` (`${sagaId}:${step}`).
 */
import type { Context } from 'aws-lambda';
import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { loadConfig, required } from '../../shared/config.js';
import { documents, eventbridge } from '../../shared/adapters/clients.js';
import { DynamoAuditLog } from '../../shared/adapters/audit-log.js';
import { EventBridgePublisher } from '../../shared/adapters/event-publisher.js';
import { idempotencyConfig, idempotencyPersistence } from '../../shared/adapters/idempotency.js';
import { systemClock } from '../../shared/ports.js';
import { z } from 'zod';
import { ConfigError } from '../../shared/errors.js';
import type { SagaDeps } from '../domain/model.js';
import { DynamoSagaStore } from './dynamo-saga-store.js';
import { tableEnvVar } from '../../../statemachines/saga.js';

const config = loadConfig({
  SAGA_LEDGER_TABLE: required(),
  AUDIT_TABLE: required(),
  IDEMPOTENCY_TABLE: required(),
  EVENT_BUS_NAME: z.string().optional(),
});

function tableName(logical: string): string {
  const variable = tableEnvVar(logical);
  const name = process.env[variable];
  if (!name) throw new ConfigError(variable, `this function was not granted the ${logical} table`);
  return name;
}

/** The ports, backed by DynamoDB and EventBridge. */
export const deps: SagaDeps = {
  store: new DynamoSagaStore({ client: documents, ledgerTable: config.SAGA_LEDGER_TABLE, tableName }),
  audit: new DynamoAuditLog({ tableName: config.AUDIT_TABLE, client: documents }),
  events: {
    publish: (events) => {
      if (!config.EVENT_BUS_NAME) throw new ConfigError('EVENT_BUS_NAME', 'this function may not publish events');
      return new EventBridgePublisher(eventbridge, config.EVENT_BUS_NAME).publish(events);
    },
  },
  clock: systemClock,
  actor: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'saga',
};

const persistenceStore = idempotencyPersistence(config.IDEMPOTENCY_TABLE);
const idempotency = idempotencyConfig('idempotencyKey');

/**
 * Wraps a step function so that the same `${sagaId}:${step}` key returns the first result
 * instead of running again (a Retry after a lost response, a redrive).
 */
export function idempotentStep<I extends { idempotencyKey: string }, O>(fn: (input: I) => Promise<O>): (input: I, context: Context) => Promise<O> {
  const run = makeIdempotent(fn, { persistenceStore, config: idempotency });
  return (input, context) => {
    idempotency.registerLambdaContext(context);
    return run(input);
  };
}
