/**
 * The local cloud: every service composed over one kernel and one HTTP front, the template
 * deployer over every service's providers, and the admin API (`/_converge/...`) that tests and
 * tools use to drive the clock, inject faults and read counters.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AwsError, DEFAULT_REGION, type RawRequest, type RawResponse, type RestRoute } from './core/aws.js';
import { LocalClock } from './core/clock.js';
import { FaultInjector, FaultPlan } from './core/faults.js';
import type { Kernel, LocalService } from './core/kernel.js';
import { startFront, type Front } from './core/server.js';
import { createCloudFormation, type CloudFormationParts, type Deployer } from './cloudformation/index.js';
import { createDynamoDb } from './dynamodb/index.js';
import { createEvents } from './events/index.js';
import type { IamRecorder } from './iam/index.js';
import { createLambda } from './lambda/index.js';
import { createSqs } from './sqs/index.js';
import { createStepFunctions } from './stepfunctions/index.js';

/** How to start a {@link LocalCloud}. */
export interface LocalCloudOptions {
  /** Persistent state directory (`.local/`); created when missing. */
  readonly stateDir: string;
  /** Port of the front; 0 picks a free one. @default 4566 */
  readonly port?: number;
  /** Wipes `stateDir` first. @default false */
  readonly fresh?: boolean;
  /** Fault plan loaded at start (validated). @default no faults */
  readonly faults?: FaultPlan;
  /** Epoch ms the clock starts at. @default the wall clock */
  readonly clockStart?: number;
  /** Silences the deployer's progress lines. @default false */
  readonly quiet?: boolean;
  /** @default 'us-east-1' (or AWS_REGION) */
  readonly region?: string;
}

/** Milestones of a run (epoch ms, wall clock), served by `GET /_converge/health`. */
export interface LocalCloudTimings {
  startedAt: number;
  /** Set by the caller that synthesized the app (`npm start`), for time-to-first-record figures. */
  synthEndedAt?: number;
  deployedAt?: number;
}

type Services = {
  cloudformation: CloudFormationParts;
  sqs: ReturnType<typeof createSqs>;
  dynamodb: ReturnType<typeof createDynamoDb>;
  lambda: ReturnType<typeof createLambda>;
  stepfunctions: ReturnType<typeof createStepFunctions>;
  events: ReturnType<typeof createEvents>;
};

function unwired(name: string): never {
  throw new Error(`the local cloud's ${name} port was used before the service was wired`);
}

/** Finds a free TCP port, so the endpoint is known before the services (and their functions' env) exist. */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function json(status: number, value: unknown): RawResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

function parseBody(req: RawRequest): any {
  if (req.body.length === 0) return {};
  try {
    return JSON.parse(req.body.toString('utf8'));
  } catch {
    throw new AwsError('SerializationException', 'the request body is not valid JSON');
  }
}

/** A running local cloud. */
export class LocalCloud {
  /** Milestones, for health and benchmarks. */
  readonly timings: LocalCloudTimings;
  private stopped = false;

  private constructor(
    /** The shared kernel (clock, faults, ports). */
    readonly kernel: Kernel,
    private readonly front: Front,
    private readonly parts: Services,
    private readonly services: readonly LocalService[],
    /** The deployer over every service's providers. */
    readonly deployer: Deployer,
  ) {
    this.timings = { startedAt: Date.now() };
  }

  /** The endpoint URL, e.g. `http://127.0.0.1:4566`. */
  get endpoint(): string {
    return this.front.endpoint;
  }

  /** Recorded IAM roles and policies (e.g. `iam.statementsFor(roleArn)`). */
  get iam(): IamRecorder {
    return this.parts.cloudformation.iam;
  }

  /** The service parts, for tests and tools that need more than the ports. */
  get internals(): Readonly<Services> {
    return this.parts;
  }

  /** Builds the kernel and every service, starts the front and the services. */
  static async start(opts: LocalCloudOptions): Promise<LocalCloud> {
    const stateDir = path.resolve(opts.stateDir);
    if (opts.fresh) rmSync(stateDir, { recursive: true, force: true });
    mkdirSync(stateDir, { recursive: true });
    const host = '127.0.0.1';
    const port = opts.port === 0 ? await freePort(host) : (opts.port ?? 4566);
    const kernel: Kernel = {
      clock: new LocalClock(opts.clockStart),
      faults: new FaultInjector(opts.faults),
      stateDir,
      region: opts.region ?? process.env.AWS_REGION ?? DEFAULT_REGION,
      endpoint: `http://${host}:${port}`,
      lambda: { invoke: () => unwired('Lambda'), aliasesOf: () => unwired('Lambda') },
      streams: { readAfter: () => unwired('Streams'), latestSequence: () => unwired('Streams'), onAppend: () => unwired('Streams'), tableOf: () => unwired('Streams') },
      sqs: { sendMessage: () => unwired('SQS') },
      states: { startExecution: () => unwired('Step Functions') },
      events: { putEvents: () => unwired('EventBridge') },
      dynamodb: { call: () => unwired('DynamoDB') },
    };
    const parts: Services = {
      cloudformation: createCloudFormation(kernel),
      sqs: createSqs(kernel),
      dynamodb: createDynamoDb(kernel),
      lambda: createLambda(kernel),
      stepfunctions: createStepFunctions(kernel),
      events: createEvents(kernel),
    };
    kernel.sqs = parts.sqs.sqs;
    kernel.dynamodb = parts.dynamodb.dynamodb;
    kernel.streams = parts.dynamodb.streams;
    kernel.lambda = parts.lambda.lambda;
    kernel.states = parts.stepfunctions.states;
    kernel.events = parts.events.events;
    const services = Object.values(parts).map((p) => p.service);
    const quiet = opts.quiet ?? false;
    const deployer = parts.cloudformation.connect(
      services.flatMap((s) => s.providers ?? []),
      quiet ? undefined : (line) => console.log(`[deploy] ${line}`),
    );

    // The admin route is registered before the cloud object exists; it reaches it through this box.
    const box: { cloud?: LocalCloud } = {};
    const admin: RestRoute = {
      match: (req) => (req.path.startsWith('/_converge/') ? { path: req.path.slice('/_converge/'.length) } : undefined),
      handle: (req, params) => box.cloud!.admin(req, params.path!),
    };
    const front = await startFront({
      json: services.flatMap((s) => (s.json ? [s.json] : [])),
      routes: [admin, ...services.flatMap((s) => s.routes ?? [])],
      port,
      host,
      region: kernel.region,
    });
    const cloud = new LocalCloud(kernel, front, parts, services, deployer);
    box.cloud = cloud;
    try {
      // DynamoDB first: the stream mappings of Lambda read its streams as soon as they start.
      for (const s of services) await s.start?.();
    } catch (err) {
      await cloud.stop();
      throw err;
    }
    return cloud;
  }

  /** Deploys every stack of a cloud assembly (cdk.out); returns the outputs by stack name. */
  async deploy(assemblyDir: string): Promise<{ stacks: Record<string, Record<string, string>> }> {
    const stacks = await this.deployer.deployAssembly(assemblyDir);
    this.timings.deployedAt = Date.now();
    return { stacks };
  }

  /** The outputs of every deployed stack, as `cdk deploy --outputs-file` writes them. */
  outputs(): Record<string, Record<string, string>> {
    return Object.fromEntries(this.deployer.stacks().map((s) => [s.stackName, Object.fromEntries(s.outputs.map((o) => [o.OutputKey, o.OutputValue]))]));
  }

  /** Writes {@link LocalCloud.outputs} to a file (`{"Stack": {"OutputKey": "value"}}`). */
  writeOutputs(file: string): void {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    writeFileSync(file, `${JSON.stringify(this.outputs(), null, 2)}\n`);
  }

  /** Counters of every service that exposes some. */
  stats(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const s of this.services) if (s.stats) out[s.name] = s.stats();
    out.dynamodb = { ...((out.dynamodb as object) ?? {}), requests: this.parts.dynamodb.dynamodb.counters() };
    out.lambda = { ...((out.lambda as object) ?? {}), mappings: this.parts.lambda.lambda.mappingStats() };
    out.faults = this.kernel.faults.stats();
    return out;
  }

  /** Zeroes the counters of {@link LocalCloud.stats}. */
  resetStats(): void {
    for (const s of this.services) s.resetStats?.();
    this.parts.dynamodb.dynamodb.resetCounters();
  }

  /** Stops the front, then every service (in reverse start order). Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.front.close();
    const errors: unknown[] = [];
    for (const s of [...this.services].reverse()) {
      try {
        await s.stop?.();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length) throw new AggregateError(errors, `stopping the local cloud failed in ${errors.length} service(s)`);
  }

  private async admin(req: RawRequest, route: string): Promise<RawResponse> {
    const key = `${req.method} ${route.replace(/\/+$/, '')}`;
    switch (key) {
      case 'GET health':
        return json(200, {
          status: 'ok',
          endpoint: this.endpoint,
          region: this.kernel.region,
          services: this.services.map((s) => s.name),
          stacks: this.deployer.stacks().map((s) => ({ stackName: s.stackName, status: s.status })),
          now: this.kernel.clock.now(),
          ...this.timings,
        });
      case 'GET clock':
        return json(200, { now: this.kernel.clock.now(), iso: this.kernel.clock.date().toISOString() });
      case 'POST clock/advance': {
        const { ms } = parseBody(req);
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new AwsError('ValidationException', 'body must be {"ms": <non-negative number>}');
        const now = await this.kernel.clock.advance(ms);
        return json(200, { now, iso: new Date(now).toISOString() });
      }
      case 'PUT faults': {
        const parsed = FaultPlan.safeParse(parseBody(req));
        if (!parsed.success) throw new AwsError('ValidationException', `invalid fault plan: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
        this.kernel.faults.load(parsed.data);
        return json(200, { rules: this.kernel.faults.stats() });
      }
      case 'GET faults':
        return json(200, { rules: this.kernel.faults.stats() });
      case 'DELETE faults':
        this.kernel.faults.clear();
        return json(200, { rules: [] });
      case 'GET stats':
        return json(200, this.stats());
      case 'POST stats/reset':
        this.resetStats();
        return json(200, {});
      default:
        throw new AwsError('UnknownOperationException', `the admin API has no route ${req.method} /_converge/${route}`, 404);
    }
  }
}
