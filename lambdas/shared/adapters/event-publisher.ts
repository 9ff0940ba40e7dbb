/**
 * The EventBridge adapter of the {@link EventPublisher} port. It refuses partial failure:
 * when any entry fails, it throws, so the caller's retry republishes (consumers dedupe on ids).
 */
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { EventPublisher, OutboundEvent } from '../ports.js';
import { ConvergeError } from '../errors.js';

/** PutEvents reported failed entries. */
export class PublishFailed extends ConvergeError {
  constructor(public readonly failures: Array<{ code?: string; message?: string }>) {
    super(`PutEvents failed for ${failures.length} entr${failures.length === 1 ? 'y' : 'ies'}: ${failures.map((f) => f.code).join(', ')}`);
  }
}

/** Publishes to one bus, in chunks of 10 (the PutEvents limit). */
export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(events: readonly OutboundEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += 10) {
      const chunk = events.slice(i, i + 10);
      const out = await this.client.send(
        new PutEventsCommand({
          Entries: chunk.map((e) => ({ EventBusName: this.busName, Source: e.source, DetailType: e.detailType, Detail: JSON.stringify(e.detail) })),
        }),
      );
      if ((out.FailedEntryCount ?? 0) > 0) {
        throw new PublishFailed((out.Entries ?? []).filter((e) => e.ErrorCode).map((e) => ({ code: e.ErrorCode, message: e.ErrorMessage })));
      }
    }
  }
}
