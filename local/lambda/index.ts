/**
 * The local Lambda service: runs the template's functions in child processes and polls
 * DynamoDB streams for their event-source mappings.
 *
 * Local choices (documented differences from AWS):
 * - a function without reserved concurrency gets {@link DEFAULT_CONCURRENCY} containers, and
 *   a synchronous invoke waits for one when all are busy (AWS would use account concurrency);
 * - asynchronous retries wait 100 ms then 200 ms (AWS: about 1 and 2 minutes), stream batch
 *   retries 10 ms doubling up to 500 ms; the event and record ages use the kernel's clock, so
 *   tests can age them by advancing it;
 * - queued asynchronous invocations are kept in memory only.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AwsError, type ProvisionRequest, type Provisioned, type ResourceProvider } from '../core/aws.js';
import type { Kernel, LambdaPort, LocalService } from '../core/kernel.js';
import { lambdaRoutes } from './api.js';
import { mappingArn, parseMapping, type MappingConfig } from './esm/mapping.js';
import { StreamPoller, type MappingStats, type PollerOptions } from './esm/poller.js';
import { invalidParameter, parseFunction, parseInvokeConfig, refuseUnknownProperties } from './functions.js';
import { LambdaRuntime, type RuntimeOptions } from './runtime/runtime.js';
import { StateStore } from './state.js';

export { DEFAULT_CONCURRENCY } from './functions.js';
export type { MappingStats } from './esm/poller.js';

/** Local tuning of the Lambda service (all optional). */
export interface LambdaOptions extends RuntimeOptions, PollerOptions {}

/** The Lambda port plus what tests, benchmarks and the CLI need to observe. */
export interface LocalLambda extends LambdaPort {
  /** Invocations of a function so far (handler runs and injected failures; throttles excluded). */
  invocations(functionName: string): number;
  /** Resolves once every enabled mapping is caught up (nothing in flight, nothing after its checkpoint). Rejects after `timeoutMs`. */
  mappingsIdle(timeoutMs?: number): Promise<void>;
  /** Counters and checkpoint of every mapping. */
  mappingStats(): MappingStats[];
  /** Resolves once every queued asynchronous (Event) invocation has finished. */
  asyncIdle(): Promise<void>;
}

/** What UpdateEventSourceMapping may change on a DynamoDB-stream mapping. */
const UPDATABLE = new Set([
  'Enabled', 'BatchSize', 'MaximumBatchingWindowInSeconds', 'BisectBatchOnFunctionError', 'MaximumRetryAttempts', 'MaximumRecordAgeInSeconds',
  'FunctionResponseTypes', 'FilterCriteria', 'DestinationConfig', 'FunctionName', 'ParallelizationFactor', 'TumblingWindowInSeconds',
]);

const PERMISSION_PROPERTIES = new Set(['Action', 'FunctionName', 'Principal', 'SourceArn', 'SourceAccount', 'EventSourceToken', 'FunctionUrlAuthType', 'PrincipalOrgID']);

/**
 * Creates the Lambda service of a local cloud.
 * @param options local tuning; defaults suit both `npm start` and tests
 */
export function createLambda(kernel: Kernel, options: LambdaOptions = {}): { service: LocalService; lambda: LocalLambda } {
  const store = new StateStore(kernel.stateDir);
  const runtime = new LambdaRuntime(kernel, options);
  const pollers = new Map<string, StreamPoller>();
  let started = false;

  for (const fn of Object.values(store.state.functions)) void runtime.put(fn);
  for (const config of Object.values(store.state.invokeConfigs)) runtime.setInvokeConfig(config.functionName, config);

  const startPoller = (m: MappingConfig): void => {
    const poller = new StreamPoller(
      m,
      kernel,
      runtime,
      { checkpoint: store.state.checkpoints[m.uuid], positioned: store.state.positioned[m.uuid] === true },
      (seq) => {
        if (seq === undefined) store.state.positioned[m.uuid] = true;
        else store.state.checkpoints[m.uuid] = seq;
        store.save();
      },
      options,
    );
    pollers.set(m.uuid, poller);
    if (started) poller.start();
  };
  for (const m of Object.values(store.state.mappings)) startPoller(m);

  const stopPoller = async (uuid: string): Promise<void> => {
    const p = pollers.get(uuid);
    pollers.delete(uuid);
    await p?.stop();
  };

  const functionProvider: ResourceProvider = {
    types: ['AWS::Lambda::Function'],
    async create(req) {
      const fn = parseFunction(req, kernel.region, path.join(store.dir, 'inline'));
      const existing = store.state.functions[fn.name];
      if (existing && (existing.stackName !== req.stackName || existing.logicalId !== req.logicalId)) {
        throw new AwsError('ResourceConflictException', `Function already exist: ${fn.name}`, 409, { Type: 'User' });
      }
      await runtime.put(fn);
      store.state.functions[fn.name] = fn;
      store.save();
      return { physicalId: fn.name, attributes: { Arn: fn.arn } };
    },
    async update(req, previous) {
      const fn = parseFunction(req, kernel.region, path.join(store.dir, 'inline'));
      if (fn.name !== previous.physicalId) {
        await runtime.remove(previous.physicalId);
        delete store.state.functions[previous.physicalId];
      }
      await runtime.put(fn);
      store.state.functions[fn.name] = fn;
      store.save();
      return { physicalId: fn.name, attributes: { Arn: fn.arn } };
    },
    async delete(_type, physicalId) {
      await runtime.remove(physicalId);
      delete store.state.functions[physicalId];
      store.save();
    },
  };

  const createMapping = async (req: ProvisionRequest, reuse?: string): Promise<Provisioned> => {
    // A mapping redeployed under the same logical id keeps its UUID, hence its checkpoint.
    const previous = Object.values(store.state.mappings).find((m) => m.stackName === req.stackName && m.logicalId === req.logicalId);
    const uuid = reuse ?? previous?.uuid ?? randomUUID();
    const m = parseMapping(req, uuid, (ref) => runtime.resolve(ref));
    if (kernel.streams.tableOf(m.eventSourceArn) === undefined) {
      throw invalidParameter(`${req.logicalId} (AWS::Lambda::EventSourceMapping): Stream not found: ${m.eventSourceArn}`);
    }
    await stopPoller(uuid);
    store.state.mappingRequests[uuid] = { stackName: req.stackName, logicalId: req.logicalId, properties: { ...req.properties } };
    if (previous && previous.eventSourceArn !== m.eventSourceArn) {
      delete store.state.checkpoints[uuid];
      delete store.state.positioned[uuid];
    }
    store.state.mappings[uuid] = m;
    store.save();
    startPoller(m);
    return { physicalId: uuid, attributes: { Id: uuid, EventSourceMappingArn: mappingArn(uuid, kernel.region) } };
  };

  const mappingProvider: ResourceProvider = {
    types: ['AWS::Lambda::EventSourceMapping'],
    create: (req) => createMapping(req),
    update: (req, previous) => createMapping(req, previous.physicalId),
    async delete(_type, physicalId) {
      await stopPoller(physicalId);
      delete store.state.mappings[physicalId];
      delete store.state.checkpoints[physicalId];
      delete store.state.positioned[physicalId];
      delete store.state.mappingRequests[physicalId];
      store.save();
    },
  };

  const permissionProvider: ResourceProvider = {
    types: ['AWS::Lambda::Permission'],
    async create(req) {
      refuseUnknownProperties(req, PERMISSION_PROPERTIES);
      const p = req.properties;
      for (const key of ['Action', 'FunctionName', 'Principal']) {
        if (typeof p[key] !== 'string') throw invalidParameter(`${req.logicalId} (AWS::Lambda::Permission): ${key} is required`);
      }
      const id = `${req.stackName}-${req.logicalId}-${randomUUID().slice(0, 8)}`;
      // Recorded for later policy checks; the local cloud does not enforce resource policies.
      store.state.permissions[id] = { ...p };
      store.save();
      return { physicalId: id, attributes: {} };
    },
    async delete(_type, physicalId) {
      delete store.state.permissions[physicalId];
      store.save();
    },
  };

  const invokeConfigProvider: ResourceProvider = {
    types: ['AWS::Lambda::EventInvokeConfig'],
    async create(req) {
      const fn = runtime.resolve(String(req.properties.FunctionName));
      const config = { ...parseInvokeConfig(req, `${fn.name}:$LATEST`), functionName: fn.name };
      runtime.setInvokeConfig(fn.name, config);
      store.state.invokeConfigs[fn.name] = config;
      store.save();
      return { physicalId: config.id, attributes: {} };
    },
    async delete(_type, physicalId) {
      const name = physicalId.split(':')[0];
      runtime.setInvokeConfig(name, undefined);
      delete store.state.invokeConfigs[name];
      store.save();
    },
  };

  const lambda: LocalLambda = {
    invoke: (name, payload, opts) => runtime.invoke(name, payload, opts),
    aliasesOf: (name) => runtime.aliasesOf(name),
    invocations: (name) => runtime.invocations(name),
    mappingStats: () => [...pollers.values()].map((p) => p.snapshot()),
    asyncIdle: () => runtime.asyncIdle(),
    async mappingsIdle(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const busy = [...pollers.values()].filter((p) => !p.isIdle());
        if (busy.length === 0) return;
        if (Date.now() > deadline) throw new Error(`event-source mappings still busy after ${timeoutMs} ms: ${busy.map((p) => `${p.mapping.uuid} (${p.mapping.functionName})`).join(', ')}`);
        await sleep(5);
      }
    },
  };

  const service: LocalService = {
    name: 'lambda',
    routes: lambdaRoutes(
      runtime,
      {
        list: () => Object.values(store.state.mappings),
        stateOf: (uuid) => (store.state.mappings[uuid]?.enabled ? 'Enabled' : 'Disabled'),
        async update(uuid, changes) {
          const saved = store.state.mappingRequests[uuid];
          if (!saved || !store.state.mappings[uuid]) {
            throw new AwsError('ResourceNotFoundException', `The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: ${uuid})`, 404, { Type: 'User' });
          }
          for (const key of Object.keys(changes)) {
            if (!UPDATABLE.has(key)) throw invalidParameter(`UpdateEventSourceMapping: ${key} is not supported by the local cloud for a DynamoDB stream`);
          }
          const req: ProvisionRequest = {
            stackName: saved.stackName,
            logicalId: saved.logicalId,
            type: 'AWS::Lambda::EventSourceMapping',
            properties: { ...saved.properties, ...changes },
            metadata: {},
            assemblyDir: '',
            assetPath: (key) => key,
          };
          await createMapping(req, uuid);
          return store.state.mappings[uuid];
        },
      },
      kernel.region,
    ),
    providers: [functionProvider, mappingProvider, permissionProvider, invokeConfigProvider],
    stats: () => ({
      invocations: runtime.invocationCounts(),
      containers: Object.fromEntries(runtime.list().map((f) => [f.name, runtime.containers(f.name)])),
      mappings: [...pollers.values()].map((p) => p.snapshot()),
    }),
    resetStats: () => runtime.resetCounts(),
    async start() {
      started = true;
      for (const p of pollers.values()) p.start();
    },
    async stop() {
      started = false;
      // Flag the pollers first, then kill the containers, so an in-flight batch ends now
      // (abandoned, not checkpointed) instead of running to its timeout.
      const stopping = [...pollers.values()].map((p) => p.stop());
      await runtime.stop();
      await Promise.all(stopping);
      store.save();
    },
  };
  return { service, lambda };
}
