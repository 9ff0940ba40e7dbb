/**
 * The in-process contracts between the local cloud's services. Each service implements one
 * of these interfaces; the {@link Kernel} wires them together so that, for example, a stream
 * mapping can invoke a function and a Step Functions task can put events, without HTTP.
 */
import type { LocalClock } from './clock.js';
import type { FaultInjector } from './faults.js';
import type { JsonService, ResourceProvider, RestRoute } from './aws.js';

/** Result of a Lambda invocation, in the shape of the Invoke API. */
export interface InvokeResult {
  /** 200 for RequestResponse, 202 for Event. */
  readonly statusCode: number;
  /** The JSON the handler returned, or the error document `{errorType, errorMessage, trace}`. */
  readonly payload: string;
  /** `Unhandled` when the function threw or timed out. */
  readonly functionError?: 'Unhandled' | 'Handled';
  readonly executedVersion: string;
  readonly requestId: string;
}

/** Lambda as the other services see it. */
export interface LambdaPort {
  /** Invokes by name, ARN or partial ARN. Throws AwsError ResourceNotFoundException / TooManyRequestsException. */
  invoke(functionName: string, payload: string, options?: { invocationType?: 'RequestResponse' | 'Event' | 'DryRun'; clientContext?: string }): Promise<InvokeResult>;
  /** Every name a function answers to (physical name, logical id), for fault matching and logs. */
  aliasesOf(functionName: string): readonly string[];
}

/** One record of a DynamoDB stream, exactly as GetRecords returns it. */
export interface StreamRecord {
  readonly eventID: string;
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly eventVersion: string;
  readonly eventSource: 'aws:dynamodb';
  readonly awsRegion: string;
  readonly dynamodb: {
    readonly ApproximateCreationDateTime: number;
    readonly Keys: Record<string, unknown>;
    readonly NewImage?: Record<string, unknown>;
    readonly OldImage?: Record<string, unknown>;
    readonly SequenceNumber: string;
    readonly SizeBytes: number;
    readonly StreamViewType: string;
  };
  /** Present on TTL deletions: `{type: 'Service', principalId: 'dynamodb.amazonaws.com'}`. */
  readonly userIdentity?: { readonly type: string; readonly principalId: string };
}

/** DynamoDB streams as the event-source mappings see them (one shard per stream). */
export interface StreamsPort {
  /** Records with SequenceNumber strictly greater than `afterSequence` (all when undefined), oldest first, at most `limit`. */
  readAfter(streamArn: string, afterSequence: string | undefined, limit: number): StreamRecord[];
  /** The sequence number of the newest record, for StartingPosition LATEST. */
  latestSequence(streamArn: string): string | undefined;
  /** Subscribes to new records on a stream; returns the unsubscribe function. */
  onAppend(streamArn: string, listener: () => void): () => void;
  /** Table name of a stream ARN, for fault matching. */
  tableOf(streamArn: string): string | undefined;
  /** Id of the stream's single shard (as DescribeStream reports it), for on-failure records. Optional. */
  shardIdOf?(streamArn: string): string | undefined;
}

/** SQS as the other services see it (DLQs and on-failure destinations). */
export interface SqsPort {
  /** Accepts a queue URL or ARN. Throws AwsError `AWS.SimpleQueueService.NonExistentQueue` when absent. */
  sendMessage(queue: string, body: string, attributes?: Record<string, { DataType: string; StringValue?: string }>): Promise<{ MessageId: string }>;
}

/** Step Functions as the other services see it (EventBridge targets). */
export interface StatesPort {
  startExecution(input: { stateMachineArn: string; input?: string; name?: string }): Promise<{ executionArn: string; startDate: number }>;
}

/** EventBridge as the other services see it (Step Functions `events:putEvents` tasks, sync publishing). */
export interface EventsPort {
  putEvents(entries: Array<Record<string, unknown>>): Promise<{ FailedEntryCount: number; Entries: Array<Record<string, unknown>> }>;
}

/** A DynamoDB JSON operation run in-process (Step Functions `dynamodb:*` tasks). */
export interface DynamoPort {
  call(operation: string, input: any): Promise<any>;
}

/** Everything shared by the services of one local cloud. Ports are filled in by `LocalCloud` before first use. */
export interface Kernel {
  readonly clock: LocalClock;
  readonly faults: FaultInjector;
  /** Absolute path of the persistent state directory (`.local/`). */
  readonly stateDir: string;
  readonly region: string;
  /** The endpoint URL handed to functions as AWS_ENDPOINT_URL, e.g. http://127.0.0.1:4566. */
  endpoint: string;
  lambda: LambdaPort;
  streams: StreamsPort;
  sqs: SqsPort;
  states: StatesPort;
  events: EventsPort;
  dynamodb: DynamoPort;
}

/** A pluggable service: its API (JSON and/or REST routes), its resource providers, its lifecycle. */
export interface LocalService {
  readonly name: string;
  readonly json?: JsonService;
  readonly routes?: readonly RestRoute[];
  readonly providers?: readonly ResourceProvider[];
  /** Called once after every service is constructed and the kernel's ports are set. */
  start?(): Promise<void>;
  /** Flushes state to disk and stops timers, pollers and child processes. */
  stop?(): Promise<void>;
  /** Optional counters served by the admin API (`GET /_converge/stats`). */
  stats?(): Record<string, unknown>;
  /** Optional: zeroes the counters of {@link LocalService.stats}. */
  resetStats?(): void;
}
