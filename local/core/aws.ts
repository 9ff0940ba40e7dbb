/**
 * Shared facts and primitives of the local cloud: the account and region it pretends to be,
 * the AWS-shaped error every service throws, and the contracts through which services plug
 * into the HTTP front and into the template deployer.
 */
import { randomUUID } from 'node:crypto';

/** The account id the local cloud reports (the one LocalStack uses too). */
export const ACCOUNT_ID = '000000000000';
/** The region the local cloud reports unless AWS_REGION says otherwise. */
export const DEFAULT_REGION = 'us-east-1';

/**
 * An error in the shape AWS returns it: `code` becomes the `__type` of a JSON-protocol
 * response (and `x-amzn-ErrorType`), so SDK v3 clients raise an exception with that `name`.
 */
export class AwsError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly statusCode = 400,
    /** Extra members serialized beside `message` (e.g. CancellationReasons). */
    public readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = code;
  }

  /** Optional extra response headers, e.g. SQS's query-compatible `x-amzn-query-error`. */
  headers?: Record<string, string>;
}

/** Per-request facts a service may need. */
export interface RequestContext {
  readonly requestId: string;
  readonly region: string;
  readonly accountId: string;
}

export function newRequestContext(region = DEFAULT_REGION): RequestContext {
  return { requestId: randomUUID(), region, accountId: ACCOUNT_ID };
}

/**
 * A service spoken over the AWS JSON protocols (awsJson1_0 / awsJson1_1): the front routes
 * by the `X-Amz-Target: <prefix>.<Operation>` header.
 */
export interface JsonService {
  /** e.g. `DynamoDB_20120810`, `DynamoDBStreams_20120810`, `AWSStepFunctions`, `AWSEvents`, `AmazonSQS`. */
  readonly targetPrefixes: readonly string[];
  /** Runs one operation; throws {@link AwsError} for an AWS error; must reject unknown operations with `UnknownOperationException`. */
  handle(operation: string, input: any, ctx: RequestContext): Promise<unknown>;
}

/** A raw HTTP request as the front passes it to REST and query-protocol routes. */
export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** A raw HTTP response. */
export interface RawResponse {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
}

/** A REST-style route (Lambda's restJson1 API, CloudFormation's awsQuery API, the admin API). */
export interface RestRoute {
  /** Tried in registration order; the first route whose `match` returns params handles the request. */
  match(req: RawRequest): Record<string, string> | undefined;
  handle(req: RawRequest, params: Record<string, string>, ctx: RequestContext): Promise<RawResponse>;
}

/** What the deployer hands a provider for one resource: properties already fully resolved. */
export interface ProvisionRequest {
  readonly stackName: string;
  readonly logicalId: string;
  readonly type: string;
  readonly properties: Record<string, any>;
  /** The resource's `Metadata` (e.g. `aws:asset:path`). */
  readonly metadata: Record<string, any>;
  /** Absolute path of the cdk.out directory the template came from (to find assets). */
  readonly assemblyDir: string;
  /** Resolves an asset's S3 object key (e.g. `<hash>.zip`) to its unpacked directory in cdk.out. */
  readonly assetPath: (s3Key: string) => string;
}

/** What a provider returns: the value of `Ref` and the values of `Fn::GetAtt`. */
export interface Provisioned {
  readonly physicalId: string;
  readonly attributes: Record<string, unknown>;
}

/**
 * Creates, updates and deletes resources of some CloudFormation types. The deployer refuses,
 * by logical id and type, any type that no registered provider claims.
 */
export interface ResourceProvider {
  readonly types: readonly string[];
  create(req: ProvisionRequest): Promise<Provisioned>;
  /** Called when the resolved properties changed since the last deploy. Default: delete then create. */
  update?(req: ProvisionRequest, previous: Provisioned & { properties: Record<string, any> }): Promise<Provisioned>;
  delete(type: string, physicalId: string, properties: Record<string, any>): Promise<void>;
  /**
   * Optional: called once per process for a resource kept unchanged from persisted deploy state
   * (after a restart), so a service holding runtime state in memory can rebuild it. When absent,
   * the deployer assumes the service persisted the resource itself.
   */
  restore?(req: ProvisionRequest, previous: Provisioned & { properties: Record<string, any> }): Promise<Provisioned | void>;
}

/** `arn:aws:<service>:<region>:<account>:<resource>` for the local account. */
export function arn(service: string, resource: string, region = DEFAULT_REGION): string {
  return `arn:aws:${service}:${region}:${ACCOUNT_ID}:${resource}`;
}
