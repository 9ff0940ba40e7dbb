/**
 * The Lambda REST API (restJson1) on the front: Invoke, GetFunction, GetFunctionConfiguration,
 * ListFunctions, GetFunctionConcurrency, GetEventSourceMapping, ListEventSourceMappings and
 * UpdateEventSourceMapping.
 * Other Lambda operations fall through to the front's UnknownOperationException.
 */
import { AwsError, type RawRequest, type RawResponse, type RestRoute } from '../core/aws.js';
import type { FunctionConfig } from './functions.js';
import type { LambdaRuntime } from './runtime/runtime.js';
import { describeMapping, type MappingConfig } from './esm/mapping.js';

/** What the API needs to see of the mappings. */
export interface MappingDirectory {
  list(): readonly MappingConfig[];
  stateOf(uuid: string): string;
  /** UpdateEventSourceMapping: applies the changed settings and restarts the poller at its checkpoint. */
  update(uuid: string, changes: Record<string, unknown>): Promise<MappingConfig>;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): RawResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

function header(req: RawRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function route(method: string, pattern: RegExp, names: readonly string[], handle: (req: RawRequest, params: Record<string, string>) => Promise<RawResponse>): RestRoute {
  return {
    match(req) {
      if (req.method !== method) return undefined;
      const m = pattern.exec(req.path);
      if (!m) return undefined;
      const params: Record<string, string> = {};
      names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
      return params;
    },
    handle: (req, params) => handle(req, params),
  };
}

/** The FunctionConfiguration shape of GetFunction / ListFunctions. */
export function functionConfiguration(fn: FunctionConfig): Record<string, unknown> {
  return {
    FunctionName: fn.name,
    FunctionArn: fn.arn,
    Runtime: fn.runtime,
    Role: fn.role,
    Handler: fn.handler,
    CodeSize: 0,
    Description: fn.description,
    Timeout: fn.timeoutSeconds,
    MemorySize: fn.memorySize,
    LastModified: fn.lastModified,
    CodeSha256: fn.codeSha256,
    Version: '$LATEST',
    Environment: { Variables: { ...fn.environment } },
    TracingConfig: { Mode: fn.tracingMode },
    ...(fn.deadLetterTargetArn ? { DeadLetterConfig: { TargetArn: fn.deadLetterTargetArn } } : {}),
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: 'Zip',
    Architectures: [...fn.architectures],
    EphemeralStorage: { Size: 512 },
    LoggingConfig: { LogFormat: fn.logFormat, LogGroup: fn.logGroup },
  };
}

/** Builds the REST routes of the Lambda API. */
export function lambdaRoutes(runtime: LambdaRuntime, mappings: MappingDirectory, region: string): RestRoute[] {
  const fnPath = (suffix: string) => new RegExp(`^/2015-03-31/functions/([^/]+)${suffix}/?$`);
  return [
    route('POST', fnPath('/invocations'), ['name'], async (req, { name }) => {
      const qualifier = req.query.get('Qualifier');
      const ref = qualifier ? `${name}:${qualifier}` : name;
      const type = (header(req, 'x-amz-invocation-type') ?? 'RequestResponse') as 'RequestResponse' | 'Event' | 'DryRun';
      const logType = header(req, 'x-amz-log-type') ?? 'None';
      if (logType !== 'None' && logType !== 'Tail') {
        throw new AwsError('InvalidParameterValueException', `1 validation error detected: Value '${logType}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]`);
      }
      const result = await runtime.invokeWith(ref, req.body.toString('utf8'), { invocationType: type, clientContext: header(req, 'x-amz-client-context') });
      const headers: Record<string, string> = { 'x-amz-executed-version': result.executedVersion };
      if (result.functionError) headers['x-amz-function-error'] = result.functionError;
      if (logType === 'Tail' && type === 'RequestResponse' && result.log !== undefined) headers['x-amz-log-result'] = Buffer.from(result.log, 'utf8').toString('base64');
      if (result.statusCode !== 200) return { status: result.statusCode, headers: { 'x-amzn-requestid': result.requestId, ...headers }, body: '' };
      return { status: 200, headers: { 'content-type': 'application/json', 'x-amzn-requestid': result.requestId, ...headers }, body: result.payload };
    }),
    route('GET', /^\/2015-03-31\/functions\/?$/, [], async () => json(200, { Functions: runtime.list().map(functionConfiguration) })),
    route('GET', fnPath(''), ['name'], async (_req, { name }) => {
      const fn = runtime.resolve(name);
      return json(200, {
        Configuration: functionConfiguration(fn),
        Code: { RepositoryType: 'S3', Location: `file://${fn.codeDir}` },
        ...(fn.reservedConcurrency !== undefined ? { Concurrency: { ReservedConcurrentExecutions: fn.reservedConcurrency } } : {}),
      });
    }),
    route('GET', fnPath('/configuration'), ['name'], async (_req, { name }) => json(200, functionConfiguration(runtime.resolve(name)))),
    route('GET', /^\/2019-09-30\/functions\/([^/]+)\/concurrency\/?$/, ['name'], async (_req, { name }) => {
      const fn = runtime.resolve(name);
      return json(200, fn.reservedConcurrency !== undefined ? { ReservedConcurrentExecutions: fn.reservedConcurrency } : {});
    }),
    route('GET', /^\/2015-03-31\/event-source-mappings\/?$/, [], async (req) => {
      const fnFilter = req.query.get('FunctionName');
      const sourceFilter = req.query.get('EventSourceArn');
      const fnName = fnFilter ? runtime.resolve(fnFilter).name : undefined;
      const list = mappings.list().filter((m) => (!fnName || m.functionName === fnName) && (!sourceFilter || m.eventSourceArn === sourceFilter));
      return json(200, { EventSourceMappings: list.map((m) => describeMapping(m, region, mappings.stateOf(m.uuid))) });
    }),
    route('GET', /^\/2015-03-31\/event-source-mappings\/([^/]+)\/?$/, ['uuid'], async (_req, { uuid }) => {
      const m = mappings.list().find((x) => x.uuid === uuid);
      if (!m) throw new AwsError('ResourceNotFoundException', `The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: ${uuid})`, 404, { Type: 'User' });
      return json(200, describeMapping(m, region, mappings.stateOf(uuid)));
    }),
    route('PUT', /^\/2015-03-31\/event-source-mappings\/([^/]+)\/?$/, ['uuid'], async (req, { uuid }) => {
      let changes: unknown;
      try {
        changes = req.body.length ? JSON.parse(req.body.toString('utf8')) : {};
      } catch {
        throw new AwsError('SerializationException', 'request body is not valid JSON');
      }
      if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) throw new AwsError('InvalidParameterValueException', 'request body must be a JSON object');
      const m = await mappings.update(uuid, changes as Record<string, unknown>);
      return json(202, describeMapping(m, region, mappings.stateOf(uuid)));
    }),
  ];
}
