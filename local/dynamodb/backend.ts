/**
 * dynalite, run in-process behind a loopback port, and the keep-alive client the front uses
 * to forward DynamoDB operations to it. Everything dynalite already does right (validation,
 * expressions, errors) is passed through unchanged.
 */
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { AwsError } from '../core/aws.js';

const require = createRequire(import.meta.url);

/** The operations dynalite 4 implements itself; anything else must be handled by the front. */
export const DYNALITE_OPERATIONS: ReadonlySet<string> = new Set([
  'BatchGetItem', 'BatchWriteItem', 'CreateTable', 'DeleteItem', 'DeleteTable', 'DescribeTable', 'GetItem', 'ListTables',
  'PutItem', 'Query', 'Scan', 'TagResource', 'UntagResource', 'ListTagsOfResource', 'UpdateItem', 'UpdateTable',
]);

/** A running dynalite and a client for it. */
export class DynaliteBackend {
  private server: http.Server | undefined;
  private port = 0;
  private agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private closing = false;

  /** @param path directory of the leveldb store; created when absent */
  constructor(private readonly path: string) {}

  /** Starts dynalite on an ephemeral loopback port. */
  async start(): Promise<void> {
    if (this.server) return;
    mkdirSync(this.path, { recursive: true });
    const dynalite = require('dynalite') as (options: Record<string, unknown>) => http.Server;
    const server = dynalite({ path: this.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    // The front is dynalite's only client and keeps its sockets alive: if dynalite closed idle ones
    // (Node's default is after 5 s), the next call after a quiet spell would die with ECONNRESET.
    server.keepAliveTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    this.server = server;
  }

  /**
   * Stops dynalite and closes its leveldb (which flushes it). Calls already sent are allowed to
   * finish first: dynalite throws an uncaught "Database is closed" for a request that reaches a
   * closed store, which would take the whole local cloud down. Later calls are refused.
   */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.closing = true;
    if (this.inFlight > 0) {
      await Promise.race([new Promise<void>((resolve) => (this.drained = resolve)), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    }
    this.server = undefined;
    this.closing = false;
    this.agent.destroy();
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  }

  /** Runs one operation; a dynalite error becomes an {@link AwsError} with the same short name and `__type`. */
  call(operation: string, input: unknown): Promise<any> {
    if (!this.server || this.closing) return Promise.reject(new AwsError('ServiceUnavailable', 'the local DynamoDB is not running', 503));
    const body = JSON.stringify(input ?? {});
    this.inFlight += 1;
    const settle = () => {
      this.inFlight -= 1;
      if (this.inFlight === 0) this.drained?.();
    };
    const call = new Promise<any>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method: 'POST',
          path: '/',
          agent: this.agent,
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'content-length': Buffer.byteLength(body),
            'x-amz-target': `DynamoDB_20120810.${operation}`,
            'x-amz-date': '20260101T000000Z',
            // dynalite checks that a SigV4 header is present, not that it is valid.
            authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=local',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: any;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              reject(new AwsError('InternalServerError', `dynalite answered ${res.statusCode} with a non-JSON body`, 500));
              return;
            }
            if (res.statusCode === 200) return resolve(parsed);
            const type = String(parsed.__type ?? 'InternalServerError');
            const code = type.slice(type.lastIndexOf('#') + 1);
            const message = String(parsed.message ?? parsed.Message ?? '');
            reject(new AwsError(code, message, res.statusCode ?? 400, { __type: type }));
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    call.then(settle, settle);
    return call;
  }
}
