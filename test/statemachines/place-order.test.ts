/**
 * The generated PlaceOrder failure matrix, run in-process: the rendered ASL on
 * aws-local-stepfunctions, every Task answered by the real domain over in-memory ports. The same
 * cases run on the local cloud in `test/e2e/saga.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { placeOrderSaga } from '../../statemachines/place-order.js';
import { bindPostCondition, checkPostCondition } from '../../statemachines/saga.js';
import { memoryDeps } from '../lambdas/saga/fakes.js';
import { MANUAL_FIX, checkCase, checkInvariants, generateCases, orderPlaced, type SagaCase } from './place-order.cases.js';
import { simulate, type Operator } from './simulate.js';

const SKUS = ['sku-a', 'sku-b'];
const INITIAL = { stock: { 'sku-a': 100, 'sku-b': 100 }, balances: { c1: 100_000 } };

function world() {
  const deps = memoryDeps();
  for (const [sku, available] of Object.entries(INITIAL.stock)) deps.store.db.put('Inventory', { sku }, { sku, available });
  deps.store.db.put('Wallets', { customerId: 'c1' }, { customerId: 'c1', balance: INITIAL.balances.c1 });
  const holdings = () => ({
    stock: Object.fromEntries(SKUS.map((s) => [s, deps.store.db.get('Inventory', { sku: s })!.available as number])),
    balances: { c1: deps.store.db.get('Wallets', { customerId: 'c1' })!.balance as number },
    effects: [...deps.store.db.table('SagaLedger').values()].filter((i) => String(i.sk).startsWith('EFFECT#')) as any[],
  });
  return { deps, holdings };
}

const event = (orderId: string, detail: unknown = orderPlaced(orderId, 'c1', SKUS)) => ({ eventId: `evt-${orderId}`, eventTime: new Date().toISOString(), detail });

async function runCase(c: SagaCase, orderId = 'o-1') {
  const { deps, holdings } = world();
  const operator: Operator = async ({ compensation }) => {
    const decision = c.escalation?.decision ?? 'timeout';
    if (decision === 'timeout') return 'timeout';
    if (decision === 'resolve') {
      // The operator undoes the effect by hand, then says so.
      const fix = MANUAL_FIX[compensation]!;
      const effect = deps.store.db.get('SagaLedger', { sagaId: `order#${orderId}`, sk: `EFFECT#${c.escalation!.forStep}` });
      if (fix.kind === 'credit-items') for (const [sku, q] of Object.entries(effect!.details.items as Record<string, number>)) deps.store.db.get('Inventory', { sku })!.available += q;
      if (fix.kind === 'credit-amount') deps.store.db.get('Wallets', { customerId: 'c1' })!.balance += effect!.details.amount;
      if (fix.kind === 'cancel') deps.store.db.get(fix.table, { orderId })!.status = 'CANCELLED';
    }
    return { decision, reason: `test ${decision}`, actor: 'ops@example.com' };
  };
  const result = await simulate(placeOrderSaga, deps, event(orderId), { faults: [...c.faults], operator });
  const ledger = deps.store.db.table('SagaLedger');
  const observed = {
    status: result.status,
    error: result.error,
    ledger: ledger.get(`order#${orderId}|SAGA`),
    effects: Object.fromEntries(placeOrderSaga.steps.map((s) => [s.name, ledger.get(`order#${orderId}|EFFECT#${s.name}`)])),
    order: deps.store.db.get('Orders', { orderId }),
    audit: deps.audit.rows,
  };
  return { result, observed, deps, holdings };
}

describe('PlaceOrder saga (generated cases, in-process)', () => {
  const cases = generateCases();

  it('generates a case per step × error class and per compensation × decision', () => {
    const steps = placeOrderSaga.steps;
    const business = steps.reduce((n, s) => n + s.businessErrors.length, 0);
    const compensations = steps.filter((s) => s.compensation).length;
    expect(cases).toHaveLength(steps.length * 2 + business + compensations * 4);
  });

  it.concurrent.each(cases.map((c) => [c.title, c] as const))('%s', async (_title, c) => {
    const { observed, holdings } = await runCase(c);
    expect(checkCase(c, observed)).toEqual([]);
    expect(checkInvariants(INITIAL, holdings())).toEqual([]);
  });

  it('needs at most 3 state transitions beyond the steps on the happy path, and audit adds none', async () => {
    const { result, deps } = await runCase({ title: 'ok', faults: [], expect: {} as any });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.entered.length - placeOrderSaga.steps.length).toBeLessThanOrEqual(3);
    expect(result.entered).toEqual(['StartSaga', 'IsDuplicate', ...placeOrderSaga.steps.map((s) => s.name)]);
    expect(deps.audit.rows.map((r) => r.action)).toEqual(['SAGA_STARTED', 'SAGA_SUCCEEDED']);
  });

  it('reports the state transitions of every generated path (figures; escalations count one wait each)', async () => {
    const results = await Promise.all(cases.map((c) => runCase(c, 'o-fig')));
    const rows = results.map(({ result }, i) => `${result.entered.length.toString().padStart(3)}  ${cases[i]!.title}`);
    // Retries are not states entered: AWS bills them as extra transitions on top of these.
    for (const { result } of results) expect(result.entered.length).toBeGreaterThanOrEqual(2 + placeOrderSaga.steps.length);
    const happy = 2 + placeOrderSaga.steps.length;
    console.log(`[figure] transitions per path (happy path ${happy}: $${((happy * 0.025) / 1000 * 1e6).toFixed(0)} per million sagas at $0.025/1000):\n${rows.join('\n')}`);
  });

  it('satisfies every declared post-condition after success, and the compensation post-conditions after a compensation', async () => {
    const ok = await runCase({ title: 'ok', faults: [], expect: {} as any }, 'o-pc');
    const ctx = { sagaId: 'order#o-pc', orderId: 'o-pc', customerId: 'c1' };
    for (const step of placeOrderSaga.steps) {
      for (const pc of step.postConditions.afterAction) {
        const b = bindPostCondition(pc, ctx);
        expect(checkPostCondition(b, ok.deps.store.db.get(b.table, b.key))).toEqual([]);
      }
    }
    const failed = await runCase({ title: 'x', faults: [{ state: 'ConfirmOrder', errorName: 'UnexpectedFailure', times: 1 }], expect: {} as any }, 'o-pc');
    for (const step of placeOrderSaga.steps) {
      for (const pc of step.postConditions.afterCompensation) {
        const b = bindPostCondition(pc, ctx);
        expect(checkPostCondition(b, failed.deps.store.db.get(b.table, b.key))).toEqual([]);
      }
      // And the action's post-conditions no longer hold where an effect was undone.
      if (step.compensation) {
        const b = bindPostCondition(step.postConditions.afterAction[0]!, ctx);
        expect(checkPostCondition(b, failed.deps.store.db.get(b.table, b.key))).not.toEqual([]);
      }
    }
  });

  it.each(['after success', 'after compensation', 'while the first is running'] as const)('ends a duplicate OrderPlaced %s without any effect', async (moment) => {
    const { deps, holdings } = world();
    const faults = moment === 'after compensation' ? [{ state: 'ChargePayment', errorName: 'PaymentDeclined', times: 1 }] : [];
    let duplicate: Awaited<ReturnType<typeof simulate>> | undefined;
    let before: ReturnType<typeof holdings> | undefined;
    if (moment === 'while the first is running') {
      // The duplicate runs while the first waits on an escalation.
      const first = simulate(placeOrderSaga, deps, event('o-d'), {
        faults: [{ state: 'ConfirmOrder', errorName: 'OrderNotPending', times: 1 }, { state: 'CancelShipment', errorName: 'UnexpectedFailure', times: 4 }],
        operator: async () => {
          before = structuredClone(holdings());
          duplicate = await simulate(placeOrderSaga, deps, event('o-d'));
          return { decision: 'retry', reason: 'r', actor: 'a' };
        },
      });
      expect((await first).error).toBe('CompensationFailed');
    } else {
      await simulate(placeOrderSaga, deps, event('o-d'), { faults });
      before = structuredClone(holdings());
      duplicate = await simulate(placeOrderSaga, deps, event('o-d'));
      expect(holdings()).toEqual(before);
    }
    expect(duplicate!.status).toBe('SUCCEEDED');
    expect(duplicate!.output).toMatchObject({ duplicate: true, sagaId: 'order#o-d' });
    expect(duplicate!.entered).toEqual(['StartSaga', 'IsDuplicate', 'Duplicate']);
    expect(deps.audit.rows.filter((r) => r.action === 'SAGA_DUPLICATE_IGNORED')).toHaveLength(1);
    expect(checkInvariants(INITIAL, holdings())).toEqual([]);
    void before;
  });

  it.each([
    ['a missing field', (d: any) => ({ ...d, items: undefined }), 'ContractViolation'],
    ['an unknown schemaVersion', (d: any) => ({ ...d, schemaVersion: 2 }), 'UnknownSchemaVersion'],
  ])('rejects an OrderPlaced with %s: FAILED with a typed error, an audit row, no effects', async (_what, mutate, error) => {
    const { deps } = world();
    const r = await simulate(placeOrderSaga, deps, event('o-bad', mutate(orderPlaced('o-bad', 'c1', SKUS))));
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe(error);
    expect(deps.store.db.table('SagaLedger').size).toBe(0);
    expect(deps.store.db.table('Orders').size).toBe(0);
    expect(deps.audit.rows.map((x) => x.action)).toEqual(['SAGA_INPUT_REJECTED']);
  });

  it('asks again when an operator answers with a malformed decision', async () => {
    const { deps } = world();
    const answers: unknown[] = [{ decision: 'maybe' }, { decision: 'skip', reason: 'known issue', actor: 'ops' }];
    const r = await simulate(placeOrderSaga, deps, event('o-m'), {
      faults: [{ state: 'ConfirmOrder', errorName: 'OrderNotPending', times: 1 }, { state: 'RefundPayment', errorName: 'UnexpectedFailure', times: 4 }],
      operator: async () => answers.shift(),
    });
    expect(r.error).toBe('CompensationFailed');
    expect(r.entered.filter((s) => s === 'EscalateRefundPayment')).toHaveLength(2);
    expect(deps.audit.rows.filter((x) => x.action === 'MANUAL_OVERRIDE')).toHaveLength(1);
  });
});
