/**
 * The saga's `start` lifecycle handler: validate the payload from the state machine, run the
 * domain use case (`startSaga` in `domain/saga.ts`), return its result to the state machine.
 */
import { logger } from '../../shared/observability.js';
import { StartInput, parseInput } from '../domain/inputs.js';
import { startSaga } from '../domain/saga.js';
import { deps } from '../adapters/runtime.js';

export const handler = async (event: unknown) => {
  const input = parseInput('start', StartInput, event);
  if ('sagaId' in input) logger.appendKeys({ sagaId: input.sagaId });
  const result = await startSaga(input, deps);
  logger.info('start done');
  return result ?? {};
};
