import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConvergeStack } from '../../lib/converge-stack.js';
import { SagaStateMachine } from '../../lib/saga-state-machine.js';
import { ShopTables } from '../../lib/shop-tables.js';
import { AuditTrail } from '../../lib/audit-trail.js';
import { IdempotencyStore } from '../../lib/idempotency-store.js';
import { ArchivedEventBus } from '../../lib/archived-event-bus.js';
import { placeOrderSaga } from '../../statemachines/place-order.js';
import { InvalidSagaDefinition, sagaHandlers } from '../../statemachines/saga.js';
import { awsSolutionsFindings } from './nag.js';

let stack: ConvergeStack;
let template: Template;

beforeAll(() => {
  stack = new ConvergeStack(new App(), 'Converge');
  template = Template.fromStack(stack);
});

const machine = () => Object.values(template.findResources('AWS::StepFunctions::StateMachine')).find((r) => JSON.stringify(r.Properties.DefinitionString).includes('StartSaga'))!;

describe('PlaceOrderSaga / SagaStateMachine', () => {
  it('is a Standard state machine with logging ALL and X-Ray tracing', () => {
    const p = machine().Properties;
    expect(p.StateMachineType).toBe('STANDARD');
    expect(p.LoggingConfiguration).toMatchObject({ Level: 'ALL' });
    expect(p.TracingConfiguration).toEqual({ Enabled: true });
  });

  it('substitutes one function ARN per handler of the declaration', () => {
    const subs = machine().Properties.DefinitionSubstitutions;
    expect(Object.keys(subs).sort()).toEqual(Object.keys(sagaHandlers(placeOrderSaga)).map((n) => `${n}FunctionArn`).sort());
  });

  it('starts from shop.orders/OrderPlaced with an input transformer, a retry policy and the DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['shop.orders'], 'detail-type': ['OrderPlaced'] },
      Targets: [
        Match.objectLike({
          InputTransformer: { InputPathsMap: { id: '$.id', time: '$.time', detail: '$.detail' }, InputTemplate: '{"eventId":<id>,"eventTime":<time>,"detail":<detail>}' },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EventsTargetDlq'), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
        }),
      ],
    });
  });

  it('lets the state machine invoke exactly its functions, unqualified', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles).includes('PlaceOrderSagaPlaceOrderStateMachineRole'));
    const invoke = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s: any) => [s.Action].flat().includes('lambda:InvokeFunction'));
    expect(invoke).toHaveLength(1);
    expect(invoke[0].Resource).toHaveLength(Object.keys(sagaHandlers(placeOrderSaga)).length);
    expect(JSON.stringify(invoke[0].Resource)).not.toContain(':*');
  });

  it('grants each step function only the tables its declaration names', () => {
    const statements = (fn: string) =>
      Object.values(template.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(`PlaceOrderSagaPlaceOrder${fn}Role`))
        .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const tablesOf = (fn: string) => JSON.stringify(statements(fn).filter((s: any) => [s.Action].flat().includes('dynamodb:UpdateItem') && s.Effect === 'Allow'));
    expect(tablesOf('ChargePayment')).toMatch(/TablesWallets/);
    expect(tablesOf('ChargePayment')).not.toMatch(/TablesInventory|TablesOrders/);
    expect(tablesOf('ReserveInventory')).toMatch(/TablesInventory/);
    expect(tablesOf('ReserveInventory')).not.toMatch(/TablesWallets/);
    // Append-only audit: the explicit Deny is attached to every saga function.
    expect(JSON.stringify(statements('RefundPayment'))).toContain('AuditIsAppendOnly');
  });

  it('creates the ledger (sagaId, sk) with a byStatus index and declares the outputs', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'sagaId', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byStatus' })],
    });
    expect(Object.keys(template.findOutputs('PlaceOrderStateMachineArn'))).toEqual(['PlaceOrderStateMachineArn']);
    expect(Object.keys(template.findOutputs('SagaLedgerTableName'))).toEqual(['SagaLedgerTableName']);
  });

  it('has no unacknowledged cdk-nag AwsSolutions findings in the saga', () => {
    expect(awsSolutionsFindings(stack).filter((f) => f.includes('PlaceOrderSaga'))).toEqual([]);
  });

  it('refuses at synth a definition with an uncompensated step before the pivot', () => {
    const s = new Stack(new App(), 'Bad');
    const tables = new ShopTables(s, 'T');
    const bad = { ...placeOrderSaga, steps: placeOrderSaga.steps.map((st, i) => (i === 1 ? { ...st, compensation: undefined } : st)) };
    expect(
      () => new SagaStateMachine(s, 'Saga', { definition: bad, tables: { SagaLedger: tables.orders, Orders: tables.orders, Inventory: tables.inventory, Wallets: tables.wallets, Shipments: tables.shipments }, audit: new AuditTrail(s, 'A'), idempotency: new IdempotencyStore(s, 'I'), eventBus: new ArchivedEventBus(s, 'E').bus }),
    ).toThrow(InvalidSagaDefinition);
  });
});
