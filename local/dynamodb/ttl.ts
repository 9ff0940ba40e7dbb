/**
 * The TTL sweeper: deletes items whose TTL attribute (a Number of epoch seconds) is in the
 * past by the local clock, emitting REMOVE records with the DynamoDB service identity as AWS
 * does. Like AWS, it leaves alone items whose TTL is more than five years in the past.
 */
import { AwsError } from '../core/aws.js';
import type { DynamoFront } from './front.js';
import { keyOf } from './items.js';

const FIVE_YEARS_S = 5 * 365 * 24 * 60 * 60;

/** Sweeps periodically and whenever the clock jumps. */
export class TtlSweeper {
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private running: Promise<number> | undefined;
  private again = false;

  /** @param intervalMs real-time period between sweeps @default 5000 */
  constructor(
    private readonly front: DynamoFront,
    private readonly intervalMs = 5000,
  ) {}

  start(): void {
    this.unsubscribe = this.front.kernel.clock.onAdvance(async () => {
      await this.sweep();
    });
    this.timer = setInterval(() => {
      this.sweep().catch((err) => console.error('[local-cloud] TTL sweep failed:', err));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Runs one sweep (or joins the running one and runs again, so the newest clock is seen); resolves with items deleted. */
  async sweep(): Promise<number> {
    if (this.running) {
      // The running sweep loops once more, so this caller sees a sweep that started after it asked.
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let total = 0;
      do {
        this.again = false;
        total += await this.sweepOnce();
      } while (this.again);
      return total;
    })();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async sweepOnce(): Promise<number> {
    const now = Math.floor(this.front.kernel.clock.now() / 1000);
    let deleted = 0;
    for (const meta of this.front.ttlTables()) {
      const attributeName = meta.ttl!.attributeName;
      let start: Record<string, unknown> | undefined;
      do {
        let page: any;
        try {
          page = await this.front.backend.call('Scan', {
            TableName: meta.tableName,
            ConsistentRead: true,
            FilterExpression: '#ttl < :now AND #ttl >= :floor',
            ExpressionAttributeNames: { '#ttl': attributeName },
            ExpressionAttributeValues: { ':now': { N: String(now) }, ':floor': { N: String(now - FIVE_YEARS_S) } },
            ...(start ? { ExclusiveStartKey: start } : {}),
          });
        } catch (err) {
          // The table went away between listing and scanning.
          if (err instanceof AwsError && err.code === 'ResourceNotFoundException') break;
          throw err;
        }
        for (const item of page.Items ?? []) {
          const key = keyOf(item, meta.keySchema);
          if (key && (await this.front.expire(meta, key, attributeName, item[attributeName]))) deleted += 1;
        }
        start = page.LastEvaluatedKey;
      } while (start);
    }
    return deleted;
  }
}
