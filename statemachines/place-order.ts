/**
 * The PlaceOrder saga (DESIGN §2): the single source of truth its state machine is generated
 * from, and the post-conditions the reconciler verifies.
 *
 * CreateOrder → ReserveInventory → ChargePayment → CreateShipment → ConfirmOrder (pivot).
 * Compensations: CancelOrder, ReleaseInventory, RefundPayment, CancelShipment.
 *
 * Every effect is recorded atomically with an `EFFECT#<Step>` row in the saga ledger (see
 * `lambdas/saga/README.md`); "active" reservations and charges are those rows in state APPLIED.
 */
import type { PostCondition, RetryPolicy, SagaDefinition, SagaHandler, SagaStep } from './saga.js';

/** Errors of a dependency that is briefly unavailable, and of the Lambda service itself. */
export const TRANSIENT_ERRORS = [
  'ServiceUnavailable',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

/** Backoff of the actions' transient errors: 1 s, 2 s, 4 s (each capped at 8 s), full jitter. */
export const ACTION_RETRY: RetryPolicy = { errors: TRANSIENT_ERRORS, intervalSeconds: 1, maxAttempts: 3, backoffRate: 2, maxDelaySeconds: 8, jitter: 'FULL' };

/** The logical table names the handlers use (keys of the construct's `tables`). */
export const TABLES = { orders: 'Orders', inventory: 'Inventory', wallets: 'Wallets', shipments: 'Shipments', ledger: 'SagaLedger', audit: 'Audit', idempotency: 'Idempotency' } as const;

const STEP_ENTRY = 'lambdas/saga/handlers/step.ts';
/** Every saga handler writes the ledger, the audit trail and (steps) its idempotency records. */
const common = [TABLES.ledger, TABLES.audit, TABLES.idempotency];
const handler = (entry: string, tables: readonly string[] = [], publishesEvents = false): SagaHandler => ({ entry, tables: [...common, ...tables], publishesEvents });
const stepHandler = (tables: readonly string[]) => handler(STEP_ENTRY, tables);

/** The ledger's record of a step's effect. */
const effect = (step: string, states: readonly string[], description: string): PostCondition => ({
  description,
  table: TABLES.ledger,
  key: { sagaId: '{sagaId}', sk: `EFFECT#${step}` },
  missingIsOk: !states.includes('APPLIED'),
  attributes: { state: { in: states } },
});
/** Undone: compensated, voided (never applied), or resolved by an operator. */
const UNDONE = ['COMPENSATED', 'VOIDED', 'RESOLVED'];

const steps: SagaStep[] = [
  {
    name: 'CreateOrder',
    action: stepHandler([TABLES.orders]),
    compensation: { name: 'CancelOrder', ...stepHandler([TABLES.orders]) },
    retry: [ACTION_RETRY],
    businessErrors: ['OrderAlreadyExists'],
    postConditions: {
      afterAction: [
        effect('CreateOrder', ['APPLIED'], 'the ledger records the order creation'),
        { description: 'the order exists, created by this saga', table: TABLES.orders, key: { orderId: '{orderId}' }, missingIsOk: false, attributes: { sagaId: { equals: '{sagaId}' }, version: { exists: true } } },
      ],
      afterCompensation: [
        effect('CreateOrder', UNDONE, 'the order creation is undone'),
        { description: 'the order is absent or CANCELLED with a reason', table: TABLES.orders, key: { orderId: '{orderId}' }, missingIsOk: true, attributes: { status: { equals: 'CANCELLED' }, cancelReason: { exists: true } } },
      ],
    },
  },
  {
    name: 'ReserveInventory',
    action: stepHandler([TABLES.inventory]),
    compensation: { name: 'ReleaseInventory', ...stepHandler([TABLES.inventory]) },
    retry: [ACTION_RETRY],
    businessErrors: ['InsufficientStock'],
    postConditions: {
      afterAction: [effect('ReserveInventory', ['APPLIED'], 'the reservation is active (stock decremented in the same transaction)')],
      afterCompensation: [effect('ReserveInventory', UNDONE, 'no active reservation remains')],
    },
  },
  {
    name: 'ChargePayment',
    action: stepHandler([TABLES.wallets]),
    compensation: { name: 'RefundPayment', ...stepHandler([TABLES.wallets]) },
    retry: [ACTION_RETRY],
    businessErrors: ['PaymentDeclined'],
    postConditions: {
      afterAction: [effect('ChargePayment', ['APPLIED'], 'the charge is active (balance debited in the same transaction)')],
      afterCompensation: [effect('ChargePayment', UNDONE, 'no active charge remains')],
    },
  },
  {
    name: 'CreateShipment',
    action: stepHandler([TABLES.shipments]),
    compensation: { name: 'CancelShipment', ...stepHandler([TABLES.shipments]) },
    retry: [ACTION_RETRY],
    businessErrors: ['ShipmentAlreadyExists'],
    postConditions: {
      afterAction: [
        effect('CreateShipment', ['APPLIED'], 'the ledger records the shipment'),
        { description: 'the shipment exists', table: TABLES.shipments, key: { orderId: '{orderId}' }, missingIsOk: false, attributes: { status: { equals: 'CREATED' }, sagaId: { equals: '{sagaId}' } } },
      ],
      afterCompensation: [
        effect('CreateShipment', UNDONE, 'the shipment is undone'),
        { description: 'the shipment is absent or CANCELLED', table: TABLES.shipments, key: { orderId: '{orderId}' }, missingIsOk: true, attributes: { status: { equals: 'CANCELLED' } } },
      ],
    },
  },
  {
    name: 'ConfirmOrder',
    action: stepHandler([TABLES.orders]),
    pivot: true,
    retry: [ACTION_RETRY],
    businessErrors: ['OrderNotPending'],
    postConditions: {
      afterAction: [
        effect('ConfirmOrder', ['APPLIED'], 'the ledger records the confirmation'),
        { description: 'the order is CONFIRMED', table: TABLES.orders, key: { orderId: '{orderId}' }, missingIsOk: false, attributes: { status: { equals: 'CONFIRMED' } } },
        { description: 'the saga SUCCEEDED', table: TABLES.ledger, key: { sagaId: '{sagaId}', sk: 'SAGA' }, missingIsOk: false, attributes: { status: { equals: 'SUCCEEDED' } } },
      ],
      afterCompensation: [],
    },
  },
];

/** The PlaceOrder saga. */
export const placeOrderSaga: SagaDefinition = {
  name: 'PlaceOrder',
  comment: 'PlaceOrder saga, generated from statemachines/place-order.ts: CreateOrder → ReserveInventory → ChargePayment → CreateShipment → ConfirmOrder (pivot), compensated in reverse order.',
  steps,
  control: {
    start: handler('lambdas/saga/handlers/start.ts'),
    beginCompensation: handler('lambdas/saga/handlers/begin-compensation.ts'),
    escalate: handler('lambdas/saga/handlers/escalate.ts', [], true),
    decide: handler('lambdas/saga/handlers/decide.ts'),
    finish: handler('lambdas/saga/handlers/finish.ts', [], true),
  },
  inputErrors: ['ContractViolation', 'UnknownSchemaVersion', 'PayloadTooLarge'],
  controlRetry: ACTION_RETRY,
  compensationRetry: { intervalSeconds: 1, maxAttempts: 3, backoffRate: 2, maxDelaySeconds: 8, jitter: 'FULL' },
  escalationTimeoutSeconds: 86_400,
};
