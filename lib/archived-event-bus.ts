import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Props of {@link ArchivedEventBus}. */
export interface ArchivedEventBusProps {
  /** How long the archive keeps events for replay. @default Duration.days(30) */
  readonly archiveRetention?: Duration;
}

/**
 * The application's EventBridge bus, with an archive of every event on it (for `converge
 * replay`) and a shared, encrypted dead-letter queue for rule targets that exhaust retries.
 */
export class ArchivedEventBus extends Construct {
  public readonly bus: events.EventBus;
  public readonly archive: events.Archive;
  /** DLQ for rule targets. */
  public readonly targetDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ArchivedEventBusProps = {}) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus');
    this.archive = this.bus.archive('Archive', {
      description: 'Every event on the Converge bus, for replay',
      // Archives need a pattern; matching on the account keeps every event of this bus.
      eventPattern: { account: [Stack.of(this).account] },
      retention: props.archiveRetention ?? Duration.days(30),
    });
    this.targetDeadLetterQueue = new sqs.Queue(this, 'TargetDlq', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.targetDeadLetterQueue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the bus rules’ targets.' });
  }
}
