import { describe, expect, it } from 'vitest';
import { placeOrderSaga } from '../../../../statemachines/place-order.js';
import { checkEndedSagas, expectedPostConditions, type EndedSaga, type SagaReader } from '../../../../lambdas/reconcile/domain/saga-checks.js';
import type { AuditEntry, AuditLog } from '../../../../lambdas/shared/ports.js';

/** Tables in memory, keyed by logical table and JSON key. */
function world(items: Array<[string, Record<string, string>, Record<string, unknown>]>, sagas: EndedSaga[]): SagaReader {
  const store = new Map(items.map(([t, k, v]) => [`${t}:${JSON.stringify(k)}`, { ...k, ...v }]));
  return {
    ended: async (status) => sagas.filter((s) => s.status === status),
    read: async (table, key) => store.get(`${table}:${JSON.stringify(key)}`),
  };
}

const effect = (sagaId: string, step: string, state: string): [string, Record<string, string>, Record<string, unknown>] => ['SagaLedger', { sagaId, sk: `EFFECT#${step}` }, { state }];

function compensated(sagaId: string, orderId: string, reservation: string): Array<[string, Record<string, string>, Record<string, unknown>]> {
  return [
    effect(sagaId, 'CreateOrder', 'COMPENSATED'),
    effect(sagaId, 'ReserveInventory', reservation),
    effect(sagaId, 'ChargePayment', 'VOIDED'),
    ['Orders', { orderId }, { status: 'CANCELLED', cancelReason: 'InsufficientStock' }],
  ];
}

describe('saga post-conditions', () => {
  it('binds the declared post-conditions of the right phase to the saga', () => {
    const saga: EndedSaga = { sagaId: 's-1', orderId: 'o-1', customerId: 'c-1', status: 'COMPENSATED' };
    const pcs = expectedPostConditions(placeOrderSaga, saga);
    expect(pcs.some((p) => p.table === 'SagaLedger' && p.key.sagaId === 's-1' && p.key.sk === 'EFFECT#ReserveInventory')).toBe(true);
    expect(pcs.some((p) => p.table === 'Orders' && p.key.orderId === 'o-1')).toBe(true);
    const succeeded = expectedPostConditions(placeOrderSaga, { ...saga, status: 'SUCCEEDED' });
    expect(succeeded.some((p) => p.description.includes('CONFIRMED'))).toBe(true);
  });

  it('flags a compensated saga with a reservation still active as COMPENSATION_INCOMPLETE, escalated with its id', async () => {
    const rows: AuditEntry[] = [];
    const audit: AuditLog = { append: async (e) => void rows.push(e) };
    const sagas: EndedSaga[] = [
      { sagaId: 's-ok', orderId: 'o-ok', customerId: 'c', status: 'COMPENSATED' },
      { sagaId: 's-bad', orderId: 'o-bad', customerId: 'c', status: 'COMPENSATED' },
    ];
    const reader = world([...compensated('s-ok', 'o-ok', 'COMPENSATED'), ...compensated('s-bad', 'o-bad', 'APPLIED')], sagas);
    const out = await checkEndedSagas({ definition: placeOrderSaga, reader, audit, actor: 'reconciler' }, { runId: 'run-1', sinceIso: '2000-01-01' });
    expect(out).toMatchObject({ flagged: ['s-bad'], checked: 2 });
    expect(out.findings[0]!.failures.join(' ')).toMatch(/reservation/);
    expect(rows.map((r) => [r.entityId, r.discrepancyType, r.lifecycle])).toEqual([
      ['saga#s-bad', 'COMPENSATION_INCOMPLETE', 'DETECTED'],
      ['saga#s-bad', 'COMPENSATION_INCOMPLETE', 'ESCALATED'],
    ]);
    expect(rows.every((r) => r.runId === 'run-1' && (r.details as any).sagaId === 's-bad')).toBe(true);
  });
});
