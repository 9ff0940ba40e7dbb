/**
 * The EventBridge adapter of the {@link EventPublisher} port. It refuses partial failure:
 * when any entry of a caller fails, that caller's publish throws, so its retry republishes
 * (consumers dedupe on ids).
 *
 * Publishes that are in flight at the same time share PutEvents calls: a stream batch
 * processes its records concurrently and each publishes one event, so without coalescing
 * every record would pay a whole API call (signing, HTTP, a round trip) for one entry.
 */
import { PutEventsCommand, type PutEventsRequestEntry, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { EventPublisher, OutboundEvent } from '../ports.js';
import { ConvergeError } from '../errors.js';

/** PutEvents reported failed entries. */
export class PublishFailed extends ConvergeError {
  constructor(public readonly failures: Array<{ code?: string; message?: string }>) {
    super(`PutEvents failed for ${failures.length} entr${failures.length === 1 ? 'y' : 'ies'}: ${failures.map((f) => f.code).join(', ')}`);
  }
}

/** PutEvents takes at most 10 entries per call. */
export const MAX_ENTRIES_PER_CALL = 10;
/** PutEvents takes at most 256 KB of entries per call. */
export const MAX_BYTES_PER_CALL = 256 * 1024;

/** The result of one entry, as PutEvents reports it. */
export interface EntryResult {
  readonly code?: string;
  readonly message?: string;
}

/** Sends one PutEvents call; resolves with a result per entry, in order. */
export type SendEntries = (entries: readonly PutEventsRequestEntry[]) => Promise<readonly EntryResult[]>;

/** Options of {@link CoalescingSender}. */
export interface CoalescingOptions {
  /**
   * How long the first queued entry waits for others before its call goes out. 0 sends what
   * was queued within the same turn of the event loop.
   * @default 0
   */
  readonly lingerMs?: number;
}

/**
 * EventBridge's size of an entry: the UTF-8 bytes of Source, DetailType, Detail and each
 * Resource, plus 14 for Time when given.
 */
export function entrySize(e: PutEventsRequestEntry): number {
  const bytes = (s: string | undefined) => (s ? Buffer.byteLength(s, 'utf8') : 0);
  return bytes(e.Source) + bytes(e.DetailType) + bytes(e.Detail) + (e.Resources ?? []).reduce((n, r) => n + bytes(r), 0) + (e.Time ? 14 : 0);
}

interface Waiter {
  remaining: number;
  readonly failures: EntryResult[];
  settled: boolean;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Queues entries from concurrent callers and sends them in as few PutEvents calls as the
 * limits allow (10 entries, 256 KB). Each caller learns the fate of its own entries only: it
 * resolves when all of them were accepted, and rejects with {@link PublishFailed} naming its
 * failed entries, or with the call's error when a call it took part in failed as a whole.
 */
export class CoalescingSender {
  private queue: Array<{ entry: PutEventsRequestEntry; size: number; waiter: Waiter }> = [];
  private scheduled = false;
  private readonly lingerMs: number;

  constructor(
    private readonly send: SendEntries,
    options: CoalescingOptions = {},
  ) {
    this.lingerMs = options.lingerMs ?? 0;
  }

  /** Sends `entries` (in order, possibly across calls shared with other callers). */
  put(entries: readonly PutEventsRequestEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { remaining: entries.length, failures: [], settled: false, resolve, reject };
      for (const entry of entries) this.queue.push({ entry, size: entrySize(entry), waiter });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const go = () => {
      this.scheduled = false;
      this.flush();
    };
    if (this.lingerMs > 0) setTimeout(go, this.lingerMs);
    else setImmediate(go);
  }

  private flush(): void {
    const queue = this.queue;
    this.queue = [];
    while (queue.length > 0) {
      const call: typeof queue = [];
      let bytes = 0;
      // An entry over the limit on its own still goes alone, so that EventBridge names the error.
      while (queue.length > 0 && call.length < MAX_ENTRIES_PER_CALL && (call.length === 0 || bytes + queue[0]!.size <= MAX_BYTES_PER_CALL)) {
        const next = queue.shift()!;
        bytes += next.size;
        call.push(next);
      }
      void this.sendCall(call);
    }
  }

  private async sendCall(call: ReadonlyArray<{ entry: PutEventsRequestEntry; waiter: Waiter }>): Promise<void> {
    let results: readonly EntryResult[];
    try {
      results = await this.send(call.map((c) => c.entry));
    } catch (err) {
      for (const { waiter } of call) settle(waiter, err);
      return;
    }
    call.forEach(({ waiter }, i) => {
      const r = results[i];
      if (r?.code) waiter.failures.push(r);
      waiter.remaining -= 1;
      if (waiter.remaining === 0) settle(waiter, waiter.failures.length > 0 ? new PublishFailed(waiter.failures.map((f) => ({ code: f.code, message: f.message }))) : undefined);
    });
  }
}

function settle(waiter: Waiter, err: unknown): void {
  if (waiter.settled) return;
  waiter.settled = true;
  if (err === undefined) waiter.resolve();
  else waiter.reject(err);
}

/** Publishes to one bus; concurrent publishes share PutEvents calls (see {@link CoalescingSender}). */
export class EventBridgePublisher implements EventPublisher {
  private readonly sender: CoalescingSender;

  constructor(
    client: EventBridgeClient,
    private readonly busName: string,
    options: CoalescingOptions = {},
  ) {
    this.sender = new CoalescingSender(async (entries) => {
      const out = await client.send(new PutEventsCommand({ Entries: [...entries] }));
      return entries.map((_, i) => ({ code: out.Entries?.[i]?.ErrorCode, message: out.Entries?.[i]?.ErrorMessage }));
    }, options);
  }

  publish(events: readonly OutboundEvent[]): Promise<void> {
    return this.sender.put(events.map((e) => ({ EventBusName: this.busName, Source: e.source, DetailType: e.detailType, Detail: JSON.stringify(e.detail) })));
  }
}
