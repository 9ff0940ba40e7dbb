import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lambdas/shared/errors.js';
import { loadSyncConfig } from '../../../lambdas/sync/config.js';

const base = {
  SOURCE_TABLE_NAME: 'Orders',
  REPLICA_TABLE_NAMES: 'A, B',
  KEY_ATTRIBUTES: 'orderId',
  VERSION_ATTRIBUTE: 'version',
  IDEMPOTENCY_TABLE_NAME: 'Idem',
  AUDIT_TABLE_NAME: 'Audit',
  DEAD_LETTER_QUEUE_URL: 'https://sqs/dlq',
};

describe('loadSyncConfig', () => {
  it('reads lists and defaults into sync options', () => {
    const c = loadSyncConfig(base);
    expect(c.REPLICA_TABLE_NAMES).toEqual(['A', 'B']);
    expect(c.options).toEqual({ sourceTable: 'Orders', entityName: 'item', keyAttributes: ['orderId'], versionAttribute: 'version', projection: { mode: 'all' }, deleteMode: 'delete', tombstoneAttribute: 'tombstone', imageContract: undefined, changeEvent: undefined });
    expect(c.IDEMPOTENCY_TTL_SECONDS).toBe(86_400);
  });

  it('reads a projection', () => {
    expect(loadSyncConfig({ ...base, PROJECTION_MODE: 'exclude', PROJECTION_ATTRIBUTES: 'updatedAt,note' }).options.projection).toEqual({ mode: 'exclude', attributes: ['updatedAt', 'note'] });
  });

  it.each([
    ['no replica', { REPLICA_TABLE_NAMES: ' , ' }, 'REPLICA_TABLE_NAMES'],
    ['an unknown image contract', { IMAGE_CONTRACT: 'Invoice' }, 'IMAGE_CONTRACT'],
    ['a change event without a bus', { CHANGE_EVENT: 'OrderChanged' }, 'EVENT_BUS_NAME'],
    ['a missing DLQ', { DEAD_LETTER_QUEUE_URL: undefined }, 'DEAD_LETTER_QUEUE_URL'],
  ])('fails fast on %s', (_name, patch, variable) => {
    try {
      loadSyncConfig({ ...base, ...patch });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(variable);
    }
  });
});
