/**
 * The single source of the ReconcileStateMachine definition (Amazon States Language, JSONPath).
 *
 *   Plan → CompareSegments (Map) → SettleDelay (Wait) → RecheckSegments (Map) → Decide
 *        → [FinalizeSegments (Map): repair or escalate] → CheckSagas → Summarize
 *
 * Each Map runs one segment per item; its item processor loops the worker until the worker says
 * the segment is done, so a segment may take many invocations (each ends before the Lambda
 * timeout and resumes from the segment's checkpoint). The Lambda ARNs are left as
 * `${RunFunctionArn}` / `${SegmentFunctionArn}` for the construct's DefinitionSubstitutions.
 *
 * Scale: the Maps are inline (one execution, up to 40 concurrent iterations on AWS). Past one
 * machine's worth of segments, render with `mapMode: 'DISTRIBUTED'`: the same item processors
 * then run as child workflow executions (ProcessorConfig Mode DISTRIBUTED, the items still come
 * from `$.plan.work`, so no ItemReader is needed) with MaxConcurrency up to 10,000. The local
 * cloud runs only inline Maps, which is why inline is the default.
 */

/** Substitution variables the construct must provide. */
export const RECONCILE_SUBSTITUTIONS = ['RunFunctionArn', 'SegmentFunctionArn'] as const;

/** Options of {@link reconcileDefinition}. */
export interface ReconcileDefinitionOptions {
  /** Segments processed at once by each Map. */
  readonly maxConcurrency: number;
  /** @default 'INLINE' */
  readonly mapMode?: 'INLINE' | 'DISTRIBUTED';
  /** Whether to run the saga post-condition check before summarizing. @default false */
  readonly checkSagas?: boolean;
  /** Execution timeout. @default 86_400 (one day) */
  readonly timeoutSeconds?: number;
}

/** Lambda service errors worth retrying on every task. */
const TRANSIENT = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];

const retry = [
  { ErrorEquals: TRANSIENT, IntervalSeconds: 1, MaxAttempts: 5, BackoffRate: 2, JitterStrategy: 'FULL' },
  // The worker's own backoff gave up under throttling: wait longer, then resume from the checkpoint.
  { ErrorEquals: ['ReadThrottled'], IntervalSeconds: 5, MaxAttempts: 4, BackoffRate: 2, JitterStrategy: 'FULL' },
];

function task(fn: 'RunFunctionArn' | 'SegmentFunctionArn', parameters: Record<string, unknown>, rest: Record<string, unknown>) {
  return { Type: 'Task', Resource: `\${${fn}}`, Parameters: parameters, Retry: retry, ...rest };
}

/** A Map whose item processor loops the segment worker over one phase until `done`. */
function segmentMap(name: string, phase: 'compare' | 'recheck' | 'finalize', itemsPath: string, resultPath: string, next: string, o: ReconcileDefinitionOptions) {
  const work = `${name}Segment`;
  const check = `${name}SegmentDone`;
  const finished = `${name}SegmentFinished`;
  const mode = o.mapMode ?? 'INLINE';
  return {
    Type: 'Map',
    ItemsPath: itemsPath,
    MaxConcurrency: o.maxConcurrency,
    ItemProcessor: {
      ProcessorConfig: mode === 'DISTRIBUTED' ? { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' } : { Mode: 'INLINE' },
      StartAt: work,
      States: {
        [work]: task('SegmentFunctionArn', { phase, 'work.$': '$' }, { Next: check }),
        [check]: { Type: 'Choice', Choices: [{ Variable: '$.done', BooleanEquals: true, Next: finished }], Default: work },
        [finished]: { Type: 'Pass', Parameters: { 'result.$': '$.result' }, End: true },
      },
    },
    ResultPath: resultPath,
    Next: next,
  };
}

/** Renders the definition. */
export function reconcileDefinition(o: ReconcileDefinitionOptions): Record<string, unknown> {
  const beforeSummary = o.checkSagas ? 'CheckSagas' : 'Summarize';
  const states: Record<string, unknown> = {
    Plan: task('RunFunctionArn', { phase: 'plan', 'input.$': '$', 'executionName.$': '$$.Execution.Name' }, { ResultPath: '$.plan', Next: 'Compare' }),
    Compare: segmentMap('Compare', 'compare', '$.plan.work', '$.compare', 'SettleDelay', o),
    // In-flight writes get time to land before anything counts as drift.
    SettleDelay: { Type: 'Wait', SecondsPath: '$.plan.settleSeconds', Next: 'Recheck' },
    Recheck: segmentMap('Recheck', 'recheck', '$.plan.work', '$.recheck', 'Decide', o),
    Decide: task('RunFunctionArn', { phase: 'decide', 'plan.$': '$.plan', 'compare.$': '$.compare', 'recheck.$': '$.recheck' }, { ResultPath: '$.decision', Next: 'AnythingToFinalize' }),
    AnythingToFinalize: {
      Type: 'Choice',
      Choices: [{ Variable: '$.decision.action', StringEquals: 'none', Next: 'NothingToFinalize' }],
      Default: 'Finalize',
    },
    NothingToFinalize: { Type: 'Pass', Result: [], ResultPath: '$.finalize', Next: beforeSummary },
    Finalize: segmentMap('Finalize', 'finalize', '$.decision.work', '$.finalize', beforeSummary, o),
    Summarize: task(
      'RunFunctionArn',
      {
        phase: 'summarize',
        'executionName.$': '$$.Execution.Name',
        'plan.$': '$.plan',
        'compare.$': '$.compare',
        'recheck.$': '$.recheck',
        'decision.$': '$.decision',
        'finalize.$': '$.finalize',
        ...(o.checkSagas ? { 'sagas.$': '$.sagas' } : {}),
      },
      { ResultPath: '$.summary', OutputPath: '$.summary', End: true },
    ),
  };
  if (o.checkSagas) {
    states.CheckSagas = task('RunFunctionArn', { phase: 'sagas', 'plan.$': '$.plan' }, { ResultPath: '$.sagas', Next: 'Summarize' });
  }
  return {
    Comment: 'Converge reconciliation: compare source and replica by segment, recheck, then repair or escalate (statemachines/reconcile.ts)',
    StartAt: 'Plan',
    TimeoutSeconds: o.timeoutSeconds ?? 86_400,
    States: states,
  };
}
