/**
 * The `AWS::DynamoDB::Table` provider: turns resolved CloudFormation properties into a table
 * with its stream, TTL, indexes and settings; adopts a table kept from a previous run (data
 * included); replaces it when the key schema changes, as CloudFormation does.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AwsError, type ProvisionRequest, type Provisioned, type ResourceProvider } from '../core/aws.js';
import type { DynamoFront } from './front.js';

const TABLE_PROPERTIES = new Set([
  'TableName', 'AttributeDefinitions', 'KeySchema', 'BillingMode', 'ProvisionedThroughput', 'GlobalSecondaryIndexes',
  'LocalSecondaryIndexes', 'StreamSpecification', 'TimeToLiveSpecification', 'SSESpecification', 'PointInTimeRecoverySpecification',
  'DeletionProtectionEnabled', 'Tags', 'ContributorInsightsSpecification', 'TableClass',
]);
const GSI_PROPERTIES = new Set(['IndexName', 'KeySchema', 'Projection', 'ProvisionedThroughput', 'ContributorInsightsSpecification']);
const LSI_PROPERTIES = new Set(['IndexName', 'KeySchema', 'Projection']);

function refuse(what: string, logicalId: string): never {
  throw new AwsError('ValidationException', `AWS::DynamoDB::Table ${logicalId}: ${what} is not supported by the local cloud`);
}

function bool(v: unknown): boolean {
  return v === true || v === 'true';
}

function only(obj: any, allowed: readonly string[], where: string, logicalId: string): void {
  for (const k of Object.keys(obj ?? {})) if (!allowed.includes(k)) refuse(`property ${where}.${k}`, logicalId);
}

function throughput(t: any): any {
  return t ? { ReadCapacityUnits: Number(t.ReadCapacityUnits), WriteCapacityUnits: Number(t.WriteCapacityUnits) } : undefined;
}

/** The desired state of a table, in API terms. */
interface Desired {
  name: string;
  create: Record<string, any>;
  ttl?: { enabled: boolean; attributeName: string };
  pitr?: { enabled: boolean; recoveryPeriodInDays?: number };
  contributorInsights: boolean;
  tags: Array<{ Key: string; Value: string }>;
  stream?: string;
  sse?: { Enabled: boolean; SSEType?: string; KMSMasterKeyId?: string };
}

/** CloudFormation-like generated name; stable for the same stack, logical id and key schema, so a restart adopts the table. */
function generatedName(req: ProvisionRequest): string {
  const suffix = createHash('sha256').update(`${req.stackName}/${req.logicalId}/${JSON.stringify(req.properties.KeySchema)}`).digest('hex').slice(0, 12).toUpperCase();
  return `${req.stackName}-${req.logicalId}-${suffix}`.slice(-255);
}

function desiredOf(req: ProvisionRequest): Desired {
  const p = req.properties;
  for (const k of Object.keys(p)) if (!TABLE_PROPERTIES.has(k)) refuse(`property ${k}`, req.logicalId);
  if (!Array.isArray(p.KeySchema) || !Array.isArray(p.AttributeDefinitions)) refuse('a table without KeySchema or AttributeDefinitions', req.logicalId);
  const billing = p.BillingMode ?? 'PROVISIONED';
  if (billing !== 'PROVISIONED' && billing !== 'PAY_PER_REQUEST') refuse(`BillingMode ${billing}`, req.logicalId);
  const gsis = (p.GlobalSecondaryIndexes ?? []).map((g: any) => {
    only(g, [...GSI_PROPERTIES], 'GlobalSecondaryIndexes[]', req.logicalId);
    return { IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection, ...(g.ProvisionedThroughput ? { ProvisionedThroughput: throughput(g.ProvisionedThroughput) } : {}) };
  });
  const lsis = (p.LocalSecondaryIndexes ?? []).map((l: any) => {
    only(l, [...LSI_PROPERTIES], 'LocalSecondaryIndexes[]', req.logicalId);
    return { IndexName: l.IndexName, KeySchema: l.KeySchema, Projection: l.Projection };
  });
  if (p.StreamSpecification) only(p.StreamSpecification, ['StreamViewType'], 'StreamSpecification', req.logicalId);
  if (p.TimeToLiveSpecification) only(p.TimeToLiveSpecification, ['AttributeName', 'Enabled'], 'TimeToLiveSpecification', req.logicalId);
  if (p.SSESpecification) only(p.SSESpecification, ['SSEEnabled', 'SSEType', 'KMSMasterKeyId'], 'SSESpecification', req.logicalId);
  if (p.PointInTimeRecoverySpecification) only(p.PointInTimeRecoverySpecification, ['PointInTimeRecoveryEnabled', 'RecoveryPeriodInDays'], 'PointInTimeRecoverySpecification', req.logicalId);
  if (p.ContributorInsightsSpecification) only(p.ContributorInsightsSpecification, ['Enabled'], 'ContributorInsightsSpecification', req.logicalId);
  const name = p.TableName ?? generatedName(req);
  const sse = p.SSESpecification ? { Enabled: bool(p.SSESpecification.SSEEnabled), SSEType: p.SSESpecification.SSEType, KMSMasterKeyId: p.SSESpecification.KMSMasterKeyId } : undefined;
  if (sse && !sse.SSEType) delete sse.SSEType;
  if (sse && !sse.KMSMasterKeyId) delete sse.KMSMasterKeyId;
  const tags = (p.Tags ?? []).map((t: any) => ({ Key: String(t.Key), Value: String(t.Value) }));
  const create: Record<string, any> = {
    TableName: name,
    AttributeDefinitions: p.AttributeDefinitions,
    KeySchema: p.KeySchema,
    BillingMode: billing,
    ...(billing === 'PROVISIONED' ? { ProvisionedThroughput: throughput(p.ProvisionedThroughput) ?? refuse('a PROVISIONED table without ProvisionedThroughput', req.logicalId) } : {}),
    ...(gsis.length ? { GlobalSecondaryIndexes: gsis } : {}),
    ...(lsis.length ? { LocalSecondaryIndexes: lsis } : {}),
    ...(p.StreamSpecification ? { StreamSpecification: { StreamEnabled: true, StreamViewType: p.StreamSpecification.StreamViewType } } : {}),
    ...(sse ? { SSESpecification: sse } : {}),
    ...(p.TableClass ? { TableClass: p.TableClass } : {}),
    ...(p.DeletionProtectionEnabled !== undefined ? { DeletionProtectionEnabled: bool(p.DeletionProtectionEnabled) } : {}),
    ...(tags.length ? { Tags: tags } : {}),
  };
  const ttl = p.TimeToLiveSpecification ? { enabled: bool(p.TimeToLiveSpecification.Enabled), attributeName: String(p.TimeToLiveSpecification.AttributeName) } : undefined;
  const pitrSpec = p.PointInTimeRecoverySpecification;
  const pitr = pitrSpec ? { enabled: bool(pitrSpec.PointInTimeRecoveryEnabled), recoveryPeriodInDays: pitrSpec.RecoveryPeriodInDays !== undefined ? Number(pitrSpec.RecoveryPeriodInDays) : undefined } : undefined;
  return { name, create, ttl, pitr, contributorInsights: bool(p.ContributorInsightsSpecification?.Enabled), tags, stream: p.StreamSpecification?.StreamViewType, sse };
}

/** Creates the `AWS::DynamoDB::Table` provider over a front. */
export function tableProvider(front: DynamoFront): ResourceProvider {
  const call = (operation: string, input: any) => front.handle(operation, input, { internal: true });

  async function describe(name: string): Promise<any | undefined> {
    try {
      return (await call('DescribeTable', { TableName: name })).Table;
    } catch (err) {
      if (err instanceof AwsError && err.code === 'ResourceNotFoundException') return undefined;
      throw err;
    }
  }

  async function waitActive(name: string): Promise<any> {
    for (let i = 0; i < 200; i += 1) {
      const t = await describe(name);
      if (t && t.TableStatus === 'ACTIVE' && (t.GlobalSecondaryIndexes ?? []).every((g: any) => g.IndexStatus === 'ACTIVE')) return t;
      await sleep(10);
    }
    throw new AwsError('InternalServerError', `table ${name} did not become ACTIVE`);
  }

  async function dropTable(name: string): Promise<void> {
    try {
      await call('DeleteTable', { TableName: name });
    } catch (err) {
      if (!(err instanceof AwsError && err.code === 'ResourceNotFoundException')) throw err;
    }
    for (let i = 0; i < 200 && (await describe(name)); i += 1) await sleep(10);
  }

  /** Brings a table to the desired state, creating it or adjusting the one that exists. */
  async function converge(d: Desired): Promise<Provisioned> {
    let table = await describe(d.name);
    const sameKeys = table && JSON.stringify(table.KeySchema) === JSON.stringify(d.create.KeySchema);
    if (table && !sameKeys) {
      // A table left by an earlier run with another key schema: replaced, as CloudFormation would.
      await setDeletionProtection(d.name, false);
      await dropTable(d.name);
      table = undefined;
    }
    if (!table) {
      await call('CreateTable', d.create);
      table = await waitActive(d.name);
    } else {
      await adjust(d, table);
      table = await waitActive(d.name);
    }
    const meta = front.meta.get(d.name)!;
    meta.pitr = d.pitr?.enabled ? { enabled: true, recoveryPeriodInDays: d.pitr.recoveryPeriodInDays, enabledAt: meta.pitr?.enabled ? meta.pitr.enabledAt : front.kernel.clock.now() } : { enabled: false };
    meta.ttl = d.ttl?.enabled ? { ...d.ttl } : undefined;
    meta.contributorInsights = d.contributorInsights;
    front.meta.set(meta);
    return {
      physicalId: d.name,
      attributes: { Arn: table.TableArn, ...(meta.stream ? { StreamArn: meta.stream.arn } : {}) },
    };
  }

  async function setDeletionProtection(name: string, enabled: boolean): Promise<void> {
    const meta = front.meta.get(name);
    if (meta && Boolean(meta.deletionProtection) !== enabled) await call('UpdateTable', { TableName: name, DeletionProtectionEnabled: enabled });
  }

  async function adjust(d: Desired, table: any): Promise<void> {
    const name = d.name;
    const meta = front.meta.get(name) ?? (await front.requireMeta(name));
    const c = d.create;
    const billingNow = table.BillingModeSummary?.BillingMode ?? 'PROVISIONED';
    const throughputNow = { ReadCapacityUnits: table.ProvisionedThroughput?.ReadCapacityUnits, WriteCapacityUnits: table.ProvisionedThroughput?.WriteCapacityUnits };
    if (billingNow !== c.BillingMode || (c.BillingMode === 'PROVISIONED' && JSON.stringify(throughputNow) !== JSON.stringify(c.ProvisionedThroughput))) {
      await call('UpdateTable', { TableName: name, BillingMode: c.BillingMode, ...(c.ProvisionedThroughput ? { ProvisionedThroughput: c.ProvisionedThroughput } : {}) });
      await waitActive(name);
    }
    const wanted = new Map<string, any>((c.GlobalSecondaryIndexes ?? []).map((g: any) => [g.IndexName, g]));
    const existing = new Map<string, any>((table.GlobalSecondaryIndexes ?? []).map((g: any) => [g.IndexName, g]));
    for (const [indexName, g] of existing) {
      const w = wanted.get(indexName);
      if (!w || JSON.stringify(w.KeySchema) !== JSON.stringify(g.KeySchema) || JSON.stringify(w.Projection) !== JSON.stringify(g.Projection)) {
        await call('UpdateTable', { TableName: name, GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: indexName } }] });
        await waitActive(name);
        existing.delete(indexName);
      }
    }
    for (const [indexName, w] of wanted) {
      if (existing.has(indexName)) continue;
      await call('UpdateTable', { TableName: name, AttributeDefinitions: c.AttributeDefinitions, GlobalSecondaryIndexUpdates: [{ Create: w }] });
      await waitActive(name);
    }
    if (meta.stream && meta.stream.viewType !== d.stream) await call('UpdateTable', { TableName: name, StreamSpecification: { StreamEnabled: false } });
    if (d.stream && (!front.meta.get(name)?.stream)) await call('UpdateTable', { TableName: name, StreamSpecification: { StreamEnabled: true, StreamViewType: d.stream } });
    const settings: Record<string, unknown> = {};
    const sseNow = meta.sse?.enabled ?? false;
    if ((d.sse?.Enabled ?? false) !== sseNow || (d.sse && d.sse.KMSMasterKeyId !== meta.sse?.kmsMasterKeyId)) settings.SSESpecification = d.sse ?? { Enabled: false };
    if ((c.TableClass ?? meta.tableClass) && (c.TableClass ?? 'STANDARD') !== (meta.tableClass ?? 'STANDARD')) settings.TableClass = c.TableClass ?? 'STANDARD';
    if (Boolean(c.DeletionProtectionEnabled) !== Boolean(meta.deletionProtection)) settings.DeletionProtectionEnabled = Boolean(c.DeletionProtectionEnabled);
    if (Object.keys(settings).length) await call('UpdateTable', { TableName: name, ...settings });
    const tagsNow: Array<{ Key: string }> = (await call('ListTagsOfResource', { ResourceArn: table.TableArn })).Tags ?? [];
    const removed = tagsNow.map((t) => t.Key).filter((k) => !d.tags.some((t) => t.Key === k));
    if (removed.length) await call('UntagResource', { ResourceArn: table.TableArn, TagKeys: removed });
    if (d.tags.length) await call('TagResource', { ResourceArn: table.TableArn, Tags: d.tags });
  }

  return {
    types: ['AWS::DynamoDB::Table'],
    async create(req) {
      return converge(desiredOf(req));
    },
    async update(req, previous) {
      const d = desiredOf(req);
      const prev = previous.properties;
      const replace = d.name !== previous.physicalId
        || JSON.stringify(prev.KeySchema) !== JSON.stringify(req.properties.KeySchema)
        || JSON.stringify(prev.LocalSecondaryIndexes ?? []) !== JSON.stringify(req.properties.LocalSecondaryIndexes ?? []);
      if (!replace) return converge(d);
      if (d.name === previous.physicalId) {
        // Same explicit name: the old table must go first (CloudFormation itself refuses this case).
        await setDeletionProtection(previous.physicalId, false);
        await dropTable(previous.physicalId);
        return converge(d);
      }
      const created = await converge(d);
      if (front.meta.get(previous.physicalId)?.deletionProtection) {
        throw new AwsError('ValidationException', `AWS::DynamoDB::Table ${req.logicalId}: replacing ${previous.physicalId} needs its deletion protection disabled first`);
      }
      await dropTable(previous.physicalId);
      return created;
    },
    async delete(_type, physicalId) {
      // Deletion protection is honoured, as CloudFormation does: the delete fails with AWS's error.
      await dropTable(physicalId);
    },
  };
}
