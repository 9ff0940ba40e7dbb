/**
 * The replica writer against real DynamoDB semantics (dynalite over HTTP): its condition
 * expressions implement exactly the domain's guard table, and concurrent writers can never
 * leave a replica at anything but the highest version.
 */
import { type AttributeValue, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoReplicaWriter } from '../../../../lambdas/sync/adapters/dynamo-replica-writer.js';
import { parseChange } from '../../../../lambdas/sync/domain/change.js';
import { guardAllows, planWrite, type ReplicaState } from '../../../../lambdas/sync/domain/version-guard.js';
import { ReplicaWriteFailed } from '../../../../lambdas/sync/errors.js';
import { startDynalite, type TestDynamo } from '../dynalite.js';
import { insert, modify, orderImage, orderOptions, remove } from '../records.js';

let db: TestDynamo;
let writer: DynamoReplicaWriter;
const TABLE = 'Replica';
let n = 0;

beforeAll(async () => {
  db = await startDynalite();
  await db.createTable(TABLE, 'orderId');
  writer = new DynamoReplicaWriter(db.client, { partitionKey: 'orderId', version: 'version', tombstone: 'tombstone' });
});
afterAll(async () => db?.stop());

async function seed(orderId: string, state: ReplicaState) {
  if (!state.exists) return;
  const item = state.version === undefined ? { orderId: { S: orderId } } : { ...orderImage(orderId, state.version), ...(state.tombstone ? { tombstone: { BOOL: true } } : {}) };
  await db.client.send(new PutItemCommand({ TableName: TABLE, Item: item as Record<string, AttributeValue> }));
}

async function stored(orderId: string) {
  return (await db.client.send(new GetItemCommand({ TableName: TABLE, Key: { orderId: { S: orderId } }, ConsistentRead: true }))).Item;
}

const states: Array<[string, ReplicaState]> = [
  ['absent', { exists: false }],
  ['older', { exists: true, version: 4 }],
  ['equal', { exists: true, version: 5 }],
  ['newer', { exists: true, version: 6 }],
  ['versionless', { exists: true }],
  ['equal tombstone', { exists: true, version: 5, tombstone: true }],
];
const changes: Array<[string, (id: string) => unknown, 'delete' | 'tombstone']> = [
  ['INSERT v5', (id) => insert(id, 5), 'delete'],
  ['MODIFY v5', (id) => modify(id, 4, 5), 'delete'],
  ['REMOVE v5 (conditional delete)', (id) => remove(id, 5), 'delete'],
  ['REMOVE v5 (tombstone)', (id) => remove(id, 5), 'tombstone'],
];

describe('DynamoReplicaWriter', () => {
  describe.each(changes)('%s', (_name, make, deleteMode) => {
    it.each(states)('on a replica that is %s does what the guard table says', async (_state, state) => {
      const id = `g-${n++}`;
      await seed(id, state);
      const options = { ...orderOptions, deleteMode };
      const write = planWrite(parseChange(make(id), options), options);
      const expected = guardAllows(write, state);
      const before = await stored(id);
      const outcome = await writer.write(TABLE, write);
      expect(outcome.kind).toBe(expected ? 'applied' : 'skipped');
      const after = await stored(id);
      if (!expected) {
        expect(after).toEqual(before);
        expect(outcome).toMatchObject({ replicaExists: state.exists, replicaVersion: state.version });
      } else if (write.kind === 'put') expect(after).toEqual(write.item);
      else expect(after).toBeUndefined();
    });
  });

  it('never regresses a version under concurrent writers delivering versions in every order', async () => {
    const id = `race-${n++}`;
    const versions = Array.from({ length: 30 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    const writers = [writer, new DynamoReplicaWriter(db.client, { partitionKey: 'orderId', version: 'version', tombstone: 'tombstone' })];
    const outcomes = await Promise.all(versions.map((v, i) => writers[i % 2]!.write(TABLE, planWrite(parseChange(insert(id, v), orderOptions), orderOptions))));
    expect((await stored(id))?.version).toEqual({ N: '30' });
    // Whatever interleaving happened, the last applied write was v30 and nothing applied after it.
    expect(outcomes.filter((o) => o.kind === 'applied').length).toBeGreaterThanOrEqual(1);
    expect(outcomes[versions.indexOf(30)]!.kind).toBe('applied');
  });

  it('never lets a late older write resurrect a tombstoned item, but lets a newer version replace it', async () => {
    const id = `tomb-${n++}`;
    const options = { ...orderOptions, deleteMode: 'tombstone' as const };
    await writer.write(TABLE, planWrite(parseChange(insert(id, 2), options), options));
    await writer.write(TABLE, planWrite(parseChange(remove(id, 2), options), options));
    expect(await writer.write(TABLE, planWrite(parseChange(modify(id, 1, 2), options), options))).toMatchObject({ kind: 'skipped' });
    expect(await stored(id)).toEqual({ orderId: { S: id }, version: { N: '2' }, tombstone: { BOOL: true } });
    expect(await writer.write(TABLE, planWrite(parseChange(insert(id, 3), options), options))).toEqual({ kind: 'applied' });
    expect((await stored(id))?.tombstone).toBeUndefined();
  });

  it('costs one write request per change, plus one read only when the guard refuses', async () => {
    const id = `cost-${n++}`;
    for (const k of Object.keys(db.sent)) delete db.sent[k];
    await writer.write(TABLE, planWrite(parseChange(insert(id, 1), orderOptions), orderOptions));
    expect(db.sent).toEqual({ PutItemCommand: 1 });
    await writer.write(TABLE, planWrite(parseChange(insert(id, 1), orderOptions), orderOptions));
    // dynalite ignores ReturnValuesOnConditionCheckFailure, so the writer reads the version (AWS returns it with the refusal).
    expect(db.sent.PutItemCommand).toBe(2);
    expect(db.sent.GetItemCommand ?? 0).toBeLessThanOrEqual(1);
  });

  it('wraps other failures as a retryable ReplicaWriteFailed naming the replica', async () => {
    await expect(writer.write('NoSuchTable', planWrite(parseChange(insert('x', 1), orderOptions), orderOptions))).rejects.toMatchObject({
      name: 'ReplicaWriteFailed',
      replica: 'NoSuchTable',
    });
    await expect(writer.write('NoSuchTable', planWrite(parseChange(insert('x', 1), orderOptions), orderOptions))).rejects.toBeInstanceOf(ReplicaWriteFailed);
  });

  it('deletes an item that has no version when the REMOVE carries none', async () => {
    const id = `nov-${n++}`;
    await db.client.send(new PutItemCommand({ TableName: TABLE, Item: orderImage(id, 9) as Record<string, AttributeValue> }));
    const record = remove(id, 9);
    delete (record.dynamodb as { OldImage?: unknown }).OldImage;
    expect(await writer.write(TABLE, planWrite(parseChange(record, orderOptions), orderOptions))).toEqual({ kind: 'applied' });
    expect(await stored(id)).toBeUndefined();
    expect(await writer.write(TABLE, planWrite(parseChange(record, orderOptions), orderOptions))).toMatchObject({ kind: 'skipped', replicaExists: false });
  });
});
