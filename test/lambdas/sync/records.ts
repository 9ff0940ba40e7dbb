/**
 * Builders of DynamoDB stream records, shaped as Lambda delivers them, for the sync's unit
 * and adapter tests (the end-to-end tests never hand-feed records).
 */
import type { AttributeMap } from '../../../lambdas/sync/domain/attribute-values.js';
import type { SyncOptions } from '../../../lambdas/sync/domain/change.js';

let seq = 1000;

/** An Orders image in AttributeValue form. */
export function orderImage(orderId: string, version: number, extra: AttributeMap = {}): AttributeMap {
  return {
    orderId: { S: orderId },
    version: { N: String(version) },
    status: { S: 'PENDING' },
    customerId: { S: 'c-1' },
    items: { L: [{ M: { sku: { S: 'sku-1' }, quantity: { N: '2' } } }] },
    amount: { N: '1250' },
    updatedAt: { S: '2026-11-27T08:00:00Z' },
    ...extra,
  };
}

/** A stream record. */
export function streamRecord(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', orderId: string, images: { newImage?: AttributeMap; oldImage?: AttributeMap }, overrides: Record<string, unknown> = {}) {
  seq += 1;
  return {
    eventID: `ev-${seq}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/2026-11-27T00:00:00.000',
    dynamodb: {
      ApproximateCreationDateTime: 1_795_766_400,
      Keys: { orderId: { S: orderId } },
      ...(images.newImage ? { NewImage: images.newImage } : {}),
      ...(images.oldImage ? { OldImage: images.oldImage } : {}),
      SequenceNumber: String(seq).padStart(21, '1'),
      SizeBytes: 200,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    ...overrides,
  };
}

export const insert = (orderId: string, version: number, extra?: AttributeMap) => streamRecord('INSERT', orderId, { newImage: orderImage(orderId, version, extra) });
export const modify = (orderId: string, from: number, to: number, extra?: AttributeMap) =>
  streamRecord('MODIFY', orderId, { oldImage: orderImage(orderId, from), newImage: orderImage(orderId, to, extra) });
export const remove = (orderId: string, version: number) => streamRecord('REMOVE', orderId, { oldImage: orderImage(orderId, version) });

/** The reference app's options. */
export const orderOptions: SyncOptions = {
  sourceTable: 'Orders',
  entityName: 'order',
  keyAttributes: ['orderId'],
  versionAttribute: 'version',
  projection: { mode: 'all' },
  deleteMode: 'delete',
  tombstoneAttribute: 'tombstone',
  imageContract: 'Order',
  changeEvent: 'OrderChanged',
};
