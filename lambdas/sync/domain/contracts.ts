/**
 * The contracts a sync can enforce: image contracts (what a source item must look like before
 * it is copied) and change events (what is published after applying). Both are registries
 * keyed by name, so the construct selects them by a plain string in the environment.
 */
import { z } from 'zod';
import { OrderChanged, OrderItem } from '../../shared/contracts/events.js';
import type { OutboundEvent } from '../../shared/ports.js';
import type { Plain } from './attribute-values.js';
import type { Change } from './change.js';

/** The Orders item (DESIGN §2). Extra attributes are allowed and copied as they are. */
const OrderImage = z.looseObject({
  orderId: z.string().min(1),
  version: z.number().int().nonnegative(),
  status: z.enum(['PENDING', 'CONFIRMED', 'CANCELLED']),
  customerId: z.string().min(1),
  items: z.array(OrderItem),
  amount: z.number().int().nonnegative(),
  updatedAt: z.string().optional(),
});

/** Image contracts by name. */
export const IMAGE_CONTRACTS = { Order: OrderImage } as const;
export type ImageContractName = keyof typeof IMAGE_CONTRACTS;

/** Builds a change event from a change and the plain view of its new (or, for REMOVE, old) image. */
export type ChangeEventBuilder = (change: Omit<Change, 'event'>, image: { readonly [k: string]: Plain }) => OutboundEvent;

/** `converge.sync/OrderChanged` v1: key, change type, before/after versions, status, correlation id. */
const orderChanged: ChangeEventBuilder = (change, image) => {
  const orderId = image.orderId ?? change.keyText.replace(/^[^=]*=/, '');
  const detail = OrderChanged.build({
    schemaVersion: 1,
    orderId: String(orderId),
    changeType: change.kind,
    beforeVersion: change.beforeVersion,
    afterVersion: change.kind === 'REMOVE' ? undefined : change.version,
    status: change.kind === 'REMOVE' ? undefined : (image.status as 'PENDING' | 'CONFIRMED' | 'CANCELLED' | undefined),
    correlationId: change.correlationId,
  });
  return { source: OrderChanged.source, detailType: OrderChanged.detailType, detail: stripUndefined(detail) };
};

function stripUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Change events by name. */
export const CHANGE_EVENTS = { OrderChanged: orderChanged } as const satisfies Record<string, ChangeEventBuilder>;
export type ChangeEventName = keyof typeof CHANGE_EVENTS;
