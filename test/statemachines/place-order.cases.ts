/**
 * The generated failure matrix of the PlaceOrder saga, derived from the step list (never
 * hand-picked): for every step a business, an unknown and a transient error; for every
 * compensation a failure after its retries followed by each operator decision and the timeout.
 * Shared by the in-process simulation (`place-order.test.ts`) and the local-cloud e2e suite.
 */
import { placeOrderSaga } from '../../statemachines/place-order.js';
import type { SagaDefinition } from '../../statemachines/saga.js';
import type { EffectState, SagaStatus } from '../../lambdas/saga/domain/model.js';

/** A state-level fault, in the local cloud's fault-plan terms. */
export interface StateFault {
  readonly state: string;
  readonly errorName: string;
  readonly times: number;
}

export type OperatorDecision = 'retry' | 'skip' | 'resolve' | 'timeout';

export interface SagaCase {
  readonly title: string;
  readonly faults: readonly StateFault[];
  /** For escalation cases: which compensation escalates and what the operator answers. */
  readonly escalation?: { readonly compensation: string; readonly forStep: string; readonly decision: OperatorDecision };
  readonly expect: {
    readonly status: 'SUCCEEDED' | 'FAILED';
    readonly error?: string;
    readonly ledger: SagaStatus;
    /** Effect row per step (`ABSENT` when there is none). */
    readonly effects: Readonly<Record<string, EffectState | 'ABSENT'>>;
    readonly order: 'CONFIRMED' | 'CANCELLED' | 'PENDING' | 'ABSENT';
    /** Compensations with an intent audit row. */
    readonly intents: readonly string[];
    /** Compensations with an outcome audit row. */
    readonly outcomes: readonly string[];
    /** Audit action of the operator decision, if any. */
    readonly decisionAction?: string;
  };
}

/** An error name declared nowhere: "unknown". */
export const UNKNOWN_ERROR = 'UnexpectedFailure';
/** The transient error the actions retry. */
export const TRANSIENT_ERROR = 'ServiceUnavailable';

/** Generates every case from the definition. */
export function generateCases(def: SagaDefinition = placeOrderSaga): SagaCase[] {
  const steps = def.steps;
  const names = steps.map((s) => s.name);
  const compOf = (i: number) => steps[i]!.compensation?.name;
  const cases: SagaCase[] = [];
  const effects = (f: (i: number) => EffectState | 'ABSENT') => Object.fromEntries(names.map((n, i) => [n, f(i)]));
  /** Compensations of steps in [0, upTo], in the reverse order they run. */
  const chain = (upTo: number) => names.map((_, i) => compOf(i)).slice(0, upTo + 1).filter((c): c is string => !!c).reverse();
  const createOrderIndex = 0;

  steps.forEach((step, i) => {
    cases.push({
      title: `${step.name}: transient ${TRANSIENT_ERROR} twice, then success`,
      faults: [{ state: step.name, errorName: TRANSIENT_ERROR, times: 2 }],
      expect: { status: 'SUCCEEDED', ledger: 'SUCCEEDED', effects: effects(() => 'APPLIED'), order: 'CONFIRMED', intents: [], outcomes: [] },
    });
    for (const business of step.businessErrors) {
      const ran = chain(i - 1);
      cases.push({
        title: `${step.name}: business error ${business} compensates the completed steps`,
        faults: [{ state: step.name, errorName: business, times: 1 }],
        expect: {
          status: 'FAILED',
          error: 'SagaCompensated',
          ledger: 'COMPENSATED',
          effects: effects((j) => (j < i && compOf(j) ? 'COMPENSATED' : 'ABSENT')),
          order: i > createOrderIndex ? 'CANCELLED' : 'ABSENT',
          intents: ran,
          outcomes: ran,
        },
      });
    }
    const ran = chain(i);
    cases.push({
      title: `${step.name}: unknown error ${UNKNOWN_ERROR} also runs its own compensation`,
      faults: [{ state: step.name, errorName: UNKNOWN_ERROR, times: 1 + Math.max(0, ...step.retry.filter((r) => r.errors.includes(UNKNOWN_ERROR)).map((r) => r.maxAttempts)) }],
      expect: {
        status: 'FAILED',
        error: 'SagaCompensated',
        ledger: 'COMPENSATED',
        effects: effects((j) => (j < i && compOf(j) ? 'COMPENSATED' : j === i && compOf(j) ? 'VOIDED' : 'ABSENT')),
        order: i > createOrderIndex ? 'CANCELLED' : 'ABSENT',
        intents: ran,
        outcomes: ran,
      },
    });
  });

  // Compensation failures: the last step fails on a business error, so every compensation runs.
  const last = steps.length - 1;
  const trigger: StateFault = { state: steps[last]!.name, errorName: steps[last]!.businessErrors[0] ?? UNKNOWN_ERROR, times: 1 };
  const full = chain(last - (steps[last]!.businessErrors.length ? 1 : 0));
  steps.forEach((step, j) => {
    const comp = step.compensation?.name;
    if (!comp) return;
    for (const decision of ['retry', 'skip', 'resolve', 'timeout'] as const) {
      const afterJ = (k: number) => k > j && k < last + (steps[last]!.businessErrors.length ? 0 : 1);
      const effect = (k: number): EffectState | 'ABSENT' => {
        if (k === last) return trigger.errorName === UNKNOWN_ERROR && compOf(k) ? 'VOIDED' : 'ABSENT';
        if (!compOf(k)) return 'APPLIED';
        if (k === j) return decision === 'retry' ? 'COMPENSATED' : decision === 'resolve' ? 'RESOLVED' : 'APPLIED';
        if (afterJ(k)) return 'COMPENSATED';
        return decision === 'timeout' ? 'APPLIED' : 'COMPENSATED';
      };
      const orderStatus = effect(createOrderIndex) === 'COMPENSATED' || effect(createOrderIndex) === 'RESOLVED' ? 'CANCELLED' : 'PENDING';
      const completed = full.filter((c) => (c === comp ? decision === 'retry' : decision !== 'timeout' || full.indexOf(c) < full.indexOf(comp)));
      cases.push({
        title: `${comp}: fails after its retries, escalates, operator answers ${decision}`,
        faults: [trigger, { state: comp, errorName: UNKNOWN_ERROR, times: def.compensationRetry.maxAttempts + 1 }],
        escalation: { compensation: comp, forStep: step.name, decision },
        expect: {
          status: 'FAILED',
          error: 'CompensationFailed',
          ledger: decision === 'timeout' ? 'COMPENSATION_FAILED' : 'RESOLVED',
          effects: effects(effect),
          order: orderStatus,
          intents: full,
          outcomes: completed,
          decisionAction: { retry: 'OPERATOR_RETRY', skip: 'MANUAL_OVERRIDE', resolve: 'RESOLVED_BY_HAND', timeout: undefined }[decision],
        },
      });
    }
  });
  return cases;
}

/** A valid OrderPlaced detail for a test order. */
export function orderPlaced(orderId: string, customerId: string, skus: readonly string[], amount = 1_500) {
  return { schemaVersion: 1, orderId, customerId, items: skus.map((sku, i) => ({ sku, quantity: i + 1 })), amount, currency: 'EUR' };
}

/** What a test observed after a case ran. */
export interface Observed {
  readonly status: string;
  readonly error?: string;
  readonly ledger?: { status?: string };
  readonly effects: Readonly<Record<string, { state?: unknown; details?: any } | undefined>>;
  readonly order?: { status?: string; cancelReason?: string; version?: number };
  readonly audit: ReadonlyArray<{ action: string; details?: any; reason?: string; actor?: string; correlationId?: string; before?: unknown; after?: unknown }>;
}

/** The differences between a case's expectations and what was observed (empty when it passed). */
export function checkCase(c: SagaCase, o: Observed): string[] {
  const diffs: string[] = [];
  const eq = (what: string, actual: unknown, expected: unknown) => {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) diffs.push(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  };
  eq('execution status', o.status, c.expect.status);
  if (c.expect.error) eq('execution error', o.error, c.expect.error);
  eq('ledger status', o.ledger?.status, c.expect.ledger);
  for (const [step, state] of Object.entries(c.expect.effects)) eq(`effect of ${step}`, o.effects[step]?.state ?? 'ABSENT', state);
  eq('order status', o.order?.status ?? 'ABSENT', c.expect.order);
  if (c.expect.order === 'CANCELLED' && !c.escalation) eq('order has a cancel reason', typeof o.order?.cancelReason === 'string' && o.order.cancelReason.length > 0, true);
  const rows = (action: string) => o.audit.filter((r) => r.action === action).map((r) => r.details?.compensation as string);
  eq('intent rows', [...rows('COMPENSATION_INTENT')].sort(), [...c.expect.intents].sort());
  eq('outcome rows', [...rows('COMPENSATION_OUTCOME')].sort(), [...c.expect.outcomes].sort());
  for (const r of o.audit.filter((x) => x.action === 'COMPENSATION_INTENT' || x.action === 'COMPENSATION_OUTCOME')) {
    if (!r.reason || !r.actor || !r.correlationId) diffs.push(`${r.action} of ${r.details?.compensation} lacks reason/actor/correlation id`);
    if (r.action === 'COMPENSATION_OUTCOME' && (r.before === undefined || r.after === undefined)) diffs.push(`outcome of ${r.details?.compensation} lacks before/after`);
  }
  if (c.escalation) {
    eq('escalation audit rows', rows('COMPENSATION_FAILED'), [c.escalation.compensation]);
    if (c.expect.decisionAction) eq('decision audit rows', rows(c.expect.decisionAction), [c.escalation.compensation]);
    else eq('unresolved audit rows', o.audit.filter((r) => r.action === 'ESCALATION_UNRESOLVED').length, 1);
  }
  return diffs;
}

/** Per-sku stock and per-customer balances, with the active effects from the ledger. */
export interface Holdings {
  readonly stock: Readonly<Record<string, number>>;
  readonly balances: Readonly<Record<string, number>>;
  /** The ledger's effect rows (any saga). */
  readonly effects: ReadonlyArray<{ step: string; state: string; details: any }>;
}

/** Checks: stock + active reservations = initial stock; balance + active charges = initial balance. */
export function checkInvariants(initial: Pick<Holdings, 'stock' | 'balances'>, now: Holdings): string[] {
  const diffs: string[] = [];
  const active = now.effects.filter((e) => e.state === 'APPLIED');
  for (const [sku, stock] of Object.entries(initial.stock)) {
    const reserved = active.filter((e) => e.step === 'ReserveInventory').reduce((n, e) => n + Number(e.details?.items?.[sku] ?? 0), 0);
    if ((now.stock[sku] ?? 0) + reserved !== stock) diffs.push(`sku ${sku}: stock ${now.stock[sku]} + active reservations ${reserved} != initial ${stock}`);
    if ((now.stock[sku] ?? 0) < 0) diffs.push(`sku ${sku}: negative stock`);
  }
  for (const [customer, balance] of Object.entries(initial.balances)) {
    const charged = active.filter((e) => e.step === 'ChargePayment' && e.details?.customerId === customer).reduce((n, e) => n + Number(e.details.amount), 0);
    if ((now.balances[customer] ?? 0) + charged !== balance) diffs.push(`customer ${customer}: balance ${now.balances[customer]} + active charges ${charged} != initial ${balance}`);
    if ((now.balances[customer] ?? 0) < 0) diffs.push(`customer ${customer}: negative balance`);
  }
  return diffs;
}

/** The change an operator makes by hand before answering `resolve`: what the compensation would have done. */
export const MANUAL_FIX: Readonly<Record<string, { table: string; kind: 'credit-items' | 'credit-amount' | 'cancel' }>> = {
  ReleaseInventory: { table: 'Inventory', kind: 'credit-items' },
  RefundPayment: { table: 'Wallets', kind: 'credit-amount' },
  CancelOrder: { table: 'Orders', kind: 'cancel' },
  CancelShipment: { table: 'Shipments', kind: 'cancel' },
};
