import { describe, expect, it } from 'vitest';
import { MAX_ITEM_BYTES, itemSizeBytes } from '../../../../lambdas/sync/domain/attribute-values.js';
import { parseChange, project, recordFacts } from '../../../../lambdas/sync/domain/change.js';
import { ImageContractViolation, ItemTooLarge, UnparseableRecord } from '../../../../lambdas/sync/errors.js';
import { insert, modify, orderImage, orderOptions, remove, streamRecord } from '../records.js';

describe('parseChange: mapping', () => {
  it('maps an INSERT: key, version, the image copied as is, the writer time', () => {
    const record = insert('o-1', 1);
    const change = parseChange(record, orderOptions);
    expect(change).toMatchObject({ kind: 'INSERT', keyText: 'orderId=o-1', version: 1, beforeVersion: undefined, sequenceNumber: record.dynamodb.SequenceNumber, writtenAt: 1_795_766_400_000 });
    expect(change.key).toEqual({ orderId: { S: 'o-1' } });
    expect(change.item).toEqual(record.dynamodb.NewImage);
  });

  it('maps a MODIFY with before and after versions into an OrderChanged v1 event', () => {
    const change = parseChange(modify('o-1', 3, 4, { status: { S: 'CONFIRMED' } }), orderOptions);
    expect(change.event).toEqual({
      source: 'converge.sync',
      detailType: 'OrderChanged',
      detail: { schemaVersion: 1, orderId: 'o-1', changeType: 'MODIFY', beforeVersion: 3, afterVersion: 4, status: 'CONFIRMED', correlationId: change.eventId },
    });
  });

  it('maps a REMOVE to the deleted version, with no after version', () => {
    const change = parseChange(remove('o-1', 4), orderOptions);
    expect(change).toMatchObject({ kind: 'REMOVE', version: 4, beforeVersion: 4 });
    expect(change.item).toBeUndefined();
    expect(change.event?.detail).toEqual({ schemaVersion: 1, orderId: 'o-1', changeType: 'REMOVE', beforeVersion: 4, correlationId: change.eventId });
  });

  it('takes the writer’s correlationId attribute when present, else the stream event id', () => {
    expect(parseChange(insert('o-1', 1, { correlationId: { S: 'saga-42' } }), orderOptions).correlationId).toBe('saga-42');
    const plain = insert('o-2', 1);
    expect(parseChange(plain, orderOptions).correlationId).toBe(plain.eventID);
  });

  it('marks TTL expiries', () => {
    const record = streamRecord('REMOVE', 'o-1', { oldImage: orderImage('o-1', 2) }, { userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } });
    expect(parseChange(record, orderOptions).ttlExpiry).toBe(true);
  });

  it('supports composite keys in order', () => {
    const options = { ...orderOptions, keyAttributes: ['pk', 'sk'], imageContract: undefined, changeEvent: undefined };
    const image = { pk: { S: 'a' }, sk: { N: '7' }, version: { N: '1' } };
    const record = streamRecord('INSERT', 'x', { newImage: image });
    record.dynamodb.Keys = { pk: { S: 'a' }, sk: { N: '7' } } as never;
    expect(parseChange(record, options).keyText).toBe('pk=a,sk=7');
  });
});

describe('parseChange: projection', () => {
  const image = orderImage('o-1', 2, { internalNote: { S: 'x' }, updatedAt: { S: 't' } });
  it('copies everything by default', () => {
    expect(project(image, orderOptions)).toEqual(image);
  });
  it('keeps only included attributes, plus the key and version', () => {
    expect(Object.keys(project(image, { ...orderOptions, projection: { mode: 'include', attributes: ['status'] } })).sort()).toEqual(['orderId', 'status', 'version']);
  });
  it('drops ignored attributes but never the key or version', () => {
    const out = project(image, { ...orderOptions, projection: { mode: 'exclude', attributes: ['internalNote', 'updatedAt', 'version', 'orderId'] } });
    expect(out).not.toHaveProperty('internalNote');
    expect(out).not.toHaveProperty('updatedAt');
    expect(out).toHaveProperty('orderId');
    expect(out).toHaveProperty('version');
  });
  it('applies the projection to the replica item of a change', () => {
    const change = parseChange(insert('o-1', 1, { internalNote: { S: 'secret' } }), { ...orderOptions, projection: { mode: 'exclude', attributes: ['internalNote'] } });
    expect(change.item).not.toHaveProperty('internalNote');
  });
});

describe('parseChange: poison records', () => {
  const poison = (record: unknown, options = orderOptions) => {
    try {
      parseChange(record, options);
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected a poison record');
  };

  it('refuses a record that is not a stream record', () => {
    expect(poison({ hello: 'world' })).toBeInstanceOf(UnparseableRecord);
    expect(poison(null)).toBeInstanceOf(UnparseableRecord);
  });

  it('refuses an image that is not an AttributeValue map, naming where', () => {
    const err = poison(insert('o-1', 1, { amount: { X: '1' } as never }));
    expect(err).toBeInstanceOf(UnparseableRecord);
    expect((err as UnparseableRecord).path).toContain('NewImage');
  });

  it('refuses a number that cannot be represented exactly', () => {
    expect(poison(insert('o-1', 1, { amount: { N: '123456789012345678901234' } }))).toBeInstanceOf(UnparseableRecord);
  });

  it.each([
    ['a missing version', { version: undefined }],
    ['a string version', { version: { S: '1' } }],
    ['a fractional version', { version: { N: '1.5' } }],
    ['a negative version', { version: { N: '-1' } }],
  ])('refuses %s', (_name, patch) => {
    const image = { ...orderImage('o-1', 1), ...patch } as Record<string, unknown>;
    if (patch.version === undefined) delete image.version;
    const err = poison(streamRecord('INSERT', 'o-1', { newImage: image as never }));
    expect(err).toBeInstanceOf(ImageContractViolation);
    expect((err as ImageContractViolation).path).toBe('version');
  });

  it('refuses an INSERT without a new image (a KEYS_ONLY stream)', () => {
    expect(poison(streamRecord('INSERT', 'o-1', {}))).toBeInstanceOf(ImageContractViolation);
  });

  it('refuses a key of the wrong type or a new image whose key differs', () => {
    const record = insert('o-1', 1);
    record.dynamodb.Keys = { orderId: { BOOL: true } } as never;
    expect(poison(record)).toBeInstanceOf(ImageContractViolation);
    const other = insert('o-1', 1);
    other.dynamodb.Keys = { orderId: { S: 'o-2' } };
    expect(poison(other)).toBeInstanceOf(ImageContractViolation);
  });

  it('refuses an Order image of the wrong type, without quoting the value', () => {
    const err = poison(insert('o-1', 1, { amount: { S: '12.50 EUR' } }));
    expect(err).toBeInstanceOf(ImageContractViolation);
    expect(err.message).toMatch(/^Order contract: amount: /);
    expect(err.message).not.toContain('12.50');
    expect(poison(insert('o-1', 1, { status: { S: 'SHIPPED' } }))).toBeInstanceOf(ImageContractViolation);
  });

  it('accepts any image shape when no image contract is configured', () => {
    expect(() => parseChange(insert('o-1', 1, { amount: { S: 'n/a' } }), { ...orderOptions, imageContract: undefined, changeEvent: undefined })).not.toThrow();
  });

  it('refuses an item over 400 KB, measured after projection', () => {
    const big = { blob: { S: 'x'.repeat(MAX_ITEM_BYTES) } };
    expect(poison(insert('o-1', 1, big))).toBeInstanceOf(ItemTooLarge);
    expect(() => parseChange(insert('o-1', 1, big), { ...orderOptions, projection: { mode: 'exclude', attributes: ['blob'] } })).not.toThrow();
  });
});

describe('itemSizeBytes', () => {
  it('counts names and values as DynamoDB does', () => {
    expect(itemSizeBytes({ a: { S: 'héllo' } })).toBe(1 + 6);
    expect(itemSizeBytes({ n: { N: '12345' } })).toBe(1 + 4);
    expect(itemSizeBytes({ b: { BOOL: true }, z: { NULL: true } })).toBe(4);
    expect(itemSizeBytes({ l: { L: [{ S: 'ab' }] } })).toBe(1 + 3 + 1 + 2);
  });
});

describe('recordFacts', () => {
  it('reads keys and ids leniently from a broken record, never the images', () => {
    const record = insert('o-9', 1, { amount: { X: 1 } as never });
    const facts = recordFacts(record, ['orderId']);
    expect(facts).toMatchObject({ eventId: record.eventID, keyText: 'orderId=o-9', entityKey: 'o-9', eventName: 'INSERT', sequenceNumber: record.dynamodb.SequenceNumber });
    expect(recordFacts(42, ['orderId'])).toEqual({ eventId: undefined, eventName: undefined, sequenceNumber: undefined, eventSourceArn: undefined, keyText: undefined, entityKey: undefined, writtenAt: undefined });
  });
});
