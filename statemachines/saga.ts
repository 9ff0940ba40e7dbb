/**
 * Sagas as data. A saga is a declared list of steps (action, compensation, error classification,
 * pivot, post-conditions); {@link renderSaga} generates its Amazon States Language from that list
 * and {@link validateSaga} refuses unsafe definitions at synth time. Pure: no CDK, no SDK, so the
 * renderer, the reconciler and the tests all read the same single source.
 *
 * Shape of the generated machine (state names are the step and compensation names):
 * ```
 * StartSaga ─▶ IsDuplicate ─(duplicate)─▶ Duplicate (Succeed, output {duplicate:true})
 *                 └─▶ Step1 ─▶ Step2 ─▶ … ─▶ Pivot ─▶ …  (End on the last step: SUCCEEDED)
 * StepK  ─Catch business─▶ StepKFailed    ─▶ Comp(K-1) ─▶ … ─▶ Comp1 ─▶ CompensationDone
 * StepK  ─Catch States.ALL▶ StepKUncertain ─▶ CompK ─▶ Comp(K-1) ─▶ …          (unknown: its own compensation too)
 * CompJ  ─Catch States.ALL▶ EscalateCompJ (.waitForTaskToken) ─▶ DecideCompJ ─▶ CompJDecision ─retry▶ CompJ
 *                                    └─timeout▶ EscalationUnresolved ─▶ Fail CompensationFailed      └─skip/resolve▶ Comp(J-1)
 * CompensationDone ─(no escalation)─▶ CloseCompensated ─▶ Fail SagaCompensated
 *                  └─(escalated)────▶ CloseEscalated   ─▶ Fail CompensationFailed
 * ```
 */

/** Error names Step Functions and the Lambda integration raise themselves; never declared in an errors.ts. */
const RUNTIME_ERROR = /^(States|Lambda|Sandbox)\./;
/** State names: identifiers, so they can be embedded in intrinsic functions and JSONPath safely. */
const STATE_NAME = /^[A-Z][A-Za-z0-9]{0,62}$/;

/** A Retry policy (ASL Retrier). Jitter FULL spreads retries of many sagas hitting the same dependency. */
export interface RetryPolicy {
  /** Error names retried (class names from an errors.ts, or `States.*` / `Lambda.*`). */
  readonly errors: readonly string[];
  readonly intervalSeconds: number;
  /** Retries after the first attempt. */
  readonly maxAttempts: number;
  readonly backoffRate: number;
  /** Cap on one backoff interval. */
  readonly maxDelaySeconds: number;
  readonly jitter: 'FULL' | 'NONE';
}

/** A Lambda handler of the saga: its source and the logical tables it may read and write. */
export interface SagaHandler {
  /** Handler source relative to the repository root. */
  readonly entry: string;
  /** Logical table names (keys of the construct's `tables`) the handler reads and writes, item-level only. */
  readonly tables: readonly string[];
  /** Whether it publishes on the event bus. @default false */
  readonly publishesEvents?: boolean;
}

/** What a post-condition expects of one attribute. */
export type Expectation =
  | { readonly equals: string | number | boolean }
  | { readonly in: readonly (string | number | boolean)[] }
  | { readonly exists: boolean };

/**
 * A declarative post-condition: one item, found by key, whose attributes must meet expectations.
 * Key values and `equals` strings may hold `{sagaId}`, `{orderId}`, `{customerId}` placeholders,
 * bound with {@link bindPostCondition}; the reconciler checks them with {@link checkPostCondition}.
 */
export interface PostCondition {
  /** Human-readable statement, used in discrepancy reports. */
  readonly description: string;
  /** Logical table name (`SagaLedger` for the saga's own ledger). */
  readonly table: string;
  readonly key: Readonly<Record<string, string>>;
  /** Whether a missing item satisfies the condition (e.g. "no shipment, or a cancelled one"). */
  readonly missingIsOk: boolean;
  readonly attributes: Readonly<Record<string, Expectation>>;
}

/** One step of a saga. */
export interface SagaStep {
  /** State name of the action, e.g. `ReserveInventory`; also its idempotency key suffix. */
  readonly name: string;
  readonly action: SagaHandler;
  /** The undo, a safe no-op when the action never applied. Required before the pivot, refused after it. */
  readonly compensation?: SagaHandler & { readonly name: string };
  /** Transient errors, retried with backoff. Anything neither retried nor business is unknown. */
  readonly retry: readonly RetryPolicy[];
  /** Errors meaning "the action definitely did not apply and will not": compensate the completed steps. */
  readonly businessErrors: readonly string[];
  /** The point of no return: the steps after it never compensate. */
  readonly pivot?: boolean;
  readonly postConditions: {
    /** True once the action has applied. */
    readonly afterAction: readonly PostCondition[];
    /** True once the compensation has run (or the action never applied). */
    readonly afterCompensation: readonly PostCondition[];
  };
}

/** The saga's lifecycle handlers (ledger claim, compensation bookkeeping, escalation, closing). */
export interface SagaControl {
  /** Validates the input, derives the saga id, claims the ledger entry (dedupe). */
  readonly start: SagaHandler;
  /** Records the failure, moves the ledger to COMPENSATING, writes the compensation intents. */
  readonly beginCompensation: SagaHandler;
  /** Invoked with a task token: audit row, SagaNeedsAttention event, token in the ledger. */
  readonly escalate: SagaHandler;
  /** Records an operator's decision (retry / skip / resolve). */
  readonly decide: SagaHandler;
  /** Closes the ledger: COMPENSATED, RESOLVED or COMPENSATION_FAILED (and the SagaCompensated event). */
  readonly finish: SagaHandler;
}

/** A whole saga. */
export interface SagaDefinition {
  /** Saga name, e.g. `PlaceOrder`. */
  readonly name: string;
  readonly comment: string;
  readonly steps: readonly SagaStep[];
  readonly control: SagaControl;
  /** Errors the start step raises for bad input; the execution ends FAILED with that Error, no effects. */
  readonly inputErrors: readonly string[];
  /** Retry of lifecycle handlers (transient errors only). */
  readonly controlRetry: RetryPolicy;
  /** Retry of every compensation (it retries any error: a compensation must eventually apply). */
  readonly compensationRetry: Omit<RetryPolicy, 'errors'>;
  /** How long an escalation waits for an operator before the saga ends FAILED `CompensationFailed`. */
  readonly escalationTimeoutSeconds: number;
}

/** Names of the lifecycle and terminal states the renderer adds around the steps. */
export const SAGA_STATES = {
  start: 'StartSaga',
  isDuplicate: 'IsDuplicate',
  duplicate: 'Duplicate',
  compensationDone: 'CompensationDone',
  closeCompensated: 'CloseCompensated',
  closeEscalated: 'CloseEscalated',
  unresolved: 'EscalationUnresolved',
  failCompensated: 'SagaCompensated',
  failEscalated: 'CompensationFailed',
} as const;

/** Execution Error names of the generated Fail states (DESIGN §2). */
export const SAGA_ERRORS = { compensated: 'SagaCompensated', compensationFailed: 'CompensationFailed' } as const;

/** Every Lambda handler a definition needs, keyed by the name of its function (and state, for steps). */
export function sagaHandlers(def: SagaDefinition): Record<string, SagaHandler> {
  const out: Record<string, SagaHandler> = {
    StartSaga: def.control.start,
    BeginCompensation: def.control.beginCompensation,
    Escalate: def.control.escalate,
    Decide: def.control.decide,
    FinishSaga: def.control.finish,
  };
  for (const s of def.steps) {
    out[s.name] = s.action;
    if (s.compensation) out[s.compensation.name] = s.compensation;
  }
  return out;
}

/** The names of the error classes a module exports (its `errors.ts`): what ASL may name. */
export function exportedErrorNames(module: Record<string, unknown>): Set<string> {
  const names = new Set<string>();
  for (const value of Object.values(module)) {
    if (typeof value === 'function' && value.prototype instanceof Error) names.add(value.name);
  }
  return names;
}

/** The problems of a definition, empty when it is safe to render. */
export function validateSaga(def: SagaDefinition, declaredErrors: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const seen = new Set<string>(Object.values(SAGA_STATES));
  const name = (n: string, what: string) => {
    if (!STATE_NAME.test(n)) problems.push(`${what} '${n}' is not a valid state name (${STATE_NAME})`);
    else if (seen.has(n)) problems.push(`${what} '${n}' is declared twice`);
    seen.add(n);
  };
  const known = (errors: readonly string[], where: string) => {
    for (const e of errors) {
      if (e === 'States.ALL') problems.push(`${where}: States.ALL is not a classification; unclassified errors are unknown already`);
      else if (!RUNTIME_ERROR.test(e) && !declaredErrors.has(e)) problems.push(`${where}: error '${e}' is not declared as a class in an errors.ts`);
    }
  };
  const policy = (p: Omit<RetryPolicy, 'errors'>, where: string) => {
    if (!(p.intervalSeconds >= 1 && Number.isInteger(p.intervalSeconds))) problems.push(`${where}: intervalSeconds must be a positive integer`);
    if (!(p.maxAttempts >= 0 && Number.isInteger(p.maxAttempts))) problems.push(`${where}: maxAttempts must be a non-negative integer`);
    if (!(p.backoffRate >= 1)) problems.push(`${where}: backoffRate must be at least 1`);
    if (!(p.maxDelaySeconds >= p.intervalSeconds)) problems.push(`${where}: maxDelaySeconds must be at least intervalSeconds`);
  };
  if (def.steps.length === 0) problems.push('a saga needs at least one step');
  const pivots = def.steps.filter((s) => s.pivot);
  if (pivots.length > 1) problems.push(`only one pivot is allowed, got ${pivots.map((s) => s.name).join(', ')}`);
  const pivotIndex = def.steps.findIndex((s) => s.pivot);
  def.steps.forEach((step, i) => {
    name(step.name, 'step');
    if (step.compensation) name(step.compensation.name, `compensation of ${step.name}`);
    const beforePivot = pivotIndex < 0 || i < pivotIndex;
    if (beforePivot && !step.compensation) problems.push(`step '${step.name}' comes before the pivot but declares no compensation`);
    if (pivotIndex >= 0 && i > pivotIndex && step.compensation) problems.push(`step '${step.name}' comes after the pivot '${def.steps[pivotIndex]!.name}', so it may not declare a compensation`);
    known(step.businessErrors, `step '${step.name}' businessErrors`);
    step.retry.forEach((r, j) => {
      known(r.errors, `step '${step.name}' retry[${j}]`);
      policy(r, `step '${step.name}' retry[${j}]`);
      for (const e of r.errors) if (step.businessErrors.includes(e)) problems.push(`step '${step.name}': error '${e}' is both retryable and a business error`);
    });
  });
  known(def.inputErrors, 'inputErrors');
  known(def.controlRetry.errors, 'controlRetry');
  policy(def.controlRetry, 'controlRetry');
  policy(def.compensationRetry, 'compensationRetry');
  if (!(Number.isInteger(def.escalationTimeoutSeconds) && def.escalationTimeoutSeconds >= 1)) problems.push('escalationTimeoutSeconds must be a positive integer');
  return problems;
}

/** A definition failed {@link validateSaga}; thrown at synth so an unsafe saga never deploys. */
export class InvalidSagaDefinition extends Error {
  constructor(public readonly saga: string, public readonly problems: readonly string[]) {
    super(`saga '${saga}' is invalid:\n - ${problems.join('\n - ')}`);
    this.name = 'InvalidSagaDefinition';
  }
}

/** Throws {@link InvalidSagaDefinition} unless the definition is valid. */
export function assertValidSaga(def: SagaDefinition, declaredErrors: ReadonlySet<string>): void {
  const problems = validateSaga(def, declaredErrors);
  if (problems.length) throw new InvalidSagaDefinition(def.name, problems);
}

/** An ASL document (only the fields the renderer emits are typed loosely). */
export interface AslDefinition {
  readonly Comment: string;
  readonly StartAt: string;
  readonly States: Record<string, Record<string, unknown>>;
}

/** Options of {@link renderSaga}. */
export interface RenderOptions {
  /**
   * The function reference written into each Task, per handler name of {@link sagaHandlers}.
   * @default a DefinitionSubstitutions placeholder `${<Name>FunctionArn}`
   */
  readonly functionRef?: (handlerName: string) => string;
}

/** The environment variable holding a logical table's physical name: `SagaLedger` → `SAGA_LEDGER_TABLE`. */
export const tableEnvVar = (logical: string) => `${logical.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}_TABLE`;

/** The DefinitionSubstitutions key of a handler's function ARN. */
export const functionArnKey = (handlerName: string) => `${handlerName}FunctionArn`;

const retrier = (errors: readonly string[], p: Omit<RetryPolicy, 'errors'>) => ({
  ErrorEquals: [...errors],
  IntervalSeconds: p.intervalSeconds,
  MaxAttempts: p.maxAttempts,
  BackoffRate: p.backoffRate,
  MaxDelaySeconds: p.maxDelaySeconds,
  JitterStrategy: p.jitter,
});

/**
 * Renders a (valid) definition into ASL. Results land in `$.Results.<Step>`, caught errors in
 * `$.Errors.<Step>`, operator answers in `$.Escalations.<Compensation>`, so the input survives.
 * Every step's payload carries `idempotencyKey = ${sagaId}:${step}`.
 */
export function renderSaga(def: SagaDefinition, options: RenderOptions = {}): AslDefinition {
  const ref = options.functionRef ?? ((n: string) => `\${${functionArnKey(n)}}`);
  const S = SAGA_STATES;
  const states: Record<string, Record<string, unknown>> = {};
  const invoke = (handler: string, payload: Record<string, unknown>, extra: Record<string, unknown>) => ({
    Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke',
    Parameters: { FunctionName: ref(handler), Payload: payload },
    ResultSelector: { 'Payload.$': '$.Payload' },
    ...extra,
  });
  const base = (stateName: string) => ({
    'sagaId.$': '$.Saga.sagaId',
    'order.$': '$.Saga.order',
    'executionArn.$': '$$.Execution.Id',
    step: stateName,
    'idempotencyKey.$': `States.Format('{}:${stateName}', $.Saga.sagaId)`,
  });
  const controlRetry = [retrier(def.controlRetry.errors, def.controlRetry)];

  states[S.start] = invoke(
    'StartSaga',
    { 'event.$': '$', 'executionArn.$': '$$.Execution.Id', 'executionStartTime.$': '$$.Execution.StartTime', saga: def.name },
    {
      // Flattened so every later state reads `$.Saga.sagaId` / `$.Saga.order`.
      ResultSelector: { 'sagaId.$': '$.Payload.sagaId', 'duplicate.$': '$.Payload.duplicate', 'order.$': '$.Payload.order' },
      ResultPath: '$.Saga',
      Retry: controlRetry,
      Next: S.isDuplicate,
    },
  );
  states[S.isDuplicate] = {
    Type: 'Choice',
    Choices: [{ Variable: '$.Saga.duplicate', BooleanEquals: true, Next: S.duplicate }],
    Default: def.steps[0]!.name,
  };
  states[S.duplicate] = {
    Type: 'Pass',
    Comment: 'Another execution already owns this saga: end without any effect.',
    Parameters: { duplicate: true, 'sagaId.$': '$.Saga.sagaId' },
    End: true,
  };

  // Compensable steps in forward order; the chain runs them backwards.
  const compensable = def.steps.map((s, i) => ({ step: s, i })).filter((x) => x.step.compensation);
  const compensationAtOrBefore = (i: number) => [...compensable].reverse().find((x) => x.i <= i)?.step.compensation!.name ?? S.compensationDone;
  const pivotIndex = def.steps.findIndex((s) => s.pivot);

  def.steps.forEach((step, i) => {
    const last = i === def.steps.length - 1;
    const afterPivot = pivotIndex >= 0 && i > pivotIndex;
    const catches: Record<string, unknown>[] = [];
    if (!afterPivot) {
      if (step.businessErrors.length) catches.push({ ErrorEquals: [...step.businessErrors], ResultPath: `$.Errors.${step.name}`, Next: `${step.name}Failed` });
      catches.push({ ErrorEquals: ['States.ALL'], ResultPath: `$.Errors.${step.name}`, Next: `${step.name}Uncertain` });
      for (const [suffix, cls, first] of [
        ['Failed', 'business', compensationAtOrBefore(i - 1)],
        ['Uncertain', 'unknown', compensationAtOrBefore(i)],
      ] as const) {
        if (cls === 'business' && !step.businessErrors.length) continue;
        states[`${step.name}${suffix}`] = invoke(
          'BeginCompensation',
          {
            'sagaId.$': '$.Saga.sagaId',
            'order.$': '$.Saga.order',
            'executionArn.$': '$$.Execution.Id',
            failedStep: step.name,
            failureClass: cls,
            'error.$': `$.Errors.${step.name}`,
            // Every compensation this path will run, in order, so the intents are written up front.
            plan: chainFrom(compensable, first),
          },
          { ResultPath: '$.Failure', Retry: controlRetry, Next: first },
        );
      }
    }
    states[step.name] = invoke(
      step.name,
      { ...base(step.name), final: last },
      {
        ResultPath: `$.Results.${step.name}`,
        ...(step.retry.length ? { Retry: step.retry.map((r) => retrier(r.errors, r)) } : {}),
        ...(catches.length ? { Catch: catches } : {}),
        ...(last ? { End: true } : { Next: def.steps[i + 1]!.name }),
      },
    );
  });

  compensable.forEach(({ step }, k) => {
    const comp = step.compensation!.name;
    const next = k > 0 ? compensable[k - 1]!.step.compensation!.name : S.compensationDone;
    const common = { 'sagaId.$': '$.Saga.sagaId', 'executionArn.$': '$$.Execution.Id', compensation: comp, forStep: step.name };
    states[comp] = invoke(
      comp,
      { ...base(comp), forStep: step.name, 'failure.$': '$.Failure.Payload' },
      {
        ResultPath: `$.Results.${comp}`,
        Retry: [retrier(['States.ALL'], def.compensationRetry)],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: `$.Errors.${comp}`, Next: `Escalate${comp}` }],
        Next: next,
      },
    );
    states[`Escalate${comp}`] = {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        FunctionName: ref('Escalate'),
        Payload: { ...common, 'taskToken.$': '$$.Task.Token', 'error.$': `$.Errors.${comp}`, 'failure.$': '$.Failure.Payload' },
      },
      TimeoutSeconds: def.escalationTimeoutSeconds,
      ResultPath: `$.Escalations.${comp}`,
      // Only the invocation's transient errors: a States.Timeout means nobody answered.
      Retry: controlRetry,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.Errors.Escalation', Next: S.unresolved }],
      Next: `Decide${comp}`,
    };
    states[`Decide${comp}`] = invoke(
      'Decide',
      { ...common, 'decision.$': `$.Escalations.${comp}` },
      {
        ResultPath: `$.Results.Decide${comp}`,
        Retry: controlRetry,
        // A malformed answer is asked again (a fresh token, a fresh event).
        Catch: [{ ErrorEquals: ['InvalidDecision'], ResultPath: `$.Errors.${comp}Decision`, Next: `Escalate${comp}` }],
        Next: `${comp}Decision`,
      },
    );
    states[`${comp}Decision`] = {
      Type: 'Choice',
      Choices: [{ Variable: `$.Escalations.${comp}.decision`, StringEquals: 'retry', Next: comp }],
      Default: next,
    };
  });

  const finish = (mode: string, nextState: string, extra: Record<string, unknown> = {}) =>
    invoke(
      'FinishSaga',
      { 'sagaId.$': '$.Saga.sagaId', 'order.$': '$.Saga.order', 'executionArn.$': '$$.Execution.Id', mode, 'failure.$': '$.Failure.Payload', ...extra },
      { ResultPath: '$.Results.Finish', Retry: controlRetry, Next: nextState },
    );
  states[S.compensationDone] = {
    Type: 'Choice',
    Choices: [{ Variable: '$.Escalations', IsPresent: true, Next: S.closeEscalated }],
    Default: S.closeCompensated,
  };
  states[S.closeCompensated] = finish('compensated', S.failCompensated);
  states[S.closeEscalated] = finish('resolved', S.failEscalated);
  states[S.unresolved] = finish('unresolved', S.failEscalated, { 'error.$': '$.Errors.Escalation' });
  states[S.failCompensated] = { Type: 'Fail', Error: SAGA_ERRORS.compensated, Cause: 'The saga failed and every completed step was compensated.' };
  states[S.failEscalated] = {
    Type: 'Fail',
    Error: SAGA_ERRORS.compensationFailed,
    Cause: 'A compensation failed after its retries and was escalated to an operator; see the saga ledger for the decision.',
  };

  return { Comment: def.comment, StartAt: S.start, States: states };
}

/** The compensation names a chain entered at `first` runs, in order. */
function chainFrom(compensable: readonly { step: SagaStep }[], first: string): string[] {
  const names = compensable.map((x) => x.step.compensation!.name);
  const at = names.indexOf(first);
  return at < 0 ? [] : names.slice(0, at + 1).reverse();
}

/** Values bound into post-condition placeholders. */
export interface PostConditionContext {
  readonly sagaId: string;
  readonly orderId: string;
  readonly customerId: string;
}

/** Replaces `{sagaId}` / `{orderId}` / `{customerId}` in a post-condition's key and expectations. */
export function bindPostCondition(pc: PostCondition, ctx: PostConditionContext): PostCondition {
  const bind = <T>(v: T): T => (typeof v === 'string' ? (v.replace(/\{(sagaId|orderId|customerId)\}/g, (_, k: keyof PostConditionContext) => ctx[k]) as T) : v);
  const attributes: Record<string, Expectation> = {};
  for (const [k, e] of Object.entries(pc.attributes)) {
    attributes[k] = 'equals' in e ? { equals: bind(e.equals) } : 'in' in e ? { in: e.in.map(bind) } : e;
  }
  return { ...pc, key: Object.fromEntries(Object.entries(pc.key).map(([k, v]) => [k, bind(v)])), attributes };
}

/** Checks a bound post-condition against the item read by its key; returns the failures, empty when it holds. */
export function checkPostCondition(pc: PostCondition, item: Record<string, unknown> | undefined): string[] {
  if (!item) return pc.missingIsOk ? [] : [`${pc.description}: no item in ${pc.table} at ${JSON.stringify(pc.key)}`];
  const failures: string[] = [];
  for (const [attr, e] of Object.entries(pc.attributes)) {
    const v = item[attr];
    const ok = 'equals' in e ? v === e.equals : 'in' in e ? e.in.includes(v as never) : (v !== undefined) === e.exists;
    if (!ok) failures.push(`${pc.description}: ${attr} is ${JSON.stringify(v)}, expected ${JSON.stringify(e)}`);
  }
  return failures;
}
