/**
 * PlaceOrder on the local cloud, end to end: OrderPlaced on the bus → rule → saga → Lambdas →
 * tables. Every generated step case (business, unknown, transient), duplicates at each moment,
 * malformed input and a redrive. Fault plans are global to a cloud, so cases run one at a time.
 */
import { ListExecutionsCommand, RedriveExecutionCommand, GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../support/cloud.js';
import { placeOrderSaga } from '../../statemachines/place-order.js';
import { checkCase, checkInvariants, generateCases } from '../statemachines/place-order.cases.js';
import { SagaDriver, fixture } from './saga.harness.js';

let t: TestCloud;
let drive: SagaDriver;

beforeAll(async () => {
  t = await startTestCloud();
  drive = new SagaDriver(t);
});
afterAll(async () => t?.stop());

const stepCases = generateCases().filter((c) => !c.escalation);

describe('PlaceOrder saga on the local cloud', () => {
  it('runs the happy path in at most 3 transitions beyond its steps', async () => {
    const f = fixture('e2e-happy');
    await drive.seed(f);
    await drive.publish(drive.order(f));
    const arn = await drive.executionOf(f.sagaId);
    const d = await drive.finished(arn);
    expect(d.status).toBe('SUCCEEDED');
    const history = await t.clients.sfn.send(new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 1000 }));
    const entered = (history.events ?? []).filter((e) => e.type?.endsWith('StateEntered')).length;
    console.log(`[figure] happy path: ${entered} state transitions for ${placeOrderSaga.steps.length} steps (overhead ${entered - placeOrderSaga.steps.length})`);
    expect(entered - placeOrderSaga.steps.length).toBeLessThanOrEqual(3);
    expect(checkInvariants(f.initial, await drive.holdings(f))).toEqual([]);
  });

  it.each(stepCases.map((c, i) => [c.title, c, i] as const))('%s', async (_title, c, i) => {
    const f = fixture(`e2e-step-${i}`);
    await drive.seed(f);
    await t.setFaults({ rules: c.faults.map((x) => ({ state: x.state, kind: 'error', errorName: x.errorName, times: x.times })) });
    try {
      await drive.publish(drive.order(f));
      const d = await drive.finished(await drive.executionOf(f.sagaId));
      const observed = await drive.observe(f, { status: d.status, error: d.error });
      expect(checkCase(c, observed)).toEqual([]);
      expect(checkInvariants(f.initial, await drive.holdings(f))).toEqual([]);
    } finally {
      await t.setFaults({ rules: [] });
    }
  });

  it.each(['after success', 'after compensation'] as const)('ends a duplicate OrderPlaced %s without any effect', async (moment) => {
    const f = fixture(`e2e-dup-${moment.replace(/\W/g, '')}`);
    await drive.seed(f);
    if (moment === 'after compensation') await t.setFaults({ rules: [{ state: 'ChargePayment', kind: 'error', errorName: 'PaymentDeclined', times: 1 }] });
    await drive.publish(drive.order(f));
    const first = await drive.finished(await drive.executionOf(f.sagaId));
    await t.setFaults({ rules: [] });
    expect(first.status).toBe(moment === 'after success' ? 'SUCCEEDED' : 'FAILED');
    const before = await drive.holdings(f);
    await drive.publish(drive.order(f));
    const row = await drive.until(async () => (await drive.audit(f.sagaId)).find((r) => r.action === 'SAGA_DUPLICATE_IGNORED'), 'the duplicate to be ignored');
    const dup = await drive.finished(row.details.executionArn);
    expect(dup.status).toBe('SUCCEEDED');
    expect(JSON.parse(dup.output!)).toMatchObject({ duplicate: true, sagaId: f.sagaId });
    expect(await drive.holdings(f)).toEqual(before);
    expect((await drive.header(f.sagaId)).status).toBe(moment === 'after success' ? 'SUCCEEDED' : 'COMPENSATED');
  });

  it('ends a duplicate OrderPlaced while the first saga is still running without any effect', async () => {
    const f = fixture('e2e-dup-running');
    await drive.seed(f);
    // The first saga waits on an escalation: it is RUNNING for as long as we like.
    await t.setFaults({ rules: [{ state: 'ConfirmOrder', kind: 'error', errorName: 'OrderNotPending', times: 1 }, { state: 'CancelShipment', kind: 'error', errorName: 'UnexpectedFailure', times: 4 }] });
    await drive.publish(drive.order(f));
    const firstArn = await drive.executionOf(f.sagaId);
    await drive.until(async () => (await drive.header(f.sagaId))?.status === 'NEEDS_HUMAN', 'the first saga to wait');
    const before = await drive.holdings(f);
    await drive.publish(drive.order(f));
    const row = await drive.until(async () => (await drive.audit(f.sagaId)).find((r) => r.action === 'SAGA_DUPLICATE_IGNORED'), 'the duplicate to be ignored');
    const dup = await drive.finished(row.details.executionArn);
    expect(dup.status).toBe('SUCCEEDED');
    expect(await drive.holdings(f)).toEqual(before);
    await drive.answer(f, 'CancelShipment', 'CreateShipment', 'retry');
    await t.setFaults({ rules: [] });
    expect((await drive.finished(firstArn)).error).toBe('CompensationFailed');
    expect(checkInvariants(f.initial, await drive.holdings(f))).toEqual([]);
  });

  it('rejects a malformed OrderPlaced: FAILED ContractViolation, an audit row, no ledger entry', async () => {
    const f = fixture('e2e-bad');
    await drive.publish({ ...drive.order(f), items: [] });
    const row = await drive.until(async () => (await drive.audit(f.sagaId)).find((r) => r.action === 'SAGA_INPUT_REJECTED'), 'the rejection audit row');
    const d = await drive.finished(row.details.executionArn);
    expect(d.status).toBe('FAILED');
    expect(d.error).toBe('ContractViolation');
    expect(await drive.header(f.sagaId)).toBeUndefined();
  });

  it('redrives a saga that failed on an infrastructure error, without applying anything twice', async () => {
    const f = fixture('e2e-redrive');
    await drive.seed(f);
    // StartSaga's retries exhausted: the execution fails with the transient error itself.
    await t.setFaults({ rules: [{ state: 'StartSaga', kind: 'error', errorName: 'ServiceUnavailable', times: placeOrderSaga.controlRetry.maxAttempts + 1 }] });
    await drive.publish(drive.order(f));
    const arn = await drive.until(async () => {
      const out = await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: t.outputs.PlaceOrderStateMachineArn, statusFilter: 'FAILED' }));
      const mine = [];
      for (const e of out.executions ?? []) if ((await drive.finished(e.executionArn!)).input?.includes(f.orderId)) mine.push(e.executionArn!);
      return mine[0];
    }, 'the execution to fail');
    await t.setFaults({ rules: [] });
    await t.clients.sfn.send(new RedriveExecutionCommand({ executionArn: arn }));
    const d = await drive.finished(arn);
    expect(d.status).toBe('SUCCEEDED');
    expect(checkInvariants(f.initial, await drive.holdings(f))).toEqual([]);
    expect((await drive.holdings(f)).effects.every((e) => e.state === 'APPLIED')).toBe(true);
  });
});
