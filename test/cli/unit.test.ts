/** Pure pieces of the CLI: formatting, argument validation, history and summary extraction. */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { clientConfig, isLoopback } from '../../cli/context.js';
import { isConnectionFailure, toCliError, UsageError } from '../../cli/errors.js';
import { duration, table } from '../../cli/format.js';
import { isExecutionArn, orderIdFromInput, parseTime, positiveInt, unwrapPayload } from '../../cli/util.js';
import { currentStep, parseStatusFilter } from '../../cli/commands/executions.js';
import { kindOf, outcomeOf, readableCause, trailFromHistory, trailFromRecords } from '../../cli/commands/saga.js';
import { progressFromHistory, runInput } from '../../cli/commands/reconcile.js';
import { compareSequence, executionOutcome, isCaughtUp, isDlqOutput, leafShards, summaryLeavesDrift } from '../../cli/commands/status.js';
import { openFromRows, relevantRuns } from '../../cli/commands/drift.js';
import { defaultActor, validateDecision } from '../../cli/commands/resolve.js';
import { checkBalances, checkStock, isSettled, planScenario, SCENARIOS, unmetExpectations } from '../../cli/commands/simulate.js';

const ev = (type: string, at: number, extra: Partial<HistoryEvent> = {}): HistoryEvent => ({ type: type as HistoryEvent['type'], timestamp: new Date(at), id: at, ...extra });
const entered = (name: string, at: number) => ev('TaskStateEntered', at, { stateEnteredEventDetails: { name } });
const exited = (name: string, at: number) => ev('TaskStateExited', at, { stateExitedEventDetails: { name } });

describe('format', () => {
  it('aligns columns ignoring colour codes', () => {
    const out = table(['a', 'bb'], [['\x1b[32mok\x1b[39m', 1], ['longer', undefined]]).split('\n');
    // eslint-disable-next-line no-control-regex -- strip ANSI colour codes
    expect(out[1]!.replace(/\x1b\[[0-9;]*m/g, '')).toBe('ok      1');
    expect(out[2]).toBe('longer');
  });
  it('formats durations', () => {
    expect(duration(1234)).toBe('1.2s');
    expect(duration(184_000)).toBe('3m04s');
    expect(duration(3_720_000)).toBe('1h02m');
  });
});

describe('arguments', () => {
  it('validates numbers, statuses and times', () => {
    expect(positiveInt('--count')('3')).toBe(3);
    expect(() => positiveInt('--count')('0')).toThrow(/positive integer/);
    expect(() => positiveInt('--count')('1.5')).toThrow();
    expect(parseStatusFilter('running')).toBe('RUNNING');
    expect(() => parseStatusFilter('DONE')).toThrow(UsageError);
    expect(parseTime('2026-11-27T08:00:00Z')?.toISOString()).toBe('2026-11-27T08:00:00.000Z');
    expect(parseTime('-2h', 10 * 3600_000)?.getTime()).toBe(8 * 3600_000);
    expect(parseTime('yesterday-ish')).toBeUndefined();
  });
  it('recognizes execution ARNs and orderIds in inputs', () => {
    expect(isExecutionArn('arn:aws:states:us-east-1:000000000000:execution:PlaceOrder:abc')).toBe(true);
    expect(isExecutionArn('o-1')).toBe(false);
    expect(orderIdFromInput({ detail: { orderId: 'o-1' } })).toBe('o-1');
    expect(orderIdFromInput({ event: { detail: { orderId: 'o-2' } } })).toBe('o-2');
    expect(unwrapPayload({ Payload: { a: 1 }, StatusCode: 200 })).toEqual({ a: 1 });
  });
  it('defaults region and test credentials only for a local endpoint', () => {
    expect(clientConfig({}, { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' })).toEqual({ endpoint: 'http://127.0.0.1:4566', region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    expect(clientConfig({ region: 'eu-west-1' }, { AWS_PROFILE: 'ops' })).toEqual({ region: 'eu-west-1' });
    expect(isLoopback('https://example.com')).toBe(false);
    expect(() => clientConfig({ endpoint: 'not a url' }, {})).toThrow(UsageError);
  });
  it('maps connection failures to exit 2', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(isConnectionFailure(refused)).toBe(true);
    expect(toCliError(refused, 'http://127.0.0.1:1')).toMatchObject({ name: 'ConnectionError', exitCode: 2 });
    expect(toCliError(new TypeError('boom'), undefined).exitCode).toBe(2);
  });
  it('validates a decision', () => {
    expect(() => validateDecision({ reason: '  ', actor: 'me' })).toThrow(UsageError);
    expect(defaultActor('alice', {})).toBe('alice');
    expect(defaultActor(undefined, { CONVERGE_ACTOR: 'bot', USER: 'u' })).toBe('bot');
  });
});

describe('executions and saga trails', () => {
  it('finds the current step in newest-first history', () => {
    expect(currentStep([ev('LambdaFunctionScheduled', 3), entered('ChargePayment', 2), entered('ReserveInventory', 1)])).toBe('ChargePayment');
    expect(currentStep([])).toBeUndefined();
  });
  it('classifies states from the saga definition', () => {
    expect(kindOf('ReserveInventory')).toBe('action');
    expect(kindOf('ReleaseInventory')).toBe('compensation');
    expect(kindOf('EscalateReleaseInventory')).toBe('escalation');
    expect(kindOf('StartSaga')).toBe('control');
  });
  it('builds a trail with retries, errors, causes and a waiting escalation', () => {
    const fail = (at: number, error: string, errorMessage: string) => ev('LambdaFunctionFailed', at, { lambdaFunctionFailedEventDetails: { error, cause: JSON.stringify({ errorType: error, errorMessage }) } });
    const ok = (at: number, output: unknown) => ev('LambdaFunctionSucceeded', at, { lambdaFunctionSucceededEventDetails: { output: JSON.stringify({ Payload: output, StatusCode: 200 }) } });
    const events = [
      entered('ChargePayment', 1000), ev('LambdaFunctionScheduled', 1001), fail(1100, 'PaymentDeclined', 'balance too low'), exited('ChargePayment', 1101),
      entered('ReleaseInventory', 1200), ev('LambdaFunctionScheduled', 1201), fail(1300, 'InjectedFault', 'down'), ev('LambdaFunctionScheduled', 2300), fail(2400, 'InjectedFault', 'down'), exited('ReleaseInventory', 2401),
      entered('CancelOrder', 2500), ev('LambdaFunctionScheduled', 2501), ok(2600, { compensation: 'CancelOrder', outcome: 'COMPENSATED' }), exited('CancelOrder', 2601),
      entered('EscalateReleaseInventory', 2700), ev('TaskScheduled', 2701), ev('TaskSubmitted', 2702),
    ];
    const trail = trailFromHistory(events, 'RUNNING');
    expect(trail.map((s) => [s.name, s.kind, s.outcome, s.attempts])).toEqual([
      ['ChargePayment', 'action', 'FAILED', 1],
      ['ReleaseInventory', 'compensation', 'FAILED', 2],
      ['CancelOrder', 'compensation', 'COMPENSATED', 1],
      ['EscalateReleaseInventory', 'escalation', 'WAITING', 1],
    ]);
    expect(trail[0]).toMatchObject({ error: 'PaymentDeclined', cause: 'balance too low', durationMs: 101 });
    expect(readableCause('plain text')).toBe('plain text');
  });
  it('tells the same story from the ledger and audit alone', () => {
    const header = {
      sagaId: 'order#o-1', sagaName: 'PlaceOrder', orderId: 'o-1', customerId: 'c', status: 'NEEDS_HUMAN' as const, executionArn: 'arn', startedAt: 't0', updatedAt: '2026-01-01T00:00:05.000Z',
      failure: { step: 'ChargePayment', failureClass: 'business' as const, error: 'PaymentDeclined', cause: 'low', plan: ['ReleaseInventory', 'CancelOrder'] },
      trail: [
        { name: 'CreateOrder', kind: 'action' as const, outcome: 'APPLIED', at: '2026-01-01T00:00:01.000Z', durationMs: 10 },
        { name: 'ReserveInventory', kind: 'action' as const, outcome: 'APPLIED', at: '2026-01-01T00:00:02.000Z', durationMs: 10 },
      ],
    };
    const audit = [
      { entityId: 'order#o-1', action: 'COMPENSATION_INTENT', actor: 'f', timestamp: '2026-01-01T00:00:03.000Z' },
      { entityId: 'order#o-1', action: 'COMPENSATION_FAILED', actor: 'f', timestamp: '2026-01-01T00:00:09.000Z', details: { compensation: 'ReleaseInventory', error: 'InjectedFault', cause: 'down' } },
      { entityId: 'order#o-1', action: 'OPERATOR_RETRY', actor: 'alice', reason: 'back up', timestamp: '2026-01-01T00:01:00.000Z', details: { compensation: 'ReleaseInventory' } },
    ];
    const trail = trailFromRecords(header, audit);
    expect(trail.map((s) => `${s.name}:${s.outcome}`)).toEqual(['CreateOrder:APPLIED', 'ReserveInventory:APPLIED', 'ChargePayment:FAILED', 'ReleaseInventory:FAILED', 'EscalateReleaseInventory:ESCALATED', 'DecideReleaseInventory:OPERATOR_RETRY']);
    expect(trail.at(-1)).toMatchObject({ actor: 'alice', cause: 'back up' });
    expect(outcomeOf(undefined, { status: 'FAILED', error: 'SagaCompensated' })).toBe('COMPENSATED');
    expect(outcomeOf(header, undefined)).toBe('NEEDS_HUMAN');
  });
});

describe('reconcile progress', () => {
  it('reads plan and compare outputs by shape', () => {
    const out = (o: unknown) => ev('LambdaFunctionSucceeded', 1, { lambdaFunctionSucceededEventDetails: { output: JSON.stringify(o) } });
    const stats = (compared: number, mismatch: number) => ({ compared, candidates: { MISSING_IN_REPLICA: 0, EXTRA_IN_REPLICA: 0, MISMATCH: mismatch } });
    const p = progressFromHistory([
      out({ runId: 'r', totalSegments: 3, work: [] }),
      out({ done: false, result: { segment: 0, stats: stats(50, 1) } }),
      out({ done: true, result: { segment: 0, stats: stats(100, 2) } }),
      out({ Payload: { done: true, result: { segment: 1, stats: stats(40, 0) } }, StatusCode: 200 }),
      entered('Recheck', 2),
    ]);
    expect(p).toEqual({ totalSegments: 3, segmentsDone: 2, compared: 140, discrepancies: 2, phase: 'Recheck' });
    expect(runInput({ mode: 'repair', strategy: 'full', segments: 4 })).toEqual({ mode: 'repair', strategy: 'full', segments: 4 });
  });
});

describe('status pieces', () => {
  it('decides lag from the newest record and the replica version', () => {
    expect(isCaughtUp('MODIFY', 3, { version: { N: '3' } })).toBe(true);
    expect(isCaughtUp('MODIFY', 4, { version: { N: '3' } })).toBe(false);
    expect(isCaughtUp('INSERT', 1, undefined)).toBe(false);
    expect(isCaughtUp('REMOVE', 2, undefined)).toBe(true);
    expect(isCaughtUp('REMOVE', 2, { version: { N: '2' }, deleted: { BOOL: true } })).toBe(true);
    expect(compareSequence('900', '1000')).toBeLessThan(0);
    expect(leafShards([{ ShardId: 'a', SequenceNumberRange: { StartingSequenceNumber: '1', EndingSequenceNumber: '5' } }, { ShardId: 'b', SequenceNumberRange: { StartingSequenceNumber: '6' } }]).map((s) => s.ShardId)).toEqual(['b']);
  });
  it('finds DLQ outputs and classifies outcomes', () => {
    expect(['SyncDeadLetterQueueUrl', 'ReplayDlqUrl', 'OrdersTableName'].filter(isDlqOutput)).toEqual(['SyncDeadLetterQueueUrl', 'ReplayDlqUrl']);
    expect(executionOutcome('FAILED', 'CompensationFailed')).toBe('COMPENSATION_FAILED');
    expect(summaryLeavesDrift({ escalated: 0, breakerTripped: false })).toBe(false);
    expect(summaryLeavesDrift({ escalated: 2 })).toBe(true);
  });
});

describe('drift', () => {
  it('keeps each entity newest row and drops closed ones', () => {
    const rows = [
      { entityId: 'order#a', runId: 'r1', lifecycle: 'DETECTED', at: '1', timestamp: '1' },
      { entityId: 'order#a', runId: 'r1', lifecycle: 'REPAIRED', at: '2', timestamp: '2' },
      { entityId: 'order#b', runId: 'r1', lifecycle: 'ESCALATED', at: '3', timestamp: '3', discrepancyType: 'MISMATCH' },
      { entityId: 'order#c', action: 'SYNC_APPLIED', at: '4' },
    ];
    expect(openFromRows(rows)).toEqual([{ runId: 'r1', entityId: 'order#b', type: 'MISMATCH', lifecycle: 'ESCALATED', since: '3', reason: undefined }]);
    expect(relevantRuns([{ status: 'RUNNING' }, { status: 'FAILED' }, { status: 'SUCCEEDED' }, { status: 'SUCCEEDED' }] as never).length).toBe(3);
  });
});

describe('simulate settling', () => {
  it('waits through COMPENSATION_FAILED on the way to NEEDS_HUMAN, and stops on it once the saga closed', () => {
    expect(isSettled({ status: 'COMPENSATION_FAILED' })).toBe(false);
    expect(isSettled({ status: 'COMPENSATION_FAILED', completedAt: '2026-11-27T10:00:00Z' })).toBe(true);
    expect(isSettled({ status: 'NEEDS_HUMAN' })).toBe(true);
    expect(isSettled({ status: 'COMPENSATING' })).toBe(false);
    expect(isSettled({ status: 'SUCCEEDED' })).toBe(true);
    expect(isSettled(undefined)).toBe(false);
  });
});

describe('simulate plans', () => {
  it('plans every scenario deterministically, with run-scoped keys', () => {
    for (const s of SCENARIOS) {
      const a = planScenario(s, { count: 4, seed: 7, tag: 't' });
      expect(planScenario(s, { count: 4, seed: 7, tag: 't' })).toEqual(a);
      expect(a.orders).toHaveLength(4);
      expect(Object.values(a.expected).reduce((n, v) => n + v, 0)).toBe(4);
      for (const o of a.orders) expect(o.orderId.startsWith('sim-t-')).toBe(true);
    }
    expect(planScenario('duplicate-storm', { count: 2, seed: 1, tag: 't' }).copies).toBe(3);
    expect(planScenario('compensation-failure', { count: 1, seed: 1, tag: 't' }).faults.rules[0]).toMatchObject({ service: 'states', state: 'ReleaseInventory' });
  });
  it('checks the invariants', () => {
    expect(checkStock([{ sku: 's', available: 10 }], { s: 7 }, { s: 3 }).ok).toBe(true);
    expect(checkStock([{ sku: 's', available: 10 }], { s: 6 }, { s: 3 }).ok).toBe(false);
    expect(checkBalances([{ customerId: 'c', balance: 100 }], { c: 60 }, { c: 40 }).ok).toBe(true);
    expect(unmetExpectations({ SUCCEEDED: 2 }, { SUCCEEDED: 1, COMPENSATED: 1 })).toEqual(['expected 2 SUCCEEDED, got 1']);
  });
});
