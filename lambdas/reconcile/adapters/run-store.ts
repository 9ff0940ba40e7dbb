/**
 * The {@link RunStore} on the runs table (key `runId` + `entry`, TTL `expiresAt`): the plan,
 * one checkpoint per segment, and one row per candidate. Bodies are stored as JSON (binary
 * attributes base64-tagged) because they hold wire-form items whose exact shape must round-trip.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Candidate } from '../domain/model.js';
import type { CompareCheckpoint, RecordedPlan, RunStore } from '../domain/ports.js';
import type { Clock } from '../../shared/ports.js';
import { systemClock } from '../../shared/ports.js';

/** JSON with Uint8Array values tagged, so binary key or item attributes survive. */
export const bodyCodec = {
  encode: (v: unknown): string => JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? { $b64: Buffer.from(x).toString('base64') } : x)),
  decode: <T>(s: string): T =>
    JSON.parse(s, (_k, x) => (x && typeof x === 'object' && typeof x.$b64 === 'string' && Object.keys(x).length === 1 ? new Uint8Array(Buffer.from(x.$b64, 'base64')) : x)) as T,
};

export class DynamoRunStore implements RunStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** How long run state is kept (resumable window). */
    private readonly retentionDays = 7,
    private readonly clock: Clock = systemClock,
  ) {}

  private expiresAt(): number {
    return Math.floor(this.clock.now().getTime() / 1000) + this.retentionDays * 86_400;
  }

  async recordPlan(plan: RecordedPlan): Promise<{ plan: RecordedPlan; existed: boolean }> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { runId: plan.runId, entry: 'plan', body: bodyCodec.encode(plan), expiresAt: this.expiresAt() },
          ConditionExpression: 'attribute_not_exists(runId)',
        }),
      );
      return { plan, existed: false };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException) && (err as Error).name !== 'ConditionalCheckFailedException') throw err;
      const got = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { runId: plan.runId, entry: 'plan' }, ConsistentRead: true }));
      return { plan: bodyCodec.decode<RecordedPlan>(got.Item!.body as string), existed: true };
    }
  }

  async loadCheckpoint(runId: string, segment: number): Promise<CompareCheckpoint | undefined> {
    const got = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { runId, entry: `checkpoint#${segment}` }, ConsistentRead: true }));
    return got.Item ? bodyCodec.decode<CompareCheckpoint>(got.Item.body as string) : undefined;
  }

  async saveCheckpoint(runId: string, segment: number, checkpoint: CompareCheckpoint): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { runId, entry: `checkpoint#${segment}`, done: checkpoint.done, body: bodyCodec.encode(checkpoint), expiresAt: this.expiresAt() } }),
    );
  }

  private candidateEntry(c: Pick<Candidate, 'segment' | 'keyString'>): string {
    return `candidate#${String(c.segment).padStart(6, '0')}#${c.keyString}`;
  }

  async addCandidates(runId: string, candidates: readonly Candidate[]): Promise<void> {
    await Promise.all(
      candidates.map(async (c) => {
        try {
          await this.client.send(
            new PutCommand({
              TableName: this.tableName,
              Item: { runId, entry: this.candidateEntry(c), status: c.status, body: bodyCodec.encode(c), expiresAt: this.expiresAt() },
              ConditionExpression: 'attribute_not_exists(runId)',
            }),
          );
        } catch (err) {
          // Already recorded by an earlier attempt of the same round: keep its lifecycle state.
          if (!(err instanceof ConditionalCheckFailedException) && (err as Error).name !== 'ConditionalCheckFailedException') throw err;
        }
      }),
    );
  }

  async listCandidates(runId: string, segment: number): Promise<Candidate[]> {
    const out: Candidate[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'runId = :r AND begins_with(#e, :p)',
          ExpressionAttributeNames: { '#e': 'entry' },
          ExpressionAttributeValues: { ':r': runId, ':p': `candidate#${String(segment).padStart(6, '0')}#` },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(page.Items ?? []).map((i) => bodyCodec.decode<Candidate>(i.body as string)));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async updateCandidate(runId: string, candidate: Candidate): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { runId, entry: this.candidateEntry(candidate), status: candidate.status, body: bodyCodec.encode(candidate), expiresAt: this.expiresAt() },
      }),
    );
  }
}
