/**
 * The single HTTP front of the local cloud. It speaks the wire protocols SDK v3 clients use:
 * awsJson (routed by `X-Amz-Target`), and REST/query routes (Lambda, CloudFormation, admin).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsError, newRequestContext, type JsonService, type RawRequest, type RestRoute } from './aws.js';

/** What the front serves. */
export interface FrontOptions {
  readonly json: readonly JsonService[];
  readonly routes: readonly RestRoute[];
  /** @default 4566 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  readonly region?: string;
  /** Called for every unexpected (non-AwsError) failure, so it is never swallowed. */
  readonly onInternalError?: (err: unknown, where: string) => void;
}

/** A running front. */
export interface Front {
  readonly server: http.Server;
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJsonError(res: http.ServerResponse, err: AwsError, contentType: string): void {
  const body = JSON.stringify({ __type: err.code, message: err.message, Message: err.message, ...err.extra });
  res.writeHead(err.statusCode, { 'content-type': contentType, 'x-amzn-errortype': err.code, 'x-amzn-requestid': newRequestContext().requestId, ...(err.headers ?? {}) });
  res.end(body);
}

/** Starts the front and resolves once it listens. */
export async function startFront(options: FrontOptions): Promise<Front> {
  const byPrefix = new Map<string, JsonService>();
  for (const svc of options.json) for (const p of svc.targetPrefixes) byPrefix.set(p, svc);
  const internal = options.onInternalError ?? ((err, where) => console.error(`[local-cloud] internal error in ${where}:`, err));

  const server = http.createServer(async (req, res) => {
    const ctx = newRequestContext(options.region);
    let where = `${req.method} ${req.url}`;
    try {
      const body = await readBody(req);
      const target = req.headers['x-amz-target'];
      if (typeof target === 'string' && target.includes('.')) {
        const dot = target.lastIndexOf('.');
        const prefix = target.slice(0, dot);
        const operation = target.slice(dot + 1);
        where = target;
        const contentType = String(req.headers['content-type'] ?? 'application/x-amz-json-1.0');
        const svc = byPrefix.get(prefix);
        if (!svc) {
          sendJsonError(res, new AwsError('UnknownOperationException', `the local cloud does not implement the service of ${target}`), contentType);
          return;
        }
        let input: unknown = {};
        try {
          input = body.length ? JSON.parse(body.toString('utf8')) : {};
        } catch {
          sendJsonError(res, new AwsError('SerializationException', 'request body is not valid JSON'), contentType);
          return;
        }
        try {
          const out = await svc.handle(operation, input, ctx);
          res.writeHead(200, { 'content-type': contentType, 'x-amzn-requestid': ctx.requestId });
          res.end(JSON.stringify(out ?? {}));
        } catch (err) {
          if (err instanceof AwsError) return sendJsonError(res, err, contentType);
          internal(err, where);
          sendJsonError(res, new AwsError('InternalServerError', err instanceof Error ? err.message : String(err), 500), contentType);
        }
        return;
      }
      const url = new URL(req.url ?? '/', 'http://local');
      const raw: RawRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body };
      for (const route of options.routes) {
        const params = route.match(raw);
        if (!params) continue;
        try {
          const out = await route.handle(raw, params, ctx);
          res.writeHead(out.status, { 'x-amzn-requestid': ctx.requestId, ...(out.headers ?? {}) });
          res.end(out.body ?? '');
        } catch (err) {
          if (err instanceof AwsError) return sendJsonError(res, err, 'application/json');
          internal(err, where);
          sendJsonError(res, new AwsError('ServiceException', err instanceof Error ? err.message : String(err), 500), 'application/json');
        }
        return;
      }
      sendJsonError(res, new AwsError('UnknownOperationException', `the local cloud has no route for ${raw.method} ${raw.path}`, 404), 'application/json');
    } catch (err) {
      internal(err, where);
      if (!res.headersSent) sendJsonError(res, new AwsError('InternalFailure', 'internal error', 500), 'application/json');
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4566, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    endpoint: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
