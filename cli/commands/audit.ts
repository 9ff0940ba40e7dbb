/** `converge audit <entityId>`: an entity's audit trail, oldest first. */
import { QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { CliContext } from '../context.js';
import { printJson, status, table } from '../format.js';

/** One audit row as stored. */
export type AuditRow = Record<string, any> & { entityId: string; action: string; actor: string; timestamp: string };

/** Reads every row of an entity through the `byEntity` index, oldest first. */
export async function auditTrail(ctx: CliContext, entityId: string): Promise<AuditRow[]> {
  const tableName = await ctx.output('AuditTableName');
  const rows: AuditRow[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page: QueryCommandOutput = await ctx.documents.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: 'byEntity',
        KeyConditionExpression: 'entityId = :e',
        ExpressionAttributeValues: { ':e': entityId },
        ScanIndexForward: true,
        ExclusiveStartKey: startKey,
      }),
    );
    rows.push(...((page.Items ?? []) as AuditRow[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return rows;
}

/**
 * Prints an entity's trail. A bare id with no rows (`o-1`) is retried as the saga's entity
 * (`order#o-1`), since that is what operators have at hand. Exit 0: a trail is not a finding.
 */
export async function auditCommand(ctx: CliContext, requested: string): Promise<number> {
  let entityId = requested;
  let rows = await auditTrail(ctx, entityId);
  if (rows.length === 0 && !requested.includes('#')) {
    const asOrder = `order#${requested}`;
    const orderRows = await auditTrail(ctx, asOrder);
    if (orderRows.length > 0) [entityId, rows] = [asOrder, orderRows];
  }
  if (ctx.options.json) {
    printJson({ entityId, rows });
    return 0;
  }
  if (rows.length === 0) {
    console.log(`no audit rows for ${requested}`);
    return 0;
  }
  console.log(
    table(
      ['time', 'action', 'actor', 'state', 'reason', 'correlation'],
      rows.map((r) => [r.timestamp, r.action, r.actor, status(r.lifecycle ?? r.discrepancyType), (r.reason ?? '').slice(0, 100), r.correlationId]),
    ),
  );
  return 0;
}
