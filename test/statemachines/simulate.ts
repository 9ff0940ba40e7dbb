/**
 * Runs the rendered ASL of a saga in-process with aws-local-stepfunctions, each Task answered by
 * the real domain use case over in-memory ports, with state-level faults injected the way the
 * local cloud's fault plans do (before the handler runs) and Lambda-shaped errors (a JSON Cause).
 */
import { StateMachine } from 'aws-local-stepfunctions';
import { renderSaga, type SagaDefinition } from '../../statemachines/saga.js';
import { beginCompensation, decide, escalate, finish, runAction, runCompensation, startSaga } from '../../lambdas/saga/domain/saga.js';
import { ActionInput, BeginCompensationInput, CompensationInput, DecideInput, EscalateInput, FinishInput, StartInput, parseInput } from '../../lambdas/saga/domain/inputs.js';
import type { SagaDeps } from '../../lambdas/saga/domain/model.js';
import type { StateFault } from './place-order.cases.js';

/** Answers an escalation: a decision, or `timeout` (the task times out). */
export type Operator = (escalation: { compensation: string; taskToken: string }) => Promise<unknown | 'timeout'>;

export interface SimulationResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly error?: string;
  readonly output?: any;
  /** States entered, in order (each entry is one state transition). */
  readonly entered: string[];
}

function lambdaError(err: unknown): Error {
  const e = err as Error;
  // The lambda:invoke integration reports errorType as Error and the function's JSON error as Cause.
  return Object.assign(new Error(JSON.stringify({ errorType: e.name, errorMessage: e.message })), { name: e.name });
}

/** Runs one execution of `def` on `event` against `deps`. */
export async function simulate(def: SagaDefinition, deps: SagaDeps, event: unknown, opts: { faults?: StateFault[]; operator?: Operator; executionArn?: string } = {}): Promise<SimulationResult> {
  const asl = renderSaga(def, { functionRef: (n) => n });
  // The library has no $$.Task.Token: inject a token the way the local cloud does at deploy.
  let tokens = 0;
  for (const state of Object.values(asl.States) as any[]) {
    if (state.Resource?.endsWith('.waitForTaskToken')) {
      delete state.Parameters.Payload['taskToken.$'];
      state.Parameters.Payload.taskToken = 'TOKEN';
    }
  }
  const faults = (opts.faults ?? []).map((f) => ({ ...f, left: f.times }));
  const executionArn = opts.executionArn ?? `arn:aws:states:us-east-1:000000000000:execution:PlaceOrder:${Math.random().toString(36).slice(2)}`;
  const handlers: Record<string, (payload: any, state: string) => Promise<unknown>> = {
    StartSaga: (p) => startSaga(parseInput('start', StartInput, p), deps),
    BeginCompensation: (p) => beginCompensation(parseInput('begin', BeginCompensationInput, p), deps),
    Decide: (p) => decide(parseInput('decide', DecideInput, p), deps),
    FinishSaga: (p) => finish(parseInput('finish', FinishInput, p), deps),
    Escalate: async (p) => {
      const taskToken = `token-${++tokens}`;
      const input = parseInput('escalate', EscalateInput, { ...p, taskToken });
      await escalate(input, deps);
      const answer = opts.operator ? await opts.operator({ compensation: input.compensation, taskToken }) : 'timeout';
      if (answer === 'timeout') throw Object.assign(new Error('The task timed out'), { name: 'States.Timeout' });
      return answer;
    },
  };
  const taskResourceLocalHandlers: Record<string, (input: any) => Promise<any>> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  for (const [name, state] of Object.entries(asl.States) as [string, any][]) {
    if (state.Type !== 'Task') continue;
    retryIntervalOverrides[name] = 0;
    const fn = state.Parameters.FunctionName as string;
    taskResourceLocalHandlers[name] = async (params: any) => {
      const fault = faults.find((f) => f.state === name && f.left > 0);
      if (fault) {
        fault.left -= 1;
        throw lambdaError(Object.assign(new Error(`fault injected at ${name}`), { name: fault.errorName }));
      }
      const handler = handlers[fn] ?? ((p: any) => ('forStep' in p ? runCompensation(parseInput('c', CompensationInput, p), deps) : runAction(parseInput('a', ActionInput, p), deps)));
      try {
        const result = await handler(params.Payload, name);
        // A callback task's output is the SendTaskSuccess output itself; lambda:invoke wraps the payload.
        return fn === 'Escalate' ? result : { Payload: result, StatusCode: 200 };
      } catch (err) {
        throw lambdaError(err);
      }
    };
  }
  const machine = new StateMachine(asl as any, { validationOptions: { checkArn: false } });
  const run = machine.run(event as any, {
    overrides: { taskResourceLocalHandlers, retryIntervalOverrides },
    context: { Execution: { Id: executionArn, Name: executionArn.split(':').pop(), StartTime: new Date().toISOString() } } as any,
  });
  const entered: string[] = [];
  const collecting = (async () => {
    for await (const e of run.eventLogs) {
      if (e.type === 'StateEntered' && (e as any).index === undefined) entered.push((e as any).state.name);
      // A routing loop would otherwise spin forever on zero retry intervals.
      if (entered.length > 500) run.abort();
    }
  })();
  try {
    const output = await run.result;
    await collecting;
    return { status: 'SUCCEEDED', output, entered };
  } catch (err) {
    await collecting.catch(() => undefined);
    return { status: 'FAILED', error: (err as Error).name === 'ExecutionError' ? ((err as any).cause?.name ?? (err as Error).message) : (err as Error).name, entered, output: err };
  }
}
