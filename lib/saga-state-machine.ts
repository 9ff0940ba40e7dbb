import { type CfnResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import * as sagaErrors from '../lambdas/saga/errors.js';
import { assertValidSaga, exportedErrorNames, functionArnKey, renderSaga, sagaHandlers, tableEnvVar, type AslDefinition, type SagaDefinition } from '../statemachines/saga.js';
import type { AuditTrail } from './audit-trail.js';
import { ConvergeFunction } from './converge-function.js';
import type { IdempotencyStore } from './idempotency-store.js';

/** Props of {@link SagaStateMachine}. */
export interface SagaStateMachineProps {
  /** The declared saga (from `statemachines/`); validated at synth. */
  readonly definition: SagaDefinition;
  /**
   * The tables the handlers name, by logical name, except `Audit` and `Idempotency` (given below).
   * Must include the saga's ledger as `SagaLedger`.
   */
  readonly tables: Readonly<Record<string, dynamodb.ITable>>;
  /** The append-only audit trail (handlers get PutItem and an explicit Deny of rewrites). */
  readonly audit: AuditTrail;
  /** The Powertools idempotency store. */
  readonly idempotency: IdempotencyStore;
  /** The bus SagaNeedsAttention / SagaCompensated are published on. */
  readonly eventBus: events.IEventBus;
  /**
   * The error names ASL may use, besides `States.*` and `Lambda.*`.
   * @default the error classes exported by `lambdas/saga/errors.ts`
   */
  readonly declaredErrors?: ReadonlySet<string>;
  /** How long an escalation waits for an operator. @default the definition's escalationTimeoutSeconds */
  readonly escalationTimeout?: Duration;
  /** Retention of the execution log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Renders a declared saga into a Standard state machine: one Lambda per action, compensation and
 * lifecycle handler (each granted only the tables its declaration names), the generated ASL with
 * the function ARNs as DefinitionSubstitutions, execution logging (ALL) and X-Ray tracing.
 * Refuses, at synth, a definition with a step before the pivot lacking a compensation or an error
 * name not declared in an errors.ts.
 */
export class SagaStateMachine extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  /** The functions, by handler name (the step and compensation names, plus StartSaga, BeginCompensation, Escalate, Decide, FinishSaga). */
  public readonly functions: Readonly<Record<string, ConvergeFunction>>;
  public readonly logGroup: logs.LogGroup;
  /** The rendered ASL (before substitution). */
  public readonly asl: AslDefinition;

  constructor(scope: Construct, id: string, props: SagaStateMachineProps) {
    super(scope, id);
    const definition: SagaDefinition = props.escalationTimeout ? { ...props.definition, escalationTimeoutSeconds: props.escalationTimeout.toSeconds() } : props.definition;
    assertValidSaga(definition, props.declaredErrors ?? exportedErrorNames(sagaErrors));
    if (!props.tables.SagaLedger) throw new Error(`SagaStateMachine ${id}: tables must include the ledger as 'SagaLedger'`);

    const arnRef = (c: Construct) => `<${Stack.of(this).resolve((c.node.defaultChild as CfnResource).logicalId)}.Arn>`;
    const functions: Record<string, ConvergeFunction> = {};
    for (const [name, handler] of Object.entries(sagaHandlers(definition))) {
      const environment: Record<string, string> = { SAGA_STATE: name };
      const fn = new ConvergeFunction(this, name, { entry: handler.entry, serviceName: `saga-${definition.name}`, environment });
      for (const logical of handler.tables) {
        if (logical === 'Audit') {
          fn.function.addEnvironment(tableEnvVar(logical), props.audit.table.tableName);
          props.audit.grantAppend(fn.role);
        } else if (logical === 'Idempotency') {
          fn.function.addEnvironment(tableEnvVar(logical), props.idempotency.table.tableName);
          props.idempotency.grantUse(fn.role);
        } else {
          const table = props.tables[logical];
          if (!table) throw new Error(`SagaStateMachine ${id}: handler ${name} names table '${logical}', which is not in props.tables`);
          fn.function.addEnvironment(tableEnvVar(logical), table.tableName);
          // Item-level only: the actions a TransactWriteItems of conditional puts/updates needs.
          fn.role.addToPrincipalPolicy(
            new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'], resources: [table.tableArn] }),
          );
        }
      }
      if (handler.publishesEvents) {
        fn.function.addEnvironment('EVENT_BUS_NAME', props.eventBus.eventBusName);
        props.eventBus.grantPutEventsTo(fn.role);
      }
      Validations.of(fn.role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.' });
      Validations.of(fn.role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${arnRef(fn.logGroup)}:*]`, reason: 'Log streams of the function’s own log group: stream names are generated by Lambda.' });
      Validations.of(fn.role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${arnRef(props.audit.table)}/index/*]`, reason: 'Reads of the audit trail’s own GSIs (AuditTrail.grantAppend); writes are PutItem on the table only.' });
      functions[name] = fn;
    }
    this.functions = functions;

    this.asl = renderSaga(definition);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-${id}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(this.asl, null, 1)),
      definitionSubstitutions: Object.fromEntries(Object.entries(functions).map(([name, fn]) => [functionArnKey(name), fn.function.functionArn])),
      tracingEnabled: true,
      // Execution data carries customer ids and amounts: the ledger and the audit trail keep what is needed.
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    // Unqualified ARNs only: the state machine invokes $LATEST, never a version or alias.
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: Object.values(functions).map((f) => f.function.functionArn) }));
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'CloudWatch Logs delivery (logs:CreateLogDelivery…) and X-Ray actions support no resource-level permissions.',
    });
  }
}
