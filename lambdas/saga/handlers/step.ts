/**
 * Every PlaceOrder action and compensation (one function each; `SAGA_STATE` names it). A thin
 * adapter: validate the payload, run the idempotent domain use case, return its result.
 */
import type { Context } from 'aws-lambda';
import { logger } from '../../shared/observability.js';
import { ActionInput, CompensationInput, parseInput } from '../domain/inputs.js';
import { runAction, runCompensation } from '../domain/saga.js';
import { deps, idempotentStep } from '../adapters/runtime.js';

const action = idempotentStep((input: ActionInput) => runAction(input, deps));
const compensation = idempotentStep((input: CompensationInput) => runCompensation(input, deps));

export const handler = async (event: unknown, context: Context) => {
  const isCompensation = typeof event === 'object' && event !== null && 'forStep' in event;
  const input = isCompensation ? parseInput('compensation', CompensationInput, event) : parseInput('action', ActionInput, event);
  logger.appendKeys({ sagaId: input.sagaId, step: input.step });
  const result = isCompensation ? await compensation(input as CompensationInput, context) : await action(input as ActionInput, context);
  logger.info('step done', { outcome: (result as { outcome: string }).outcome });
  return result;
};
