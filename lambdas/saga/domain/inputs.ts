/**
 * The payloads the generated state machine sends each handler (see `statemachines/saga.ts`),
 * validated with zod at the handler edge. A payload that does not match is a bug in the
 * definition, so it fails loudly as a ContractViolation.
 */
import { z } from 'zod';
import { validate } from '../../shared/contracts/contract.js';

const order = z.object({
  schemaVersion: z.literal(1),
  orderId: z.string().min(1),
  customerId: z.string().min(1),
  items: z.array(z.object({ sku: z.string().min(1), quantity: z.number().int().positive() })).min(1),
  amount: z.number().int().nonnegative(),
  currency: z.string(),
});

/** The Catch output Step Functions hands on: `{Error, Cause}`. */
export const CaughtError = z.object({ Error: z.string(), Cause: z.string().optional().default('') });
export type CaughtError = z.infer<typeof CaughtError>;

/** StartSaga's payload: the input-transformed event plus the execution's identity. */
export const StartInput = z.object({
  event: z.object({ eventId: z.string().optional(), eventTime: z.string().optional(), detail: z.unknown() }).passthrough(),
  executionArn: z.string().min(1),
  executionStartTime: z.string().optional(),
  saga: z.string().min(1),
});
export type StartInput = z.infer<typeof StartInput>;

const stepBase = {
  sagaId: z.string().min(1),
  order,
  executionArn: z.string().min(1),
  step: z.string().min(1),
  idempotencyKey: z.string().min(1),
};

/** A step action's payload. `final` marks the last step, whose commit also ends the saga. */
export const ActionInput = z.object({ ...stepBase, final: z.boolean() });
export type ActionInput = z.infer<typeof ActionInput>;

/** The failure BeginCompensation recorded (`$.Failure.Payload`). */
export const Failure = z.object({
  step: z.string(),
  failureClass: z.enum(['business', 'unknown']),
  error: z.string(),
  cause: z.string(),
  plan: z.array(z.string()),
});

/** A compensation's payload. */
export const CompensationInput = z.object({ ...stepBase, forStep: z.string().min(1), failure: Failure });
export type CompensationInput = z.infer<typeof CompensationInput>;

/** BeginCompensation's payload. */
export const BeginCompensationInput = z.object({
  sagaId: z.string().min(1),
  order,
  executionArn: z.string().min(1),
  failedStep: z.string().min(1),
  failureClass: z.enum(['business', 'unknown']),
  error: CaughtError,
  plan: z.array(z.string()),
});
export type BeginCompensationInput = z.infer<typeof BeginCompensationInput>;

const escalationBase = { sagaId: z.string().min(1), executionArn: z.string().min(1), compensation: z.string().min(1), forStep: z.string().min(1) };

/** Escalate's payload (a `.waitForTaskToken` task). */
export const EscalateInput = z.object({ ...escalationBase, taskToken: z.string().min(1), error: CaughtError, failure: Failure });
export type EscalateInput = z.infer<typeof EscalateInput>;

/** Decide's payload: the operator's SendTaskSuccess output is `decision`, checked in the domain. */
export const DecideInput = z.object({ ...escalationBase, decision: z.unknown() });
export type DecideInput = z.infer<typeof DecideInput>;

/** The operator's answer (SendTaskSuccess output). */
export const DecisionSchema = z.object({ decision: z.enum(['retry', 'skip', 'resolve']), reason: z.string().min(1).max(1000), actor: z.string().min(1).max(256) });

/** FinishSaga's payload. */
export const FinishInput = z.object({
  sagaId: z.string().min(1),
  order,
  executionArn: z.string().min(1),
  mode: z.enum(['compensated', 'resolved', 'unresolved']),
  failure: Failure,
  error: CaughtError.optional(),
});
export type FinishInput = z.infer<typeof FinishInput>;

/** Parses a handler payload against its schema. */
export function parseInput<S extends z.ZodType>(name: string, schema: S, payload: unknown): z.infer<S> {
  return validate(`saga/${name}`, schema, payload);
}
