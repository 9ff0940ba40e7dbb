/**
 * PlaceOrder escalations on the local cloud: for every compensation (generated from the step
 * list), a failure after its retries, then each operator decision and the timeout, answered the
 * way `converge resolve` does (SendTaskSuccess with the token stored in the ledger).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../support/cloud.js';
import { checkCase, checkInvariants, generateCases } from '../statemachines/place-order.cases.js';
import { SagaDriver, fixture } from './saga.harness.js';

let t: TestCloud;
let drive: SagaDriver;

beforeAll(async () => {
  t = await startTestCloud();
  drive = new SagaDriver(t);
});
afterAll(async () => t?.stop());

const cases = generateCases().filter((c) => c.escalation);

describe('PlaceOrder escalations on the local cloud', () => {
  it.each(cases.map((c, i) => [c.title, c, i] as const))('%s', async (_title, c, i) => {
    const f = fixture(`e2e-esc-${i}`);
    await drive.seed(f);
    await t.setFaults({ rules: c.faults.map((x) => ({ state: x.state, kind: 'error', errorName: x.errorName, times: x.times })) });
    try {
      await drive.publish(drive.order(f));
      const arn = await drive.executionOf(f.sagaId);
      const { compensation, forStep, decision } = c.escalation!;
      await drive.answer(f, compensation, forStep, decision);
      const d = await drive.finished(arn);
      const observed = await drive.observe(f, { status: d.status, error: d.error });
      expect(checkCase(c, observed)).toEqual([]);
      expect(checkInvariants(f.initial, await drive.holdings(f))).toEqual([]);
      // It never reports itself compensated after an escalation.
      expect(observed.audit.some((r) => r.action === 'SAGA_COMPENSATED')).toBe(false);
    } finally {
      await t.setFaults({ rules: [] });
    }
  });
});
