/**
 * The DynamoDB API front: forwards operations to dynalite and adds what dynalite lacks —
 * stream records with exact images, front-owned table settings (stream, TTL, SSE, PITR,
 * deletion protection, table class), transactions, fault injection and request counters.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AwsError } from '../core/aws.js';
import type { Kernel } from '../core/kernel.js';
import type { DynaliteBackend } from './backend.js';
import { DYNALITE_OPERATIONS } from './backend.js';
import { type AttributeMap, type KeyElement, keyOf, lockKey, sameItem } from './items.js';
import { KeyedLocks } from './locks.js';
import type { MetadataStore, TableMeta } from './metadata.js';
import type { StreamStore } from './streams.js';
import { transactGetItems, transactWriteItems, type IdempotencyEntry } from './transactions.js';

/** Operations the front answers itself, beside those forwarded to dynalite. */
const FRONT_OPERATIONS = new Set([
  'TransactWriteItems', 'TransactGetItems', 'UpdateTimeToLive', 'DescribeTimeToLive', 'DescribeContinuousBackups',
  'UpdateContinuousBackups', 'DescribeEndpoints',
]);

/** CreateTable parameters the local cloud understands; any other is refused by name. */
const CREATE_TABLE_PARAMS = new Set([
  'TableName', 'AttributeDefinitions', 'KeySchema', 'LocalSecondaryIndexes', 'GlobalSecondaryIndexes', 'BillingMode',
  'ProvisionedThroughput', 'StreamSpecification', 'SSESpecification', 'Tags', 'TableClass', 'DeletionProtectionEnabled',
]);
const UPDATE_TABLE_PARAMS = new Set([
  'TableName', 'AttributeDefinitions', 'BillingMode', 'ProvisionedThroughput', 'GlobalSecondaryIndexUpdates', 'StreamSpecification',
  'SSESpecification', 'TableClass', 'DeletionProtectionEnabled',
]);
const TABLE_CLASSES = new Set(['STANDARD', 'STANDARD_INFREQUENT_ACCESS']);
const TTL_PRINCIPAL = { type: 'Service', principalId: 'dynamodb.amazonaws.com' } as const;

/** A change to be recorded once the write that made it has committed. */
export interface Change {
  readonly meta: TableMeta;
  readonly key: AttributeMap;
  readonly oldImage?: AttributeMap;
  readonly newImage?: AttributeMap;
  readonly ttl?: boolean;
}

/** The DynamoDB JSON API, served in-process. */
export class DynamoFront {
  /** Item locks, shared by single writes, batches, transactions and the TTL sweeper. */
  readonly locks = new KeyedLocks();
  /** Transaction idempotency tokens (ClientRequestToken), kept 10 minutes by the clock. */
  readonly tokens = new Map<string, IdempotencyEntry>();
  private readonly counts = new Map<string, number>();

  constructor(
    readonly kernel: Kernel,
    readonly backend: DynaliteBackend,
    readonly meta: MetadataStore,
    readonly streams: StreamStore,
  ) {}

  /** Requests per operation, plus `writeRequests` (each item written by PutItem, UpdateItem, DeleteItem, BatchWriteItem and TransactWriteItems). */
  counters(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  resetCounters(): void {
    this.counts.clear();
  }

  /** Adds `n` to a counter. */
  count(name: string, n = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n);
  }

  /** Runs one DynamoDB operation (HTTP front and in-process port alike); `internal` calls (the deployer's) skip counters and faults. */
  async handle(operation: string, input: any, options: { internal?: boolean } = {}): Promise<any> {
    if (!DYNALITE_OPERATIONS.has(operation) && !FRONT_OPERATIONS.has(operation)) {
      throw new AwsError('UnknownOperationException', `DynamoDB operation ${operation} is not supported by the local cloud`);
    }
    if (!input || typeof input !== 'object' || Array.isArray(input)) throw new AwsError('SerializationException', 'the request body must be a JSON object');
    // The deployer's own calls are neither counted nor subject to the fault plan.
    if (!options.internal) {
      this.count(operation);
      await this.injectFaults(operation, input);
    }
    switch (operation) {
      case 'CreateTable':
        return this.createTable(input);
      case 'DescribeTable':
        return { Table: await this.describe(input.TableName, (await this.backend.call('DescribeTable', input)).Table) };
      case 'UpdateTable':
        return this.updateTable(input);
      case 'DeleteTable':
        return this.deleteTable(input);
      case 'PutItem':
        if (!options.internal) this.count('writeRequests');
        return this.putItem(input);
      case 'UpdateItem':
        if (!options.internal) this.count('writeRequests');
        return this.updateItem(input);
      case 'DeleteItem':
        if (!options.internal) this.count('writeRequests');
        return this.deleteItem(input);
      case 'BatchWriteItem':
        return this.batchWriteItem(input);
      case 'GetItem':
        return this.getItem(input);
      case 'TransactWriteItems':
        return transactWriteItems(this, input);
      case 'TransactGetItems':
        return transactGetItems(this, input);
      case 'UpdateTimeToLive':
        return this.updateTimeToLive(input);
      case 'DescribeTimeToLive':
        return this.describeTimeToLive(input);
      case 'DescribeContinuousBackups':
        return { ContinuousBackupsDescription: this.continuousBackups(await this.requireMeta(input.TableName)) };
      case 'UpdateContinuousBackups':
        return this.updateContinuousBackups(input);
      case 'DescribeEndpoints':
        return { Endpoints: [{ Address: new URL(this.kernel.endpoint || 'http://127.0.0.1:4566').host, CachePeriodInMinutes: 1440 }] };
      default:
        return this.backend.call(operation, input);
    }
  }

  /** Tables a request touches, for fault matching. */
  private tablesOf(operation: string, input: any): string[] {
    if (operation === 'BatchWriteItem' || operation === 'BatchGetItem') return Object.keys(input.RequestItems ?? {});
    if (operation === 'TransactWriteItems' || operation === 'TransactGetItems') {
      const names: unknown[] = (Array.isArray(input.TransactItems) ? input.TransactItems : []).map((t: any) => {
        const op = t && typeof t === 'object' ? (Object.values(t)[0] as any) : undefined;
        return op?.TableName;
      });
      return [...new Set(names.filter((n): n is string => typeof n === 'string'))];
    }
    if (typeof input.TableName === 'string') return [input.TableName];
    if (typeof input.ResourceArn === 'string') return [input.ResourceArn.split('/')[1] ?? ''];
    return [];
  }

  /**
   * Applies the fault plan. `throttle` answers ProvisionedThroughputExceededException: that is
   * what AWS returns for throttled data-plane calls on on-demand tables too (with a reason such
   * as TableWriteKeyRangeThroughputExceeded). `timeout`, `duplicate` and `reorder` have no
   * meaning for a DynamoDB API call and are refused loudly.
   */
  private async injectFaults(operation: string, input: any): Promise<void> {
    const tables = this.tablesOf(operation, input);
    const sites = tables.length ? tables : [undefined];
    for (const tableName of sites) {
      for (const effect of this.kernel.faults.decide({ service: 'dynamodb', tableName, operation })) {
        switch (effect.kind) {
          case 'latency':
            await sleep(effect.latencyMs ?? 100);
            break;
          case 'error':
            throw new AwsError(effect.errorName ?? 'InjectedFault', effect.errorMessage ?? `fault injected by ${effect.rule}`);
          case 'throttle':
            throw new AwsError('ProvisionedThroughputExceededException', effect.errorMessage ?? `fault injected by ${effect.rule}`, 400, {
              ThrottlingReasons: [{ reason: 'TableWriteKeyRangeThroughputExceeded', resource: tableName ?? '' }],
            });
          default:
            throw new AwsError('ValidationException', `fault rule ${effect.rule}: kind '${effect.kind}' does not apply to DynamoDB API calls (use error, throttle or latency; duplicate/reorder apply to stream deliveries, service 'streams')`);
        }
      }
    }
  }

  // ---- table metadata ----

  /** The table's metadata, adopting a table dynalite has but the front doesn't know; undefined when the table doesn't exist. */
  async metaOf(tableName: unknown): Promise<TableMeta | undefined> {
    if (typeof tableName !== 'string') return undefined;
    const known = this.meta.get(tableName);
    if (known) return known;
    try {
      const { Table } = await this.backend.call('DescribeTable', { TableName: tableName });
      const meta: TableMeta = { tableName, keySchema: Table.KeySchema };
      this.meta.set(meta);
      return meta;
    } catch (err) {
      if (err instanceof AwsError && (err.code === 'ResourceNotFoundException' || err.code === 'ValidationException')) return undefined;
      throw err;
    }
  }

  /** Like {@link metaOf}, but a missing table is ResourceNotFoundException. */
  async requireMeta(tableName: unknown): Promise<TableMeta> {
    if (typeof tableName !== 'string' || !tableName) throw new AwsError('ValidationException', "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null");
    const meta = await this.metaOf(tableName);
    if (!meta) throw new AwsError('ResourceNotFoundException', `Requested resource not found: Table: ${tableName} not found`);
    return meta;
  }

  /** dynalite's table description plus the front-owned settings. */
  async describe(tableName: string, table: any): Promise<any> {
    const meta = (await this.metaOf(tableName)) ?? this.meta.get(tableName);
    if (!meta) return table;
    const out = { ...table };
    if (meta.stream) out.StreamSpecification = { StreamEnabled: true, StreamViewType: meta.stream.viewType };
    const latest = meta.stream ?? meta.latestStream;
    if (latest) {
      out.LatestStreamArn = latest.arn;
      out.LatestStreamLabel = latest.label;
    }
    if (meta.sse?.enabled) {
      out.SSEDescription = { Status: 'ENABLED', SSEType: meta.sse.sseType ?? 'KMS', KMSMasterKeyArn: meta.sse.kmsMasterKeyId ?? `arn:aws:kms:${this.kernel.region}:000000000000:key/local-dynamodb` };
    }
    if (meta.tableClass) out.TableClassSummary = { TableClass: meta.tableClass };
    out.DeletionProtectionEnabled = meta.deletionProtection ?? false;
    return out;
  }

  /**
   * Waits until dynalite finished a table change (its CREATING/UPDATING/DELETING states last a
   * tick with the 0 ms options), so the caller can use the table on the next request. The
   * response still carries the transitional status, as AWS's does.
   */
  private async settle(tableName: string, exists: boolean): Promise<void> {
    for (let i = 0; i < 1000; i += 1) {
      let table: any;
      try {
        table = (await this.backend.call('DescribeTable', { TableName: tableName })).Table;
      } catch (err) {
        if (err instanceof AwsError && err.code === 'ResourceNotFoundException') {
          if (!exists) return;
        } else throw err;
      }
      if (exists && table?.TableStatus === 'ACTIVE' && (table.GlobalSecondaryIndexes ?? []).every((g: any) => g.IndexStatus === 'ACTIVE')) return;
      await sleep(2);
    }
    throw new AwsError('InternalServerError', `table ${tableName} did not settle`, 500);
  }

  private checkStreamSpec(spec: any): { enabled: boolean; viewType?: string } | undefined {
    if (spec === undefined) return undefined;
    if (!spec || typeof spec !== 'object' || typeof spec.StreamEnabled !== 'boolean') {
      throw new AwsError('ValidationException', "1 validation error detected: Value null at 'streamSpecification.streamEnabled' failed to satisfy constraint: Member must not be null");
    }
    for (const k of Object.keys(spec)) if (k !== 'StreamEnabled' && k !== 'StreamViewType') throw new AwsError('ValidationException', `StreamSpecification.${k} is not supported by the local cloud`);
    if (spec.StreamEnabled) {
      const types = ['NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES', 'KEYS_ONLY'];
      if (!types.includes(spec.StreamViewType)) {
        throw new AwsError('ValidationException', spec.StreamViewType === undefined
          ? 'StreamSpecification: StreamViewType is required when StreamEnabled is true'
          : `1 validation error detected: Value '${spec.StreamViewType}' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [${types.join(', ')}]`);
      }
    }
    return { enabled: spec.StreamEnabled, viewType: spec.StreamViewType };
  }

  private checkCommonSettings(input: any): void {
    if (input.TableClass !== undefined && !TABLE_CLASSES.has(input.TableClass)) {
      throw new AwsError('ValidationException', `1 validation error detected: Value '${input.TableClass}' at 'tableClass' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, STANDARD_INFREQUENT_ACCESS]`);
    }
    if (input.DeletionProtectionEnabled !== undefined && typeof input.DeletionProtectionEnabled !== 'boolean') {
      throw new AwsError('ValidationException', 'DeletionProtectionEnabled must be a boolean');
    }
    const sse = input.SSESpecification;
    if (sse !== undefined) {
      for (const k of Object.keys(sse ?? {})) if (!['Enabled', 'SSEType', 'KMSMasterKeyId'].includes(k)) throw new AwsError('ValidationException', `SSESpecification.${k} is not supported by the local cloud`);
      if (sse.SSEType !== undefined && sse.SSEType !== 'KMS' && sse.SSEType !== 'AES256') throw new AwsError('ValidationException', `1 validation error detected: Value '${sse.SSEType}' at 'sSESpecification.sSEType' failed to satisfy constraint: Member must satisfy enum value set: [AES256, KMS]`);
    }
  }

  private applySettings(meta: TableMeta, input: any): void {
    if (input.SSESpecification !== undefined) {
      const s = input.SSESpecification;
      meta.sse = { enabled: Boolean(s.Enabled), sseType: s.SSEType, kmsMasterKeyId: s.KMSMasterKeyId };
    }
    if (input.TableClass !== undefined) meta.tableClass = input.TableClass;
    if (input.DeletionProtectionEnabled !== undefined) meta.deletionProtection = input.DeletionProtectionEnabled;
  }

  private async createTable(input: any): Promise<any> {
    for (const k of Object.keys(input)) {
      if (!CREATE_TABLE_PARAMS.has(k)) throw new AwsError('ValidationException', `CreateTable parameter ${k} is not supported by the local cloud`);
    }
    const stream = this.checkStreamSpec(input.StreamSpecification);
    this.checkCommonSettings(input);
    const { StreamSpecification: _s, SSESpecification: _e, Tags, TableClass: _c, DeletionProtectionEnabled: _d, ...forward } = input;
    const created = await this.backend.call('CreateTable', forward);
    const desc = created.TableDescription;
    await this.settle(desc.TableName, true);
    const meta: TableMeta = { tableName: desc.TableName, keySchema: desc.KeySchema };
    this.applySettings(meta, input);
    if (stream?.enabled) {
      const s = this.streams.create(meta.tableName, stream.viewType!, meta.keySchema);
      meta.stream = { viewType: stream.viewType!, ...s };
    }
    this.meta.set(meta);
    if (Array.isArray(Tags) && Tags.length) await this.backend.call('TagResource', { ResourceArn: desc.TableArn, Tags });
    return { TableDescription: await this.describe(meta.tableName, desc) };
  }

  private async updateTable(input: any): Promise<any> {
    for (const k of Object.keys(input)) {
      if (!UPDATE_TABLE_PARAMS.has(k)) throw new AwsError('ValidationException', `UpdateTable parameter ${k} is not supported by the local cloud`);
    }
    const meta = await this.metaOf(input.TableName);
    if (!meta) return this.backend.call('UpdateTable', input);
    const stream = this.checkStreamSpec(input.StreamSpecification);
    this.checkCommonSettings(input);
    if (stream?.enabled && meta.stream) throw new AwsError('ValidationException', `Table already has an enabled stream: TableName: ${meta.tableName}`);
    if (stream && !stream.enabled && !meta.stream) throw new AwsError('ValidationException', `Table ${meta.tableName} does not have a stream to disable`);
    const { StreamSpecification: _s, SSESpecification: _e, TableClass: _c, DeletionProtectionEnabled: _d, ...forward } = input;
    const frontOnly = ['StreamSpecification', 'SSESpecification', 'TableClass', 'DeletionProtectionEnabled'].some((k) => input[k] !== undefined);
    const dynaliteWork = ['BillingMode', 'ProvisionedThroughput', 'GlobalSecondaryIndexUpdates'].some((k) => forward[k] !== undefined);
    let table: any;
    if (dynaliteWork || !frontOnly) {
      const gsiUpdates: any[] = Array.isArray(forward.GlobalSecondaryIndexUpdates) ? forward.GlobalSecondaryIndexUpdates : [];
      if (gsiUpdates.some((u) => u?.Create || u?.Delete)) {
        // dynalite validates index creation and deletion but never performs them: the front rebuilds the table.
        await this.rebuildWithIndexes(meta, gsiUpdates, forward.AttributeDefinitions ?? []);
        const rest = gsiUpdates.filter((u) => !u?.Create && !u?.Delete);
        if (rest.length) forward.GlobalSecondaryIndexUpdates = rest;
        else delete forward.GlobalSecondaryIndexUpdates;
        delete forward.AttributeDefinitions;
      }
      const more = ['BillingMode', 'ProvisionedThroughput', 'GlobalSecondaryIndexUpdates'].some((k) => forward[k] !== undefined);
      if (!more && gsiUpdates.length) {
        table = (await this.backend.call('DescribeTable', { TableName: meta.tableName })).Table;
      } else {
        table = (await this.backend.call('UpdateTable', forward)).TableDescription;
        await this.settle(meta.tableName, true);
      }
    } else {
      table = (await this.backend.call('DescribeTable', { TableName: meta.tableName })).Table;
    }
    this.applySettings(meta, input);
    if (stream && !stream.enabled && meta.stream) {
      this.streams.disable(meta.stream.arn);
      meta.latestStream = { arn: meta.stream.arn, label: meta.stream.label };
      meta.stream = undefined;
    } else if (stream?.enabled) {
      const s = this.streams.create(meta.tableName, stream.viewType!, meta.keySchema);
      meta.stream = { viewType: stream.viewType!, ...s };
      meta.latestStream = { ...s };
    }
    this.meta.set(meta);
    return { TableDescription: await this.describe(meta.tableName, table) };
  }

  /**
   * Applies GSI Create/Delete updates by rebuilding the table in dynalite with the new index
   * set: items are copied out, the table recreated, the items written back (no stream records:
   * no item changed). Meant for deploy time; writes racing the rebuild may fail.
   */
  private async rebuildWithIndexes(meta: TableMeta, updates: any[], newDefinitions: any[]): Promise<void> {
    const table = (await this.backend.call('DescribeTable', { TableName: meta.tableName })).Table;
    const gsis = new Map<string, any>((table.GlobalSecondaryIndexes ?? []).map((g: any) => [g.IndexName, g]));
    for (const u of updates) {
      if (u?.Delete) {
        if (!gsis.delete(u.Delete.IndexName)) throw new AwsError('ResourceNotFoundException', `Requested resource not found: Index: ${u.Delete.IndexName} not found`);
      } else if (u?.Create) {
        if (gsis.has(u.Create.IndexName)) throw new AwsError('ValidationException', `One or more parameter values were invalid: Index ${u.Create.IndexName} already exists`);
        gsis.set(u.Create.IndexName, u.Create);
      }
    }
    const onDemand = table.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST';
    const defs = new Map<string, string>((table.AttributeDefinitions ?? []).map((d: any) => [d.AttributeName, d.AttributeType]));
    for (const d of newDefinitions) defs.set(d.AttributeName, d.AttributeType);
    const used = new Set<string>();
    const useKeys = (ks: any[]) => ks.forEach((k) => used.add(k.AttributeName));
    useKeys(table.KeySchema);
    (table.LocalSecondaryIndexes ?? []).forEach((l: any) => useKeys(l.KeySchema));
    [...gsis.values()].forEach((g) => useKeys(g.KeySchema));
    const missing = [...used].filter((a) => !defs.has(a));
    if (missing.length) throw new AwsError('ValidationException', `One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [${missing.join(', ')}]`);
    const throughput = (t: any) => (t && t.ReadCapacityUnits ? { ReadCapacityUnits: t.ReadCapacityUnits, WriteCapacityUnits: t.WriteCapacityUnits } : undefined);
    const create: any = {
      TableName: meta.tableName,
      AttributeDefinitions: [...used].map((a) => ({ AttributeName: a, AttributeType: defs.get(a) })),
      KeySchema: table.KeySchema,
      ...(onDemand ? { BillingMode: 'PAY_PER_REQUEST' } : { ProvisionedThroughput: throughput(table.ProvisionedThroughput) }),
      ...(table.LocalSecondaryIndexes?.length ? { LocalSecondaryIndexes: table.LocalSecondaryIndexes.map((l: any) => ({ IndexName: l.IndexName, KeySchema: l.KeySchema, Projection: l.Projection })) } : {}),
      ...(gsis.size ? {
        GlobalSecondaryIndexes: [...gsis.values()].map((g) => ({
          IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection,
          ...(onDemand ? {} : { ProvisionedThroughput: throughput(g.ProvisionedThroughput) ?? { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } }),
        })),
      } : {}),
    };
    const items: AttributeMap[] = [];
    let start: AttributeMap | undefined;
    do {
      const page = await this.backend.call('Scan', { TableName: meta.tableName, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) });
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    const tags = (await this.backend.call('ListTagsOfResource', { ResourceArn: table.TableArn })).Tags ?? [];
    await this.backend.call('DeleteTable', { TableName: meta.tableName });
    await this.settle(meta.tableName, false);
    await this.backend.call('CreateTable', create);
    await this.settle(meta.tableName, true);
    for (let i = 0; i < items.length; i += 25) {
      await this.backend.call('BatchWriteItem', { RequestItems: { [meta.tableName]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } });
    }
    if (tags.length) await this.backend.call('TagResource', { ResourceArn: table.TableArn, Tags: tags });
  }

  private async deleteTable(input: any): Promise<any> {
    const meta = await this.metaOf(input.TableName);
    if (meta?.deletionProtection) {
      throw new AwsError('ValidationException', `Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.`);
    }
    const out = await this.backend.call('DeleteTable', input);
    await this.settle(input.TableName, false);
    if (meta) {
      const described = await this.describe(meta.tableName, out.TableDescription);
      if (meta.stream) this.streams.disable(meta.stream.arn);
      this.meta.delete(meta.tableName);
      return { TableDescription: described };
    }
    return out;
  }

  private async updateTimeToLive(input: any): Promise<any> {
    const meta = await this.requireMeta(input.TableName);
    const spec = input.TimeToLiveSpecification;
    if (!spec || typeof spec !== 'object' || typeof spec.Enabled !== 'boolean' || typeof spec.AttributeName !== 'string' || !spec.AttributeName) {
      throw new AwsError('ValidationException', "1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy constraint: Member must not be null (Enabled and AttributeName are required)");
    }
    if (spec.AttributeName.length > 255) throw new AwsError('ValidationException', 'TimeToLiveSpecification.AttributeName must be at most 255 characters long');
    if (spec.Enabled && meta.ttl?.enabled) throw new AwsError('ValidationException', 'TimeToLive is already enabled');
    if (!spec.Enabled && !meta.ttl?.enabled) throw new AwsError('ValidationException', 'TimeToLive is already disabled');
    if (!spec.Enabled && meta.ttl && meta.ttl.attributeName !== spec.AttributeName) {
      throw new AwsError('ValidationException', `TimeToLive is enabled on attribute ${meta.ttl.attributeName}, not ${spec.AttributeName}`);
    }
    meta.ttl = { enabled: spec.Enabled, attributeName: spec.AttributeName };
    this.meta.set(meta);
    return { TimeToLiveSpecification: { Enabled: spec.Enabled, AttributeName: spec.AttributeName } };
  }

  private async describeTimeToLive(input: any): Promise<any> {
    const meta = await this.requireMeta(input.TableName);
    if (!meta.ttl?.enabled) return { TimeToLiveDescription: { TimeToLiveStatus: 'DISABLED' } };
    return { TimeToLiveDescription: { TimeToLiveStatus: 'ENABLED', AttributeName: meta.ttl.attributeName } };
  }

  private continuousBackups(meta: TableMeta): any {
    const now = this.kernel.clock.now();
    const pitr = meta.pitr?.enabled
      ? {
          PointInTimeRecoveryStatus: 'ENABLED',
          RecoveryPeriodInDays: meta.pitr.recoveryPeriodInDays ?? 35,
          EarliestRestorableDateTime: (meta.pitr.enabledAt ?? now) / 1000,
          LatestRestorableDateTime: (now - 5 * 60 * 1000) / 1000,
        }
      : { PointInTimeRecoveryStatus: 'DISABLED' };
    return { ContinuousBackupsStatus: 'ENABLED', PointInTimeRecoveryDescription: pitr };
  }

  private async updateContinuousBackups(input: any): Promise<any> {
    const meta = await this.requireMeta(input.TableName);
    const spec = input.PointInTimeRecoverySpecification;
    if (!spec || typeof spec.PointInTimeRecoveryEnabled !== 'boolean') {
      throw new AwsError('ValidationException', "1 validation error detected: Value null at 'pointInTimeRecoverySpecification.pointInTimeRecoveryEnabled' failed to satisfy constraint: Member must not be null");
    }
    const days = spec.RecoveryPeriodInDays;
    if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 35)) {
      throw new AwsError('ValidationException', `1 validation error detected: Value '${days}' at 'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy constraint: Member must have value between 1 and 35`);
    }
    meta.pitr = spec.PointInTimeRecoveryEnabled
      ? { enabled: true, recoveryPeriodInDays: days ?? meta.pitr?.recoveryPeriodInDays, enabledAt: meta.pitr?.enabled ? meta.pitr.enabledAt : this.kernel.clock.now() }
      : { enabled: false };
    this.meta.set(meta);
    return { ContinuousBackupsDescription: this.continuousBackups(meta) };
  }

  // ---- item writes ----

  /** Records a committed change on the table's stream; an unchanged item or a delete of nothing records nothing, as on AWS. */
  record(change: Change): void {
    const stream = change.meta.stream;
    if (!stream) return;
    const { oldImage, newImage } = change;
    if (!oldImage && !newImage) return;
    if (oldImage && newImage && sameItem(oldImage, newImage)) return;
    const keys = keyOf(newImage ?? oldImage, change.meta.keySchema) ?? change.key;
    this.streams.append(stream.arn, {
      eventName: !oldImage ? 'INSERT' : !newImage ? 'REMOVE' : 'MODIFY',
      keys,
      oldImage,
      newImage,
      userIdentity: change.ttl ? TTL_PRINCIPAL : undefined,
    });
  }

  /** Reads one item consistently (under the caller's lock). */
  async read(tableName: string, key: AttributeMap): Promise<AttributeMap | undefined> {
    return (await this.backend.call('GetItem', { TableName: tableName, Key: key, ConsistentRead: true })).Item;
  }

  /**
   * Attaches the old item to a failed condition when the caller asked for it. dynalite ignores
   * `ReturnValuesOnConditionCheckFailure`, so the item is read after the refusal: the caller
   * still holds the item's lock and a refused write changes nothing, so this is the item the
   * condition was evaluated against, and a write that succeeds never pays for the read.
   */
  private async withOldItem(err: unknown, input: any, tableName: string, key: AttributeMap, known?: { old: AttributeMap | undefined }): Promise<unknown> {
    if (!(err instanceof AwsError) || err.code !== 'ConditionalCheckFailedException' || input.ReturnValuesOnConditionCheckFailure !== 'ALL_OLD') return err;
    const old = known ? known.old : await this.read(tableName, key);
    return old ? new AwsError(err.code, err.message, err.statusCode, { ...err.extra, Item: old }) : err;
  }

  private checkRvOnFailure(input: any): void {
    const v = input.ReturnValuesOnConditionCheckFailure;
    if (v !== undefined && v !== 'ALL_OLD' && v !== 'NONE') {
      throw new AwsError('ValidationException', `1 validation error detected: Value '${String(v)}' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]`);
    }
  }

  private async putItem(input: any): Promise<any> {
    this.checkRvOnFailure(input);
    const meta = await this.metaOf(input.TableName);
    const key = meta && keyOf(input.Item, meta.keySchema);
    const rv = input.ReturnValues ?? 'NONE';
    if (!meta || !key || (rv !== 'NONE' && rv !== 'ALL_OLD')) return this.backend.call('PutItem', stripRvOnFailure(input));
    return this.replaceOrDelete('PutItem', input, meta, key, rv, input.Item);
  }

  /**
   * A PutItem or DeleteItem under the item's lock. The write itself returns the old image (for
   * the stream record, and for the caller when it asked for ALL_OLD), so nothing is read first.
   */
  private replaceOrDelete(operation: 'PutItem' | 'DeleteItem', input: any, meta: TableMeta, key: AttributeMap, rv: string, newImage?: AttributeMap): Promise<any> {
    return this.locks.run([lockKey(meta.tableName, key, meta.keySchema)], async () => {
      let out: any;
      try {
        out = await this.backend.call(operation, { ...stripRvOnFailure(input), ReturnValues: meta.stream || rv === 'ALL_OLD' ? 'ALL_OLD' : 'NONE' });
      } catch (err) {
        throw await this.withOldItem(err, input, meta.tableName, key);
      }
      this.record({ meta, key, oldImage: out.Attributes as AttributeMap | undefined, newImage });
      if (rv !== 'ALL_OLD') delete out.Attributes;
      return out;
    });
  }

  private async updateItem(input: any): Promise<any> {
    this.checkRvOnFailure(input);
    const meta = await this.metaOf(input.TableName);
    const key = meta && keyOf(input.Key, meta.keySchema);
    const rv = input.ReturnValues ?? 'NONE';
    const known = ['NONE', 'ALL_OLD', 'ALL_NEW', 'UPDATED_OLD', 'UPDATED_NEW'].includes(rv);
    if (!meta || !key || !known) return this.backend.call('UpdateItem', stripRvOnFailure(input));
    return this.locks.run([lockKey(meta.tableName, key, meta.keySchema)], async () => {
      // A streamed table's record needs the old image whatever happens.
      const old = meta.stream ? await this.read(meta.tableName, key) : undefined;
      const forward = stripRvOnFailure(input);
      let out: any;
      try {
        if (!meta.stream) return await this.backend.call('UpdateItem', forward);
        if (rv === 'UPDATED_OLD' || rv === 'UPDATED_NEW') {
          // dynalite projects the updated paths exactly; the new image is then read back under the lock.
          out = await this.backend.call('UpdateItem', forward);
          this.record({ meta, key, oldImage: old, newImage: await this.read(meta.tableName, key) });
          return out;
        }
        out = await this.backend.call('UpdateItem', { ...forward, ReturnValues: 'ALL_NEW' });
      } catch (err) {
        throw await this.withOldItem(err, input, meta.tableName, key, meta.stream ? { old } : undefined);
      }
      const item = out.Attributes as AttributeMap;
      this.record({ meta, key, oldImage: old, newImage: item });
      if (rv === 'ALL_NEW') return out;
      delete out.Attributes;
      if (rv === 'ALL_OLD' && old) out.Attributes = old;
      return out;
    });
  }

  private async deleteItem(input: any): Promise<any> {
    this.checkRvOnFailure(input);
    const meta = await this.metaOf(input.TableName);
    const key = meta && keyOf(input.Key, meta.keySchema);
    const rv = input.ReturnValues ?? 'NONE';
    if (!meta || !key || (rv !== 'NONE' && rv !== 'ALL_OLD')) return this.backend.call('DeleteItem', stripRvOnFailure(input));
    return this.replaceOrDelete('DeleteItem', input, meta, key, rv);
  }

  private async batchWriteItem(input: any): Promise<any> {
    const requestItems = input.RequestItems;
    if (!requestItems || typeof requestItems !== 'object') return this.backend.call('BatchWriteItem', input);
    const writes: Array<{ meta: TableMeta; key: AttributeMap; item?: AttributeMap; lock: string }> = [];
    let total = 0;
    let plain = false;
    for (const [tableName, requests] of Object.entries<any>(requestItems)) {
      if (!Array.isArray(requests)) continue;
      total += requests.length;
      const meta = await this.metaOf(tableName);
      if (!meta) {
        plain = true;
        continue;
      }
      for (const r of requests) {
        const item = r?.PutRequest?.Item;
        const key = keyOf(item ?? r?.DeleteRequest?.Key, meta.keySchema);
        if (!key) {
          plain = true;
          continue;
        }
        writes.push({ meta, key, item, lock: lockKey(tableName, key, meta.keySchema) });
      }
    }
    this.count('writeRequests', total);
    // Anything dynalite will refuse as a whole (unknown table, missing key, >25 items) goes straight to it.
    if (plain || total > 25) return this.backend.call('BatchWriteItem', input);
    return this.locks.run(writes.map((w) => w.lock), async () => {
      const olds = await Promise.all(writes.map((w) => (w.meta.stream ? this.read(w.meta.tableName, w.key) : undefined)));
      const out = await this.backend.call('BatchWriteItem', input);
      writes.forEach((w, i) => this.record({ meta: w.meta, key: w.key, oldImage: olds[i], newImage: w.item }));
      return out;
    });
  }

  private async getItem(input: any): Promise<any> {
    const meta = this.meta.get(input.TableName);
    const key = meta && keyOf(input.Key, meta.keySchema);
    // A read never observes a transaction half-applied (AWS isolates GetItem from TransactWriteItems).
    if (meta && key && this.locks.busy) await this.locks.idle(lockKey(meta.tableName, key, meta.keySchema));
    return this.backend.call('GetItem', input);
  }

  /** Deletes one expired item on behalf of TTL (a REMOVE record with the service identity). */
  async expire(meta: TableMeta, key: AttributeMap, attributeName: string, seen: AttributeMap): Promise<boolean> {
    return this.locks.run([lockKey(meta.tableName, key, meta.keySchema)], async () => {
      try {
        const out = await this.backend.call('DeleteItem', {
          TableName: meta.tableName,
          Key: key,
          ConditionExpression: '#ttl = :seen',
          ExpressionAttributeNames: { '#ttl': attributeName },
          ExpressionAttributeValues: { ':seen': seen },
          ReturnValues: 'ALL_OLD',
        });
        this.record({ meta, key, oldImage: out.Attributes, ttl: true });
        return true;
      } catch (err) {
        // The item changed since the scan: it is no longer (or differently) expired.
        if (err instanceof AwsError && err.code === 'ConditionalCheckFailedException') return false;
        throw err;
      }
    });
  }

  /** Table metadata of every table with TTL enabled. */
  ttlTables(): TableMeta[] {
    return this.meta.all().filter((m) => m.ttl?.enabled);
  }

  /** Key schema of a known table. */
  keySchemaOf(tableName: string): KeyElement[] | undefined {
    return this.meta.get(tableName)?.keySchema;
  }
}

function stripRvOnFailure(input: any): any {
  if (input.ReturnValuesOnConditionCheckFailure === undefined) return input;
  const { ReturnValuesOnConditionCheckFailure: _r, ...rest } = input;
  return rest;
}
