import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';

/**
 * The defaults every Converge table shares: on-demand capacity, point-in-time recovery,
 * encryption at rest with the AWS-managed KMS key, and retention on stack deletion.
 */
export function secureTableDefaults(removalPolicy: RemovalPolicy = RemovalPolicy.RETAIN): Pick<
  dynamodb.TableProps,
  'billingMode' | 'pointInTimeRecoverySpecification' | 'encryption' | 'removalPolicy'
> {
  return {
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    removalPolicy,
  };
}
