/**
 * The local Lambda runtime: the registry of deployed functions, synchronous invocation (with
 * fault injection and concurrency limits) and asynchronous (`Event`) invocation with Lambda's
 * retry, event-age, dead-letter queue and destination semantics.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AwsError } from '../../core/aws.js';
import type { InvokeResult, Kernel, LambdaPort } from '../../core/kernel.js';
import type { FaultEffect } from '../../core/faults.js';
import { DEFAULT_CONCURRENCY, parseFunctionRef, type FunctionConfig, type InvokeConfig } from '../functions.js';
import { ContainerPool, throttled, timeoutDocument, type ErrorDocument } from './container.js';

/** Tuning of the local runtime; every field has a local default chosen for fast feedback. */
export interface RuntimeOptions {
  /** Containers per function without reserved concurrency. @default 10 */
  readonly defaultConcurrency?: number;
  /**
   * Delays before the 1st and 2nd retry of an asynchronous invocation. AWS waits about one
   * and then two minutes; locally it is short so a failure reaches its DLQ within a test.
   * @default [100, 200]
   */
  readonly asyncRetryDelaysMs?: readonly number[];
  /** Delay before retrying an asynchronous invocation that was throttled. @default 50 */
  readonly throttleRetryDelayMs?: number;
}

/** An invocation result plus the tail of the log it produced (for `LogType: Tail`). */
export interface LocalInvokeResult extends InvokeResult {
  readonly log?: string;
}

/** Options of one invocation beyond the port's. */
export interface InvokeOptions {
  readonly invocationType?: 'RequestResponse' | 'Event' | 'DryRun';
  readonly clientContext?: string;
  /** How a busy pool answers: synchronous callers get throttled, internal pollers wait. @default 'throttle' */
  readonly whenBusy?: 'throttle' | 'wait';
  /** Faults decided by the caller (e.g. the stream poller), applied like the function's own. */
  readonly extraEffects?: readonly FaultEffect[];
  /** Reuse a request id (async retries keep theirs). */
  readonly requestId?: string;
}

/** A function failed (or timed out) with this error document. */
function failed(requestId: string, error: ErrorDocument, log?: string): LocalInvokeResult {
  return { statusCode: 200, payload: JSON.stringify(error), functionError: 'Unhandled', executedVersion: '$LATEST', requestId, log };
}

/** The runtime behind the Lambda API, the LambdaPort, the providers and the pollers. */
export class LambdaRuntime implements LambdaPort {
  private readonly functions = new Map<string, FunctionConfig>();
  private readonly pools = new Map<string, ContainerPool>();
  private readonly invokeConfigs = new Map<string, InvokeConfig>();
  private readonly counts = new Map<string, number>();
  private readonly inflightAsync = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly kernel: Kernel,
    private readonly options: RuntimeOptions = {},
  ) {}

  /** Registers or replaces a function; a replaced function's containers are discarded. */
  async put(fn: FunctionConfig): Promise<void> {
    const old = this.pools.get(fn.name);
    this.functions.set(fn.name, fn);
    this.pools.set(fn.name, new ContainerPool(fn, () => this.environment(fn), this.options.defaultConcurrency ?? DEFAULT_CONCURRENCY));
    await old?.stop();
  }

  /** Removes a function and kills its containers. */
  async remove(name: string): Promise<void> {
    const pool = this.pools.get(name);
    this.functions.delete(name);
    this.pools.delete(name);
    await pool?.stop();
  }

  /** Sets or clears the asynchronous-invocation config of a function. */
  setInvokeConfig(functionName: string, config: InvokeConfig | undefined): void {
    const { name } = parseFunctionRef(functionName);
    if (config) this.invokeConfigs.set(name, config);
    else this.invokeConfigs.delete(name);
  }

  /** Every deployed function. */
  list(): FunctionConfig[] {
    return [...this.functions.values()];
  }

  /** The function a name, ARN or partial ARN designates, or ResourceNotFoundException. */
  resolve(ref: string): FunctionConfig {
    const { name, qualifier } = parseFunctionRef(ref);
    const fn = this.functions.get(name);
    const region = this.kernel.region;
    if (!fn || (qualifier !== undefined && qualifier !== '$LATEST')) {
      throw new AwsError('ResourceNotFoundException', `Function not found: arn:aws:lambda:${region}:000000000000:function:${name}${qualifier ? `:${qualifier}` : ''}`, 404, { Type: 'User' });
    }
    return fn;
  }

  /** Looks a function up without throwing. */
  find(ref: string): FunctionConfig | undefined {
    try {
      return this.resolve(ref);
    } catch {
      return undefined;
    }
  }

  /** Like {@link find}, but also accepts a logical id (for tests, faults and logs; never for invocation). */
  private findAny(ref: string): FunctionConfig | undefined {
    return this.find(ref) ?? [...this.functions.values()].find((f) => f.logicalId === ref);
  }

  /** Every name a function answers to: its physical name and its logical id. */
  aliasesOf(functionName: string): readonly string[] {
    const fn = this.findAny(functionName);
    return fn ? [fn.name, fn.logicalId] : [parseFunctionRef(functionName).name];
  }

  /** How many times the function was invoked (handler runs and injected failures; throttles excluded). */
  invocations(functionName: string): number {
    const fn = this.findAny(functionName);
    return this.counts.get(fn?.name ?? functionName) ?? 0;
  }

  /** Invocation counts of every function that was invoked. */
  invocationCounts(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** Zeroes the invocation counters. */
  resetCounts(): void {
    this.counts.clear();
  }

  /** Live containers of a function. */
  containers(functionName: string): number {
    return this.pools.get(this.resolve(functionName).name)?.size() ?? 0;
  }

  /** The environment of the function's processes: the template's variables plus Lambda's own. */
  private environment(fn: FunctionConfig): Record<string, string> {
    const region = this.kernel.region;
    return {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      ...fn.environment,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
      AWS_LAMBDA_LOG_GROUP_NAME: fn.logGroup,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      _HANDLER: fn.handler,
      LAMBDA_TASK_ROOT: fn.codeDir,
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
      TZ: ':UTC',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      // The local cloud must win over a template value so SDK clients inside reach it.
      AWS_ENDPOINT_URL: this.kernel.endpoint,
    };
  }

  /** LambdaPort.invoke: RequestResponse and DryRun answer now, Event is queued (202). */
  invoke(functionName: string, payload: string, options: { invocationType?: 'RequestResponse' | 'Event' | 'DryRun'; clientContext?: string } = {}): Promise<InvokeResult> {
    return this.invokeWith(functionName, payload, options);
  }

  /** Invoke with the local options (busy behaviour, extra faults, log tail). */
  async invokeWith(functionName: string, payload: string, options: InvokeOptions = {}): Promise<LocalInvokeResult> {
    const fn = this.resolve(functionName);
    const type = options.invocationType ?? 'RequestResponse';
    if (!['RequestResponse', 'Event', 'DryRun'].includes(type)) {
      throw new AwsError('InvalidParameterValueException', `1 validation error detected: Value '${type}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]`);
    }
    const text = payload === '' ? '{}' : payload;
    try {
      JSON.parse(text);
    } catch {
      throw new AwsError('InvalidRequestContentException', 'Could not parse request body into json: Could not parse payload into json', 400, { Type: 'User' });
    }
    const limit = type === 'Event' ? 1024 * 1024 : 6 * 1024 * 1024;
    if (Buffer.byteLength(text) > limit) {
      throw new AwsError('RequestTooLargeException', `Request must be smaller than ${limit} bytes for the InvokeFunction operation`, 413, { Type: 'User' });
    }
    const requestId = options.requestId ?? randomUUID();
    if (type === 'DryRun') return { statusCode: 204, payload: '', executedVersion: '$LATEST', requestId };
    if (type === 'Event') {
      this.enqueueAsync(fn, text, requestId);
      return { statusCode: 202, payload: '', executedVersion: '$LATEST', requestId };
    }
    return this.runSync(fn, text, requestId, options);
  }

  private async runSync(fn: FunctionConfig, payload: string, requestId: string, options: InvokeOptions): Promise<LocalInvokeResult> {
    if (this.stopped) throw new AwsError('ServiceException', 'the local Lambda runtime is stopping', 500);
    const effects = [...(options.extraEffects ?? []), ...this.kernel.faults.decide({ service: 'lambda', functionNames: [fn.name, fn.logicalId] })];
    const latency = effects.filter((e) => e.kind === 'latency').reduce((sum, e) => sum + (e.latencyMs ?? 0), 0);
    if (latency > 0) await sleep(latency);
    const throttle = effects.find((e) => e.kind === 'throttle');
    if (throttle) throw throttled('ConcurrentInvocationLimitExceeded', throttle.errorMessage);
    const error = effects.find((e) => e.kind === 'error');
    if (error) {
      this.count(fn);
      return failed(requestId, { errorType: error.errorName ?? 'InjectedFault', errorMessage: error.errorMessage ?? 'fault injected', trace: [] });
    }
    if (effects.some((e) => e.kind === 'timeout')) {
      this.count(fn);
      return failed(requestId, timeoutDocument(requestId, fn.timeoutSeconds));
    }
    const pool = this.pools.get(fn.name);
    if (!pool) throw this.notFound(fn.name);
    const container = await pool.acquire(options.whenBusy ?? 'throttle');
    this.count(fn);
    try {
      let clientContext: unknown;
      if (options.clientContext) {
        try {
          clientContext = JSON.parse(Buffer.from(options.clientContext, 'base64').toString('utf8'));
        } catch {
          throw new AwsError('InvalidRequestContentException', 'Client context must be a valid Base64-encoded JSON object.', 400, { Type: 'User' });
        }
      }
      const outcome = await container.invoke({ requestId, payload, clientContext }, fn.arn);
      if (outcome.ok) return { statusCode: 200, payload: outcome.payload, executedVersion: '$LATEST', requestId, log: outcome.log };
      return failed(requestId, outcome.error, outcome.log);
    } finally {
      pool.release(container);
    }
  }

  private notFound(name: string): AwsError {
    return new AwsError('ResourceNotFoundException', `Function not found: arn:aws:lambda:${this.kernel.region}:000000000000:function:${name}`, 404, { Type: 'User' });
  }

  private count(fn: FunctionConfig): void {
    this.counts.set(fn.name, (this.counts.get(fn.name) ?? 0) + 1);
  }

  private enqueueAsync(fn: FunctionConfig, payload: string, requestId: string): void {
    const task = this.runAsync(fn.name, payload, requestId, this.kernel.clock.now()).catch((err) => {
      console.error(`[local-lambda] asynchronous invocation ${requestId} of ${fn.name} failed internally:`, err);
    });
    this.inflightAsync.add(task);
    void task.finally(() => this.inflightAsync.delete(task));
  }

  /** Lambda's asynchronous invocation loop: retries, event age, then DLQ and destinations. */
  private async runAsync(name: string, payload: string, requestId: string, enqueuedAt: number): Promise<void> {
    let attempts = 0;
    let last: LocalInvokeResult | undefined;
    for (;;) {
      if (this.stopped) return;
      const fn = this.find(name);
      if (!fn) return;
      const config = this.invokeConfigs.get(fn.name);
      const maxAge = (config?.maximumEventAgeInSeconds ?? 21600) * 1000;
      const maxRetries = config?.maximumRetryAttempts ?? 2;
      if (this.kernel.clock.now() - enqueuedAt > maxAge) {
        await this.asyncFailure(fn, payload, requestId, attempts, last, 'EventAgeExceeded');
        return;
      }
      try {
        last = await this.runSync(fn, payload, requestId, { whenBusy: 'wait' });
      } catch (err) {
        if (err instanceof AwsError && (err.code === 'TooManyRequestsException' || err.code === 'ResourceNotFoundException')) {
          // Throttles are retried until the event is too old, without using up retries.
          await sleep(this.options.throttleRetryDelayMs ?? 50);
          continue;
        }
        throw err;
      }
      attempts += 1;
      if (!last.functionError) {
        if (config?.onSuccess) await this.deliver(fn, config.onSuccess, this.asyncRecord(fn, payload, requestId, attempts, last, 'Success'), 'Success');
        return;
      }
      if (attempts > maxRetries) {
        await this.asyncFailure(fn, payload, requestId, attempts, last, 'RetriesExhausted');
        return;
      }
      const delays = this.options.asyncRetryDelaysMs ?? [100, 200];
      await sleep(delays[Math.min(attempts - 1, delays.length - 1)] ?? 0);
    }
  }

  private asyncRecord(fn: FunctionConfig, payload: string, requestId: string, attempts: number, last: LocalInvokeResult | undefined, condition: string): Record<string, unknown> {
    let responsePayload: unknown;
    try {
      responsePayload = last?.payload ? JSON.parse(last.payload) : undefined;
    } catch {
      responsePayload = last?.payload;
    }
    return {
      version: '1.0',
      timestamp: new Date(this.kernel.clock.now()).toISOString(),
      requestContext: { requestId, functionArn: `${fn.arn}:$LATEST`, condition, approximateInvokeCount: attempts },
      requestPayload: JSON.parse(payload),
      responseContext: { statusCode: last?.statusCode ?? 200, executedVersion: '$LATEST', ...(last?.functionError ? { functionError: last.functionError } : {}) },
      responsePayload,
    };
  }

  private async asyncFailure(fn: FunctionConfig, payload: string, requestId: string, attempts: number, last: LocalInvokeResult | undefined, condition: string): Promise<void> {
    const config = this.invokeConfigs.get(fn.name);
    if (config?.onFailure) await this.deliver(fn, config.onFailure, this.asyncRecord(fn, payload, requestId, attempts, last, condition), 'Failure');
    if (fn.deadLetterTargetArn) {
      let errorMessage = condition;
      try {
        errorMessage = (JSON.parse(last?.payload ?? '{}') as ErrorDocument).errorMessage ?? condition;
      } catch {
        // keep the condition as the message
      }
      if (!fn.deadLetterTargetArn.startsWith('arn:aws:sqs:')) {
        console.error(`[local-lambda] ${fn.name}: dead-letter target ${fn.deadLetterTargetArn} is not an SQS queue; the local cloud only delivers to SQS`);
        return;
      }
      // The DLQ gets the original event, with the error in message attributes, as on AWS.
      await this.kernel.sqs
        .sendMessage(fn.deadLetterTargetArn, payload, {
          RequestID: { DataType: 'String', StringValue: requestId },
          ErrorCode: { DataType: 'Number', StringValue: String(last?.statusCode ?? 200) },
          ErrorMessage: { DataType: 'String', StringValue: errorMessage.slice(0, 1024) },
        })
        .catch((err) => console.error(`[local-lambda] ${fn.name}: could not send to dead-letter queue ${fn.deadLetterTargetArn}:`, err));
    }
  }

  /** Sends an invocation record to an SQS, Lambda or EventBridge destination. */
  async deliver(fn: FunctionConfig, destination: string, record: Record<string, unknown>, outcome: 'Success' | 'Failure'): Promise<void> {
    const body = JSON.stringify(record);
    try {
      if (destination.startsWith('arn:aws:sqs:')) await this.kernel.sqs.sendMessage(destination, body);
      else if (destination.startsWith('arn:aws:lambda:')) await this.invoke(destination, body, { invocationType: 'Event' });
      else if (destination.startsWith('arn:aws:events:')) {
        await this.kernel.events.putEvents([
          { Source: 'lambda', DetailType: `Lambda Function Invocation Result - ${outcome}`, Detail: body, EventBusName: destination, Resources: [`${fn.arn}:$LATEST`] },
        ]);
      } else throw new Error(`unsupported destination ${destination}`);
    } catch (err) {
      console.error(`[local-lambda] ${fn.name}: could not deliver to destination ${destination}:`, err);
    }
  }

  /** Resolves once every queued asynchronous invocation has finished (delivered, retried out, or sent to a DLQ). */
  async asyncIdle(): Promise<void> {
    while (this.inflightAsync.size > 0) await Promise.all([...this.inflightAsync]);
  }

  /** Kills every container; pending asynchronous invocations are dropped. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.pools.values()].map((p) => p.stop()));
  }
}
