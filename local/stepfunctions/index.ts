/**
 * The local cloud's Step Functions service: state machines from the template, executions run
 * by aws-local-stepfunctions with the local cloud's own Task integrations, and the
 * `AWSStepFunctions` API. State lives under `${stateDir}/stepfunctions/`.
 *
 * Limits (differences from AWS), by design:
 * - An execution that was RUNNING when the local cloud stopped cannot resume: on restart it is
 *   marked FAILED with error `States.Runtime` and cause `local cloud restarted`. It remains
 *   redrivable (RedriveExecution reruns its interrupted top-level state).
 * - RedriveExecution reruns the failed top-level state whole (a Map or Parallel reruns all its
 *   iterations/branches, not only the failed ones).
 * - `$$.Execution.StartTime` is the wall-clock time of the (re)start; `$$.State.EnteredTime`,
 *   `$$.State.RetryCount` and `$$.Task.Token` outside a callback task's Parameters are refused.
 * - Retry of Map/Parallel states waits in real time (Task retries, Wait states, task and
 *   execution timeouts run on the controllable clock).
 * - Express machines run like Standard ones but without name idempotency, and ListExecutions
 *   refuses them (StateMachineTypeNotSupported) as AWS does.
 * - Fault rules of kind `duplicate` and `reorder` have no meaning for a Task and are ignored.
 */
import type { Kernel, LocalService, StatesPort } from '../core/kernel.js';
import { createStepFunctionsApi } from './api.js';
import { compileDefinition } from './definition.js';
import { StepFunctionsEngine, type DescribeExecutionOutputLike } from './engine.js';
import { createStateMachineProvider } from './provider.js';
import { FileStore } from './store.js';

export type { DescribeExecutionOutputLike } from './engine.js';
export { compileDefinition } from './definition.js';

/** The Step Functions port with a helper to await an execution's end. */
export type LocalStatesPort = StatesPort & {
  /** Resolves with DescribeExecution's output once the execution is no longer RUNNING; rejects after `timeoutMs` (default 30 s). */
  waitForExecution(executionArn: string, timeoutMs?: number): Promise<DescribeExecutionOutputLike>;
};

/** Creates the service; loads persisted state machines and executions from `${kernel.stateDir}/stepfunctions/`. */
export function createStepFunctions(kernel: Kernel): { service: LocalService; states: LocalStatesPort } {
  const store = new FileStore(kernel.stateDir);
  const engine = new StepFunctionsEngine(kernel, store);
  for (const record of store.loadMachines()) {
    try {
      engine.machines.set(record.stateMachineArn, { record, compiled: compileDefinition(record.definition) });
    } catch (err) {
      console.error(`[stepfunctions] persisted state machine ${record.name} no longer compiles and is skipped:`, err);
    }
  }
  for (const record of store.loadExecutions()) {
    if (record.status === 'RUNNING') engine.failInterrupted(record);
    else engine.adopt(record);
  }
  store.flush();

  const states: LocalStatesPort = {
    startExecution: (input) => engine.startExecution(input),
    waitForExecution: (executionArn, timeoutMs) => engine.waitFor(executionArn, timeoutMs),
  };
  const service: LocalService = {
    name: 'stepfunctions',
    json: createStepFunctionsApi(kernel, engine, store),
    providers: [createStateMachineProvider(kernel, engine, store)],
    async stop() {
      engine.shutdown();
      store.flush();
    },
  };
  return { service, states };
}
