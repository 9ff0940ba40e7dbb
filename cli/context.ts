/**
 * What every command needs: SDK v3 clients (honouring AWS_ENDPOINT_URL, AWS_PROFILE,
 * AWS_REGION), the stack's outputs found through CloudFormation DescribeStacks, and output helpers.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetExecutionHistoryCommand, SFNClient, type HistoryEvent } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { ConnectionError, UsageError } from './errors.js';

/** Global options. */
export interface GlobalOptions {
  /** CloudFormation stack whose outputs name the resources. @default 'Converge' (or CONVERGE_STACK) */
  readonly stack: string;
  readonly json: boolean;
  /** Endpoint URL; falls back to AWS_ENDPOINT_URL. */
  readonly endpoint?: string;
  /** Region; falls back to AWS_REGION / the profile, and to us-east-1 against a custom endpoint. */
  readonly region?: string;
  readonly yes: boolean;
}

/** Host names that are the operator's own machine. */
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1|0\.0\.0\.0)$/;

/** True when `endpoint` points at this machine (the local cloud, LocalStack). */
export function isLoopback(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    return LOOPBACK.test(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}

/** SDK client configuration for the given options and environment. Exported for tests. */
export function clientConfig(options: Pick<GlobalOptions, 'endpoint' | 'region'>, env: NodeJS.ProcessEnv = process.env) {
  const endpoint = options.endpoint ?? env.AWS_ENDPOINT_URL;
  if (endpoint) {
    try {
      new URL(endpoint);
    } catch {
      throw new UsageError(`endpoint ${endpoint} is not a URL`, 'use e.g. --endpoint http://127.0.0.1:4566');
    }
  }
  // A custom endpoint has no "home" region, and a local one needs no real credentials: defaulting
  // both lets `npx converge status` work right after `npm start` on a machine with no AWS setup.
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (endpoint ? 'us-east-1' : undefined);
  const hasCredentials = Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE || env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI);
  const credentials = isLoopback(endpoint) && !hasCredentials ? { accessKeyId: 'test', secretAccessKey: 'test' } : undefined;
  return { ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), ...(credentials ? { credentials } : {}) };
}

/** The clients and outputs a command works with. */
export class CliContext {
  readonly dynamodb: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  readonly streams: DynamoDBStreamsClient;
  readonly sfn: SFNClient;
  readonly sqs: SQSClient;
  readonly events: EventBridgeClient;
  readonly cloudformation: CloudFormationClient;
  private outputsCache?: Record<string, string>;

  constructor(public readonly options: GlobalOptions) {
    const config = clientConfig(options);
    this.dynamodb = new DynamoDBClient(config);
    this.documents = DynamoDBDocumentClient.from(this.dynamodb, { marshallOptions: { removeUndefinedValues: true } });
    this.streams = new DynamoDBStreamsClient(config);
    this.sfn = new SFNClient(config);
    this.sqs = new SQSClient(config);
    this.events = new EventBridgeClient(config);
    this.cloudformation = new CloudFormationClient(config);
  }

  /** The endpoint in use, or undefined for AWS's default endpoints. */
  get endpoint(): string | undefined {
    return this.options.endpoint ?? process.env.AWS_ENDPOINT_URL;
  }

  /** Every output of the stack, by OutputKey. */
  async outputs(): Promise<Record<string, string>> {
    if (this.outputsCache) return this.outputsCache;
    let stacks;
    try {
      stacks = (await this.cloudformation.send(new DescribeStacksCommand({ StackName: this.options.stack }))).Stacks ?? [];
    } catch (err) {
      const e = err as Error;
      if (e.name === 'ValidationError' || e.name === 'ValidationException' || e.name === 'StackNotFoundException' || /does not exist/.test(e.message)) {
        throw new UsageError(`stack ${this.options.stack} was not found at ${this.endpoint ?? 'AWS'}`, 'deploy it (npm start locally, or npx cdk deploy), or pass --stack NAME');
      }
      throw new ConnectionError(`could not reach CloudFormation at ${this.endpoint ?? 'AWS'}: ${e.message}`, 'check AWS_ENDPOINT_URL / AWS_PROFILE / AWS_REGION, or start the local cloud with npm start');
    }
    const outputs: Record<string, string> = {};
    for (const s of stacks) for (const o of s.Outputs ?? []) if (o.OutputKey && o.OutputValue) outputs[o.OutputKey] = o.OutputValue;
    this.outputsCache = outputs;
    return outputs;
  }

  /** One output, or a usage error naming it. */
  async output(key: string): Promise<string> {
    const value = (await this.outputs())[key];
    if (!value) throw new UsageError(`stack ${this.options.stack} has no output ${key}`, 'is the stack up to date? redeploy it');
    return value;
  }

  /** One output, or undefined when this deployment does not have it (a feature not deployed). */
  async optionalOutput(key: string): Promise<string | undefined> {
    return (await this.outputs())[key];
  }

  /** Closes the clients' sockets so the process can exit promptly. */
  destroy(): void {
    for (const c of [this.dynamodb, this.streams, this.sfn, this.sqs, this.events, this.cloudformation]) c.destroy();
  }

  /** Every event of an execution's history, oldest first, all pages. */
  async history(executionArn: string): Promise<HistoryEvent[]> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }));
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return events;
  }
}
