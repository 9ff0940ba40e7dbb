import { describe, expect, it } from 'vitest';
import { decide, runAction, runCompensation, startSaga } from '../../../lambdas/saga/domain/saga.js';
import { SagaStateConflict } from '../../../lambdas/saga/errors.js';
import { memoryDeps } from './fakes.js';

const order = { schemaVersion: 1 as const, orderId: 'o1', customerId: 'c1', items: [{ sku: 'a', quantity: 2 }, { sku: 'a', quantity: 1 }], amount: 500, currency: 'EUR' };
const base = { sagaId: 'order#o1', order, executionArn: 'arn:x:1' };
const failure = { step: 'ChargePayment', failureClass: 'unknown' as const, error: 'Boom', cause: 'boom', plan: ['RefundPayment', 'ReleaseInventory', 'CancelOrder'] };

async function started() {
  const deps = memoryDeps();
  deps.store.db.put('Inventory', { sku: 'a' }, { sku: 'a', available: 10 });
  deps.store.db.put('Wallets', { customerId: 'c1' }, { customerId: 'c1', balance: 1000 });
  await startSaga({ event: { detail: order }, executionArn: 'arn:x:1', saga: 'PlaceOrder' }, deps);
  return deps;
}
const action = (step: string, final = false) => ({ ...base, step, idempotencyKey: `order#o1:${step}`, final });
const compensation = (step: string, forStep: string) => ({ ...base, step, forStep, idempotencyKey: `order#o1:${step}`, failure });

describe('saga domain', () => {
  it('reserves merged quantities per sku atomically with the effect row, once', async () => {
    const deps = await started();
    expect((await runAction(action('ReserveInventory'), deps)).outcome).toBe('APPLIED');
    expect((await runAction(action('ReserveInventory'), deps)).outcome).toBe('ALREADY_SETTLED');
    expect(deps.store.db.get('Inventory', { sku: 'a' })!.available).toBe(7);
    expect((await deps.store.effect('order#o1', 'ReserveInventory'))!.details).toEqual({ items: { a: 3 } });
  });

  it('leaves nothing behind when a guarded decrement fails', async () => {
    const deps = await started();
    deps.store.db.get('Wallets', { customerId: 'c1' })!.balance = 100;
    await expect(runAction(action('ChargePayment'), deps)).rejects.toMatchObject({ name: 'PaymentDeclined' });
    expect(deps.store.db.get('Wallets', { customerId: 'c1' })!.balance).toBe(100);
    expect(await deps.store.effect('order#o1', 'ChargePayment')).toBeUndefined();
  });

  it('voids a never-applied effect, so a late action cannot apply after its compensation', async () => {
    const deps = await started();
    expect((await runCompensation(compensation('RefundPayment', 'ChargePayment'), deps)).outcome).toBe('VOIDED');
    expect((await runAction(action('ChargePayment'), deps)).outcome).toBe('ALREADY_SETTLED');
    expect(deps.store.db.get('Wallets', { customerId: 'c1' })!.balance).toBe(1000);
  });

  it('undoes exactly what was recorded, once, with intent and outcome rows', async () => {
    const deps = await started();
    await runAction(action('ChargePayment'), deps);
    expect((await runCompensation(compensation('RefundPayment', 'ChargePayment'), deps)).outcome).toBe('COMPENSATED');
    expect((await runCompensation(compensation('RefundPayment', 'ChargePayment'), deps)).outcome).toBe('ALREADY_UNDONE');
    expect(deps.store.db.get('Wallets', { customerId: 'c1' })!.balance).toBe(1000);
    expect(deps.audit.rows.filter((r) => r.details?.compensation === 'RefundPayment').map((r) => r.action)).toEqual(['COMPENSATION_INTENT', 'COMPENSATION_OUTCOME']);
  });

  it('never compensates past a pivot that applied', async () => {
    const deps = await started();
    await runAction(action('CreateOrder'), deps);
    await runAction(action('ConfirmOrder', true), deps);
    await expect(runCompensation(compensation('CancelOrder', 'CreateOrder'), deps)).rejects.toBeInstanceOf(SagaStateConflict);
    expect(deps.store.db.get('Orders', { orderId: 'o1' })!.status).toBe('CONFIRMED');
  });

  it('refuses a malformed operator decision', async () => {
    const deps = await started();
    await expect(decide({ sagaId: 'order#o1', executionArn: 'a', compensation: 'CancelOrder', forStep: 'CreateOrder', decision: { decision: 'later' } }, deps)).rejects.toMatchObject({ name: 'InvalidDecision' });
  });
});
