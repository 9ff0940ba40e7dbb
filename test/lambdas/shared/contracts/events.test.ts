import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '../../../../lambdas/shared/contracts/contract.js';
import { DriftDetected, OrderChanged, OrderPlaced, ReconcileCompleted, SagaCompensated, SagaNeedsAttention } from '../../../../lambdas/shared/contracts/events.js';
import { ContractViolation, PayloadTooLarge, UnknownSchemaVersion } from '../../../../lambdas/shared/errors.js';

const placed = { schemaVersion: 1, orderId: 'o-1', customerId: 'c-1', items: [{ sku: 'sku-1', quantity: 2 }], amount: 1999, currency: 'EUR' };

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('OrderPlaced', () => {
  it('reads a valid v1 event', () => {
    expect(OrderPlaced.parse(placed)).toEqual(placed);
  });

  it('lets old code read a newer event of the same version with extra fields', () => {
    const parsed = OrderPlaced.parse({ ...placed, channel: 'mobile', items: [{ sku: 'sku-1', quantity: 2, giftWrap: true }] });
    expect(parsed).toEqual(placed);
  });

  it('refuses an unknown future schemaVersion with a typed error', () => {
    const err = caught(() => OrderPlaced.parse({ ...placed, schemaVersion: 2 }));
    expect(err).toBeInstanceOf(UnknownSchemaVersion);
    expect((err as UnknownSchemaVersion).name).toBe('UnknownSchemaVersion');
    expect((err as UnknownSchemaVersion).schemaVersion).toBe(2);
  });

  it.each([
    [{ ...placed, orderId: undefined }, 'orderId'],
    [{ ...placed, amount: 19.99 }, 'amount'],
    [{ ...placed, items: [{ sku: 'sku-1', quantity: '2' }] }, 'items[0].quantity'],
    [{ ...placed, items: [] }, 'items'],
    [{ ...placed, currency: 'euro' }, 'currency'],
    [{ ...placed, schemaVersion: '1' }, 'schemaVersion'],
  ])('names the offending path of a contract violation (%#)', (detail, path) => {
    const err = caught(() => OrderPlaced.parse(detail));
    expect(err).toBeInstanceOf(ContractViolation);
    expect((err as ContractViolation).path).toBe(path);
    expect((err as ContractViolation).contract).toBe('shop.orders/OrderPlaced');
  });

  it('refuses an oversize payload before validating it', () => {
    const err = caught(() => OrderPlaced.parse({ ...placed, note: 'x'.repeat(300 * 1024) }));
    expect(err).toBeInstanceOf(PayloadTooLarge);
  });

  it('refuses a detail that is not an object', () => {
    expect(caught(() => OrderPlaced.parse('{"schemaVersion":1}'))).toBeInstanceOf(ContractViolation);
  });
});

describe('contract evolution', () => {
  // The next version of OrderPlaced as it would be declared: v2 adds a sales channel.
  const OrderPlacedV2 = defineContract({
    ...OrderPlaced,
    current: 2,
    schema: OrderPlaced.schema.extend({ schemaVersion: z.literal(2), channel: z.enum(['web', 'mobile', 'store']) }),
    upcasters: { 1: (d) => ({ ...d, channel: 'web' }) },
  });

  it('upcasts an old event for new code', () => {
    expect(OrderPlacedV2.parse(placed)).toEqual({ ...placed, schemaVersion: 2, channel: 'web' });
  });

  it('refuses a version with no upcaster path', () => {
    const NoPath = defineContract({ ...OrderPlacedV2, upcasters: {} });
    expect(caught(() => NoPath.parse(placed))).toBeInstanceOf(UnknownSchemaVersion);
  });
});

describe('every contract', () => {
  const samples = [
    [OrderChanged, { schemaVersion: 1, orderId: 'o-1', changeType: 'MODIFY', beforeVersion: 1, afterVersion: 2, status: 'CONFIRMED', correlationId: 'x' }],
    [SagaCompensated, { schemaVersion: 1, sagaId: 's', orderId: 'o', failedStep: 'ChargePayment', error: 'PaymentDeclined', compensatedSteps: ['ReserveInventory'], correlationId: 'x' }],
    [SagaNeedsAttention, { schemaVersion: 1, sagaId: 's', orderId: 'o', step: 'RefundPayment', error: 'Boom', correlationId: 'x' }],
    [DriftDetected, { schemaVersion: 1, runId: 'r', mode: 'report', strategy: 'full', discrepancies: { MISSING_IN_REPLICA: 1, EXTRA_IN_REPLICA: 0, MISMATCH: 0, COMPENSATION_INCOMPLETE: 0 }, breakerTripped: false }],
    [ReconcileCompleted, { schemaVersion: 1, runId: 'r', mode: 'repair', strategy: 'digest', compared: 10, discrepancies: { MISSING_IN_REPLICA: 0, EXTRA_IN_REPLICA: 0, MISMATCH: 0, COMPENSATION_INCOMPLETE: 0 }, repaired: 0, falsePositives: 0 }],
  ] as const;

  it.each(samples)('reads its own valid sample and refuses schemaVersion 99 ($0.name)', (contract, sample) => {
    expect(contract.parse(sample)).toEqual(sample);
    expect(caught(() => contract.parse({ ...sample, schemaVersion: 99 }))).toBeInstanceOf(UnknownSchemaVersion);
  });
});
