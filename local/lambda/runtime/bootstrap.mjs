// The runtime inside one local Lambda "container" (a forked Node process). It plays the part of
// the nodejs runtime interface client: it loads the handler once (the init phase), then runs one
// invocation at a time on messages from the parent, with a context like AWS's.
//
// Plain JavaScript on purpose: the child runs with `process.execPath` and no loader, so that the
// bundled asset executes exactly as it would in Lambda.
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import util from 'node:util';

let currentRequestId;
let handler;

// The nodejs runtime prefixes each console line with time, request id and level.
const LEVELS = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' };
for (const [method, level] of Object.entries(LEVELS)) {
  console[method] = (...args) => {
    // Lambda turns newlines into carriage returns so one call stays one log event.
    const text = util.format(...args).replace(/\n/g, '\r');
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId ?? 'undefined'}\t${level}\t${text}\n`);
  };
}

function named(name, message) {
  const err = new Error(message);
  err.name = name;
  return err;
}

/** The error document the nodejs runtime returns for a failed invocation. */
function errorDocument(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name,
      errorMessage: err.message,
      trace: typeof err.stack === 'string' ? err.stack.split('\n') : [],
    };
  }
  if (typeof err === 'string') return { errorType: 'string', errorMessage: err, trace: [] };
  return { errorType: typeof err, errorMessage: util.inspect(err), trace: [] };
}

function send(message) {
  if (process.connected) process.send(message);
}

async function loadHandler() {
  const root = process.env.LAMBDA_TASK_ROOT;
  const spec = process.env._HANDLER ?? '';
  const dot = spec.lastIndexOf('.');
  if (dot <= 0 || dot === spec.length - 1) throw named('Runtime.MalformedHandlerName', `Bad handler ${spec}`);
  const modulePath = spec.slice(0, dot);
  const exportName = spec.slice(dot + 1);
  // Same lookup order as the nodejs runtime: .js, then .mjs, then .cjs.
  const file = ['.js', '.mjs', '.cjs'].map((ext) => path.resolve(root, modulePath + ext)).find((f) => existsSync(f));
  if (!file) throw named('Runtime.ImportModuleError', `Error: Cannot find module '${modulePath}'`);
  // Make the code directory the module-type boundary, as /var/task is on AWS.
  register('./task-root-hooks.mjs', import.meta.url, { data: { taskRoot: path.resolve(root) } });
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    if (err instanceof SyntaxError) throw named('Runtime.UserCodeSyntaxError', `${err.name}: ${err.message}`);
    throw err;
  }
  const fn = mod[exportName] ?? mod.default?.[exportName];
  if (typeof fn !== 'function') throw named('Runtime.HandlerNotFound', `${path.basename(modulePath)}.${exportName} is undefined or not exported`);
  return fn;
}

function makeContext(msg) {
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: msg.functionName,
    functionVersion: msg.functionVersion,
    invokedFunctionArn: msg.invokedFunctionArn,
    memoryLimitInMB: String(msg.memoryLimitInMB),
    awsRequestId: msg.requestId,
    logGroupName: msg.logGroupName,
    logStreamName: msg.logStreamName,
    identity: undefined,
    clientContext: msg.clientContext,
    getRemainingTimeInMillis: () => Math.max(0, msg.deadline - Date.now()),
  };
  return context;
}

function runHandler(fn, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    // The legacy context methods, still honoured by the nodejs runtime.
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (err) => callback(err ?? new Error('handled'));
    let out;
    try {
      out = fn(event, context, callback);
    } catch (err) {
      callback(err);
      return;
    }
    if (out && typeof out.then === 'function') {
      out.then(
        (result) => callback(null, result),
        (err) => callback(err ?? new Error('Promise rejected with ' + String(err))),
      );
    } else if (fn.length < 3) {
      // A synchronous handler without a callback: AWS answers null once the loop drains; a
      // container's loop never drains here, so answer at once.
      callback(null, undefined);
    }
  });
}

process.on('uncaughtException', (err) => {
  send({ type: 'crash', error: errorDocument(err) });
  process.exit(129);
});
process.on('unhandledRejection', (reason) => {
  const doc = errorDocument(reason);
  send({ type: 'crash', error: { errorType: 'Runtime.UnhandledPromiseRejection', errorMessage: `${doc.errorType}: ${doc.errorMessage}`, trace: doc.trace } });
  process.exit(128);
});
process.on('disconnect', () => process.exit(0));

process.on('message', async (msg) => {
  if (!msg || msg.type !== 'invoke') return;
  currentRequestId = msg.requestId;
  const context = makeContext(msg);
  try {
    const result = await runHandler(handler, JSON.parse(msg.payload), context);
    let payload;
    try {
      payload = JSON.stringify(result === undefined ? null : result);
    } catch (err) {
      throw named('Runtime.MarshalError', `Unable to stringify response body: ${err instanceof Error ? err.message : String(err)}`);
    }
    send({ type: 'result', id: msg.id, payload });
  } catch (err) {
    send({ type: 'error', id: msg.id, error: errorDocument(err) });
  } finally {
    currentRequestId = undefined;
  }
});

try {
  handler = await loadHandler();
  send({ type: 'ready' });
} catch (err) {
  send({ type: 'initError', error: errorDocument(err) });
}
