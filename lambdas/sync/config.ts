/**
 * The sync function's configuration, read once at cold start from the environment that the
 * `TableStreamToReplicas` construct sets. Names of the variables are exported so the construct
 * and the function cannot drift apart.
 */
import { z } from 'zod';
import { loadConfig, required } from '../shared/config.js';
import type { SyncOptions } from './domain/change.js';
import { CHANGE_EVENTS, IMAGE_CONTRACTS } from './domain/contracts.js';

const list = () => z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));
const nonEmptyList = () => list().refine((l) => l.length > 0, 'must list at least one name');

/** The environment of the sync function. */
export const SyncEnvironment = {
  SOURCE_TABLE_NAME: required(),
  ENTITY_NAME: z.string().min(1).default('item'),
  REPLICA_TABLE_NAMES: nonEmptyList(),
  KEY_ATTRIBUTES: nonEmptyList(),
  VERSION_ATTRIBUTE: required(),
  PROJECTION_MODE: z.enum(['all', 'include', 'exclude']).default('all'),
  PROJECTION_ATTRIBUTES: list().default([]),
  DELETE_MODE: z.enum(['delete', 'tombstone']).default('delete'),
  TOMBSTONE_ATTRIBUTE: z.string().min(1).default('tombstone'),
  IMAGE_CONTRACT: z.enum(Object.keys(IMAGE_CONTRACTS) as [keyof typeof IMAGE_CONTRACTS]).optional(),
  CHANGE_EVENT: z.enum(Object.keys(CHANGE_EVENTS) as [keyof typeof CHANGE_EVENTS]).optional(),
  EVENT_BUS_NAME: z.string().min(1).optional(),
  IDEMPOTENCY_TABLE_NAME: required(),
  IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().positive().default(86_400),
  AUDIT_TABLE_NAME: required(),
  DEAD_LETTER_QUEUE_URL: required(),
};
export type SyncEnvironment = z.infer<z.ZodObject<typeof SyncEnvironment>>;

/** Reads and cross-checks the environment. @throws ConfigError */
export function loadSyncConfig(env: Record<string, string | undefined> = process.env): SyncEnvironment & { options: SyncOptions } {
  const e = loadConfig(SyncEnvironment, env);
  if (e.CHANGE_EVENT && !e.EVENT_BUS_NAME) loadConfig({ EVENT_BUS_NAME: required() }, env);
  const projection: SyncOptions['projection'] = e.PROJECTION_MODE === 'all' ? { mode: 'all' } : { mode: e.PROJECTION_MODE, attributes: e.PROJECTION_ATTRIBUTES };
  return {
    ...e,
    options: {
      sourceTable: e.SOURCE_TABLE_NAME,
      entityName: e.ENTITY_NAME,
      keyAttributes: e.KEY_ATTRIBUTES,
      versionAttribute: e.VERSION_ATTRIBUTE,
      projection,
      deleteMode: e.DELETE_MODE,
      tombstoneAttribute: e.TOMBSTONE_ATTRIBUTE,
      imageContract: e.IMAGE_CONTRACT,
      changeEvent: e.CHANGE_EVENT,
    },
  };
}
