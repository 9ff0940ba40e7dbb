/**
 * dynalite in a worker thread of its own. Its request parsing, validation, expression
 * evaluation and leveldb bindings run beside the front instead of on the front's event loop,
 * and requests arrive over the worker's message port rather than a loopback socket, handed
 * to dynalite's own HTTP request handler, so every answer and error is dynalite's (its response
 * headers are dropped: the front writes its own).
 *
 * Messages in: `{ id, operation, body }` (body: the JSON text), or `'stop'`.
 * Messages out: `{ ready: true }` once the store is open, `{ id, status, body }` per request,
 * `{ stopped: true, error? }` once dynalite has closed its leveldb.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import dynalite from 'dynalite';
import { memoizeParser } from './expression-memo.mjs';

// dynalite's validation calls `parser.parse` on these modules per request; memoize in place.
const requireFromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
for (const name of ['conditionParser', 'updateParser', 'projectionParser']) memoizeParser(requireFromDynalite(`./db/${name}`));

const server = dynalite({ path: workerData.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
const handle = server.listeners('request')[0];

// Signature checks in dynalite only look for the presence of these.
const FIXED_HEADERS = {
  'content-type': 'application/x-amz-json-1.0',
  'x-amz-date': '20260101T000000Z',
  authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=local',
};

function serve({ id, operation, body }) {
  const req = new EventEmitter();
  req.method = 'POST';
  req.url = '/';
  req.headers = { ...FIXED_HEADERS, 'x-amz-target': `DynamoDB_20120810.${operation}` };
  let done = false;
  const res = {
    statusCode: 200,
    setHeader() {},
    end(text) {
      if (done) return;
      done = true;
      parentPort.postMessage({ id, status: res.statusCode, body: text === undefined ? '' : String(text) });
    },
  };
  try {
    handle(req, res);
    req.emit('data', Buffer.from(body, 'utf8'));
    req.emit('end');
  } catch (err) {
    res.statusCode = 500;
    res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: `dynalite failed: ${err && err.message}` }));
  }
}

// dynalite closes its store from server.close(), which needs a listening server.
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ ready: true }));
server.once('error', (err) => parentPort.postMessage({ error: String(err && err.message) }));
parentPort.on('message', (message) => {
  if (message !== 'stop') return serve(message);
  server.close((err) => {
    parentPort.postMessage({ stopped: true, error: err ? String(err.message) : undefined });
    parentPort.close();
  });
});
