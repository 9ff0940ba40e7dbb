/**
 * `converge drift`: open discrepancies — the latest audit row of each entity is ESCALATED, or
 * DETECTED/RECHECKING and not yet REPAIRED/FALSE_POSITIVE. Exit 1 when any is open.
 *
 * Every run compares every key, so the newest completed run supersedes older ones: a
 * discrepancy from an older run that the newest completed run did not flag again has gone away
 * (repaired by the sync, or by hand). So only rows of the newest completed run and of the runs
 * started after it (still running) are read, through the audit table's `byRun` index. Without a
 * reconcile state machine the whole audit table is scanned instead.
 */
import { DescribeExecutionCommand, ListExecutionsCommand, type ExecutionListItem } from '@aws-sdk/client-sfn';
import { QueryCommand, ScanCommand, type QueryCommandOutput, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { CliContext } from '../context.js';
import { printJson, status, table } from '../format.js';
import { parseJson } from '../util.js';

/** A discrepancy's latest state. */
export interface OpenDiscrepancy {
  readonly runId: string;
  readonly entityId: string;
  readonly type: string;
  readonly lifecycle: string;
  readonly since: string;
  readonly reason?: string;
}

const CLOSED = new Set(['REPAIRED', 'FALSE_POSITIVE']);

/** Keeps each entity's newest lifecycle row (by `at`) and returns those still open. */
export function openFromRows(rows: ReadonlyArray<Record<string, any>>): OpenDiscrepancy[] {
  const latest = new Map<string, Record<string, any>>();
  for (const row of rows) {
    if (!row.lifecycle) continue;
    const prev = latest.get(row.entityId);
    if (!prev || String(prev.at) < String(row.at)) latest.set(row.entityId, row);
  }
  return [...latest.values()]
    .filter((r) => !CLOSED.has(r.lifecycle))
    .map((r) => ({ runId: r.runId ?? '-', entityId: r.entityId, type: r.discrepancyType ?? '-', lifecycle: r.lifecycle, since: r.timestamp, reason: r.reason }))
    .sort((a, b) => a.since.localeCompare(b.since));
}

/** The runs whose rows matter: every run newer than the newest SUCCEEDED one, and that one. */
export function relevantRuns(executionsNewestFirst: readonly ExecutionListItem[]): ExecutionListItem[] {
  const out: ExecutionListItem[] = [];
  for (const e of executionsNewestFirst) {
    out.push(e);
    if (e.status === 'SUCCEEDED') break;
  }
  return out;
}

async function rowsOfRun(ctx: CliContext, tableName: string, runId: string): Promise<Record<string, any>[]> {
  const rows: Record<string, any>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page: QueryCommandOutput = await ctx.documents.send(
      new QueryCommand({ TableName: tableName, IndexName: 'byRun', KeyConditionExpression: 'runId = :r', ExpressionAttributeValues: { ':r': runId }, ExclusiveStartKey: startKey }),
    );
    rows.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return rows;
}

async function scanAll(ctx: CliContext, tableName: string): Promise<Record<string, any>[]> {
  const rows: Record<string, any>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page: ScanCommandOutput = await ctx.documents.send(new ScanCommand({ TableName: tableName, FilterExpression: 'attribute_exists(lifecycle)', ExclusiveStartKey: startKey }));
    rows.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return rows;
}

/** Open discrepancies, and the runs they were read from. */
export async function openDiscrepancies(ctx: CliContext): Promise<{ open: OpenDiscrepancy[]; runs: string[] }> {
  const tableName = await ctx.output('AuditTableName');
  const arn = await ctx.optionalOutput('ReconcileStateMachineArn');
  if (!arn) return { open: openFromRows(await scanAll(ctx, tableName)), runs: [] };
  const listed = (await ctx.sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, maxResults: 50 }))).executions ?? [];
  const runs = await Promise.all(
    relevantRuns(listed).map(async (e) => {
      const d = await ctx.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
      const out = parseJson(d.output) as { runId?: string } | undefined;
      const input = parseJson(d.input) as { runId?: string } | undefined;
      return out?.runId ?? input?.runId ?? e.name!;
    }),
  );
  const rows = (await Promise.all([...new Set(runs)].map((r) => rowsOfRun(ctx, tableName, r)))).flat();
  return { open: openFromRows(rows), runs };
}

/** Prints the open discrepancies; exit 1 when any. */
export async function driftCommand(ctx: CliContext): Promise<number> {
  const { open, runs } = await openDiscrepancies(ctx);
  if (ctx.options.json) printJson({ open, runs });
  else if (open.length === 0) console.log(`no open discrepancies${runs.length ? ` (runs read: ${runs.join(', ')})` : ''}`);
  else console.log(table(['run', 'entity', 'type', 'state', 'since', 'reason'], open.map((d) => [d.runId, d.entityId, status(d.type), status(d.lifecycle), d.since, d.reason])));
  return open.length > 0 ? 1 : 0;
}
