/**
 * Test harness: a local cloud with the app's assembly deployed, and SDK v3 clients pointed at
 * it. With `CONVERGE_ENDPOINT` and/or `CONVERGE_OUTPUTS` set (by `npm run test:e2e -- --endpoint
 * URL --outputs FILE`), it starts nothing and points the clients at that deployment instead.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LocalCloud } from '../../local/cloud.js';
import type { FaultPlan } from '../../local/core/faults.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** SDK v3 clients configured for the endpoint under test. */
export interface TestClients {
  readonly dynamodb: DynamoDBClient;
  /** DocumentClient over {@link TestClients.dynamodb} (removeUndefinedValues on). */
  readonly documents: DynamoDBDocumentClient;
  readonly streams: DynamoDBStreamsClient;
  readonly lambda: LambdaClient;
  readonly sfn: SFNClient;
  readonly sqs: SQSClient;
  readonly eventbridge: EventBridgeClient;
  readonly cloudformation: CloudFormationClient;
}

/** A running test deployment. */
export interface TestCloud {
  /** The embedded local cloud; throws in external mode. */
  readonly cloud: LocalCloud;
  /** The endpoint URL, or `aws` against real AWS endpoints. */
  readonly endpoint: string;
  /** Outputs of every stack, merged into one map (OutputKey → value). */
  readonly outputs: Record<string, string>;
  readonly clients: TestClients;
  /** True when running against an external endpoint (LocalStack or AWS). */
  readonly external: boolean;
  /** Advances the local cloud's clock (admin API); throws where there is no local cloud. */
  advanceClock(ms: number): Promise<void>;
  /** Replaces the fault plan (admin API); throws where there is no local cloud. */
  setFaults(plan: FaultPlan): Promise<void>;
  /** The local cloud's counters (`GET /_converge/stats`): faults fired, mappings, requests. */
  stats(): Promise<Record<string, any>>;
  /** Resolves once every stream mapping is caught up (from the stats); rejects after `timeoutMs`. */
  mappingsIdle(timeoutMs?: number): Promise<void>;
  /** Stops the cloud and removes its state directory (local mode); destroys the clients. */
  stop(): Promise<void>;
}

/** Options of {@link startTestCloud}. */
export interface StartTestCloudOptions {
  /** A fault plan loaded at start (local mode only). */
  readonly faults?: FaultPlan;
  /** The assembly to deploy. @default CONVERGE_ASSEMBLY or `<repo>/cdk.out` */
  readonly assemblyDir?: string;
}

function makeClients(endpoint: string | undefined): TestClients {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const credentials =
    endpoint && !process.env.AWS_ACCESS_KEY_ID ? { accessKeyId: 'test', secretAccessKey: 'test' } : undefined;
  const config = { region, ...(endpoint ? { endpoint } : {}), ...(credentials ? { credentials } : {}) };
  const dynamodb = new DynamoDBClient(config);
  return {
    dynamodb,
    documents: DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    streams: new DynamoDBStreamsClient(config),
    lambda: new LambdaClient(config),
    sfn: new SFNClient(config),
    sqs: new SQSClient(config),
    eventbridge: new EventBridgeClient(config),
    cloudformation: new CloudFormationClient(config),
  };
}

function destroy(clients: TestClients): void {
  for (const c of Object.values(clients)) c.destroy();
}

function merge(stacks: Record<string, Record<string, string>>): Record<string, string> {
  return Object.assign({}, ...Object.values(stacks));
}

async function admin(endpoint: string, method: string, route: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${endpoint}/_converge/${route}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`admin ${method} /_converge/${route} failed with ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Polls the admin stats until every enabled mapping reports idle. */
async function pollIdle(stats: () => Promise<Record<string, any>>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mappings = ((await stats()).lambda?.mappings ?? []) as Array<{ enabled: boolean; idle: boolean; functionName: string }>;
    const busy = mappings.filter((m) => m.enabled && !m.idle);
    if (busy.length === 0) return;
    if (Date.now() > deadline) throw new Error(`stream mappings still busy after ${timeoutMs} ms: ${busy.map((m) => m.functionName).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a fresh local cloud (temp state dir, ephemeral port) with the shared cdk.out deployed, or attaches to an external deployment. */
export async function startTestCloud(opts: StartTestCloudOptions = {}): Promise<TestCloud> {
  const externalEndpoint = process.env.CONVERGE_ENDPOINT;
  const externalOutputs = process.env.CONVERGE_OUTPUTS;
  if (externalEndpoint || externalOutputs) {
    if (!externalOutputs) throw new Error('CONVERGE_ENDPOINT is set but CONVERGE_OUTPUTS is not: give the outputs file of the deployment (cdk deploy --outputs-file)');
    const endpoint = externalEndpoint && externalEndpoint !== 'aws' ? externalEndpoint : undefined;
    const clients = makeClients(endpoint);
    // A local cloud started elsewhere (`npm start`) still serves the admin API: use it over HTTP.
    const hasAdmin = endpoint !== undefined && (await admin(endpoint, 'GET', 'health').then((h) => (h as { status?: string })?.status === 'ok', () => false));
    const adminOnly = (what: string) => async () => {
      throw new Error(`${what} needs the local cloud's admin API; ${endpoint ?? 'AWS'} has none (LocalStack and AWS inject faults their own way)`);
    };
    if (opts.faults) {
      if (!hasAdmin) await adminOnly('a fault plan')();
      await admin(endpoint!, 'PUT', 'faults', opts.faults);
    }
    return {
      get cloud(): LocalCloud {
        throw new Error(`no embedded local cloud: this run targets ${endpoint ?? 'AWS'} (CONVERGE_ENDPOINT)`);
      },
      endpoint: endpoint ?? 'aws',
      outputs: merge(JSON.parse(readFileSync(externalOutputs, 'utf8'))),
      clients,
      external: true,
      advanceClock: hasAdmin ? async (ms: number) => void (await admin(endpoint!, 'POST', 'clock/advance', { ms })) : adminOnly('advanceClock'),
      setFaults: hasAdmin ? async (plan: FaultPlan) => void (await admin(endpoint!, 'PUT', 'faults', plan)) : adminOnly('setFaults'),
      stats: hasAdmin ? async () => (await admin(endpoint!, 'GET', 'stats')) as Record<string, any> : adminOnly('stats'),
      mappingsIdle: hasAdmin ? (timeoutMs = 20_000) => pollIdle(async () => (await admin(endpoint!, 'GET', 'stats')) as Record<string, any>, timeoutMs) : adminOnly('mappingsIdle'),
      async stop() {
        destroy(clients);
      },
    };
  }

  const stateDir = await mkdtemp(path.join(tmpdir(), 'converge-test-'));
  const assemblyDir = opts.assemblyDir ?? process.env.CONVERGE_ASSEMBLY ?? path.join(ROOT, 'cdk.out');
  const cloud = await LocalCloud.start({ stateDir, port: 0, faults: opts.faults, quiet: true });
  let deployed: { stacks: Record<string, Record<string, string>> };
  try {
    deployed = await cloud.deploy(assemblyDir);
  } catch (err) {
    await cloud.stop().catch(() => {});
    await rm(stateDir, { recursive: true, force: true });
    throw err;
  }
  const endpoint = cloud.endpoint;
  const clients = makeClients(endpoint);
  return {
    cloud,
    endpoint,
    outputs: merge(deployed.stacks),
    clients,
    external: false,
    async advanceClock(ms) {
      await admin(endpoint, 'POST', 'clock/advance', { ms });
    },
    async setFaults(plan) {
      await admin(endpoint, 'PUT', 'faults', plan);
    },
    async stats() {
      return (await admin(endpoint, 'GET', 'stats')) as Record<string, any>;
    },
    mappingsIdle(timeoutMs = 20_000) {
      return pollIdle(async () => (await admin(endpoint, 'GET', 'stats')) as Record<string, any>, timeoutMs);
    },
    async stop() {
      destroy(clients);
      try {
        await cloud.stop();
      } finally {
        await rm(stateDir, { recursive: true, force: true });
      }
    },
  };
}
