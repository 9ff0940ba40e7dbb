/**
 * Time to first event (issue 3): a real `npm start` boot in a child process
 * (`local/main.ts --fresh --port 0 --state-dir <tmp>`: synthesize, start, deploy, serve), then
 * one PutItem on Orders, until a mapped Lambda has processed that stream record — observed by
 * its effect, the item in OrdersReplica. The clock starts at the end of synth, which the local
 * cloud serves at `/_converge/health` (`synthEndedAt`). With `freshSynth` off (--quick), the
 * boot deploys the existing cdk.out (`--no-synth`) and the clock starts at the spawn, which
 * over-counts by the process start-up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ROOT } from '../support/cloud.js';
import { orderItem } from '../support/items.js';
import { waitFor } from '../support/stats.js';

export interface BootFigures {
  skipped?: string;
  deployToFirstEventMs?: number;
  freshSynth: boolean;
  clockStartsAt: 'synthEndedAt' | 'spawn';
  endpointUpMs?: number;
  deployedMs?: number;
  putToFirstRecordMs?: number;
  mappedFunction?: string;
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

async function admin(endpoint: string, route: string): Promise<any> {
  const res = await fetch(`${endpoint}/_converge/${route}`);
  if (!res.ok) throw new Error(`GET /_converge/${route}: ${res.status}`);
  return res.json();
}

export async function bootBench(opts: { assemblyDir: string; freshSynth: boolean; cjsWorkaround?: boolean; log: (s: string) => void }): Promise<BootFigures> {
  const work = await mkdtemp(path.join(tmpdir(), 'converge-bench-boot-'));
  const stateDir = path.join(work, 'state');
  // Inside the repo, like npm start's own cdk.out: bundles resolve the SDK (which the Lambda runtime provides) from its node_modules.
  const appOut = opts.freshSynth ? path.join(ROOT, 'node_modules', '.cache', 'converge-bench', 'boot-cdk.out') : opts.assemblyDir;
  const args = ['--import', 'tsx', 'local/main.ts', '--fresh', '--port', '0', '--state-dir', stateDir, '--app-out', appOut, ...(opts.freshSynth ? [] : ['--no-synth'])];
  const base = { freshSynth: opts.freshSynth, clockStartsAt: (opts.freshSynth ? 'synthEndedAt' : 'spawn') as BootFigures['clockStartsAt'] };
  if (opts.cjsWorkaround && opts.freshSynth) {
    // --cjs-assets-workaround: the synth keeps files it doesn't own, so this marker makes Node load the CJS bundles as CJS.
    await mkdir(appOut, { recursive: true });
    await writeFile(path.join(appOut, 'package.json'), '{"type":"commonjs"}\n');
  }
  let child: ChildProcess | undefined;
  let client: DynamoDBClient | undefined;
  let output = '';
  try {
    const spawnedAt = Date.now();
    child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
    let exited: number | null | undefined;
    child.once('exit', (code) => (exited = code));
    // Up once main.ts prints the endpoint (after deploy and outputs.json).
    const endpoint = await waitFor(() => {
      if (exited !== undefined) throw new Error(`npm start exited with ${exited}: ${output.slice(-1500)}`);
      return /Converge local cloud\S* at (http:\/\/127\.0\.0\.1:\d+)/.exec(output.replace(ANSI, ''))?.[1];
    }, 180_000, 20);
    if (!endpoint) return { ...base, skipped: `npm start did not come up within 180 s: ${output.slice(-800)}` };
    const up = Date.now();
    const health = await admin(endpoint, 'health');
    const start = opts.freshSynth ? Number(health.synthEndedAt) : spawnedAt;
    if (!Number.isFinite(start)) return { ...base, skipped: '/_converge/health reports no synthEndedAt' };
    const outputs: Record<string, string> = Object.assign({}, ...Object.values(JSON.parse(await readFile(path.join(stateDir, 'outputs.json'), 'utf8')) as Record<string, Record<string, string>>));
    const mappings = ((await admin(endpoint, 'stats'))?.lambda?.mappings ?? []) as Array<{ functionName: string; recordsDelivered: number }>;
    if (mappings.length === 0) return { ...base, skipped: 'no stream event-source mapping is deployed' };
    if (!outputs.OrdersTableName || !outputs.OrdersReplicaTableName) return { ...base, skipped: 'the stack has no OrdersTableName/OrdersReplicaTableName output' };

    client = new DynamoDBClient({ endpoint, region: health.region ?? 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const put = Date.now();
    await client.send(new PutItemCommand({ TableName: outputs.OrdersTableName, Item: orderItem('bench-boot-0') }));
    // "Processed" = the handler's effect is visible; the mapping's delivery count also counts failed invocations.
    const processedAt = await waitFor(async () => {
      const r = await client!.send(new GetItemCommand({ TableName: outputs.OrdersReplicaTableName, Key: { orderId: { S: 'bench-boot-0' } }, ConsistentRead: true }));
      return r.Item ? Date.now() : undefined;
    }, 30_000, 5);
    const delivered = ((await admin(endpoint, 'stats'))?.lambda?.mappings ?? []).find((m: { recordsDelivered: number }) => m.recordsDelivered > 0);
    if (!processedAt) {
      return { ...base, skipped: delivered ? `${delivered.functionName} received the first record but the change never reached OrdersReplica within 30 s (the invocation failed)` : 'no mapped Lambda received the first stream record within 30 s' };
    }
    return {
      ...base,
      deployToFirstEventMs: processedAt - start,
      endpointUpMs: up - start,
      deployedMs: Number(health.deployedAt) - start,
      putToFirstRecordMs: processedAt - put,
      mappedFunction: delivered?.functionName,
    };
  } finally {
    client?.destroy();
    if (child && child.exitCode === null) {
      const c = child;
      const closed = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
      if (c.exitCode === null) c.kill('SIGKILL');
    }
    await rm(work, { recursive: true, force: true });
    if (opts.freshSynth) await rm(appOut, { recursive: true, force: true });
  }
}
