/**
 * dynalite, run in a worker thread, and the client the front uses to forward DynamoDB
 * operations to it over the worker's message port. Everything dynalite already does right
 * (validation, expressions, errors) is passed through unchanged.
 */
import { mkdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { AwsError } from '../core/aws.js';

/** The operations dynalite 4 implements itself; anything else must be handled by the front. */
export const DYNALITE_OPERATIONS: ReadonlySet<string> = new Set([
  'BatchGetItem', 'BatchWriteItem', 'CreateTable', 'DeleteItem', 'DeleteTable', 'DescribeTable', 'GetItem', 'ListTables',
  'PutItem', 'Query', 'Scan', 'TagResource', 'UntagResource', 'ListTagsOfResource', 'UpdateItem', 'UpdateTable',
]);

type Reply = { id: number; status: number; body: string };

/** A running dynalite and a client for it. */
export class DynaliteBackend {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private drained: (() => void) | undefined;
  private closing = false;

  /** @param path directory of the leveldb store; created when absent */
  constructor(private readonly path: string) {}

  /** Starts dynalite in its worker and resolves once its store is open. */
  async start(): Promise<void> {
    if (this.worker) return;
    mkdirSync(this.path, { recursive: true });
    const worker = new Worker(new URL('./dynalite-worker.mjs', import.meta.url), { workerData: { path: this.path } });
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(`dynalite did not start: ${m.error}`))));
    });
    worker.on('message', (m: Reply) => this.settle(m));
    // A crashed store must fail every call loudly, not leave them hanging.
    worker.on('error', (err) => this.fail(new AwsError('InternalServerError', `the local DynamoDB crashed: ${err.message}`, 500)));
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      this.fail(new AwsError('ServiceUnavailable', 'the local DynamoDB stopped', 503));
    });
    this.worker = worker;
  }

  /**
   * Stops dynalite and closes its leveldb (which flushes it). Calls already sent are allowed to
   * finish first: dynalite throws an uncaught "Database is closed" for a request that reaches a
   * closed store. Later calls are refused.
   */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.closing = true;
    if (this.pending.size > 0) {
      await Promise.race([new Promise<void>((resolve) => (this.drained = resolve)), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    }
    try {
      await new Promise<void>((resolve, reject) => {
        worker.once('exit', () => resolve());
        worker.on('message', (m: { stopped?: boolean; error?: string }) => {
          if (m.stopped && m.error) reject(new Error(m.error));
        });
        worker.postMessage('stop');
      });
    } finally {
      this.worker = undefined;
      this.closing = false;
    }
  }

  /** Runs one operation; a dynalite error becomes an {@link AwsError} with the same short name and `__type`. */
  call(operation: string, input: unknown): Promise<any> {
    const worker = this.worker;
    if (!worker || this.closing) return Promise.reject(new AwsError('ServiceUnavailable', 'the local DynamoDB is not running', 503));
    const id = this.nextId++;
    return new Promise<any>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, operation, body: JSON.stringify(input ?? {}) });
    });
  }

  private settle({ id, status, body }: Reply): void {
    const call = this.pending.get(id);
    if (!call) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.drained?.();
    let parsed: any;
    try {
      parsed = body ? JSON.parse(body) : {};
    } catch {
      call.reject(new AwsError('InternalServerError', `dynalite answered ${status} with a non-JSON body`, 500));
      return;
    }
    if (status === 200) return call.resolve(parsed);
    const type = String(parsed.__type ?? 'InternalServerError');
    const code = type.slice(type.lastIndexOf('#') + 1);
    const message = String(parsed.message ?? parsed.Message ?? '');
    call.reject(new AwsError(code, message, status, { __type: type }));
  }

  private fail(err: AwsError): void {
    for (const call of this.pending.values()) call.reject(err);
    this.pending.clear();
    this.drained?.();
  }
}
