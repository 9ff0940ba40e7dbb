/**
 * The saga context's errors. Each class name is the error `name` Lambda reports as `errorType`,
 * which is exactly what the generated ASL matches in Retry/Catch `ErrorEquals`. The synth-time
 * check of `statemachines/saga.ts` refuses a saga definition naming an error not exported here.
 */
import { ConvergeError } from '../shared/errors.js';

// Bad input: StartSaga throws these and the execution ends FAILED with that Error, without effects.
export { ContractViolation, UnknownSchemaVersion, PayloadTooLarge } from '../shared/errors.js';

/** Business error of ReserveInventory: a sku has `available < quantity` (or is unknown). Compensates. */
export class InsufficientStock extends ConvergeError {
  constructor(public readonly sku: string, message = `insufficient stock for sku ${sku}`) {
    super(message);
  }
}

/** Business error of ChargePayment: the wallet has `balance < amount` (or does not exist). Compensates. */
export class PaymentDeclined extends ConvergeError {
  constructor(public readonly customerId: string, message = 'payment declined: insufficient balance') {
    super(message);
  }
}

/** Business error of CreateOrder: an order with this id exists and was not created by this saga. */
export class OrderAlreadyExists extends ConvergeError {}

/** Business error of CreateShipment: a shipment for this order exists and was not created by this saga. */
export class ShipmentAlreadyExists extends ConvergeError {}

/**
 * Business error of ConfirmOrder (the order is no longer PENDING, e.g. cancelled meanwhile); raised
 * by CancelOrder too when the order was confirmed, which then escalates rather than undoing a pivot.
 */
export class OrderNotPending extends ConvergeError {}

/** CancelShipment found the shipment in a state it may not cancel (e.g. already dispatched). Escalates. */
export class ShipmentNotCancellable extends ConvergeError {}

/**
 * A dependency was unavailable or throttled (DynamoDB throttling, a transaction conflict, a 5xx).
 * Transient: the generated Retry retries it with backoff and full jitter.
 */
export class ServiceUnavailable extends ConvergeError {}

/** The saga ledger is not in a state that allows the step (e.g. an action after compensation began). */
export class SagaStateConflict extends ConvergeError {}

/** An operator's answer to an escalation is not `{decision: retry|skip|resolve, reason, actor}`; the saga asks again. */
export class InvalidDecision extends ConvergeError {}
