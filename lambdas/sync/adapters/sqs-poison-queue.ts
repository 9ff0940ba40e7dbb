/**
 * The SQS adapter of {@link PoisonQueue}: one SendMessage per parked record, on the same
 * encrypted queue that is the event-source mapping's on-failure destination. A message
 * attribute `kind` tells parked records from the mapping's batch-failure records.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { PoisonMessage, PoisonQueue } from '../domain/ports.js';

/** Sends parked records to a queue. */
export class SqsPoisonQueue implements PoisonQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(message: PoisonMessage): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(message),
        MessageAttributes: { kind: { DataType: 'String', StringValue: message.kind } },
      }),
    );
  }
}
