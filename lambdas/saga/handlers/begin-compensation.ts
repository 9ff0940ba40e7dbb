/**
 * The saga's `begin-compensation` lifecycle handler: validate the payload from the state machine, run the
 * domain use case (`beginCompensation` in `domain/saga.ts`), return its result to the state machine.
 */
import { logger } from '../../shared/observability.js';
import { BeginCompensationInput, parseInput } from '../domain/inputs.js';
import { beginCompensation } from '../domain/saga.js';
import { deps } from '../adapters/runtime.js';

export const handler = async (event: unknown) => {
  const input = parseInput('begin-compensation', BeginCompensationInput, event);
  if ('sagaId' in input) logger.appendKeys({ sagaId: input.sagaId });
  const result = await beginCompensation(input, deps);
  logger.info('begin-compensation done');
  return result ?? {};
};
