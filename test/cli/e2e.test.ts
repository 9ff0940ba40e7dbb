/**
 * `converge` end to end: every command runs as a spawned process against a running local cloud
 * (startTestCloud) and its `--json` output is parsed. Tests whose feature has not been deployed
 * yet (no stack output for it) are skipped, not faked.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchWriteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../support/cloud.js';
import { waitFor } from '../support/wait.js';
import { cliEnv, runCli, type CliRun } from './run-cli.js';

let cloud: TestCloud;
let env: NodeJS.ProcessEnv;
const cli = (...args: string[]) => runCli(['--json', ...args], env);
const hasSagas = () => Boolean(cloud.outputs.PlaceOrderStateMachineArn && cloud.outputs.SagaLedgerTableName);
// Started once the cloud is up and awaited by the saga tests: the sagas' Lambda cold starts
// then overlap with the other tests instead of adding to the file's run time.
let declined: Promise<CliRun> | undefined;
let escalated: Promise<CliRun> | undefined;

beforeAll(async () => {
  cloud = await startTestCloud();
  env = cliEnv(cloud.endpoint);
  if (hasSagas()) {
    declined = runCli(['--json', 'simulate', 'declined-payment', '--count', '4', '--seed', '7', '--timeout', '150'], env, 170_000);
    // After the first: a fault plan is cloud-wide, so two simulations must not overlap.
    escalated = declined.then(() => runCli(['--json', 'simulate', 'compensation-failure', '--count', '1', '--seed', '3', '--timeout', '150'], env, 170_000));
  }
});
afterAll(async () => {
  await cloud?.stop();
});

describe('usage and connection errors exit 2', () => {
  it('unknown command, bad option values, bad choices', async () => {
    const runs = await Promise.all([
      runCli(['bogus'], env),
      runCli(['--json', 'simulate', 'happy', '--count', '0'], env),
      runCli(['--json', 'resolve', 'o-1', 'maybe', '--reason', 'x'], env),
      runCli(['--json', 'executions', '--status', 'DONE'], env),
      runCli(['--json', 'replay', '--from', 'whenever', '--to', 'now', '--dry-run'], env),
    ]);
    for (const r of runs) expect(r.code, r.stderr).toBe(2);
    expect(runs[1]!.json.error.message).toMatch(/positive integer/);
    expect(runs[3]!.stderr).toMatch(/unknown status DONE/);
  });

  it('an endpoint that is down is a connection error', async () => {
    const r = await runCli(['--json', 'status'], cliEnv('http://127.0.0.1:9'));
    expect(r.code).toBe(2);
    expect(r.json.error.type).toBe('ConnectionError');
  });

  it('a missing stack is a usage error with a hint', async () => {
    const r = await runCli(['--json', '--stack', 'NoSuchStack', 'drift'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/NoSuchStack was not found[\s\S]*hint:/);
  });
});

describe('simulate refuses anything but the local cloud', () => {
  let server: Server;
  let fake: string;
  beforeAll(async () => {
    // Answers like an AWS endpoint would: no /_converge/health.
    server = createServer((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not found"}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    fake = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('refuses when no endpoint is set (that would be AWS)', async () => {
    const r = await runCli(['--json', 'simulate', 'happy'], cliEnv(undefined));
    expect(r.code).toBe(2);
    expect(r.json.error.message).toMatch(/no endpoint is set/);
  });

  it('refuses an endpoint that is not the local cloud', async () => {
    const r = await runCli(['--json', 'simulate', 'happy'], cliEnv(fake));
    expect(r.code).toBe(2);
    expect(r.json.error.message).toMatch(/not the Converge local cloud/);
  });
});

describe('read-only commands against the deployed stack', () => {
  it('status reports DLQ depths, stream lag and sections as JSON', async () => {
    const orders = cloud.outputs.OrdersTableName!;
    await cloud.clients.documents.send(new PutCommand({ TableName: orders, Item: { orderId: 'cli-status-1', version: 1, status: 'PENDING', customerId: 'c', items: [], amount: 1, updatedAt: new Date().toISOString() } }));
    await waitFor(async () => (await cloud.clients.documents.send(new GetCommand({ TableName: cloud.outputs.OrdersReplicaTableName!, Key: { orderId: 'cli-status-1' } }))).Item, { timeoutMs: 20_000, message: 'the replica to get the order' });
    const r = await cli('status');
    expect([0, 1]).toContain(r.code);
    expect(r.json.deadLetterQueues.map((q: { output: string }) => q.output)).toContain('SyncDeadLetterQueueUrl');
    // Simulations run alongside, so the newest record may be theirs; lag is 0 exactly when caught up.
    expect(r.json.streamLag.newestRecord.key.orderId).toEqual(expect.any(String));
    expect(r.json.streamLag.caughtUp ? r.json.streamLag.lagSeconds === 0 : r.json.streamLag.lagSeconds >= 0).toBe(true);
    expect(r.code).toBe(r.json.problems.length ? 1 : 0);
  });

  it('audit and drift answer with JSON', async () => {
    const audit = await cli('audit', 'order#nobody');
    expect(audit.code).toBe(0);
    expect(audit.json).toEqual({ entityId: 'order#nobody', rows: [] });
    const drift = await cli('drift');
    expect(drift.code).toBe(drift.json.open.length ? 1 : 0);
  });

  it('replay: dry run lists the plan; a real replay twice replays once', async () => {
    const from = new Date(Date.now() - 3600_000).toISOString();
    const to = new Date(Date.now() - 1800_000).toISOString();
    const dry = await cli('replay', '--from', from, '--to', to, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json).toMatchObject({ dryRun: true, archive: cloud.outputs.EventArchiveName, from, to });
    const first = await cli('--yes', 'replay', '--from', from, '--to', to, '--timeout', '20');
    expect(first.code, first.stderr).toBe(0);
    expect(first.json).toMatchObject({ state: 'COMPLETED', alreadyStarted: false });
    const second = await cli('--yes', 'replay', '--from', from, '--to', to, '--timeout', '20');
    expect(second.json).toMatchObject({ replayName: first.json.replayName, alreadyStarted: true });
  });

  it('replay without --yes and without a TTY refuses', async () => {
    const r = await cli('replay', '--from', '-2h', '--to', '-1h');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
  });
});

describe('sagas: simulate, executions, saga, resolve', () => {
  it('simulate declined-payment produces sagas that executions and saga show', async (t) => {
    if (!declined) return t.skip();
    const sim = await declined;
    expect(sim.code, `${sim.stderr}\n${sim.stdout}`).toBe(0);
    expect(sim.json.outcomes).toEqual({ SUCCEEDED: 2, COMPENSATED: 2 });
    expect(sim.json.invariants.every((c: { ok: boolean }) => c.ok)).toBe(true);

    const list = await cli('executions', '--limit', '20');
    expect(list.code).toBe(0);
    const ours = list.json.executions.filter((e: { orderId?: string }) => sim.json.orders.some((o: { orderId: string }) => o.orderId === e.orderId));
    expect(ours).toHaveLength(4);
    expect(ours.map((e: { status: string }) => e.status).sort()).toEqual(['FAILED', 'FAILED', 'SUCCEEDED', 'SUCCEEDED']);

    const compensated = sim.json.orders.find((o: { status: string }) => o.status === 'COMPENSATED');
    const saga = await cli('saga', compensated.orderId);
    expect(saga.code).toBe(1);
    expect(saga.json).toMatchObject({ orderId: compensated.orderId, outcome: 'COMPENSATED', source: 'history' });
    const steps = saga.json.steps.map((s: { name: string; kind: string; outcome: string }) => `${s.kind}:${s.name}:${s.outcome}`);
    expect(steps).toContain('action:ChargePayment:FAILED');
    expect(saga.json.steps.find((s: { name: string }) => s.name === 'ChargePayment')).toMatchObject({ error: 'PaymentDeclined' });
    expect(steps.filter((s: string) => s.startsWith('compensation:'))).toEqual(expect.arrayContaining([expect.stringMatching(/^compensation:ReleaseInventory:/), expect.stringMatching(/^compensation:CancelOrder:/)]));

    const byArn = await cli('saga', compensated.executionArn);
    expect(byArn.json.orderId).toBe(compensated.orderId);
  });

  it('resolve unblocks an escalated saga, and a second resolve finds nothing waiting', async (t) => {
    if (!escalated) return t.skip();
    const sim = await escalated;
    expect(sim.code, `${sim.stderr}\n${sim.stdout}`).toBe(0);
    const order = sim.json.orders[0];
    expect(order.status).toBe('NEEDS_HUMAN');

    const status = await cli('status');
    expect(status.code).toBe(1);
    expect(status.json.escalations.map((e: { orderId: string }) => e.orderId)).toContain(order.orderId);

    const noYes = await cli('resolve', order.orderId, 'resolve', '--reason', 'released by hand');
    expect(noYes.code).toBe(2);

    const r = await cli('--yes', 'resolve', order.orderId, 'resolve', '--reason', 'released the stock by hand, OPS-1', '--actor', 'alice');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ answered: true, statusBefore: 'NEEDS_HUMAN', actor: 'alice' });
    expect(r.json.statusAfter).not.toBe('NEEDS_HUMAN');

    const again = await cli('--yes', 'resolve', order.orderId, 'resolve', '--reason', 'again');
    expect(again.code).toBe(0);
    expect(again.json.answered).toBe(false);

    const audit = await cli('audit', order.orderId);
    expect(audit.json.rows.filter((row: { action: string; actor: string }) => row.action === 'OPERATOR_DECISION' && row.actor === 'alice')).toHaveLength(1);
    const saga = await waitFor(async () => {
      const s = await cli('saga', order.orderId);
      return s.json.execution?.status !== 'RUNNING' ? s : undefined;
    }, { timeoutMs: 30_000, message: 'the resolved saga to finish' });
    expect(saga.json.outcome).toBe('RESOLVED');
  });
});

describe('reconcile', () => {
  it('repairs tampering: exit 1 before the repair, 0 after', async (t) => {
    if (!cloud.outputs.ReconcileStateMachineArn) return t.skip();
    const { documents } = cloud.clients;
    const orders = cloud.outputs.OrdersTableName!;
    const replica = cloud.outputs.OrdersReplicaTableName!;
    // Enough orders that one tampered item stays under the circuit breaker's drift threshold (5%).
    const ids = Array.from({ length: 40 }, (_, i) => `cli-rec-${i}`);
    for (let i = 0; i < ids.length; i += 25) {
      await documents.send(new BatchWriteCommand({ RequestItems: { [orders]: ids.slice(i, i + 25).map((orderId) => ({ PutRequest: { Item: { orderId, version: 1, status: 'PENDING', customerId: 'c', items: [], amount: 10, updatedAt: new Date().toISOString() } } })) } }));
    }
    await waitFor(async () => {
      const got = await Promise.all(ids.map((orderId) => documents.send(new GetCommand({ TableName: replica, Key: { orderId } }))));
      return got.every((g) => g.Item);
    }, { timeoutMs: 30_000, message: 'the replica to get the orders' });
    // Tamper with the read model behind the sync's back.
    await documents.send(new PutCommand({ TableName: replica, Item: { orderId: 'cli-rec-1', version: 1, status: 'CONFIRMED', customerId: 'c', items: [], amount: 99_999, updatedAt: new Date().toISOString() } }));

    const report = await runCli(['--json', 'reconcile', '--mode', 'report', '--settle-seconds', '0', '--timeout', '60'], env, 90_000);
    expect(report.code, report.stderr).toBe(1);
    expect(report.json).toMatchObject({ status: 'SUCCEEDED', driftRemains: true });
    expect(report.json.progress.compared).toBeGreaterThan(0);
    expect((await cli('drift')).code).toBe(1);

    const noYes = await cli('reconcile', '--mode', 'repair');
    expect(noYes.code).toBe(2);

    const repair = await runCli(['--json', '--yes', 'reconcile', '--mode', 'repair', '--settle-seconds', '0', '--timeout', '60'], env, 90_000);
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.json.summary.repaired).toBeGreaterThanOrEqual(1);
    expect((await documents.send(new GetCommand({ TableName: replica, Key: { orderId: 'cli-rec-1' } }))).Item).toMatchObject({ amount: 10, status: 'PENDING' });

    // Idempotent: a second repair finds nothing of ours left to do.
    const again = await runCli(['--json', '--yes', 'reconcile', '--mode', 'repair', '--settle-seconds', '0', '--timeout', '60'], env, 90_000);
    expect(again.code, again.stderr).toBe(0);
    expect((await cli('drift')).code).toBe(0);
  });
});
