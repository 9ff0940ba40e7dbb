import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { reconcileDefinition, RECONCILE_SUBSTITUTIONS } from '../../statemachines/reconcile.js';

const require = createRequire(import.meta.url);
const aslValidator = require('asl-validator') as (d: unknown, o?: Record<string, unknown>) => { isValid: boolean; errorsText: (s?: string) => string };

/** The definition with its substitutions filled in, as Step Functions would see it. */
function substituted(def: Record<string, unknown>): any {
  let text = JSON.stringify(def);
  for (const v of RECONCILE_SUBSTITUTIONS) text = text.split(`\${${v}}`).join(`arn:aws:lambda:us-east-1:123456789012:function:${v}`);
  return JSON.parse(text);
}

describe('ReconcileStateMachine definition', () => {
  const def = substituted(reconcileDefinition({ maxConcurrency: 6 }));

  it('is valid ASL', () => {
    const result = aslValidator(def, { checkArn: true, checkPaths: true });
    expect(result.isValid, result.errorsText()).toBe(true);
  });

  it('plans, compares, waits to settle, rechecks, decides, finalizes and summarizes', () => {
    const s = def.States;
    expect(def.StartAt).toBe('Plan');
    expect(s.Plan.Next).toBe('Compare');
    expect(s.Compare.Next).toBe('SettleDelay');
    expect(s.SettleDelay).toMatchObject({ Type: 'Wait', SecondsPath: '$.plan.settleSeconds', Next: 'Recheck' });
    expect(s.Recheck.Next).toBe('Decide');
    expect(s.AnythingToFinalize.Choices[0]).toMatchObject({ Variable: '$.decision.action', StringEquals: 'none' });
    expect(s.Finalize.ItemsPath).toBe('$.decision.work');
    expect(s.Summarize).toMatchObject({ End: true, OutputPath: '$.summary' });
    expect(s.Plan.Parameters['executionName.$']).toBe('$$.Execution.Name');
  });

  it('fans segments out through inline Maps with MaxConcurrency, looping each worker until done', () => {
    for (const [name, phase] of [['Compare', 'compare'], ['Recheck', 'recheck'], ['Finalize', 'finalize']] as const) {
      const map = def.States[name];
      expect(map).toMatchObject({ Type: 'Map', MaxConcurrency: 6 });
      expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'INLINE' });
      const inner = map.ItemProcessor.States;
      expect(inner[`${name}Segment`].Parameters).toEqual({ phase, 'work.$': '$' });
      expect(inner[`${name}SegmentDone`].Default).toBe(`${name}Segment`);
      expect(inner[`${name}Segment`].Retry.flatMap((r: any) => r.ErrorEquals)).toContain('ReadThrottled');
    }
  });

  it('switches to a Distributed Map by ProcessorConfig alone', () => {
    const dist = substituted(reconcileDefinition({ maxConcurrency: 500, mapMode: 'DISTRIBUTED' }));
    expect(dist.States.Compare.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(dist.States.Compare.ItemsPath).toBe('$.plan.work');
    expect(aslValidator(dist, { checkArn: true, checkPaths: true }).isValid).toBe(true);
  });

  it('checks saga post-conditions before summarizing when asked', () => {
    const withSagas = substituted(reconcileDefinition({ maxConcurrency: 2, checkSagas: true }));
    expect(withSagas.States.Finalize.Next).toBe('CheckSagas');
    expect(withSagas.States.CheckSagas.Next).toBe('Summarize');
    expect(withSagas.States.Summarize.Parameters['sagas.$']).toBe('$.sagas');
  });
});
