import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { describe, expect, it } from 'vitest';
import { BucketDigests } from '../../lib/bucket-digests.js';
import { awsSolutionsFindings } from './nag.js';

function build(withReplicaStream = true) {
  const stack = new Stack(new App(), 'DigestsTest');
  const table = (id: string, stream: boolean) =>
    new dynamodb.Table(stack, id, { partitionKey: { name: 'orderId', type: dynamodb.AttributeType.STRING }, pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true }, ...(stream ? { stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES } : {}) });
  const pair = { name: 'order', source: table('Src', true), replica: table('Rep', withReplicaStream), keyAttributes: ['orderId'] };
  return { stack, digests: new BucketDigests(stack, 'Digests', { pair, buckets: 1024, bucketsPerPage: 32 }) };
}

describe('BucketDigests', () => {
  it('maps both streams to the upkeep function with partial batch responses and an on-failure queue', () => {
    const { stack } = build();
    const t = Template.fromStack(stack);
    const mappings = Object.values(t.findResources('AWS::Lambda::EventSourceMapping')).map((m: any) => m.Properties);
    expect(mappings).toHaveLength(2);
    for (const m of mappings) {
      expect(m.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(m.StartingPosition).toBe('TRIM_HORIZON');
      expect(m.DestinationConfig.OnFailure.Destination).toBeDefined();
      // Large batches let one page update carry many changes.
      expect(m.BatchSize).toBe(1000);
      expect(m.MaximumBatchingWindowInSeconds).toBeUndefined();
    }
    const env = Object.values(t.findResources('AWS::Lambda::Function')).map((f: any) => f.Properties.Environment.Variables).find((v: any) => v.DIGEST_TABLE);
    expect(env).toMatchObject({ DIGEST_BUCKETS: '1024', DIGEST_BUCKETS_PER_PAGE: '32' });
  });

  it('gives the upkeep function only PutItem and UpdateItem on the digest table', () => {
    const { stack, digests } = build();
    const t = Template.fromStack(stack);
    const digestId = stack.getLogicalId(digests.table.node.defaultChild as any);
    const statements = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const onDigest = statements.filter((s: any) => JSON.stringify(s.Resource).includes(digestId));
    expect(onDigest.flatMap((s: any) => [s.Action].flat()).sort()).toEqual(['dynamodb:PutItem', 'dynamodb:UpdateItem']);
  });

  it('refuses a pair without streams on both tables', () => {
    expect(() => build(false)).toThrow(/both tables/);
  });

  it('is clean under cdk-nag AwsSolutions', () => {
    expect(awsSolutionsFindings(build().stack)).toEqual([]);
  });
});
