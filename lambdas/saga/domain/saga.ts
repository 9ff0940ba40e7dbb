/**
 * The saga's use cases, one per handler, over the {@link SagaDeps} ports. Pure: no SDK.
 * Audit rows carry idempotency keys, so a retried handler never writes a row twice.
 */
import { createHash } from 'node:crypto';
import { ContractViolation } from '../../shared/errors.js';
import { OrderPlaced, SagaCompensated, SagaNeedsAttention } from '../../shared/contracts/events.js';
import { InvalidDecision, SagaStateConflict, ServiceUnavailable } from '../errors.js';
import { DecisionSchema, type ActionInput, type BeginCompensationInput, type CaughtError, type CompensationInput, type DecideInput, type EscalateInput, type FinishInput, type StartInput } from './inputs.js';
import type { ApplyOutcome, CompensationOutcome, SagaDeps, SagaFailure, SagaOrder } from './model.js';
import { placeOrderPlanners, quantitiesBySku, sagaIdOf } from './place-order.js';

/** A transaction may hold 100 items: the distinct skus plus the effect row and the header. */
export const MAX_DISTINCT_SKUS = 98;

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

/** The human-readable message of a caught error (its Cause is Lambda's JSON error, or plain text). */
export function causeMessage(caught: CaughtError): string {
  try {
    const parsed = JSON.parse(caught.Cause) as { errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') return parsed.errorMessage.slice(0, 1000);
  } catch {
    // Not JSON: a Step Functions runtime cause.
  }
  return caught.Cause.slice(0, 1000);
}

/** Result of StartSaga (flattened into `$.Saga`). */
export interface StartResult {
  readonly sagaId: string;
  readonly duplicate: boolean;
  readonly order: SagaOrder;
}

/**
 * Validates the OrderPlaced detail and claims the ledger entry. A second saga for the same order
 * (any outcome of the first) is a duplicate: it ends without effect. A retry or a redrive of the
 * claiming execution itself is not a duplicate (same execution ARN).
 * @throws ContractViolation / UnknownSchemaVersion / PayloadTooLarge on bad input, after an audit row.
 */
export async function startSaga(input: StartInput, deps: SagaDeps): Promise<StartResult> {
  const now = deps.clock.now().toISOString();
  let order: SagaOrder;
  try {
    order = OrderPlaced.parse(input.event.detail);
    if (Object.keys(quantitiesBySku(order.items)).length > MAX_DISTINCT_SKUS) {
      throw new ContractViolation(OrderPlaced.name, 'items', `at most ${MAX_DISTINCT_SKUS} distinct skus per order`);
    }
  } catch (err) {
    const detail = input.event.detail as { orderId?: unknown } | undefined;
    const orderId = typeof detail?.orderId === 'string' ? detail.orderId : undefined;
    await deps.audit.append({
      entityId: orderId ? sagaIdOf(orderId) : `execution#${input.executionArn}`,
      action: 'SAGA_INPUT_REJECTED',
      actor: deps.actor,
      reason: `${(err as Error).name}: ${(err as Error).message}`.slice(0, 1000),
      correlationId: input.event.eventId ?? input.executionArn,
      details: { executionArn: input.executionArn, saga: input.saga },
      idempotencyKey: `${input.executionArn}:rejected`,
    });
    throw err;
  }
  const sagaId = sagaIdOf(order.orderId);
  const claim = await deps.store.claim({
    sagaId,
    sagaName: input.saga,
    orderId: order.orderId,
    customerId: order.customerId,
    status: 'RUNNING',
    executionArn: input.executionArn,
    startedAt: input.executionStartTime ?? now,
    updatedAt: now,
    trail: [],
  });
  if (!claim.claimed && claim.existing.executionArn !== input.executionArn) {
    await deps.audit.append({
      entityId: sagaId,
      action: 'SAGA_DUPLICATE_IGNORED',
      actor: deps.actor,
      reason: `a saga for this order already exists (status ${claim.existing.status})`,
      correlationId: sagaId,
      details: { executionArn: input.executionArn, firstExecutionArn: claim.existing.executionArn, eventId: input.event.eventId },
      idempotencyKey: `${sagaId}:duplicate:${input.executionArn}`,
    });
    return { sagaId, duplicate: true, order };
  }
  await deps.audit.append({
    entityId: sagaId,
    action: 'SAGA_STARTED',
    actor: deps.actor,
    correlationId: sagaId,
    details: { executionArn: input.executionArn, eventId: input.event.eventId },
    idempotencyKey: `${sagaId}:started`,
  });
  return { sagaId, duplicate: false, order };
}

/** Applies one action, atomically with its ledger effect row. Business errors come from the ops' conflicts. */
export async function runAction(input: ActionInput, deps: SagaDeps): Promise<{ step: string; outcome: ApplyOutcome }> {
  const started = deps.clock.now();
  const planner = placeOrderPlanners[input.step];
  if (!planner) throw new ContractViolation('saga/action', 'step', `unknown step ${input.step}`);
  const now = started.toISOString();
  const plan = planner.action({ sagaId: input.sagaId, order: input.order, now });
  const outcome = await deps.store.apply({
    sagaId: input.sagaId,
    step: input.step,
    ops: plan.ops,
    details: plan.details,
    final: input.final,
    now,
    trail: { name: input.step, kind: 'action', outcome: 'APPLIED', at: now, durationMs: deps.clock.now().getTime() - started.getTime() },
  });
  if (input.final) {
    await deps.audit.append({ entityId: input.sagaId, action: 'SAGA_SUCCEEDED', actor: deps.actor, correlationId: input.sagaId, details: { executionArn: input.executionArn }, idempotencyKey: `${input.sagaId}:succeeded` });
  }
  return { step: input.step, outcome };
}

/** Records why the saga compensates (COMPENSATING) and the intent of every compensation it will run. */
export async function beginCompensation(input: BeginCompensationInput, deps: SagaDeps): Promise<SagaFailure> {
  const now = deps.clock.now().toISOString();
  const failure: SagaFailure = { step: input.failedStep, failureClass: input.failureClass, error: input.error.Error, cause: causeMessage(input.error), plan: input.plan };
  await deps.store.update(input.sagaId, { status: 'COMPENSATING', expect: ['RUNNING', 'COMPENSATING'], set: { failure }, now });
  for (const compensation of input.plan) await writeIntent(input.sagaId, compensation, failure, deps);
  return failure;
}

const intentKey = (sagaId: string, compensation: string) => `${sagaId}:${compensation}:intent`;

async function writeIntent(sagaId: string, compensation: string, failure: SagaFailure, deps: SagaDeps): Promise<void> {
  await deps.audit.append({
    entityId: sagaId,
    action: 'COMPENSATION_INTENT',
    actor: deps.actor,
    reason: `${failure.step} failed: ${failure.error}: ${failure.cause}`.slice(0, 1000),
    correlationId: sagaId,
    details: { compensation, failedStep: failure.step, failureClass: failure.failureClass },
    idempotencyKey: intentKey(sagaId, compensation),
  });
}

/**
 * Runs one compensation: undoes exactly the recorded effect, voids an effect that never applied
 * (so a late action cannot apply after), and is a no-op when already undone. Intent before,
 * outcome after, both in the audit trail with before/after.
 */
export async function runCompensation(input: CompensationInput, deps: SagaDeps): Promise<{ compensation: string; outcome: CompensationOutcome }> {
  const started = deps.clock.now();
  const planner = placeOrderPlanners[input.forStep];
  if (!planner?.compensation || planner.compensation.name !== input.step) throw new ContractViolation('saga/compensation', 'step', `${input.step} is not the compensation of ${input.forStep}`);
  await writeIntent(input.sagaId, input.step, input.failure, deps);
  const effect = await deps.store.effect(input.sagaId, input.forStep);
  const now = started.toISOString();
  let outcome: CompensationOutcome;
  const trail = (o: string) => ({ name: input.step, kind: 'compensation' as const, outcome: o, at: now, durationMs: deps.clock.now().getTime() - started.getTime() });
  if (!effect) {
    outcome = 'VOIDED';
    if (!(await deps.store.settle({ sagaId: input.sagaId, step: input.forStep, from: 'ABSENT', to: 'VOIDED', ops: [], trail: trail(outcome), now }))) throw new ServiceUnavailable(`effect of ${input.forStep} changed concurrently`);
  } else if (effect.state === 'APPLIED') {
    outcome = 'COMPENSATED';
    const reason = `${input.failure.step} failed: ${input.failure.error}`;
    const ops = planner.compensation.ops(effect, { sagaId: input.sagaId, order: input.order, now, reason });
    if (!(await deps.store.settle({ sagaId: input.sagaId, step: input.forStep, from: 'APPLIED', to: 'COMPENSATED', ops, trail: trail(outcome), now }))) throw new ServiceUnavailable(`effect of ${input.forStep} changed concurrently`);
  } else {
    outcome = 'ALREADY_UNDONE';
  }
  await deps.audit.append({
    entityId: input.sagaId,
    action: 'COMPENSATION_OUTCOME',
    actor: deps.actor,
    reason: `${input.failure.step} failed: ${input.failure.error}`,
    correlationId: input.sagaId,
    before: effect ? { state: effect.state, details: effect.details } : { state: 'ABSENT' },
    after: { state: outcome === 'ALREADY_UNDONE' ? effect!.state : outcome, details: effect?.details },
    details: { compensation: input.step, forStep: input.forStep, outcome, executionArn: input.executionArn },
    idempotencyKey: `${input.sagaId}:${input.step}:outcome`,
  });
  return { compensation: input.step, outcome };
}

/**
 * A compensation failed after its retries: COMPENSATION_FAILED (audited), a SagaNeedsAttention
 * event, then NEEDS_HUMAN with the task token `converge resolve` answers.
 */
export async function escalate(input: EscalateInput, deps: SagaDeps): Promise<void> {
  const now = deps.clock.now().toISOString();
  const header = await deps.store.header(input.sagaId);
  if (!header) throw new SagaStateConflict(`no ledger entry for ${input.sagaId}`);
  const cause = causeMessage(input.error);
  await deps.store.update(input.sagaId, { status: 'COMPENSATION_FAILED', expect: ['COMPENSATING', 'NEEDS_HUMAN', 'COMPENSATION_FAILED'], now });
  await deps.audit.append({
    entityId: input.sagaId,
    action: 'COMPENSATION_FAILED',
    actor: deps.actor,
    reason: `${input.failure.step} failed: ${input.failure.error}`,
    correlationId: input.sagaId,
    details: { compensation: input.compensation, forStep: input.forStep, error: input.error.Error, cause, executionArn: input.executionArn },
    idempotencyKey: `${input.sagaId}:${input.compensation}:escalated:${short(input.taskToken)}`,
  });
  await deps.events.publish([
    {
      source: SagaNeedsAttention.source,
      detailType: SagaNeedsAttention.detailType,
      detail: SagaNeedsAttention.build({ schemaVersion: 1, sagaId: input.sagaId, orderId: header.orderId, step: input.compensation, error: input.error.Error, cause, executionArn: input.executionArn, correlationId: input.sagaId }),
    },
  ]);
  await deps.store.update(input.sagaId, {
    status: 'NEEDS_HUMAN',
    expect: ['COMPENSATION_FAILED'],
    set: { escalation: { compensation: input.compensation, forStep: input.forStep, error: input.error.Error, cause, taskToken: input.taskToken, at: now } },
    now,
  });
}

/** Audit actions per decision. */
export const DECISION_ACTIONS = { retry: 'OPERATOR_RETRY', skip: 'MANUAL_OVERRIDE', resolve: 'RESOLVED_BY_HAND' } as const;

/**
 * Records an operator's decision. `resolve` marks the effect RESOLVED (the operator undid it by
 * hand, so it no longer counts as active); `skip` leaves it as it is, recorded as a manual override.
 * @throws InvalidDecision when the answer is malformed (the saga asks again).
 */
export async function decide(input: DecideInput, deps: SagaDeps): Promise<{ decision: string }> {
  const parsed = DecisionSchema.safeParse(input.decision);
  if (!parsed.success) throw new InvalidDecision(`expected {decision: retry|skip|resolve, reason, actor}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const d = parsed.data;
  const now = deps.clock.now().toISOString();
  const header = await deps.store.header(input.sagaId);
  const escalation = header?.escalation;
  // Already recorded by an earlier attempt of this very decision: the escalation was cleared.
  if (!escalation || escalation.compensation !== input.compensation) return { decision: d.decision };
  if (d.decision === 'resolve') {
    const effect = await deps.store.effect(input.sagaId, input.forStep);
    if (!effect || effect.state === 'APPLIED') {
      const from = effect ? 'APPLIED' : 'ABSENT';
      if (!(await deps.store.settle({ sagaId: input.sagaId, step: input.forStep, from, to: 'RESOLVED', ops: [], note: { resolvedBy: d.actor, resolution: d.reason }, now }))) {
        throw new ServiceUnavailable(`effect of ${input.forStep} changed concurrently`);
      }
    }
  }
  await deps.audit.append({
    entityId: input.sagaId,
    action: DECISION_ACTIONS[d.decision],
    actor: d.actor,
    reason: d.reason,
    correlationId: input.sagaId,
    details: { compensation: input.compensation, forStep: input.forStep, executionArn: input.executionArn, escalatedAt: escalation.at },
    idempotencyKey: `${input.sagaId}:${input.compensation}:decision:${short(escalation.at + escalation.taskToken)}`,
  });
  await deps.store.update(input.sagaId, {
    status: 'COMPENSATING',
    expect: ['NEEDS_HUMAN'],
    remove: ['escalation'],
    appendDecision: { ...d, compensation: input.compensation, at: now },
    now,
  });
  return { decision: d.decision };
}

/** Closes the ledger after the compensations: COMPENSATED (plus SagaCompensated), RESOLVED, or COMPENSATION_FAILED on timeout. */
export async function finish(input: FinishInput, deps: SagaDeps): Promise<{ status: string }> {
  const now = deps.clock.now().toISOString();
  const { sagaId, order, failure } = input;
  if (input.mode === 'compensated') {
    await deps.store.update(sagaId, { status: 'COMPENSATED', expect: ['COMPENSATING', 'COMPENSATED'], set: { completedAt: now }, now });
    await deps.audit.append({ entityId: sagaId, action: 'SAGA_COMPENSATED', actor: deps.actor, reason: `${failure.step} failed: ${failure.error}`, correlationId: sagaId, details: { compensated: failure.plan, executionArn: input.executionArn }, idempotencyKey: `${sagaId}:compensated` });
    await deps.events.publish([
      {
        source: SagaCompensated.source,
        detailType: SagaCompensated.detailType,
        detail: SagaCompensated.build({ schemaVersion: 1, sagaId, orderId: order.orderId, failedStep: failure.step, error: failure.error, compensatedSteps: [...failure.plan], correlationId: sagaId }),
      },
    ]);
    return { status: 'COMPENSATED' };
  }
  if (input.mode === 'resolved') {
    await deps.store.update(sagaId, { status: 'RESOLVED', expect: ['COMPENSATING', 'RESOLVED'], set: { completedAt: now }, now });
    await deps.audit.append({ entityId: sagaId, action: 'SAGA_RESOLVED', actor: deps.actor, reason: `${failure.step} failed: ${failure.error}; escalated and resolved by an operator`, correlationId: sagaId, details: { executionArn: input.executionArn }, idempotencyKey: `${sagaId}:resolved` });
    return { status: 'RESOLVED' };
  }
  await deps.store.update(sagaId, { status: 'COMPENSATION_FAILED', expect: ['NEEDS_HUMAN', 'COMPENSATION_FAILED', 'COMPENSATING'], set: { completedAt: now }, remove: ['escalation'], now });
  await deps.audit.append({
    entityId: sagaId,
    action: 'ESCALATION_UNRESOLVED',
    actor: deps.actor,
    reason: input.error ? `${input.error.Error}: ${causeMessage(input.error)}` : 'no decision',
    correlationId: sagaId,
    details: { executionArn: input.executionArn },
    idempotencyKey: `${sagaId}:unresolved`,
  });
  return { status: 'COMPENSATION_FAILED' };
}
