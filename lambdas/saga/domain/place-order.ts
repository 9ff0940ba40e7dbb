/**
 * What each PlaceOrder step and compensation does, as data: the resource changes to apply in the
 * same transaction as the ledger's effect row. Compensations undo exactly what the effect row
 * recorded, under the same saga id, never a recomputation from the current order.
 */
import { InsufficientStock, OrderAlreadyExists, OrderNotPending, PaymentDeclined, ShipmentAlreadyExists, ShipmentNotCancellable } from '../errors.js';
import type { EffectRecord, ResourceOp, SagaOrder } from './model.js';

/** Saga identity: deterministic from the order, so a duplicate OrderPlaced collides on the ledger. */
export const sagaIdOf = (orderId: string) => `order#${orderId}`;

/** Quantities per sku, duplicates merged (a transaction may touch each item once). */
export function quantitiesBySku(items: SagaOrder['items']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { sku, quantity } of items) out[sku] = (out[sku] ?? 0) + quantity;
  return out;
}

/** A planned action: resource ops plus what the effect row records. */
export interface ActionPlan {
  readonly ops: readonly ResourceOp[];
  readonly details: Record<string, unknown>;
}

interface Ctx {
  readonly sagaId: string;
  readonly order: SagaOrder;
  readonly now: string;
  readonly reason?: string;
}

type Planner = {
  readonly action: (ctx: Ctx) => ActionPlan;
  /** The compensation's name and its ops, from the effect row as recorded. */
  readonly compensation?: { readonly name: string; readonly ops: (effect: EffectRecord, ctx: Ctx) => readonly ResourceOp[] };
};

const orderKey = (order: SagaOrder) => ({ orderId: order.orderId });

/** PlaceOrder's steps, by action name. */
export const placeOrderPlanners: Readonly<Record<string, Planner>> = {
  CreateOrder: {
    action: ({ sagaId, order, now }) => ({
      ops: [
        {
          kind: 'create',
          table: 'Orders',
          keyName: 'orderId',
          item: { orderId: order.orderId, status: 'PENDING', version: 1, customerId: order.customerId, items: order.items, amount: order.amount, currency: order.currency, sagaId, createdAt: now, updatedAt: now },
          onConflict: () => new OrderAlreadyExists(`order ${order.orderId} already exists and was not created by saga ${sagaId}`),
        },
      ],
      details: { orderId: order.orderId },
    }),
    compensation: {
      name: 'CancelOrder',
      ops: (_e, { sagaId, order, reason }) => [
        {
          kind: 'transition',
          table: 'Orders',
          key: orderKey(order),
          // Same saga id: never cancel an order this saga did not create.
          expect: { sagaId, status: 'PENDING' },
          set: { status: 'CANCELLED', cancelReason: reason ?? 'saga compensated' },
          onConflict: () => new OrderNotPending(`order ${order.orderId} is not PENDING for saga ${sagaId}; it may have been confirmed`),
        },
      ],
    },
  },
  ReserveInventory: {
    action: ({ order }) => {
      const items = quantitiesBySku(order.items);
      return {
        ops: Object.entries(items).map(([sku, quantity]) => ({ kind: 'adjust', table: 'Inventory', key: { sku }, attribute: 'available', delta: -quantity, onConflict: () => new InsufficientStock(sku) })),
        details: { items },
      };
    },
    compensation: {
      name: 'ReleaseInventory',
      ops: (effect) =>
        Object.entries(effect.details.items as Record<string, number>).map(([sku, quantity]) => ({
          kind: 'adjust' as const,
          table: 'Inventory',
          key: { sku },
          attribute: 'available',
          delta: quantity,
          onConflict: () => new Error('unreachable: a credit has no condition'),
        })),
    },
  },
  ChargePayment: {
    action: ({ order }) => ({
      ops: [{ kind: 'adjust', table: 'Wallets', key: { customerId: order.customerId }, attribute: 'balance', delta: -order.amount, onConflict: () => new PaymentDeclined(order.customerId) }],
      details: { customerId: order.customerId, amount: order.amount },
    }),
    compensation: {
      name: 'RefundPayment',
      ops: (effect) => [
        { kind: 'adjust', table: 'Wallets', key: { customerId: String(effect.details.customerId) }, attribute: 'balance', delta: Number(effect.details.amount), onConflict: () => new Error('unreachable: a credit has no condition') },
      ],
    },
  },
  CreateShipment: {
    action: ({ sagaId, order, now }) => ({
      ops: [
        {
          kind: 'create',
          table: 'Shipments',
          keyName: 'orderId',
          item: { orderId: order.orderId, shipmentId: `shp-${order.orderId}`, status: 'CREATED', version: 1, items: order.items, sagaId, createdAt: now, updatedAt: now },
          onConflict: () => new ShipmentAlreadyExists(`a shipment for order ${order.orderId} exists and was not created by saga ${sagaId}`),
        },
      ],
      details: { orderId: order.orderId, shipmentId: `shp-${order.orderId}` },
    }),
    compensation: {
      name: 'CancelShipment',
      ops: (_e, { sagaId, order }) => [
        {
          kind: 'transition',
          table: 'Shipments',
          key: orderKey(order),
          expect: { sagaId, status: 'CREATED' },
          set: { status: 'CANCELLED' },
          onConflict: () => new ShipmentNotCancellable(`shipment of order ${order.orderId} can no longer be cancelled`),
        },
      ],
    },
  },
  ConfirmOrder: {
    action: ({ sagaId, order }) => ({
      ops: [
        {
          kind: 'transition',
          table: 'Orders',
          key: orderKey(order),
          expect: { sagaId, status: 'PENDING' },
          set: { status: 'CONFIRMED' },
          onConflict: () => new OrderNotPending(`order ${order.orderId} is no longer PENDING`),
        },
      ],
      details: { orderId: order.orderId },
    }),
  },
};

/** The action whose compensation is `name`. */
export function stepOfCompensation(name: string): string | undefined {
  return Object.entries(placeOrderPlanners).find(([, p]) => p.compensation?.name === name)?.[0];
}
