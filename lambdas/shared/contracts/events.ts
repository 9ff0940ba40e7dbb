/**
 * The event contracts of DESIGN §2. Every detail carries `schemaVersion`. All contracts are at
 * version 1; to evolve one, bump `current`, change `schema`, and add `upcasters[1]`.
 */
import { z } from 'zod';
import { defineContract } from './contract.js';

const id = z.string().min(1).max(256);
const cents = z.number().int().nonnegative();

/** One order line. */
export const OrderItem = z.object({ sku: id, quantity: z.number().int().positive() });
export type OrderItem = z.infer<typeof OrderItem>;

/** `shop.orders` / `OrderPlaced`: a service placed an order; it starts the PlaceOrder saga. */
export const OrderPlaced = defineContract({
  name: 'shop.orders/OrderPlaced',
  source: 'shop.orders',
  detailType: 'OrderPlaced',
  current: 1,
  schema: z.object({
    schemaVersion: z.literal(1),
    orderId: id,
    customerId: id,
    items: z.array(OrderItem).min(1).max(100),
    amount: cents,
    currency: z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code'),
  }),
});
export type OrderPlacedDetail = ReturnType<typeof OrderPlaced.parse>;

/** `converge.sync` / `OrderChanged`: a change to Orders was applied to the replicas. */
export const OrderChanged = defineContract({
  name: 'converge.sync/OrderChanged',
  source: 'converge.sync',
  detailType: 'OrderChanged',
  current: 1,
  schema: z.object({
    schemaVersion: z.literal(1),
    orderId: id,
    changeType: z.enum(['INSERT', 'MODIFY', 'REMOVE']),
    /** Version before the change (absent on INSERT). */
    beforeVersion: z.number().int().nonnegative().optional(),
    /** Version after the change (absent on a hard delete). */
    afterVersion: z.number().int().nonnegative().optional(),
    status: z.enum(['PENDING', 'CONFIRMED', 'CANCELLED']).optional(),
    correlationId: id,
  }),
});

/** `converge.saga` / `SagaCompensated`: a saga failed on a business error and was fully compensated. */
export const SagaCompensated = defineContract({
  name: 'converge.saga/SagaCompensated',
  source: 'converge.saga',
  detailType: 'SagaCompensated',
  current: 1,
  schema: z.object({
    schemaVersion: z.literal(1),
    sagaId: id,
    orderId: id,
    failedStep: id,
    error: z.string(),
    compensatedSteps: z.array(id),
    correlationId: id,
  }),
});

/** `converge.saga` / `SagaNeedsAttention`: a compensation failed after its retries; a human must decide. */
export const SagaNeedsAttention = defineContract({
  name: 'converge.saga/SagaNeedsAttention',
  source: 'converge.saga',
  detailType: 'SagaNeedsAttention',
  current: 1,
  schema: z.object({
    schemaVersion: z.literal(1),
    sagaId: id,
    orderId: id,
    step: id,
    error: z.string(),
    cause: z.string().optional(),
    executionArn: z.string().optional(),
    correlationId: id,
  }),
});

const counts = z.object({
  MISSING_IN_REPLICA: z.number().int().nonnegative(),
  EXTRA_IN_REPLICA: z.number().int().nonnegative(),
  MISMATCH: z.number().int().nonnegative(),
  COMPENSATION_INCOMPLETE: z.number().int().nonnegative().default(0),
});

/** What every `converge.reconcile` event says about its run. */
const runFields = {
  schemaVersion: z.literal(1),
  runId: id,
  mode: z.enum(['report', 'repair']),
  strategy: z.enum(['full', 'digest']),
  discrepancies: counts,
};

/** `converge.reconcile` / `DriftDetected`: a run found drift it did not (or may not) repair. */
export const DriftDetected = defineContract({
  name: 'converge.reconcile/DriftDetected',
  source: 'converge.reconcile',
  detailType: 'DriftDetected',
  current: 1,
  schema: z.object({ ...runFields, breakerTripped: z.boolean() }),
});

/** `converge.reconcile` / `ReconcileCompleted`: a run finished with no drift left. */
export const ReconcileCompleted = defineContract({
  name: 'converge.reconcile/ReconcileCompleted',
  source: 'converge.reconcile',
  detailType: 'ReconcileCompleted',
  current: 1,
  schema: z.object({
    ...runFields,
    compared: z.number().int().nonnegative(),
    repaired: z.number().int().nonnegative(),
    falsePositives: z.number().int().nonnegative(),
  }),
});

/** Every contract, by `source/DetailType`. */
export const contracts = {
  [OrderPlaced.name]: OrderPlaced,
  [OrderChanged.name]: OrderChanged,
  [SagaCompensated.name]: SagaCompensated,
  [SagaNeedsAttention.name]: SagaNeedsAttention,
  [DriftDetected.name]: DriftDetected,
  [ReconcileCompleted.name]: ReconcileCompleted,
} as const;
