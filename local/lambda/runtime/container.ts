/**
 * Execution environments ("containers") of the local Lambda runtime: one forked Node process
 * each, running `bootstrap.mjs`, reused warm across invocations, killed at timeout.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AwsError } from '../../core/aws.js';
import type { FunctionConfig } from '../functions.js';

const BOOTSTRAP = fileURLToPath(new URL('./bootstrap.mjs', import.meta.url));
/** Lambda's init phase limit for on-demand functions. */
const INIT_TIMEOUT_MS = 10_000;
/** Tail logs returned by `LogType: Tail` are the last 4 KB. */
const TAIL_BYTES = 4096;

/**
 * The Node flags the managed nodejs runtime's bootstrap starts a function with: a tenth of the
 * configured memory is the young generation (two semi-spaces), the rest the old generation.
 * Without them a local function collects garbage far more often than it would on Lambda.
 */
export function runtimeNodeFlags(memorySizeMb: number): string[] {
  const newSpace = Math.floor(memorySizeMb / 10);
  return ['--expose-gc', '--max-http-header-size=81920', `--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memorySizeMb - newSpace}`];
}

/** The error document of a failed invocation, as the nodejs runtime writes it. */
export interface ErrorDocument {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

/** What one invocation in a container produced. */
export type ContainerOutcome = { readonly ok: true; readonly payload: string; readonly log: string } | { readonly ok: false; readonly error: ErrorDocument; readonly log: string };

/** What a container needs to know about the invocation. */
export interface InvocationRequest {
  readonly requestId: string;
  readonly payload: string;
  readonly clientContext?: unknown;
}

/** Prints child output lines with the function name as prefix, unless CONVERGE_LAMBDA_LOGS=0. */
function printLine(fn: FunctionConfig, line: string): void {
  if (process.env.CONVERGE_LAMBDA_LOGS === '0') return;
  process.stdout.write(`[${fn.name}] ${line}\n`);
}

/** `Task timed out` after the given seconds, formatted the way Lambda reports it. */
export function timeoutDocument(requestId: string, seconds: number): ErrorDocument {
  return { errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${requestId} Error: Task timed out after ${seconds.toFixed(2)} seconds` };
}

function logStreamName(version: string): string {
  const d = new Date();
  const day = `${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}`;
  return `${day}/[${version}]${randomBytes(16).toString('hex')}`;
}

/** One execution environment of a function. */
export class Container {
  readonly logStreamName = logStreamName('$LATEST');
  private readonly child: ChildProcess;
  private readonly ready: Promise<ErrorDocument | undefined>;
  private pending?: { id: number; resolve: (o: ContainerOutcome) => void; requestId: string };
  private nextId = 1;
  private logBuffer: string[] = [];
  private exitInfo?: string;
  /** False once the process died or was killed: the pool must not reuse it. */
  alive = true;
  busy = false;

  constructor(
    private readonly fn: FunctionConfig,
    env: Record<string, string>,
  ) {
    this.child = fork(BOOTSTRAP, [], {
      execPath: process.execPath,
      // A loader of the parent (tsx, vitest) must not leak into the function's process.
      execArgv: runtimeNodeFlags(fn.memorySize),
      cwd: fn.codeDir,
      env: { ...env, AWS_LAMBDA_LOG_STREAM_NAME: this.logStreamName },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => this.log(line));
    }
    this.ready = new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.kill();
        resolve({ errorType: 'Runtime.InitTimeout', errorMessage: `Init phase did not finish within ${INIT_TIMEOUT_MS / 1000} seconds` });
      }, INIT_TIMEOUT_MS);
      this.child.on('message', (msg: any) => {
        if (msg?.type === 'ready') {
          clearTimeout(timer);
          resolve(undefined);
        } else if (msg?.type === 'initError') {
          clearTimeout(timer);
          this.kill();
          resolve(msg.error);
        } else if (msg?.type === 'result' || msg?.type === 'error') {
          this.settle(msg.id, msg.type === 'result' ? { ok: true, payload: msg.payload } : { ok: false, error: msg.error });
        } else if (msg?.type === 'crash' && this.pending) {
          this.settle(this.pending.id, { ok: false, error: msg.error });
        }
      });
      this.child.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.alive = false;
        this.exitInfo = signal ? `signal: ${signal === 'SIGKILL' ? 'killed' : signal}` : `exit status ${code}`;
        resolve({ errorType: 'Runtime.ExitError', errorMessage: `Runtime exited with error: ${this.exitInfo}` });
        if (this.pending) {
          this.settle(this.pending.id, {
            ok: false,
            error: { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${this.pending.requestId} Error: Runtime exited with error: ${this.exitInfo}` },
          });
        }
      });
      this.child.on('error', (err) => printLine(fn, `container error: ${err.message}`));
    });
  }

  private log(line: string): void {
    printLine(this.fn, line);
    this.logBuffer.push(line);
    if (this.logBuffer.length > 200) this.logBuffer.shift();
  }

  private settle(id: number, outcome: { ok: true; payload: string } | { ok: false; error: ErrorDocument }): void {
    if (!this.pending || this.pending.id !== id) return;
    const { resolve } = this.pending;
    this.pending = undefined;
    resolve({ ...outcome, log: this.takeTail() } as ContainerOutcome);
  }

  private takeTail(): string {
    const text = this.logBuffer.join('\n') + '\n';
    this.logBuffer = [];
    const buf = Buffer.from(text, 'utf8');
    return buf.subarray(Math.max(0, buf.length - TAIL_BYTES)).toString('utf8');
  }

  /** Runs one invocation; resolves with the handler's outcome, a timeout, or the container's death. */
  async invoke(req: InvocationRequest, invokedFunctionArn: string): Promise<ContainerOutcome> {
    const initError = await this.ready;
    if (initError) {
      this.alive = false;
      return { ok: false, error: initError, log: this.takeTail() };
    }
    if (!this.alive) {
      return { ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${req.requestId} Error: Runtime exited with error: ${this.exitInfo}` }, log: this.takeTail() };
    }
    const timeoutMs = this.fn.timeoutSeconds * 1000;
    const start = Date.now();
    this.log(`START RequestId: ${req.requestId} Version: $LATEST`);
    const id = this.nextId++;
    const outcome = await new Promise<ContainerOutcome>((resolve) => {
      this.pending = { id, resolve, requestId: req.requestId };
      const timer = setTimeout(() => {
        const elapsed = (Date.now() - start) / 1000;
        this.kill();
        this.settle(id, { ok: false, error: timeoutDocument(req.requestId, Math.max(elapsed, this.fn.timeoutSeconds)) });
      }, timeoutMs);
      const done = resolve;
      this.pending.resolve = (o) => {
        clearTimeout(timer);
        done(o);
      };
      const message = {
        type: 'invoke',
        id,
        requestId: req.requestId,
        payload: req.payload,
        clientContext: req.clientContext,
        deadline: start + timeoutMs,
        functionName: this.fn.name,
        functionVersion: '$LATEST',
        invokedFunctionArn,
        memoryLimitInMB: this.fn.memorySize,
        logGroupName: this.fn.logGroup,
        logStreamName: this.logStreamName,
      };
      try {
        this.child.send(message, (err) => {
          if (err) this.settle(id, { ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${req.requestId} Error: Runtime exited with error: ${err.message}` } });
        });
      } catch (err) {
        this.settle(id, { ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${req.requestId} Error: Runtime exited with error: ${(err as Error).message}` } });
      }
    });
    const duration = Date.now() - start;
    printLine(this.fn, `END RequestId: ${req.requestId}`);
    printLine(this.fn, `REPORT RequestId: ${req.requestId}\tDuration: ${duration.toFixed(2)} ms\tMemory Size: ${this.fn.memorySize} MB`);
    return outcome;
  }

  /** Kills the process (SIGKILL): used at timeout and on stop. */
  kill(): void {
    this.alive = false;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  /** Resolves once the process is gone. */
  exited(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => this.child.once('exit', () => resolve()));
  }
}

/** TooManyRequestsException as Lambda returns it when reserved concurrency is used up. */
export function throttled(reason = 'ReservedFunctionConcurrentInvocationLimitExceeded', message = 'Rate Exceeded.'): AwsError {
  return new AwsError('TooManyRequestsException', message, 429, { Reason: reason, Type: 'User', retryAfterSeconds: '1' });
}

/**
 * The containers of one function. Up to `limit` run at once: the reserved concurrency when
 * set (a busy pool then throttles), else {@link DEFAULT_CONCURRENCY} (a busy pool queues).
 */
export class ContainerPool {
  private readonly containers: Container[] = [];
  private readonly waiters: Array<{ resolve: (c: Container) => void; reject: (e: Error) => void }> = [];
  private stopped = false;

  constructor(
    readonly fn: FunctionConfig,
    /** Built per container, so a changed kernel endpoint reaches new containers. */
    private readonly env: () => Record<string, string>,
    private readonly defaultLimit: number,
  ) {}

  private get limit(): number {
    return this.fn.reservedConcurrency ?? this.defaultLimit;
  }

  /**
   * A free container, warm when one is idle. `mode: 'throttle'` fails fast with
   * TooManyRequestsException when reserved concurrency is exhausted (synchronous invokes);
   * `'wait'` queues (internal callers that retry themselves). Reserved concurrency 0 always throttles.
   */
  async acquire(mode: 'throttle' | 'wait'): Promise<Container> {
    if (this.stopped) throw new AwsError('ServiceException', 'the local Lambda runtime is stopping', 500);
    if (this.fn.reservedConcurrency === 0) throw throttled();
    this.prune();
    const idle = this.containers.find((c) => !c.busy && c.alive);
    if (idle) {
      idle.busy = true;
      return idle;
    }
    if (this.containers.length < this.limit) {
      const c = new Container(this.fn, this.env());
      c.busy = true;
      this.containers.push(c);
      return c;
    }
    if (mode === 'throttle' && this.fn.reservedConcurrency !== undefined) throw throttled();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Returns a container after an invocation; a dead one is dropped and its slot handed on. */
  release(c: Container): void {
    c.busy = false;
    this.prune();
    const waiter = this.waiters.shift();
    if (!waiter) return;
    if (c.alive) {
      c.busy = true;
      waiter.resolve(c);
      return;
    }
    const fresh = new Container(this.fn, this.env());
    fresh.busy = true;
    this.containers.push(fresh);
    waiter.resolve(fresh);
  }

  private prune(): void {
    for (let i = this.containers.length - 1; i >= 0; i--) {
      const c = this.containers[i];
      if (!c.alive && !c.busy) this.containers.splice(i, 1);
    }
  }

  /** Number of live containers (warm or busy). */
  size(): number {
    return this.containers.filter((c) => c.alive).length;
  }

  /** Kills every container and waits until their processes are gone. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.waiters.splice(0)) w.reject(new AwsError('ServiceException', 'the local Lambda runtime is stopping', 500));
    const all = [...this.containers];
    for (const c of all) c.kill();
    await Promise.all(all.map((c) => c.exited()));
    this.containers.length = 0;
  }
}
