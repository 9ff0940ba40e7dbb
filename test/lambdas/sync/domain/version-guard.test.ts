import { describe, expect, it } from 'vitest';
import { parseChange } from '../../../../lambdas/sync/domain/change.js';
import { alreadyReflects, guardAllows, planWrite, type ReplicaState } from '../../../../lambdas/sync/domain/version-guard.js';
import { insert, modify, orderOptions, remove, streamRecord } from '../records.js';

const absent: ReplicaState = { exists: false };
const at = (version: number, tombstone = false): ReplicaState => ({ exists: true, version, tombstone });

describe('the version guard decision table (change at v5)', () => {
  const older = at(4);
  const equal = at(5);
  const newer = at(6);
  const cases: Array<[string, ReturnType<typeof insert>, 'delete' | 'tombstone', [boolean, boolean, boolean, boolean]]> = [
    //                                                      absent older equal newer
    ['INSERT', insert('o-1', 5), 'delete', [true, true, false, false]],
    ['MODIFY', modify('o-1', 4, 5), 'delete', [true, true, false, false]],
    ['REMOVE (conditional delete)', remove('o-1', 5), 'delete', [false, true, true, false]],
    ['REMOVE (tombstone)', remove('o-1', 5), 'tombstone', [true, true, true, false]],
  ];
  it.each(cases)('%s', (_name, record, deleteMode, [a, o, e, n]) => {
    const write = planWrite(parseChange(record, { ...orderOptions, deleteMode }), { ...orderOptions, deleteMode });
    expect([guardAllows(write, absent), guardAllows(write, older), guardAllows(write, equal), guardAllows(write, newer)]).toEqual([a, o, e, n]);
  });

  it('treats a replica item without a version as older than anything', () => {
    const write = planWrite(parseChange(insert('o-1', 0), orderOptions), orderOptions);
    expect(guardAllows(write, { exists: true })).toBe(true);
  });

  it('lets a put of the same version not overwrite a tombstone, and a newer version replace it', () => {
    const options = { ...orderOptions, deleteMode: 'tombstone' as const };
    const tombstone = at(5, true);
    expect(guardAllows(planWrite(parseChange(modify('o-1', 4, 5), options), options), tombstone)).toBe(false);
    expect(guardAllows(planWrite(parseChange(insert('o-1', 6), options), options), tombstone)).toBe(true);
    // A repeated REMOVE of v5 meets its own tombstone and is skipped.
    expect(guardAllows(planWrite(parseChange(remove('o-1', 5), options), options), tombstone)).toBe(false);
  });

  it('deletes without a version (no old image) unconditionally, but only what exists', () => {
    const record = streamRecord('REMOVE', 'o-1', {});
    const write = planWrite(parseChange(record, orderOptions), orderOptions);
    expect(write).toEqual({ kind: 'delete', key: { orderId: { S: 'o-1' } }, version: undefined });
    expect(guardAllows(write, newer)).toBe(true);
    expect(guardAllows(write, absent)).toBe(false);
  });
});

describe('planWrite', () => {
  it('puts the projected new image for INSERT and MODIFY', () => {
    const change = parseChange(modify('o-1', 1, 2), orderOptions);
    expect(planWrite(change, orderOptions)).toMatchObject({ kind: 'put', version: 2, tombstone: false, item: change.item });
  });

  it('writes a tombstone holding only the key, the deleted version and the marker', () => {
    const options = { ...orderOptions, deleteMode: 'tombstone' as const };
    expect(planWrite(parseChange(remove('o-1', 7), options), options)).toEqual({
      kind: 'put',
      key: { orderId: { S: 'o-1' } },
      item: { orderId: { S: 'o-1' }, version: { N: '7' }, tombstone: { BOOL: true } },
      version: 7,
      tombstone: true,
    });
  });
});

describe('alreadyReflects', () => {
  const put = planWrite(parseChange(insert('o-1', 5), orderOptions), orderOptions);
  const del = planWrite(parseChange(remove('o-1', 5), orderOptions), orderOptions);
  it('is true for a put refused by an equal version, false for a newer one', () => {
    expect(alreadyReflects(put, { kind: 'skipped', replicaExists: true, replicaVersion: 5 })).toBe(true);
    expect(alreadyReflects(put, { kind: 'skipped', replicaExists: true, replicaVersion: 6 })).toBe(false);
    expect(alreadyReflects(put, { kind: 'applied' })).toBe(false);
  });
  it('is true for a delete refused because the item is already gone', () => {
    expect(alreadyReflects(del, { kind: 'skipped', replicaExists: false })).toBe(true);
    expect(alreadyReflects(del, { kind: 'skipped', replicaExists: true, replicaVersion: 6 })).toBe(false);
  });
});
