import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import * as sagaErrors from '../../lambdas/saga/errors.js';
import { placeOrderSaga } from '../../statemachines/place-order.js';
import { SAGA_STATES, exportedErrorNames, renderSaga, validateSaga, type SagaDefinition } from '../../statemachines/saga.js';

const declared = exportedErrorNames(sagaErrors);
const asl = renderSaga(placeOrderSaga);
const states = asl.States as Record<string, any>;
const steps = placeOrderSaga.steps;
const comps = steps.filter((s) => s.compensation).map((s) => s.compensation!.name);

describe('renderSaga', () => {
  it('produces ASL that asl-validator accepts', () => {
    const result = aslValidator(asl as any);
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it('chains the steps in declared order, ending on the last, with results under $.Results and the idempotency key', () => {
    expect(asl.StartAt).toBe(SAGA_STATES.start);
    expect(states.IsDuplicate.Default).toBe(steps[0]!.name);
    steps.forEach((s, i) => {
      const st = states[s.name];
      expect(st.ResultPath).toBe(`$.Results.${s.name}`);
      expect(st.Parameters.Payload['idempotencyKey.$']).toBe(`States.Format('{}:${s.name}', $.Saga.sagaId)`);
      if (i < steps.length - 1) expect(st.Next).toBe(steps[i + 1]!.name);
      else expect(st.End).toBe(true);
    });
  });

  it('retries transient errors with backoff, MaxDelaySeconds and full jitter', () => {
    for (const s of steps) {
      expect(states[s.name].Retry[0]).toMatchObject({ ErrorEquals: expect.arrayContaining(['ServiceUnavailable']), BackoffRate: 2, MaxDelaySeconds: 8, JitterStrategy: 'FULL' });
    }
    for (const c of comps) expect(states[c].Retry[0]).toMatchObject({ ErrorEquals: ['States.ALL'], JitterStrategy: 'FULL' });
  });

  it.each(steps.map((s, i) => [s.name, i] as const))('routes %s: business errors to the earlier compensations, unknown errors to its own first', (name, i) => {
    const step = steps[i]!;
    const catches = states[name].Catch as any[];
    expect(catches.at(-1)).toEqual({ ErrorEquals: ['States.ALL'], ResultPath: `$.Errors.${name}`, Next: `${name}Uncertain` });
    const earlier = steps.slice(0, i).filter((s) => s.compensation).map((s) => s.compensation!.name).reverse();
    const own = step.compensation ? [step.compensation.name] : [];
    expect(catches[0]).toEqual({ ErrorEquals: step.businessErrors, ResultPath: `$.Errors.${name}`, Next: `${name}Failed` });
    expect(states[`${name}Failed`].Parameters.Payload.plan).toEqual(earlier);
    expect(states[`${name}Uncertain`].Parameters.Payload.plan).toEqual([...own, ...earlier]);
    expect(states[`${name}Failed`].Next).toBe(earlier[0] ?? 'CompensationDone');
    expect(states[`${name}Uncertain`].Next).toBe([...own, ...earlier][0] ?? 'CompensationDone');
  });

  it('runs the compensations in reverse order, each escalating on failure to a task-token wait', () => {
    const reversed = [...comps].reverse();
    reversed.forEach((c, k) => {
      expect(states[c].Next).toBe(reversed[k + 1] ?? 'CompensationDone');
      expect(states[c].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: `$.Errors.${c}`, Next: `Escalate${c}` }]);
      const esc = states[`Escalate${c}`];
      expect(esc.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
      expect(esc.Parameters.Payload['taskToken.$']).toBe('$$.Task.Token');
      expect(esc.TimeoutSeconds).toBe(placeOrderSaga.escalationTimeoutSeconds);
      expect(esc.Catch[0].Next).toBe('EscalationUnresolved');
      expect(states[`${c}Decision`].Choices[0]).toEqual({ Variable: `$.Escalations.${c}.decision`, StringEquals: 'retry', Next: c });
      expect(states[`${c}Decision`].Default).toBe(reversed[k + 1] ?? 'CompensationDone');
    });
  });

  it('ends in the three DESIGN §2 outcomes, never SagaCompensated after an escalation', () => {
    expect(states.CompensationDone.Choices[0]).toEqual({ Variable: '$.Escalations', IsPresent: true, Next: 'CloseEscalated' });
    expect(states.CloseCompensated.Next).toBe('SagaCompensated');
    expect(states.CloseEscalated.Next).toBe('CompensationFailed');
    expect(states.EscalationUnresolved.Next).toBe('CompensationFailed');
    expect(states.SagaCompensated).toMatchObject({ Type: 'Fail', Error: 'SagaCompensated' });
    expect(states.CompensationFailed).toMatchObject({ Type: 'Fail', Error: 'CompensationFailed' });
  });

  it('gives the pivot no compensation of its own, so an uncertain pivot compensates only the earlier steps', () => {
    const pivot = steps.find((s) => s.pivot)!;
    expect(pivot.compensation).toBeUndefined();
    expect(states[`${pivot.name}Uncertain`].Next).toBe(comps.at(-1));
  });
});

describe('validateSaga (the synth-time check)', () => {
  const mutate = (f: (d: any) => void): SagaDefinition => {
    const d = JSON.parse(JSON.stringify(placeOrderSaga)); // not structuredClone: it keeps the shared retry policy shared
    f(d);
    return d;
  };

  it('accepts PlaceOrder against the classes lambdas/saga/errors.ts exports', () => {
    expect(declared.has('InsufficientStock')).toBe(true);
    expect(validateSaga(placeOrderSaga, declared)).toEqual([]);
  });

  it('refuses a step before the pivot without a compensation', () => {
    const d = mutate((x) => delete x.steps[2].compensation);
    expect(validateSaga(d, declared)).toEqual([`step 'ChargePayment' comes before the pivot but declares no compensation`]);
  });

  it('refuses a compensation after the pivot', () => {
    const d = mutate((x) => {
      x.steps[3].pivot = true;
      x.steps[4].pivot = false;
      x.steps[4].compensation = { ...x.steps[3].compensation, name: 'Unconfirm' };
    });
    expect(validateSaga(d, declared)).toContain(`step 'ConfirmOrder' comes after the pivot 'CreateShipment', so it may not declare a compensation`);
  });

  it.each([
    ['a business error', (x: any) => x.steps[1].businessErrors.push('OutOfStock')],
    ['a retryable error', (x: any) => x.steps[1].retry[0].errors = [...x.steps[1].retry[0].errors, 'Flaky']],
  ])('refuses %s that no errors.ts declares', (_what, f) => {
    const problems = validateSaga(mutate(f), declared);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/is not declared as a class in an errors\.ts/);
  });

  it('refuses two pivots, duplicate names and an error both retried and business', () => {
    expect(validateSaga(mutate((x) => (x.steps[1].pivot = true)), declared).join()).toMatch(/only one pivot/);
    expect(validateSaga(mutate((x) => (x.steps[1].name = 'CreateOrder')), declared).join()).toMatch(/declared twice/);
    expect(validateSaga(mutate((x) => x.steps[1].retry[0].errors.push('InsufficientStock')), declared).join()).toMatch(/both retryable and a business error/);
  });
});
