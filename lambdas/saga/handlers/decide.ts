/**
 * The saga's `decide` lifecycle handler: validate the payload from the state machine, run the
 * domain use case (`decide` in `domain/saga.ts`), return its result to the state machine.
 */
import { logger } from '../../shared/observability.js';
import { DecideInput, parseInput } from '../domain/inputs.js';
import { decide } from '../domain/saga.js';
import { deps } from '../adapters/runtime.js';

export const handler = async (event: unknown) => {
  const input = parseInput('decide', DecideInput, event);
  if ('sagaId' in input) logger.appendKeys({ sagaId: input.sagaId });
  const result = await decide(input, deps);
  logger.info('decide done');
  return result ?? {};
};
