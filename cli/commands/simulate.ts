/**
 * `converge simulate <scenario>`: drives a named scenario against the LOCAL CLOUD ONLY. It seeds
 * Inventory and Wallets with run-scoped keys, installs a fault plan through the admin API,
 * publishes OrderPlaced events, waits for every saga to settle, and checks the invariants:
 * stock + active reservations = initial stock, balance + active charges = initial balance, and
 * OrdersReplica = Orders after quiescence. Exit 1 when an invariant or an expected outcome fails.
 *
 * It refuses any endpoint that does not answer `GET <endpoint>/_converge/health`, and refuses to
 * run with no endpoint at all (that would be AWS), before making a single AWS call.
 */
import { BatchWriteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { FaultPlan } from '../../local/core/faults.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { printJson, status, table } from '../format.js';
import { ledgerTable, readEffects, readHeader, sagaIdOf, type SagaHeader } from '../ledger.js';
import { sleep } from '../util.js';
import { seededRandom } from '../../local/core/faults.js';

/** The scenarios, by name. */
export const SCENARIOS = ['happy', 'stock-out', 'declined-payment', 'compensation-failure', 'duplicate-storm', 'replica-outage'] as const;
export type Scenario = (typeof SCENARIOS)[number];


/** One order the scenario places. */
export interface SimOrder {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: ReadonlyArray<{ sku: string; quantity: number }>;
  readonly amount: number;
}

/** Everything a scenario does, decided up front (pure, so it is unit-tested). */
export interface ScenarioPlan {
  readonly scenario: Scenario;
  readonly description: string;
  readonly inventory: ReadonlyArray<{ sku: string; available: number }>;
  readonly wallets: ReadonlyArray<{ customerId: string; balance: number }>;
  readonly orders: readonly SimOrder[];
  /** How many times each OrderPlaced is published. */
  readonly copies: number;
  readonly faults: FaultPlan;
  /** Saga outcomes (ledger statuses) the scenario must end with, by count. */
  readonly expected: Record<string, number>;
  /** Whether the replica is expected to lag while the faults are on. */
  readonly replicaOutage: boolean;
}

const RICH = 10_000_000;

/**
 * Plans a scenario. Keys are prefixed with `tag` (unique per run), so runs never collide and
 * the invariants can be checked over exactly this run's items.
 */
export function planScenario(scenario: Scenario, o: { count: number; seed: number; tag: string; replicaTable?: string }): ScenarioPlan {
  const random = seededRandom(o.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const p = `sim-${o.tag}`;
  const skus = [`${p}-sku-a`, `${p}-sku-b`, `${p}-sku-c`];
  const customer = (i: number) => `${p}-cust-${i}`;
  const orderId = (i: number) => `${p}-order-${i}`;
  const n = o.count;
  const idx = Array.from({ length: n }, (_, i) => i);
  const plenty = skus.map((sku) => ({ sku, available: n * 10 }));
  const rich = idx.map((i) => ({ customerId: customer(i), balance: RICH }));
  const order = (i: number, sku = skus[int(0, skus.length - 1)]!, quantity = int(1, 3)): SimOrder => ({ orderId: orderId(i), customerId: customer(i), items: [{ sku, quantity }], amount: int(100, 5000) });
  const none: FaultPlan = { seed: o.seed, rules: [] };
  switch (scenario) {
    case 'happy':
      return { scenario, description: `${n} orders with enough stock and money: every saga confirms`, inventory: plenty, wallets: rich, orders: idx.map((i) => order(i)), copies: 1, faults: none, expected: { SUCCEEDED: n }, replicaOutage: false };
    case 'stock-out': {
      const stock = Math.floor(n / 2);
      return {
        scenario,
        description: `${n} orders of 1 unit against ${stock} in stock: ${stock} confirm, ${n - stock} fail with InsufficientStock and compensate`,
        inventory: [{ sku: skus[0]!, available: stock }],
        wallets: rich,
        orders: idx.map((i) => order(i, skus[0], 1)),
        copies: 1,
        faults: none,
        expected: { SUCCEEDED: stock, COMPENSATED: n - stock },
        replicaOutage: false,
      };
    }
    case 'declined-payment': {
      const broke = idx.filter((i) => i % 2 === 1);
      return {
        scenario,
        description: `${n} orders, ${broke.length} from customers with an empty wallet: those fail with PaymentDeclined and compensate`,
        inventory: plenty,
        wallets: idx.map((i) => ({ customerId: customer(i), balance: i % 2 === 1 ? 0 : RICH })),
        orders: idx.map((i) => order(i)),
        copies: 1,
        faults: none,
        expected: { SUCCEEDED: n - broke.length, COMPENSATED: broke.length },
        replicaOutage: false,
      };
    }
    case 'compensation-failure':
      return {
        scenario,
        description: `${n} orders declined for payment while ReleaseInventory fails: every compensation escalates and waits for a human (converge resolve)`,
        inventory: plenty,
        wallets: idx.map((i) => ({ customerId: customer(i), balance: 0 })),
        orders: idx.map((i) => order(i)),
        copies: 1,
        faults: { seed: o.seed, rules: [{ id: 'release-inventory-down', service: 'states', state: 'ReleaseInventory', kind: 'error', errorName: 'InjectedFault', errorMessage: 'simulated: the inventory service is down' }] },
        expected: { NEEDS_HUMAN: n },
        replicaOutage: false,
      };
    case 'duplicate-storm':
      return { scenario, description: `${n} orders, each OrderPlaced published 3 times: one saga per order, nothing reserved or charged twice`, inventory: plenty, wallets: rich, orders: idx.map((i) => order(i)), copies: 3, faults: none, expected: { SUCCEEDED: n }, replicaOutage: false };
    case 'replica-outage':
      return {
        scenario,
        description: `${n} orders while writes to the replica fail: the sagas confirm, the stream sync retries, and the replica converges once the outage ends`,
        inventory: plenty,
        wallets: rich,
        orders: idx.map((i) => order(i)),
        copies: 1,
        faults: { seed: o.seed, rules: [{ id: 'replica-down', service: 'dynamodb', table: o.replicaTable ?? '*Replica*', operation: 'PutItem', kind: 'error', errorName: 'InjectedFault', errorMessage: 'simulated: the replica is unavailable', times: Math.max(2, n * 2) }] },
        expected: { SUCCEEDED: n },
        replicaOutage: true,
      };
  }
}

/** Ledger statuses a saga can stop in without an operator. */
const SETTLED = new Set(['SUCCEEDED', 'COMPENSATED', 'RESOLVED', 'COMPENSATION_FAILED', 'NEEDS_HUMAN']);

/**
 * Whether a saga's ledger header is where it will stay without an operator. COMPENSATION_FAILED
 * is also the moment between a compensation failing and its escalation reaching NEEDS_HUMAN; it
 * is final only once the saga closed (`completedAt`, set when an escalation timed out).
 */
export function isSettled(header: { readonly status: string; readonly completedAt?: string } | undefined): boolean {
  if (!header || !SETTLED.has(header.status)) return false;
  return header.status !== 'COMPENSATION_FAILED' || header.completedAt !== undefined;
}

/** One invariant's verdict. */
export interface InvariantCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** stock + active reservations = initial stock, per sku. */
export function checkStock(initial: ScenarioPlan['inventory'], now: Record<string, number>, reserved: Record<string, number>): InvariantCheck {
  const bad = initial.filter((s) => (now[s.sku] ?? 0) + (reserved[s.sku] ?? 0) !== s.available).map((s) => `${s.sku}: ${now[s.sku]} + ${reserved[s.sku] ?? 0} ≠ ${s.available}`);
  return { name: 'stock + active reservations = initial stock', ok: bad.length === 0, detail: bad.length ? bad.join('; ') : `${initial.length} sku(s) balance` };
}

/** balance + active charges = initial balance, per customer. */
export function checkBalances(initial: ScenarioPlan['wallets'], now: Record<string, number>, charged: Record<string, number>): InvariantCheck {
  const bad = initial.filter((w) => (now[w.customerId] ?? 0) + (charged[w.customerId] ?? 0) !== w.balance).map((w) => `${w.customerId}: ${now[w.customerId]} + ${charged[w.customerId] ?? 0} ≠ ${w.balance}`);
  return { name: 'balance + active charges = initial balance', ok: bad.length === 0, detail: bad.length ? bad.join('; ') : `${initial.length} wallet(s) balance` };
}

/** Which expected outcome counts were not met. */
export function unmetExpectations(expected: Record<string, number>, actual: Record<string, number>): string[] {
  return Object.entries(expected).filter(([k, v]) => (actual[k] ?? 0) !== v).map(([k, v]) => `expected ${v} ${k}, got ${actual[k] ?? 0}`);
}

/** Checks that `endpoint` is the Converge local cloud; refuses anything else, and no endpoint at all. */
export async function assertLocalCloud(endpoint: string | undefined): Promise<Record<string, unknown>> {
  const hint = 'simulate only runs against the local cloud: start it with npm start and pass --endpoint http://127.0.0.1:4566 (or set AWS_ENDPOINT_URL)';
  if (!endpoint) throw new UsageError('refusing to simulate: no endpoint is set, so this would run against AWS', hint);
  let res: Response;
  try {
    res = await fetch(new URL('/_converge/health', endpoint), { signal: AbortSignal.timeout(3000) });
  } catch (err) {
    throw new UsageError(`refusing to simulate: ${endpoint} did not answer /_converge/health (${(err as Error).message})`, hint);
  }
  const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (!res.ok || body?.status !== 'ok') throw new UsageError(`refusing to simulate: ${endpoint} is not the Converge local cloud (/_converge/health answered ${res.status})`, hint);
  return body;
}

/** Fault rule counters, as `GET /_converge/faults` reports them. */
export type FaultStats = Array<{ rule: string; matched: number; fired: number }>;

async function admin(endpoint: string, method: 'GET' | 'PUT' | 'DELETE', body?: unknown): Promise<FaultStats> {
  const res = await fetch(new URL('/_converge/faults', endpoint), { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new UsageError(`the local cloud refused the fault plan: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { rules?: FaultStats }).rules ?? [];
}

/** Options of the command. */
export interface SimulateOptions {
  readonly scenario: Scenario;
  readonly count: number;
  readonly seed: number;
  readonly timeoutSeconds: number;
  readonly keepFaults: boolean;
}

/** `--json` output of `converge simulate`. */
export interface SimulateReport {
  readonly scenario: Scenario;
  readonly description: string;
  readonly seed: number;
  readonly count: number;
  readonly tag: string;
  readonly endpoint: string;
  readonly faults: FaultPlan;
  readonly eventsPublished: number;
  readonly orders: ReadonlyArray<{ orderId: string; customerId: string; sagaId: string; status: string; executionArn?: string; failedStep?: string; error?: string }>;
  readonly outcomes: Record<string, number>;
  readonly expected: Record<string, number>;
  readonly unmet: string[];
  readonly invariants: InvariantCheck[];
  /** How often each fault rule matched and fired (proof the faults happened). */
  readonly faultsFired: FaultStats;
  /** replica-outage: whether one reconciliation was needed for the replica to converge. */
  readonly replica?: { readonly repairedByReconcile: boolean };
  readonly ok: boolean;
  readonly durationMs: number;
}

export async function simulateCommand(ctx: CliContext, opts: SimulateOptions): Promise<number> {
  const started = Date.now();
  const endpoint = ctx.endpoint;
  await assertLocalCloud(endpoint);
  const out = await ctx.outputs();
  const need = (k: string) => {
    if (!out[k]) throw new UsageError(`stack ${ctx.options.stack} has no output ${k}`, 'simulate needs the sagas deployed; redeploy the stack');
    return out[k]!;
  };
  const [inventoryTable, walletsTable, ordersTable, replicaTable, busName] = ['InventoryTableName', 'WalletsTableName', 'OrdersTableName', 'OrdersReplicaTableName', 'EventBusName'].map(need) as [string, string, string, string, string];
  need('PlaceOrderStateMachineArn');
  const ledger = await ledgerTable(ctx);
  if (!ledger) need('SagaLedgerTableName');
  const tag = `${opts.seed}-${Date.now().toString(36)}`;
  const plan = planScenario(opts.scenario, { count: opts.count, seed: opts.seed, tag, replicaTable });
  const log = (s: string) => (ctx.options.json ? undefined : console.error(s));
  log(`${opts.scenario}: ${plan.description}`);

  const batchPut = async (tableName: string, items: readonly Record<string, unknown>[]) => {
    for (let i = 0; i < items.length; i += 25) {
      let pending: any = { [tableName]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) };
      while (pending && Object.keys(pending).length) pending = (await ctx.documents.send(new BatchWriteCommand({ RequestItems: pending }))).UnprocessedItems;
    }
  };
  await batchPut(inventoryTable, plan.inventory);
  await batchPut(walletsTable, plan.wallets);

  let faultsFired: FaultStats = [];
  let publishedCount = 0;
  let repairedByReconcile = false;
  const faultsOn = plan.faults.rules.length > 0;
  if (faultsOn) await admin(endpoint!, 'PUT', plan.faults);
  let headers: Array<SagaHeader | undefined>;
  try {
    let published = 0;
    const entries = plan.orders.flatMap((o) =>
      Array.from({ length: plan.copies }, () => ({
        EventBusName: busName,
        Source: 'shop.orders',
        DetailType: 'OrderPlaced',
        Detail: JSON.stringify({ schemaVersion: 1, orderId: o.orderId, customerId: o.customerId, items: o.items, amount: o.amount, currency: 'EUR' }),
      })),
    );
    for (let i = 0; i < entries.length; i += 10) {
      const res = await ctx.events.send(new PutEventsCommand({ Entries: entries.slice(i, i + 10) }));
      if (res.FailedEntryCount) throw new UsageError(`PutEvents rejected ${res.FailedEntryCount} event(s): ${res.Entries?.find((e) => e.ErrorCode)?.ErrorMessage ?? ''}`);
      published += entries.slice(i, i + 10).length;
    }
    log(`published ${published} OrderPlaced event(s); waiting for the sagas`);
    publishedCount = published;

    const deadline = started + opts.timeoutSeconds * 1000;
    for (;;) {
      headers = await Promise.all(plan.orders.map((o) => readHeader(ctx, ledger!, sagaIdOf(o.orderId))));
      if (headers.every(isSettled)) break;
      if (Date.now() > deadline) break;
      await sleep(300);
    }
  } finally {
    if (faultsOn) faultsFired = await admin(endpoint!, 'GET').catch(() => []);
    if (faultsOn && !opts.keepFaults) await admin(endpoint!, 'DELETE');
  }

  // Quiescence: the stream sync catches up once the faults are gone.
  let replicaOk = await waitFor(() => replicaMatches(ctx, ordersTable, replicaTable, plan.orders), Math.min(30_000, Math.max(5000, started + opts.timeoutSeconds * 1000 - Date.now())));
  if (!replicaOk && plan.replicaOutage && out.ReconcileStateMachineArn) {
    // Records the sync gave up on (DLQ) are what reconciliation is for: one repair run converges the replica.
    log('replica still behind after the outage: running one reconciliation (repair)');
    repairedByReconcile = await runRepair(ctx, out.ReconcileStateMachineArn, started + opts.timeoutSeconds * 1000);
    replicaOk = await replicaMatches(ctx, ordersTable, replicaTable, plan.orders);
  }

  // Active reservations and charges: the ledger's APPLIED effect rows of this run's sagas.
  const reserved: Record<string, number> = {};
  const charged: Record<string, number> = {};
  for (const o of plan.orders) {
    for (const e of await readEffects(ctx, ledger!, sagaIdOf(o.orderId))) {
      if (e.state !== 'APPLIED') continue;
      if (e.step === 'ReserveInventory') for (const [sku, q] of Object.entries((e.details.items ?? {}) as Record<string, number>)) reserved[sku] = (reserved[sku] ?? 0) + Number(q);
      if (e.step === 'ChargePayment') charged[String(e.details.customerId)] = (charged[String(e.details.customerId)] ?? 0) + Number(e.details.amount);
    }
  }
  const stockNow: Record<string, number> = {};
  for (const s of plan.inventory) stockNow[s.sku] = Number((await ctx.documents.send(new GetCommand({ TableName: inventoryTable, Key: { sku: s.sku }, ConsistentRead: true }))).Item?.available ?? 0);
  const balanceNow: Record<string, number> = {};
  for (const w of plan.wallets) balanceNow[w.customerId] = Number((await ctx.documents.send(new GetCommand({ TableName: walletsTable, Key: { customerId: w.customerId }, ConsistentRead: true }))).Item?.balance ?? 0);

  const invariants: InvariantCheck[] = [
    checkStock(plan.inventory, stockNow, reserved),
    checkBalances(plan.wallets, balanceNow, charged),
    { name: 'OrdersReplica = Orders after quiescence', ok: replicaOk, detail: replicaOk ? `${plan.orders.length} order(s) match${repairedByReconcile ? ' (after one repair run)' : ''}` : 'the replica still differs from Orders; run converge reconcile --mode repair' },
  ];
  const orders = plan.orders.map((o, i) => {
    const h = headers![i];
    return { orderId: o.orderId, customerId: o.customerId, sagaId: sagaIdOf(o.orderId), status: h?.status ?? 'NOT_STARTED', executionArn: h?.executionArn, failedStep: h?.failure?.step, error: h?.failure?.error };
  });
  const outcomes: Record<string, number> = {};
  for (const o of orders) outcomes[o.status] = (outcomes[o.status] ?? 0) + 1;
  const unmet = unmetExpectations(plan.expected, outcomes);
  const report: SimulateReport = {
    scenario: opts.scenario,
    description: plan.description,
    seed: opts.seed,
    count: opts.count,
    tag,
    endpoint: endpoint!,
    faults: plan.faults,
    eventsPublished: publishedCount,
    orders,
    outcomes,
    expected: plan.expected,
    unmet,
    invariants,
    faultsFired,
    ...(plan.replicaOutage ? { replica: { repairedByReconcile } } : {}),
    ok: unmet.length === 0 && invariants.every((c) => c.ok),
    durationMs: Date.now() - started,
  };
  if (ctx.options.json) printJson(report);
  else {
    console.log(table(['order', 'status', 'failed step', 'error'], orders.map((o) => [o.orderId, status(o.status), o.failedStep, o.error])));
    console.log(`\noutcomes ${JSON.stringify(outcomes)}${unmet.length ? `  ${status('FAILED')}: ${unmet.join('; ')}` : ''}`);
    console.log(table(['invariant', 'holds', 'detail'], invariants.map((c) => [c.name, c.ok ? status('OK') : status('FAILED'), c.detail])));
    if (faultsFired.length) console.log(`\nfaults: ${faultsFired.map((f) => `${f.rule} fired ${f.fired}×`).join(', ')}`);
    if (outcomes.NEEDS_HUMAN) console.log(`\n${outcomes.NEEDS_HUMAN} saga(s) wait for a human: converge resolve <orderId> retry|skip|resolve --reason "…"`);
    console.log(`\n${report.ok ? status('OK') : status('FAILED')} in ${(report.durationMs / 1000).toFixed(1)}s; inspect one with: converge saga ${orders[orders.length - 1]?.orderId ?? ''}`);
  }
  return report.ok ? 0 : 1;
}

/** Whether every order's replica copy has the source's version and status (both absent counts). */
async function replicaMatches(ctx: CliContext, ordersTable: string, replicaTable: string, orders: readonly SimOrder[]): Promise<boolean> {
  for (const o of orders) {
    const [src, rep] = await Promise.all([
      ctx.documents.send(new GetCommand({ TableName: ordersTable, Key: { orderId: o.orderId }, ConsistentRead: true })),
      ctx.documents.send(new GetCommand({ TableName: replicaTable, Key: { orderId: o.orderId }, ConsistentRead: true })),
    ]);
    const a = src.Item;
    const b = rep.Item;
    if (!a && !b) continue;
    if (!a || !b || a.version !== b.version || a.status !== b.status) return false;
  }
  return true;
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(250);
  }
}

async function runRepair(ctx: CliContext, stateMachineArn: string, deadline: number): Promise<boolean> {
  const { executionArn } = await ctx.sfn.send(new StartExecutionCommand({ stateMachineArn, name: `converge-simulate-repair-${Date.now()}`, input: JSON.stringify({ mode: 'repair', strategy: 'full', settleSeconds: 0 }) }));
  while (Date.now() < deadline) {
    const d = await ctx.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING') return d.status === 'SUCCEEDED';
    await sleep(500);
  }
  return false;
}
