import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The repository root, from which handler entries and the lockfile are found. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Props of {@link ConvergeFunction}. */
export interface ConvergeFunctionProps {
  /** Handler source, relative to the repository root (e.g. `lambdas/sync/handler.ts`). */
  readonly entry: string;
  /** Exported handler name. @default 'handler' */
  readonly handler?: string;
  /** Powertools service name (POWERTOOLS_SERVICE_NAME). */
  readonly serviceName: string;
  /** Extra environment variables. @default none */
  readonly environment?: Record<string, string>;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** Powertools log level. @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Log retention. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Reserved concurrency. @default none (account pool) */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Whether the function is invoked asynchronously (EventBridge, Event invocations); if so it
   * gets an encrypted SQS dead-letter queue for events that exhaust their retries.
   * @default false
   */
  readonly asyncInvoked?: boolean;
}

/**
 * A Node.js Lambda function with Converge's defaults in one place: nodejs22.x on arm64,
 * bundled by local esbuild (never Docker), X-Ray tracing, a retained log group with a role that
 * may write only to it, Powertools settings from the environment, and, for asynchronously
 * invoked functions, a dead-letter queue.
 */
export class ConvergeFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;
  /** Present when `asyncInvoked` is true. */
  public readonly deadLetterQueue?: sqs.Queue;

  constructor(scope: Construct, id: string, props: ConvergeFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    this.role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    this.role.addToPolicy(
      new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${this.logGroup.logGroupArn}:*`] }),
    );
    if (props.asyncInvoked) {
      this.deadLetterQueue = new sqs.Queue(this, 'Dlq', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      Validations.of(this.deadLetterQueue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the function.' });
    }
    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(PROJECT_ROOT, props.entry),
      handler: props.handler ?? 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      deadLetterQueue: this.deadLetterQueue,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        POWERTOOLS_METRICS_NAMESPACE: 'Converge',
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.CJS,
        target: 'node22',
        minify: true,
        // Error class names are the `errorType` that Step Functions matches in ErrorEquals: never mangle them.
        keepNames: true,
        sourceMap: false,
        // The nodejs22.x runtime provides SDK v3; locally it resolves from the project's node_modules.
        externalModules: ['@aws-sdk/*'],
      },
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'DESIGN §5 pins nodejs22.x: the same major as the toolchain the code is tested on (node@22).',
    });
  }
}
