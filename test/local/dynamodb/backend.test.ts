import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DynaliteBackend } from '../../../local/dynamodb/backend.js';

describe('DynaliteBackend', () => {
  it('forwards operations, passes errors through with their __type, and restarts on the same store', async () => {
    const backend = new DynaliteBackend(join(mkdtempSync(join(tmpdir(), 'converge-dynalite-')), 'leveldb'));
    await expect(backend.call('ListTables', {})).rejects.toMatchObject({ code: 'ServiceUnavailable' });
    await backend.start();
    await backend.call('CreateTable', {
      TableName: 'Raw', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST',
    });
    await new Promise((r) => setTimeout(r, 20));
    await backend.call('PutItem', { TableName: 'Raw', Item: { pk: { S: 'a' } } });
    const err = await backend.call('PutItem', { TableName: 'Raw', Item: { pk: { S: 'a' } }, ConditionExpression: 'attribute_not_exists(pk)' }).catch((e) => e);
    expect(err).toMatchObject({ code: 'ConditionalCheckFailedException', extra: { __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException' } });
    await expect(backend.call('TransactWriteItems', {})).rejects.toMatchObject({ code: 'UnknownOperationException' });
    await backend.stop();
    await backend.start();
    expect((await backend.call('GetItem', { TableName: 'Raw', Key: { pk: { S: 'a' } } })).Item).toEqual({ pk: { S: 'a' } });
    await backend.stop();
  });

  it('lets calls already sent finish before it stops, and refuses later ones', async () => {
    const backend = new DynaliteBackend(join(mkdtempSync(join(tmpdir(), 'converge-dynalite-')), 'leveldb'));
    await backend.start();
    await backend.call('CreateTable', {
      TableName: 'Busy', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST',
    });
    await new Promise((r) => setTimeout(r, 20));
    const puts = Array.from({ length: 50 }, (_, i) => backend.call('PutItem', { TableName: 'Busy', Item: { pk: { S: `k${i}` } } }));
    const stopped = backend.stop();
    await expect(backend.call('GetItem', { TableName: 'Busy', Key: { pk: { S: 'k0' } } })).rejects.toMatchObject({ code: 'ServiceUnavailable' });
    await Promise.all(puts);
    await stopped;
    await backend.start();
    expect((await backend.call('Scan', { TableName: 'Busy', Select: 'COUNT' })).Count).toBe(50);
    await backend.stop();
  });
});
