import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { placeOrderSaga } from '../statemachines/place-order.js';
import type { SagaDefinition } from '../statemachines/saga.js';
import type { ArchivedEventBus } from './archived-event-bus.js';
import type { AuditTrail } from './audit-trail.js';
import type { IdempotencyStore } from './idempotency-store.js';
import { SagaStateMachine } from './saga-state-machine.js';
import type { ShopTables } from './shop-tables.js';
import { secureTableDefaults } from './table-defaults.js';

/** GSI of the saga ledger listing saga headers by status, most recently updated last. */
export const LEDGER_BY_STATUS_INDEX = 'byStatus';

/** Props of {@link PlaceOrderSaga}. */
export interface PlaceOrderSagaProps {
  readonly tables: ShopTables;
  readonly audit: AuditTrail;
  readonly idempotency: IdempotencyStore;
  /** The bus whose `shop.orders`/`OrderPlaced` events start the saga, with its target DLQ. */
  readonly events: ArchivedEventBus;
  /** The saga declaration. @default placeOrderSaga from `statemachines/place-order.ts` */
  readonly definition?: SagaDefinition;
  /** How long an escalation waits for an operator. @default the definition's (24 hours) */
  readonly escalationTimeout?: Duration;
  /** Removal policy of the ledger (it outlives the Step Functions history). @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Retries of the rule's StartExecution before the event goes to the DLQ. @default 8 */
  readonly retryAttempts?: number;
  /** Oldest event the rule still tries to deliver. @default Duration.hours(2) */
  readonly maxEventAge?: Duration;
}

/**
 * The reference PlaceOrder saga: its ledger table, the generated state machine and the rule that
 * starts it from `shop.orders`/`OrderPlaced`, with an input transformer, a retry policy and the
 * bus's target dead-letter queue.
 *
 * Ledger: pk `sagaId` (`order#<orderId>`), sk `SAGA` (header) or `EFFECT#<Step>` (effects); GSI
 * `byStatus` (`status`, `updatedAt`) finds sagas NEEDS_HUMAN or COMPENSATION_FAILED.
 */
export class PlaceOrderSaga extends Construct {
  public readonly ledger: dynamodb.Table;
  public readonly saga: SagaStateMachine;
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: PlaceOrderSagaProps) {
    super(scope, id);
    this.ledger = new dynamodb.Table(this, 'Ledger', {
      ...secureTableDefaults(props.removalPolicy),
      partitionKey: { name: 'sagaId', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
    });
    this.ledger.addGlobalSecondaryIndex({
      indexName: LEDGER_BY_STATUS_INDEX,
      partitionKey: { name: 'status', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'updatedAt', type: dynamodb.AttributeType.STRING },
    });
    const t = props.tables;
    this.saga = new SagaStateMachine(this, 'PlaceOrder', {
      definition: props.definition ?? placeOrderSaga,
      tables: { Orders: t.orders, Inventory: t.inventory, Wallets: t.wallets, Shipments: t.shipments, SagaLedger: this.ledger },
      audit: props.audit,
      idempotency: props.idempotency,
      eventBus: props.events.bus,
      escalationTimeout: props.escalationTimeout,
    });
    this.rule = new events.Rule(this, 'OrderPlacedRule', {
      eventBus: props.events.bus,
      description: 'Starts the PlaceOrder saga for every shop.orders/OrderPlaced event',
      eventPattern: { source: ['shop.orders'], detailType: ['OrderPlaced'] },
    });
    this.rule.addTarget(
      new targets.SfnStateMachine(this.saga.stateMachine, {
        // The saga reads the detail (validated by StartSaga) and keeps the event id for correlation.
        input: events.RuleTargetInput.fromObject({ eventId: events.EventField.eventId, eventTime: events.EventField.time, detail: events.EventField.fromPath('$.detail') }),
        deadLetterQueue: props.events.targetDeadLetterQueue,
        retryAttempts: props.retryAttempts ?? 8,
        maxEventAge: props.maxEventAge ?? Duration.hours(2),
      }),
    );
  }
}
