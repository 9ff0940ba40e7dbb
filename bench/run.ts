/**
 * `npm run bench [-- --quick] [--out FILE] [--cpu-prof-dir DIR]`: runs every benchmark on an
 * in-process local cloud and writes the figures, each a ratio or count measured in this run,
 * to `bench/results.json` (or `--out`). See bench/README.md for what each figure means.
 *
 * A benchmark whose feature is not deployed is skipped loudly: its keys are `null` and
 * `skipped[key]` says why. Nothing here asserts a timing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootBench } from './benches/boot.js';
import { bareDynalitePutRate, createRawTable, medianPutRate, putRate } from './benches/raw.js';
import { reconcileBench, reconcileUnavailable } from './benches/reconcile.js';
import { sagaBench, sagaUnavailable } from './benches/saga.js';
import { syncBench, syncUnavailable } from './benches/sync.js';
import { costLine, PRICES, type CostLine } from './cost.js';
import { RESULT_KEYS, TARGETS, type ResultKey } from './keys.js';
import { ensureAssembly, ROOT, startBenchCloud, type BenchCloud } from './support/cloud.js';
import { round } from './support/stats.js';

// Function logs would bury the report; CONVERGE_LAMBDA_LOGS=1 shows them.
process.env.CONVERGE_LAMBDA_LOGS ??= '0';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const option = (name: string): string | undefined => {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return argv[i]!.includes('=') ? argv[i]!.slice(argv[i]!.indexOf('=') + 1) : argv[i + 1];
};
if (flag('--help')) {
  console.log('usage: npm run bench [-- --quick] [--out FILE] [--assembly DIR] [--cjs-assets-workaround] [--only boot,raw,reconcile,sync,saga]');
  process.exit(0);
}
const quick = flag('--quick');
const out = path.resolve(option('--out') ?? path.join(ROOT, 'bench', 'results.json'));
const only = option('--only')?.split(',');
const enabled = (phase: string) => !only || only.includes(phase);

/** Sizes: the full run fits 10 minutes on 2 cores; --quick is a smoke check under a minute. */
const SIZES = quick
  ? { rawPuts: 300, rawRounds: 1, putConcurrency: 32, syncChanges: 200, syncWarmUp: 50, lagSamples: 20, lagPerSecond: 20, sagas: 4, sagaConcurrency: 4, reconcileItems: 2_000, driftItems: 6, scanSegments: 4, freshSynthForBoot: false }
  : { rawPuts: 3_000, rawRounds: 3, putConcurrency: 32, syncChanges: 2_000, syncWarmUp: 1_000, lagSamples: 200, lagPerSecond: 25, sagas: 40, sagaConcurrency: 8, reconcileItems: 100_000, driftItems: 100, scanSegments: 4, freshSynthForBoot: true };

const results = Object.fromEntries(RESULT_KEYS.map((k) => [k, null])) as Record<ResultKey, number | null>;
const skipped: Partial<Record<ResultKey, string>> = {};
const details: Record<string, unknown> = {};
const startedAt = Date.now();
const log = (line: string) => console.log(`[bench +${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${line}`);

function set(key: ResultKey, value: number | undefined): void {
  if (value === undefined || !Number.isFinite(value)) {
    skipped[key] ??= 'not measured (no finite value)';
    results[key] = null;
    return;
  }
  results[key] = value;
  delete skipped[key];
}

function skip(keys: readonly ResultKey[], why: string): void {
  const reason = why.length > 600 ? `${why.slice(0, 600)}…` : why;
  console.log(`\n*** SKIPPED ${keys.join(', ')}: ${reason}\n`);
  for (const k of keys) {
    results[k] = null;
    skipped[k] = reason;
  }
}

/** Runs one phase; a failure skips its keys loudly with the error, and the bench goes on. */
async function phase(name: string, keys: readonly ResultKey[], fn: () => Promise<void>): Promise<void> {
  if (!enabled(name)) {
    skip(keys, `phase ${name} not selected (--only)`);
    return;
  }
  const t = Date.now();
  log(`${name}: start`);
  try {
    await fn();
  } catch (err) {
    console.error(err);
    skip(keys.filter((k) => results[k] === null), `${name} failed: ${(err as Error).message.split('\n')[0]}`);
  }
  log(`${name}: done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

const SYNC_KEYS: ResultKey[] = ['writesPerChange', 'syncThroughputRatio', 'syncedChangesPerSecond', 'syncBacklogDrainRatio', 'lagP50Ms', 'lagP99Ms', 'costPerMillionSyncedChangesUsd'];
const SAGA_KEYS: ResultKey[] = ['extraTransitionsPerSaga', 'sagaSteps', 'sagaTransitionsHappyPath', 'sagaLatencyP50Ms', 'sagaLatencyP99Ms', 'costPerMillionSagasUsd'];
const RECONCILE_KEYS: ResultKey[] = ['digestReadRatio', 'fullScanRateRatio', 'reconcileItems', 'reconcileDriftItems', 'fullModeItemsRead', 'digestModeItemsRead', 'fullComparedPerSecond', 'fullComparedItemsPerSecond', 'rawParallelScanItemsPerSecond', 'rcuPerComparedItem', 'costPerFullReconcile100MItemsUsd'];
const RAW_PUT_KEYS: ResultKey[] = ['streamFrontOverheadRatio', 'rawFrontPutPerSecond', 'rawStreamedFrontPutPerSecond', 'bareDynalitePutPerSecond'];

const costs: CostLine[] = [];

async function main(): Promise<void> {
  log(`mode ${quick ? 'quick' : 'full'}; node ${process.version}; ${os.cpus().length} cores; results to ${path.relative(process.cwd(), out) || out}`);
  const given = option('--assembly');
  const assemblyDir = given ? path.resolve(given) : await ensureAssembly(log);
  if (given) log(`using the assembly at ${assemblyDir} (--assembly)`);

  await phase('boot', ['deployToFirstEventMs'], async () => {
    const boot = await bootBench({ assemblyDir, freshSynth: SIZES.freshSynthForBoot, cjsWorkaround: flag('--cjs-assets-workaround'), log });
    details.boot = boot;
    if (boot.skipped) skip(['deployToFirstEventMs'], boot.skipped);
    else set('deployToFirstEventMs', boot.deployToFirstEventMs);
  });

  log('starting the bench cloud and deploying cdk.out');
  const b: BenchCloud = await startBenchCloud(assemblyDir);
  log(`local cloud at ${b.cloud.endpoint}, stacks deployed`);
  try {
    await phase('reconcile', RECONCILE_KEYS, async () => {
      const why = await reconcileUnavailable(b);
      if (why) return skip(RECONCILE_KEYS, `reconciliation is not deployed: ${why}`);
      const r = await reconcileBench(b, { items: SIZES.reconcileItems, drift: SIZES.driftItems, segments: SIZES.scanSegments, log });
      details.reconcile = r;
      set('reconcileItems', r.items);
      set('reconcileDriftItems', r.drift);
      set('rawParallelScanItemsPerSecond', r.rawScanItemsPerSecond);
      if (r.full) {
        set('fullModeItemsRead', r.full.itemsRead);
        set('fullComparedPerSecond', r.full.comparedPerSecond);
        // Items on both sides per second against items on both sides per second: a key compared is
        // two items read, as a key scanned in both tables is two items in the raw rate.
        set('fullComparedItemsPerSecond', r.full.comparedItemsPerSecond);
        set('fullScanRateRatio', round(r.full.comparedItemsPerSecond / r.rawScanItemsPerSecond));
        set('rcuPerComparedItem', r.full.rcuPerComparedItem);
        costs.push(costLine('per full reconciliation of 100M items', r.full.usagePerItem, 100e6, r.full.costBasis));
        set('costPerFullReconcile100MItemsUsd', round(costs.at(-1)!.total, 2));
      } else skip(['fullModeItemsRead', 'fullComparedPerSecond', 'fullComparedItemsPerSecond', 'fullScanRateRatio', 'rcuPerComparedItem', 'costPerFullReconcile100MItemsUsd', 'digestReadRatio'], r.fullSkipped ?? 'full mode did not run');
      if (r.digest && r.full) {
        set('digestModeItemsRead', r.digest.itemsRead);
        set('digestReadRatio', round(r.digest.itemsRead / r.full.itemsRead, 5));
      } else skip(['digestModeItemsRead', 'digestReadRatio'], r.digestSkipped ?? 'digest mode did not run');
    });

    // The raw PutItem baseline runs after the reconcile seed, right before the sync phase it
    // normalizes: both then see the same store (100k+ items per table). Measured on the empty
    // store first, the baseline was ~11 % faster than the store sync then ran against.
    await phase('raw', RAW_PUT_KEYS, async () => {
      const bare = await bareDynalitePutRate(SIZES.rawPuts, SIZES.putConcurrency);
      await createRawTable(b.clients.dynamodb, 'bench-raw-plain', false);
      await createRawTable(b.clients.dynamodb, 'bench-raw-streamed', true);
      // The baseline of syncThroughputRatio: the median of several rounds, a single short round
      // varies by a third from run to run on this machine.
      const plainRounds = await medianPutRate(b.clients.dynamodb, 'bench-raw-plain', SIZES.rawPuts, SIZES.putConcurrency, SIZES.rawRounds);
      const plain = plainRounds.median;
      const streamed = await putRate(b.clients.dynamodb, 'bench-raw-streamed', SIZES.rawPuts, SIZES.putConcurrency);
      set('bareDynalitePutPerSecond', round(bare, 1));
      set('rawFrontPutPerSecond', round(plain, 1));
      set('rawStreamedFrontPutPerSecond', round(streamed, 1));
      set('streamFrontOverheadRatio', round(streamed / bare));
      details.raw = { puts: SIZES.rawPuts, concurrency: SIZES.putConcurrency, plainRounds: plainRounds.rounds, baseline: 'median of the plain rounds' };
    });

    await phase('sync', SYNC_KEYS, async () => {
      const why = await syncUnavailable(b, quick ? 15_000 : 30_000);
      if (why) return skip(SYNC_KEYS, `stream sync is not deployed: ${why}`);
      const s = await syncBench(b, { changes: SIZES.syncChanges, warmUp: SIZES.syncWarmUp, concurrency: SIZES.putConcurrency, lagSamples: SIZES.lagSamples, lagPerSecond: SIZES.lagPerSecond, log });
      details.sync = s;
      set('writesPerChange', s.writesPerChange);
      set('syncedChangesPerSecond', s.syncedChangesPerSecond);
      set('lagP50Ms', s.lagP50Ms);
      set('lagP99Ms', s.lagP99Ms);
      if (results.rawFrontPutPerSecond === null) skip(['syncThroughputRatio', 'syncBacklogDrainRatio'], 'no raw PutItem baseline (the raw phase did not run)');
      else {
        set('syncThroughputRatio', round(s.syncedChangesPerSecond / (results.rawFrontPutPerSecond / s.writesPerChange)));
        set('syncBacklogDrainRatio', round(s.backlogDrainChangesPerSecond / (results.rawFrontPutPerSecond / s.writesPerChange)));
      }
      costs.push(costLine('per million synced changes', s.usagePerChange, 1e6, s.costBasis));
      set('costPerMillionSyncedChangesUsd', round(costs.at(-1)!.total, 2));
    });

    await phase('saga', SAGA_KEYS, async () => {
      const why = sagaUnavailable(b);
      if (why) return skip(SAGA_KEYS, `the PlaceOrder saga is not deployed: ${why}`);
      const s = await sagaBench(b, { sagas: SIZES.sagas, concurrency: SIZES.sagaConcurrency, log });
      details.saga = s;
      set('sagaSteps', s.steps);
      set('sagaTransitionsHappyPath', s.transitionsHappyPath);
      set('extraTransitionsPerSaga', s.transitionsHappyPath - s.steps);
      set('sagaLatencyP50Ms', s.latencyP50Ms);
      set('sagaLatencyP99Ms', s.latencyP99Ms);
      costs.push(costLine('per million sagas (happy path)', s.usagePerSaga, 1e6, s.costBasis));
      set('costPerMillionSagasUsd', round(costs.at(-1)!.total, 2));
    });

  } finally {
    await b.stop().catch((err) => console.error('stopping the bench cloud failed:', err));
  }
}

function verdict(key: ResultKey): string {
  const t = TARGETS[key];
  const v = results[key];
  if (!t) return '';
  if (v === null) return 'SKIPPED';
  const ok = t.op === '<=' ? v <= t.value : t.op === '>=' ? v >= t.value : v < t.value;
  return `${ok ? 'met' : 'MISSED'} (${t.op} ${t.value})`;
}

function printTable(): void {
  const rows = RESULT_KEYS.map((k) => [k, results[k] === null ? 'null' : String(results[k]), verdict(k), (skipped[k] ?? '').replace(/\s+/g, ' ').slice(0, 160)]);
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log('\n figure'.padEnd(w[0]! + 2) + ' | value'.padEnd(w[1]! + 3) + ' | target');
  console.log('-'.repeat(w[0]! + w[1]! + w[2]! + 12));
  for (const r of rows) console.log(` ${r[0]!.padEnd(w[0]!)} | ${r[1]!.padStart(w[1]!)} | ${r[2]!.padEnd(w[2]!)}${r[3] ? ` | ${r[3]}` : ''}`);
  if (costs.length) {
    console.log('\nAWS on-demand cost model (us-east-1, no free tier):');
    const usd = (n: number) => `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`;
    console.log(' line                                     | DynamoDB  | Lambda    | StepFns   | EventBr.  | total');
    for (const c of costs) console.log(` ${c.label.padEnd(40)} | ${usd(c.dynamodb).padStart(9)} | ${usd(c.lambda).padStart(9)} | ${usd(c.stepFunctions).padStart(9)} | ${usd(c.eventBridge).padStart(9)} | ${usd(c.total)}`);
    console.log(' prices:');
    for (const [k, p] of Object.entries(PRICES)) console.log(`  ${k}: $${p.usd} per ${p.per} — ${p.source} (read ${p.read})`);
  }
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  console.error('the bench failed:', err);
  for (const k of RESULT_KEYS) if (results[k] === null && !skipped[k]) skipped[k] = `bench aborted: ${(err as Error).message.split('\n')[0]}`;
  exitCode = 1;
}
for (const k of RESULT_KEYS) if (results[k] === null && !skipped[k]) skipped[k] = 'not measured';
const durationMs = Date.now() - startedAt;
printTable();
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ generatedAt: new Date().toISOString(), mode: quick ? 'quick' : 'full', durationMs, argv, assembly: option('--assembly') ?? 'cdk.out', machine: { node: process.version, cores: os.cpus().length, platform: process.platform }, ...results, skipped, targets: TARGETS, sizes: SIZES, costs, prices: PRICES, details }, null, 2)}\n`,
);
log(`wrote ${out} (${(durationMs / 1000).toFixed(1)} s)`);
process.exit(exitCode);
