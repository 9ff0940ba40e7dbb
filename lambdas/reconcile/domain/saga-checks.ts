/**
 * Saga post-conditions: every step of a saga declares what must hold once its action applied
 * and once its compensation ran (`statemachines/place-order.ts`). For sagas that ended, the
 * reconciler reads each declared item and checks it. A COMPENSATED saga whose post-conditions
 * fail (a reservation or charge still active, an order not cancelled) is a
 * COMPENSATION_INCOMPLETE discrepancy, escalated with the saga id: it cannot be repaired
 * blindly, because undoing money or stock needs the saga's own compensation logic.
 */
import { bindPostCondition, checkPostCondition, type PostCondition, type SagaDefinition } from '../../../statemachines/saga.js';
import type { AuditLog } from '../../shared/ports.js';
import { forEachLimited } from './lifecycle.js';

/** A saga that reached a terminal status, from the ledger. */
export interface EndedSaga {
  readonly sagaId: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly status: 'SUCCEEDED' | 'COMPENSATED';
}

/** Reads the ledger and the tables post-conditions name. */
export interface SagaReader {
  /** Sagas that ended with `status` and were updated since `sinceIso`. */
  ended(status: EndedSaga['status'], sinceIso: string): Promise<EndedSaga[]>;
  /** The item of logical table `table` at `key` (strongly consistent), plain JSON. */
  read(table: string, key: Readonly<Record<string, string>>): Promise<Record<string, unknown> | undefined>;
}

/** One saga whose post-conditions failed. */
export interface SagaFinding {
  readonly sagaId: string;
  readonly orderId: string;
  readonly status: EndedSaga['status'];
  readonly failures: string[];
}

/** The post-conditions that must hold for a saga with this terminal status. */
export function expectedPostConditions(definition: SagaDefinition, saga: EndedSaga): PostCondition[] {
  const ctx = { sagaId: saga.sagaId, orderId: saga.orderId, customerId: saga.customerId };
  const declared = definition.steps.flatMap((s) => (saga.status === 'SUCCEEDED' ? s.postConditions.afterAction : s.compensation ? s.postConditions.afterCompensation : []));
  return declared.map((pc) => bindPostCondition(pc, ctx));
}

/** Checks one saga; empty failures when every post-condition holds. */
export async function checkSaga(definition: SagaDefinition, reader: SagaReader, saga: EndedSaga): Promise<SagaFinding> {
  const failures: string[] = [];
  for (const pc of expectedPostConditions(definition, saga)) failures.push(...checkPostCondition(pc, await reader.read(pc.table, pc.key)));
  return { sagaId: saga.sagaId, orderId: saga.orderId, status: saga.status, failures };
}

/**
 * Checks every saga that ended within the window. Compensated sagas that fail are escalated as
 * COMPENSATION_INCOMPLETE (DETECTED then ESCALATED, keyed by run and saga); succeeded sagas that
 * fail are escalated too, as SAGA_POSTCONDITION_FAILED rows.
 * @returns the flagged compensated sagas' ids and every finding.
 */
export async function checkEndedSagas(
  deps: { definition: SagaDefinition; reader: SagaReader; audit: AuditLog; actor: string },
  run: { runId: string; sinceIso: string },
): Promise<{ flagged: string[]; checked: number; findings: SagaFinding[] }> {
  const sagas = [...(await deps.reader.ended('COMPENSATED', run.sinceIso)), ...(await deps.reader.ended('SUCCEEDED', run.sinceIso))];
  const findings: SagaFinding[] = [];
  await forEachLimited(sagas, 8, async (saga) => {
    const f = await checkSaga(deps.definition, deps.reader, saga);
    if (f.failures.length > 0) findings.push(f);
  });
  for (const f of findings) {
    const entityId = `saga#${f.sagaId}`;
    const base = { entityId, actor: deps.actor, correlationId: run.runId, runId: run.runId, details: { sagaId: f.sagaId, orderId: f.orderId, sagaStatus: f.status, failures: f.failures } };
    if (f.status === 'COMPENSATED') {
      await deps.audit.append({ ...base, action: 'DISCREPANCY', discrepancyType: 'COMPENSATION_INCOMPLETE', lifecycle: 'DETECTED', reason: f.failures[0], idempotencyKey: `${run.runId}:${entityId}:DETECTED` });
      await deps.audit.append({ ...base, action: 'DISCREPANCY', discrepancyType: 'COMPENSATION_INCOMPLETE', lifecycle: 'ESCALATED', reason: 'a compensated saga left an effect behind: needs a human (converge saga / resolve)', idempotencyKey: `${run.runId}:${entityId}:ESCALATED` });
    } else {
      await deps.audit.append({ ...base, action: 'SAGA_POSTCONDITION_FAILED', reason: f.failures[0], idempotencyKey: `${run.runId}:${entityId}:SAGA_POSTCONDITION_FAILED` });
    }
  }
  const flagged = findings.filter((f) => f.status === 'COMPENSATED').map((f) => f.sagaId).sort();
  return { flagged, checked: sagas.length, findings };
}
