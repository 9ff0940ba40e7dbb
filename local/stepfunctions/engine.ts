/**
 * The execution engine: runs executions with aws-local-stepfunctions, runs Task states itself
 * (integrations, Retry on the local clock, timeouts, heartbeats, task tokens, faults), and
 * records the execution history in AWS's event shapes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { StateMachine, ExecutionAbortedError, ExecutionError } from 'aws-local-stepfunctions';
import { AwsError, arn } from '../core/aws.js';
import type { Kernel } from '../core/kernel.js';
import { compileDefinition, TASK_TOKEN_PLACEHOLDER, type CompiledDefinition, type Retrier, type StateInfo } from './definition.js';
import { TaskError, runIntegration, runtimeError } from './integrations.js';
import { AbortedWait, clockDeadline, clockSleep, deepReplace, nextMacrotask, selectPath, toJson, type ClockDeadline } from './util.js';

/** Execution statuses, as DescribeExecution reports them. */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
export const EXECUTION_STATUSES: readonly ExecutionStatus[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];

/** A deployed state machine. Dates are epoch milliseconds. */
export interface MachineRecord {
  readonly stateMachineArn: string;
  readonly name: string;
  readonly type: 'STANDARD' | 'EXPRESS';
  readonly roleArn: string;
  readonly definition: string;
  readonly creationDate: number;
  readonly loggingConfiguration: Record<string, unknown>;
  readonly tracingConfiguration: Record<string, unknown>;
  readonly tags: Array<{ key: string; value: string }>;
  readonly revisionId: string;
}

/** One event of an execution's history, in the GetExecutionHistory shape (timestamp in epoch seconds). */
export interface HistoryEvent {
  readonly timestamp: number;
  readonly type: string;
  readonly id: number;
  readonly previousEventId: number;
  readonly [details: string]: unknown;
}

/** An execution as persisted. Dates are epoch milliseconds. */
export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  type: 'STANDARD' | 'EXPRESS';
  status: ExecutionStatus;
  startDate: number;
  stopDate?: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  redriveCount: number;
  redriveDate?: number;
  roleArn: string;
  /** The definition the execution runs (a redrive reuses it). */
  definition: string;
  history: HistoryEvent[];
  /** The top-level state that was entered and not exited: where a redrive resumes. */
  openState?: { name: string; input: string };
}

/** DescribeExecution's output, with dates in epoch seconds as the JSON protocol carries them. */
export interface DescribeExecutionOutputLike {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate?: number;
  input: string;
  inputDetails: { included: boolean };
  output?: string;
  outputDetails?: { included: boolean };
  error?: string;
  cause?: string;
  redriveCount: number;
  redriveDate?: number;
  redriveStatus: 'REDRIVABLE' | 'NOT_REDRIVABLE' | 'REDRIVABLE_BY_MAP_RUN';
  redriveStatusReason?: string;
}

/** Where the engine persists what it changes. */
export interface EngineStore {
  saveExecution(record: ExecutionRecord): void;
}

interface Live {
  record: ExecutionRecord;
  compiled?: CompiledDefinition;
  abort?: AbortController;
  libAbort?: () => void;
  closed: boolean;
  waiters: Array<() => void>;
  /** Map/Parallel states that failed (so their exit is not a success). */
  failedContainers: Set<string>;
}

interface TokenEntry {
  readonly executionArn: string;
  readonly stateName: string;
  resolve(output: unknown): void;
  reject(err: Error): void;
  heartbeat?: ClockDeadline;
  heartbeatMs?: number;
}

// Control characters are refused separately (a regex class with them trips no-control-regex).
const NAME_RE = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/]{1,80}$/;
// eslint-disable-next-line no-control-regex -- AWS refuses control characters in names
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
const EXECUTION_ARN_RE = /^arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:(execution|express):([^:]+):([^:]+)$/;
const MACHINE_ARN_RE = /^arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[^:]+$/;

/** Validates a state machine ARN's syntax (InvalidArn otherwise). */
export function checkMachineArn(value: unknown): string {
  if (typeof value !== 'string' || !MACHINE_ARN_RE.test(value)) throw new AwsError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${String(value)}'`);
  return value;
}

/** Validates an execution ARN's syntax (InvalidArn otherwise). */
export function checkExecutionArn(value: unknown): string {
  if (typeof value !== 'string' || !EXECUTION_ARN_RE.test(value)) throw new AwsError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${String(value)}'`);
  return value;
}

/** Validates a state machine or execution name (InvalidName otherwise). */
export function checkName(name: string): string {
  if (!NAME_RE.test(name) || CONTROL_RE.test(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
  return name;
}

const seconds = (ms: number) => ms / 1000;

let timeoutPrototype: Promise<new () => Error> | undefined;
/**
 * The library recognises a timeout by `instanceof` its private StatesTimeoutError class (so
 * that `States.TaskFailed` does not catch it). That class is not exported; one 1 ms run of a
 * throwaway machine yields an instance, whose constructor we reuse.
 */
function statesTimeoutClass(): Promise<new () => Error> {
  timeoutPrototype ??= (async () => {
    const sm = new StateMachine(
      { StartAt: 'T', States: { T: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:t', TimeoutSeconds: 0.001, End: true } } } as any,
      { validationOptions: { noValidate: true } },
    );
    const run = sm.run(null, { overrides: { taskResourceLocalHandlers: { T: () => new Promise(() => undefined) } } });
    try {
      await run.result;
    } catch (err) {
      const inner = (err as { cause?: unknown }).cause;
      if (inner instanceof Error && inner.name === 'States.Timeout') return inner.constructor as new () => Error;
    }
    throw new Error('could not obtain the States.Timeout error class of aws-local-stepfunctions');
  })();
  return timeoutPrototype;
}

/** Builds the `States.Timeout` error Retry/Catch treat as AWS does. */
async function timeoutError(cause: string, name = 'States.Timeout'): Promise<Error> {
  const Ctor = await statesTimeoutClass();
  const err = new Ctor();
  err.message = cause;
  // States.HeartbeatTimeout is a timeout too (States.TaskFailed does not match it).
  if (name !== err.name) Object.defineProperty(err, 'name', { value: name });
  return err;
}

function matchesError(pattern: string, errorName: string, timeoutLike: boolean): boolean {
  if (errorName === 'States.Runtime') return false;
  if (pattern === errorName) return true;
  if (pattern === 'States.ALL') return true;
  if (pattern === 'States.TaskFailed') return !timeoutLike;
  return false;
}

/** Why an error ended a task: its Step Functions name and cause. */
function describeError(err: unknown): { error: string; cause: string; timeout: boolean } {
  if (err instanceof Error) return { error: err.name, cause: err.message, timeout: err.name === 'States.Timeout' || err.name === 'States.HeartbeatTimeout' };
  return { error: 'States.Runtime', cause: String(err), timeout: false };
}

/** The engine of one local Step Functions service. */
export class StepFunctionsEngine {
  readonly machines = new Map<string, { record: MachineRecord; compiled: CompiledDefinition }>();
  readonly executions = new Map<string, Live>();
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly closedTokens = new Map<string, 'TIMED_OUT' | 'CLOSED'>();

  constructor(
    private readonly kernel: Kernel,
    private readonly store: EngineStore,
  ) {}

  /** Adds a loaded execution (from disk). */
  adopt(record: ExecutionRecord): void {
    this.executions.set(record.executionArn, { record, closed: record.status !== 'RUNNING', waiters: [], failedContainers: new Set() });
  }

  private now(): number {
    return this.kernel.clock.now();
  }

  private append(live: Live, type: string, details?: Record<string, unknown>): void {
    if (live.closed) return;
    const history = live.record.history;
    const id = history.length + 1;
    history.push({ timestamp: seconds(this.now()), type, id, previousEventId: id - 1, ...(details ?? {}) });
    this.store.saveExecution(live.record);
  }

  /** StartExecution. */
  async startExecution(req: { stateMachineArn: unknown; input?: unknown; name?: unknown; traceHeader?: unknown }): Promise<{ executionArn: string; startDate: number }> {
    const machineArn = checkMachineArn(req.stateMachineArn);
    const machine = this.machines.get(machineArn);
    if (!machine) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${machineArn}'`);
    const inputText = req.input === undefined || req.input === null ? '{}' : req.input;
    if (typeof inputText !== 'string') throw new AwsError('InvalidExecutionInput', 'Invalid State Machine Execution Input: input must be a string');
    if (Buffer.byteLength(inputText) > 256 * 1024) throw new AwsError('InvalidExecutionInput', 'Invalid State Machine Execution Input: input exceeds 256 KiB');
    let input: unknown;
    try {
      input = JSON.parse(inputText);
    } catch {
      throw new AwsError('InvalidExecutionInput', `Invalid State Machine Execution Input: 'Unexpected token in input: ${inputText.slice(0, 40)}'`);
    }
    if (req.name !== undefined && typeof req.name !== 'string') throw new AwsError('ValidationException', 'name must be a string');
    const name = req.name === undefined ? randomUUID() : checkName(req.name);
    const kind = machine.record.type === 'EXPRESS' ? 'express' : 'execution';
    const executionArn = arn('states', `${kind}:${machine.record.name}:${name}`, this.kernel.region);
    const existing = this.executions.get(executionArn);
    if (existing && machine.record.type === 'STANDARD') {
      // Idempotent only while RUNNING and with the same input, exactly as Standard workflows behave.
      if (existing.record.status === 'RUNNING' && existing.record.input === inputText) return { executionArn, startDate: seconds(existing.record.startDate) };
      throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: machineArn,
      name,
      type: machine.record.type,
      status: 'RUNNING',
      startDate: this.now(),
      input: inputText,
      redriveCount: 0,
      roleArn: machine.record.roleArn,
      definition: machine.record.definition,
      history: [],
    };
    const live: Live = { record, compiled: machine.compiled, closed: false, waiters: [], failedContainers: new Set() };
    this.executions.set(executionArn, live);
    this.append(live, 'ExecutionStarted', { executionStartedEventDetails: { input: inputText, inputDetails: { truncated: false }, roleArn: record.roleArn } });
    void this.run(live, machine.compiled, undefined, input);
    return { executionArn, startDate: seconds(record.startDate) };
  }

  /** Looks an execution up (ExecutionDoesNotExist otherwise). */
  get(executionArn: unknown): Live {
    const key = checkExecutionArn(executionArn);
    const live = this.executions.get(key);
    if (!live) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${key}'`);
    return live;
  }

  /** DescribeExecution's view of an execution. */
  describe(record: ExecutionRecord): DescribeExecutionOutputLike {
    const redrivable = ['FAILED', 'ABORTED', 'TIMED_OUT'].includes(record.status) && !!record.openState && record.type === 'STANDARD';
    return {
      executionArn: record.executionArn,
      stateMachineArn: record.stateMachineArn,
      name: record.name,
      status: record.status,
      startDate: seconds(record.startDate),
      ...(record.stopDate !== undefined ? { stopDate: seconds(record.stopDate) } : {}),
      input: record.input,
      inputDetails: { included: true },
      ...(record.output !== undefined ? { output: record.output, outputDetails: { included: true } } : {}),
      ...(record.error !== undefined ? { error: record.error } : {}),
      ...(record.cause !== undefined ? { cause: record.cause } : {}),
      redriveCount: record.redriveCount,
      ...(record.redriveDate !== undefined ? { redriveDate: seconds(record.redriveDate) } : {}),
      redriveStatus: redrivable ? 'REDRIVABLE' : 'NOT_REDRIVABLE',
      ...(redrivable ? {} : { redriveStatusReason: record.status === 'SUCCEEDED' || record.status === 'RUNNING' ? `Execution is ${record.status} and cannot be redriven` : 'The execution has no failed state to redrive from' }),
    };
  }

  /** Resolves once the execution is no longer RUNNING. */
  async waitFor(executionArn: string, timeoutMs = 30_000): Promise<DescribeExecutionOutputLike> {
    const live = this.get(executionArn);
    if (live.record.status !== 'RUNNING') return this.describe(live.record);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`execution ${executionArn} still RUNNING after ${timeoutMs} ms`)), timeoutMs);
      live.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.describe(live.record);
  }

  /** Closes an execution once: status, dates, the terminal history event, waiters. */
  private finish(live: Live, status: Exclude<ExecutionStatus, 'RUNNING' | 'PENDING_REDRIVE'>, outcome: { output?: string; error?: string; cause?: string }): void {
    if (live.closed) return;
    const errorDetails = { ...(outcome.error !== undefined ? { error: outcome.error } : {}), ...(outcome.cause !== undefined ? { cause: outcome.cause } : {}) };
    switch (status) {
      case 'SUCCEEDED':
        this.append(live, 'ExecutionSucceeded', { executionSucceededEventDetails: { output: outcome.output, outputDetails: { truncated: false } } });
        break;
      case 'FAILED':
        this.append(live, 'ExecutionFailed', { executionFailedEventDetails: errorDetails });
        break;
      case 'ABORTED':
        this.append(live, 'ExecutionAborted', { executionAbortedEventDetails: errorDetails });
        break;
      case 'TIMED_OUT':
        this.append(live, 'ExecutionTimedOut', { executionTimedOutEventDetails: errorDetails });
        break;
    }
    const r = live.record;
    r.status = status;
    r.stopDate = this.now();
    r.output = outcome.output;
    r.error = outcome.error;
    r.cause = outcome.cause;
    if (status === 'SUCCEEDED') r.openState = undefined;
    live.closed = true;
    live.abort?.abort();
    live.libAbort?.();
    for (const [token, entry] of this.tokens) {
      if (entry.executionArn === r.executionArn) {
        entry.heartbeat?.cancel();
        this.tokens.delete(token);
        this.closedTokens.set(token, 'CLOSED');
      }
    }
    this.store.saveExecution(r);
    for (const w of live.waiters.splice(0)) w();
  }

  /** Runs (or resumes, with `startAt`) an execution to its end. */
  private async run(live: Live, compiled: CompiledDefinition, startAt: string | undefined, input: unknown): Promise<void> {
    const record = live.record;
    const abort = new AbortController();
    live.abort = abort;
    let timeout: ClockDeadline | undefined;
    try {
      await statesTimeoutClass();
      const runnable = startAt ? { ...compiled.runnable, StartAt: startAt } : compiled.runnable;
      const machine = new StateMachine(runnable as any, { validationOptions: { noValidate: true } });
      const handlers: Record<string, (input: any) => Promise<any>> = {};
      for (const info of compiled.states.values()) {
        if (info.task) handlers[info.name] = (taskInput) => this.runTask(live, info, taskInput, abort.signal);
        else if (info.type === 'Wait') handlers[info.name] = (waitInput) => this.runWait(info, waitInput, abort.signal);
      }
      const machineName = record.stateMachineArn.split(':').pop();
      const execution = machine.run(input as any, {
        overrides: { taskResourceLocalHandlers: handlers },
        context: {
          Execution: { Id: record.executionArn, Name: record.name, RoleArn: record.roleArn, RedriveCount: record.redriveCount },
          StateMachine: { Id: record.stateMachineArn, Name: machineName },
        },
      });
      live.libAbort = execution.abort;
      if (live.closed) execution.abort();
      if (compiled.timeoutSeconds !== undefined) {
        timeout = clockDeadline(this.kernel.clock, record.startDate + compiled.timeoutSeconds * 1000, abort.signal);
        timeout.promise.then(
          () => this.finish(live, 'TIMED_OUT', { error: 'States.Timeout', cause: `The execution timed out after ${compiled.timeoutSeconds} seconds` }),
          () => undefined,
        );
      }
      const consumer = (async () => {
        for await (const event of execution.eventLogs) this.onLibraryEvent(live, compiled, event as any);
      })();
      let outcome: { status: 'SUCCEEDED' | 'FAILED'; output?: string; error?: string; cause?: string } | undefined;
      try {
        const output = await execution.result;
        outcome = { status: 'SUCCEEDED', output: toJson(output) };
      } catch (err) {
        if (!(err instanceof ExecutionAbortedError)) {
          const inner = err instanceof ExecutionError ? (err as { cause?: unknown }).cause : err;
          const { error, cause } = describeError(inner);
          // A Fail state without Error/Cause fails the execution with neither, as on AWS.
          const failState = error === 'FailStateError' || cause === 'Execution failed because of a Fail state';
          outcome = {
            status: 'FAILED',
            error: error === 'FailStateError' ? undefined : error,
            cause: failState && cause === 'Execution failed because of a Fail state' ? undefined : cause,
          };
        }
      }
      await consumer;
      if (outcome) this.finish(live, outcome.status, outcome);
    } catch (err) {
      this.finish(live, 'FAILED', { error: 'States.Runtime', cause: err instanceof Error ? err.message : String(err) });
    } finally {
      timeout?.cancel();
    }
  }

  private onLibraryEvent(live: Live, compiled: CompiledDefinition, event: { type: string; state?: { name: string; input: unknown; output?: unknown }; parentState?: { name: string; input: unknown }; index?: number }): void {
    const state = event.state;
    const info = state ? compiled.states.get(state.name) : undefined;
    switch (event.type) {
      case 'StateEntered': {
        if (!state || !info) return;
        this.append(live, `${info.type}StateEntered`, { stateEnteredEventDetails: { name: state.name, input: toJson(state.input), inputDetails: { truncated: false } } });
        if (info.type === 'Map') {
          live.failedContainers.delete(state.name);
          let items = info.definition.InputPath === null ? {} : info.definition.InputPath ? selectPath(state.input, info.definition.InputPath) : state.input;
          if (info.definition.ItemsPath) items = selectPath(items, info.definition.ItemsPath);
          this.append(live, 'MapStateStarted', { mapStateStartedEventDetails: Array.isArray(items) ? { length: items.length } : {} });
        }
        if (info.type === 'Parallel') {
          live.failedContainers.delete(state.name);
          this.append(live, 'ParallelStateStarted');
        }
        if (info.topLevel) live.record.openState = { name: state.name, input: toJson(state.input) };
        return;
      }
      case 'StateExited': {
        if (!state || !info) return;
        if (info.type === 'Map' && !live.failedContainers.has(state.name)) this.append(live, 'MapStateSucceeded');
        if (info.type === 'Parallel' && !live.failedContainers.has(state.name)) this.append(live, 'ParallelStateSucceeded');
        this.append(live, `${info.type}StateExited`, { stateExitedEventDetails: { name: state.name, output: toJson(state.output), outputDetails: { truncated: false } } });
        if (info.topLevel && live.record.openState?.name === state.name) live.record.openState = undefined;
        return;
      }
      case 'StateFailed': {
        if (!state || !info) return;
        if (info.type === 'Map') {
          live.failedContainers.add(state.name);
          this.append(live, 'MapStateFailed');
        }
        if (info.type === 'Parallel') {
          live.failedContainers.add(state.name);
          this.append(live, 'ParallelStateFailed');
        }
        return;
      }
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const detailsKey = `${event.type[0].toLowerCase()}${event.type.slice(1)}EventDetails`;
        this.append(live, event.type, { [detailsKey]: { name: event.parentState?.name, index: event.index } });
        return;
      }
      default:
        // Execution-level events are written by finish(); branch events have no AWS counterpart.
        return;
    }
  }

  private async runWait(info: StateInfo, input: unknown, signal: AbortSignal): Promise<unknown> {
    await nextMacrotask();
    const d = info.definition;
    let due: number;
    if (d.Seconds !== undefined) due = this.now() + Number(d.Seconds) * 1000;
    else if (d.Timestamp !== undefined) due = Date.parse(d.Timestamp);
    else if (d.SecondsPath !== undefined) {
      const s = selectPath(input, d.SecondsPath);
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 0) throw runtimeError(`Wait state '${info.name}': SecondsPath '${d.SecondsPath}' must select a non-negative integer`);
      due = this.now() + s * 1000;
    } else {
      const t = selectPath(input, d.TimestampPath);
      if (typeof t !== 'string' || Number.isNaN(Date.parse(t))) throw runtimeError(`Wait state '${info.name}': TimestampPath '${d.TimestampPath}' must select an ISO-8601 timestamp`);
      due = Date.parse(t);
    }
    await clockDeadline(this.kernel.clock, due, signal).promise.catch((err) => {
      if (err instanceof AbortedWait) return new Promise(() => undefined);
      throw err;
    });
    return input;
  }

  /** Runs a Task state with its Retry field, on the local clock. */
  private async runTask(live: Live, info: StateInfo, input: unknown, signal: AbortSignal): Promise<unknown> {
    // Lets the library's StateEntered event reach the history before the task's own events.
    await nextMacrotask();
    const spec = info.task!;
    const attempts = spec.retry.map(() => 0);
    let retryCount = 0;
    for (;;) {
      try {
        return await this.runAttempt(live, info, input, signal, retryCount);
      } catch (err) {
        if (err instanceof AbortedWait || signal.aborted) return new Promise(() => undefined);
        const { error, timeout } = describeError(err);
        const index = spec.retry.findIndex((r: Retrier) => r.ErrorEquals.some((p) => matchesError(p, error, timeout)));
        // The first matching retrier decides; once it is exhausted the error goes to Catch.
        if (index < 0 || attempts[index] >= (spec.retry[index].MaxAttempts ?? 3)) throw err;
        const r = spec.retry[index];
        let delay = (r.IntervalSeconds ?? 1) * Math.pow(r.BackoffRate ?? 2, attempts[index]);
        if (r.MaxDelaySeconds !== undefined) delay = Math.min(delay, r.MaxDelaySeconds);
        if (r.JitterStrategy === 'FULL') delay = Math.random() * delay;
        attempts[index] += 1;
        retryCount += 1;
        try {
          await clockSleep(this.kernel.clock, delay * 1000, signal);
        } catch {
          return new Promise(() => undefined);
        }
      }
    }
  }

  private secondsField(info: StateInfo, input: unknown, value: number | undefined, path: string | undefined, what: string): number | undefined {
    if (value !== undefined) return value;
    if (path === undefined) return undefined;
    const v = selectPath(input, path);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw runtimeError(`state '${info.name}': ${what} '${path}' must select a positive integer`);
    return v;
  }

  private async runAttempt(live: Live, info: StateInfo, rawParams: unknown, signal: AbortSignal, _retryCount: number): Promise<unknown> {
    const spec = info.task!;
    const lambdaArn = spec.kind === 'lambda-arn';
    const base = { resourceType: spec.resourceType, resource: spec.resourceName };
    let token: string | undefined;
    let params = rawParams;
    if (spec.waitForTaskToken) {
      token = `AQ${randomBytes(6).toString('hex')}${Buffer.from(JSON.stringify({ e: live.record.executionArn, s: info.name, n: randomUUID() })).toString('base64url')}`;
      params = deepReplace(rawParams, TASK_TOKEN_PLACEHOLDER, token);
    }
    const timeoutSeconds = this.secondsField(info, rawParams, spec.timeoutSeconds, spec.timeoutSecondsPath, 'TimeoutSecondsPath');
    const heartbeatSeconds = this.secondsField(info, rawParams, spec.heartbeatSeconds, spec.heartbeatSecondsPath, 'HeartbeatSecondsPath');
    if (lambdaArn) {
      this.append(live, 'LambdaFunctionScheduled', { lambdaFunctionScheduledEventDetails: { resource: spec.resource, input: toJson(params), inputDetails: { truncated: false }, ...(timeoutSeconds ? { timeoutInSeconds: timeoutSeconds } : {}) } });
      this.append(live, 'LambdaFunctionStarted');
    } else {
      this.append(live, 'TaskScheduled', {
        taskScheduledEventDetails: { ...base, region: this.kernel.region, parameters: toJson(params), ...(timeoutSeconds ? { timeoutInSeconds: timeoutSeconds } : {}), ...(heartbeatSeconds && token ? { heartbeatInSeconds: heartbeatSeconds } : {}) },
      });
      this.append(live, 'TaskStarted', { taskStartedEventDetails: base });
    }
    const deadlines: ClockDeadline[] = [];
    try {
      const effects = this.kernel.faults.decide({ service: 'states', stateName: info.name });
      for (const e of effects) if (e.kind === 'latency') await clockSleep(this.kernel.clock, e.latencyMs ?? 100, signal);
      for (const e of effects) {
        if (e.kind === 'timeout') throw await timeoutError(e.errorMessage ?? 'fault injected: task timed out');
        if (e.kind === 'error' || e.kind === 'throttle') throw new TaskError(e.errorName ?? 'InjectedFault', e.errorMessage ?? 'fault injected');
      }
      const racers: Array<Promise<unknown>> = [];
      if (timeoutSeconds !== undefined) {
        const d = clockDeadline(this.kernel.clock, this.now() + timeoutSeconds * 1000, signal);
        deadlines.push(d);
        racers.push(d.promise.then(async () => Promise.reject(await timeoutError(`The task timed out after ${timeoutSeconds} seconds`))));
      }
      let work: Promise<unknown>;
      if (token) {
        const t = token;
        const waiting = new Promise<unknown>((resolve, reject) => {
          const entry: TokenEntry = { executionArn: live.record.executionArn, stateName: info.name, resolve, reject };
          if (heartbeatSeconds !== undefined) {
            entry.heartbeatMs = heartbeatSeconds * 1000;
            entry.heartbeat = clockDeadline(this.kernel.clock, this.now() + entry.heartbeatMs, signal);
            deadlines.push(entry.heartbeat);
            entry.heartbeat.promise.then(
              async () => reject(await timeoutError(`The task did not send a heartbeat within ${heartbeatSeconds} seconds`, 'States.HeartbeatTimeout')),
              () => undefined,
            );
          }
          this.tokens.set(t, entry);
        });
        // A heartbeat timeout may fire while the integration call is still in flight.
        waiting.catch(() => undefined);
        work = (async () => {
          const submitted = await runIntegration(this.kernel, spec, params);
          this.append(live, 'TaskSubmitted', { taskSubmittedEventDetails: { ...base, output: toJson(submitted), outputDetails: { truncated: false } } });
          return waiting;
        })();
      } else {
        work = runIntegration(this.kernel, spec, params);
      }
      const aborted = new Promise<never>((_, reject) => {
        if (signal.aborted) reject(new AbortedWait());
        signal.addEventListener('abort', () => reject(new AbortedWait()), { once: true });
      });
      aborted.catch(() => undefined);
      const output = await Promise.race([work, aborted, ...racers]);
      if (lambdaArn) this.append(live, 'LambdaFunctionSucceeded', { lambdaFunctionSucceededEventDetails: { output: toJson(output), outputDetails: { truncated: false } } });
      else this.append(live, 'TaskSucceeded', { taskSucceededEventDetails: { ...base, output: toJson(output), outputDetails: { truncated: false } } });
      return output;
    } catch (err) {
      if (err instanceof AbortedWait) throw err;
      const { error, cause, timeout } = describeError(err);
      if (lambdaArn) this.append(live, timeout ? 'LambdaFunctionTimedOut' : 'LambdaFunctionFailed', { [timeout ? 'lambdaFunctionTimedOutEventDetails' : 'lambdaFunctionFailedEventDetails']: { error, cause } });
      else this.append(live, timeout ? 'TaskTimedOut' : 'TaskFailed', { [timeout ? 'taskTimedOutEventDetails' : 'taskFailedEventDetails']: { ...base, error, cause } });
      if (token) this.closedTokens.set(token, timeout ? 'TIMED_OUT' : 'CLOSED');
      throw err;
    } finally {
      for (const d of deadlines) d.cancel();
      if (token) {
        this.tokens.delete(token);
        if (!this.closedTokens.has(token)) this.closedTokens.set(token, 'CLOSED');
      }
    }
  }

  private tokenEntry(taskToken: unknown): { token: string; entry: TokenEntry } {
    if (typeof taskToken !== 'string' || taskToken.length < 1 || taskToken.length > 2048) throw new AwsError('ValidationException', 'taskToken must be a string of 1 to 2048 characters');
    const entry = this.tokens.get(taskToken);
    if (entry) return { token: taskToken, entry };
    const closed = this.closedTokens.get(taskToken);
    if (closed === 'TIMED_OUT') throw new AwsError('TaskTimedOut', 'Task Timed Out');
    if (closed === 'CLOSED') throw new AwsError('TaskDoesNotExist', 'Task Does Not Exist');
    let decoded: { e?: unknown } | undefined;
    try {
      decoded = taskToken.startsWith('AQ') ? JSON.parse(Buffer.from(taskToken.slice(14), 'base64url').toString('utf8')) : undefined;
    } catch {
      decoded = undefined;
    }
    if (!decoded || typeof decoded.e !== 'string') throw new AwsError('InvalidToken', `Invalid Token: '${taskToken.slice(0, 40)}'`);
    throw new AwsError('TaskDoesNotExist', 'Task Does Not Exist');
  }

  /** SendTaskSuccess. */
  sendTaskSuccess(taskToken: unknown, output: unknown): void {
    const { entry } = this.tokenEntry(taskToken);
    if (typeof output !== 'string') throw new AwsError('InvalidOutput', 'Invalid Output: output must be a JSON string');
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch {
      throw new AwsError('InvalidOutput', `Invalid Output: '${output.slice(0, 40)}'`);
    }
    entry.resolve(parsed);
  }

  /** SendTaskFailure. */
  sendTaskFailure(taskToken: unknown, error?: unknown, cause?: unknown): void {
    const { entry } = this.tokenEntry(taskToken);
    if (error !== undefined && (typeof error !== 'string' || error.length > 256)) throw new AwsError('ValidationException', 'error must be a string of at most 256 characters');
    if (cause !== undefined && (typeof cause !== 'string' || cause.length > 32768)) throw new AwsError('ValidationException', 'cause must be a string of at most 32768 characters');
    // AWS reports a failure without an error name as an empty Error.
    entry.reject(new TaskError((error as string | undefined) ?? '', (cause as string | undefined) ?? ''));
  }

  /** SendTaskHeartbeat. */
  sendTaskHeartbeat(taskToken: unknown): void {
    const { entry } = this.tokenEntry(taskToken);
    if (entry.heartbeat && entry.heartbeatMs !== undefined) entry.heartbeat.reset(this.now() + entry.heartbeatMs);
  }

  /** StopExecution. */
  stopExecution(executionArn: unknown, error?: unknown, cause?: unknown): { stopDate: number } {
    const live = this.get(executionArn);
    if (error !== undefined && (typeof error !== 'string' || error.length > 256)) throw new AwsError('ValidationException', 'error must be a string of at most 256 characters');
    if (cause !== undefined && (typeof cause !== 'string' || cause.length > 32768)) throw new AwsError('ValidationException', 'cause must be a string of at most 32768 characters');
    if (live.record.status === 'RUNNING') this.finish(live, 'ABORTED', { error: error as string | undefined, cause: cause as string | undefined });
    return { stopDate: seconds(live.record.stopDate ?? this.now()) };
  }

  /**
   * RedriveExecution: reruns a FAILED, ABORTED or TIMED_OUT Standard execution from the
   * top-level state that did not complete, with that state's original input. A failed Map or
   * Parallel state reruns whole (AWS reruns only its unsuccessful iterations or branches).
   */
  redrive(executionArn: unknown): { redriveDate: number } {
    const live = this.get(executionArn);
    const r = live.record;
    if (r.type !== 'STANDARD') throw new AwsError('ExecutionNotRedrivable', `Execution '${r.executionArn}' belongs to an EXPRESS state machine`);
    if (!['FAILED', 'ABORTED', 'TIMED_OUT'].includes(r.status)) throw new AwsError('ExecutionNotRedrivable', `Execution is ${r.status} and cannot be redriven`);
    if (!r.openState) throw new AwsError('ExecutionNotRedrivable', 'The execution has no failed state to redrive from');
    let compiled = live.compiled;
    if (!compiled) {
      try {
        compiled = compileDefinition(r.definition);
      } catch (err) {
        throw new AwsError('ExecutionNotRedrivable', `The execution's definition cannot run locally: ${(err as Error).message}`);
      }
      live.compiled = compiled;
    }
    const from = r.openState;
    live.closed = false;
    live.failedContainers.clear();
    r.status = 'RUNNING';
    r.redriveCount += 1;
    r.redriveDate = this.now();
    r.stopDate = undefined;
    r.output = undefined;
    r.error = undefined;
    r.cause = undefined;
    this.append(live, 'ExecutionRedriven', { executionRedrivenEventDetails: { redriveCount: r.redriveCount } });
    void this.run(live, compiled, from.name, JSON.parse(from.input));
    return { redriveDate: seconds(r.redriveDate) };
  }

  /** Marks an execution that was RUNNING when the local cloud stopped: it cannot resume. */
  failInterrupted(record: ExecutionRecord): void {
    const live: Live = { record, closed: false, waiters: [], failedContainers: new Set() };
    this.executions.set(record.executionArn, live);
    this.finish(live, 'FAILED', { error: 'States.Runtime', cause: 'local cloud restarted' });
  }

  /** Stops every running execution's timers (service shutdown); their records stay RUNNING on disk. */
  shutdown(): void {
    for (const live of this.executions.values()) {
      if (live.closed) continue;
      live.closed = true;
      live.abort?.abort();
      live.libAbort?.();
    }
  }
}
