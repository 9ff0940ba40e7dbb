/**
 * The saga's `escalate` lifecycle handler: validate the payload from the state machine, run the
 * domain use case (`escalate` in `domain/saga.ts`), return its result to the state machine.
 */
import { logger } from '../../shared/observability.js';
import { EscalateInput, parseInput } from '../domain/inputs.js';
import { escalate } from '../domain/saga.js';
import { deps } from '../adapters/runtime.js';

export const handler = async (event: unknown) => {
  const input = parseInput('escalate', EscalateInput, event);
  if ('sagaId' in input) logger.appendKeys({ sagaId: input.sagaId });
  const result = await escalate(input, deps);
  logger.info('escalate done');
  return result ?? {};
};
