/**
 * The reconciliation context's errors. Class names are what Step Functions matches in
 * `ErrorEquals` (Lambda reports them as `errorType`), so the ASL in `statemachines/reconcile.ts`
 * names them directly.
 */
import { ConvergeError } from '../shared/errors.js';

/** Reads kept being throttled after the adapter's own backoff; the state machine retries the segment later. */
export class ReadThrottled extends ConvergeError {
  constructor(
    public readonly table: string,
    public readonly attempts: number,
  ) {
    super(`reads of ${table} were throttled ${attempts} times in a row`);
  }
}

/** A run was resumed with a plan that does not match the one its checkpoints were written under. */
export class RunPlanConflict extends ConvergeError {
  constructor(public readonly runId: string, detail: string) {
    super(`run ${runId}: ${detail}`);
  }
}

/** The configuration names no table pair, or the pair lacks what a strategy needs (e.g. digests). */
export class PairNotConfigured extends ConvergeError {
  constructor(detail: string) {
    super(detail);
  }
}
