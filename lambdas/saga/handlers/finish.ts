/**
 * The saga's `finish` lifecycle handler: validate the payload from the state machine, run the
 * domain use case (`finish` in `domain/saga.ts`), return its result to the state machine.
 */
import { logger } from '../../shared/observability.js';
import { FinishInput, parseInput } from '../domain/inputs.js';
import { finish } from '../domain/saga.js';
import { deps } from '../adapters/runtime.js';

export const handler = async (event: unknown) => {
  const input = parseInput('finish', FinishInput, event);
  if ('sagaId' in input) logger.appendKeys({ sagaId: input.sagaId });
  const result = await finish(input, deps);
  logger.info('finish done');
  return result ?? {};
};
