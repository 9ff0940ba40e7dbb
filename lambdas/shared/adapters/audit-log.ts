/**
 * The DynamoDB adapter of the {@link AuditLog} port. Rows are only ever put, conditionally on
 * the row not existing, so a retried write with the same idempotency key is a no-op and the
 * table stays append-only (IAM denies UpdateItem/DeleteItem as well).
 */
import { createHash, randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AuditEntry, AuditLog, Clock } from '../ports.js';
import { systemClock } from '../ports.js';

/** Options of {@link DynamoAuditLog}. */
export interface DynamoAuditLogOptions {
  readonly tableName: string;
  readonly client: DynamoDBDocumentClient;
  /** Days a row is kept before TTL removes it. @default 365 */
  readonly retentionDays?: number;
  readonly clock?: Clock;
}

/** An audit entry with an optional key that makes its write idempotent. */
export type IdempotentAuditEntry = AuditEntry & { readonly idempotencyKey?: string };

/** Appends audit rows to the Audit table. */
export class DynamoAuditLog implements AuditLog {
  constructor(private readonly options: DynamoAuditLogOptions) {}

  async append(entry: IdempotentAuditEntry): Promise<void> {
    const clock = this.options.clock ?? systemClock;
    const now = clock.now();
    const { idempotencyKey, ...row } = entry;
    const auditId = idempotencyKey ? createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32) : randomUUID();
    const retentionDays = this.options.retentionDays ?? 365;
    try {
      await this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            ...row,
            auditId,
            at: `${now.toISOString()}#${auditId.slice(0, 8)}`,
            timestamp: now.toISOString(),
            expiresAt: Math.floor(now.getTime() / 1000) + retentionDays * 86_400,
          },
          ConditionExpression: 'attribute_not_exists(auditId)',
        }),
      );
    } catch (err) {
      // The same idempotency key was written before: the row already says what happened.
      if (err instanceof ConditionalCheckFailedException || (err as Error).name === 'ConditionalCheckFailedException') return;
      throw err;
    }
  }
}
