import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  ListExportsCommand,
  ListStackResourcesCommand,
  ListStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKernel } from '../../support/kernel.js';
import { startFront, type Front } from '../../../local/core/server.js';
import { createCloudFormation, type CloudFormationParts } from '../../../local/cloudformation/index.js';

let stateDir: string;
let front: Front;
let parts: CloudFormationParts;
let cfn: CloudFormationClient;

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(tmpdir(), 'converge-cfnapi-'));
  const kernel = testKernel(stateDir);
  parts = createCloudFormation(kernel);
  const deployer = parts.connect(parts.service.providers!);
  front = await startFront({ json: [], routes: parts.service.routes!, port: 0 });
  cfn = new CloudFormationClient({ endpoint: front.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  await deployer.deployStack({
    stackName: 'Base',
    template: {
      Description: 'base <stack> & co',
      Resources: {
        Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] } } },
        Logs: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: '/converge/test', RetentionInDays: 7 } },
      },
      Outputs: {
        RoleArn: { Value: { 'Fn::GetAtt': ['Role', 'Arn'] }, Description: 'the role', Export: { Name: 'base-role-arn' } },
        LogGroupArn: { Value: { 'Fn::GetAtt': ['Logs', 'Arn'] } },
      },
    },
  });
  await deployer.deployStack({
    stackName: 'App',
    template: {
      Resources: {
        Policy: {
          Type: 'AWS::IAM::Policy',
          Properties: {
            PolicyName: 'p',
            Roles: [{ 'Fn::Select': [1, { 'Fn::Split': ['/', { 'Fn::ImportValue': 'base-role-arn' }] }] }],
            PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'], Resource: '*' }] },
          },
        },
        Meta: { Type: 'AWS::CDK::Metadata', Properties: { Analytics: 'v2:deflate64:xyz' } },
      },
    },
  });
});

afterAll(async () => {
  cfn.destroy();
  await front.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('CloudFormation query API through @aws-sdk/client-cloudformation', () => {
  it('DescribeStacks lists every stack with outputs and status', async () => {
    const { Stacks } = await cfn.send(new DescribeStacksCommand({}));
    expect(Stacks!.map((s) => s.StackName)).toEqual(['Base', 'App']);
    const base = Stacks![0]!;
    expect(base.StackStatus).toBe('CREATE_COMPLETE');
    expect(base.Description).toBe('base <stack> & co');
    expect(base.StackId).toMatch(/^arn:aws:cloudformation:us-east-1:000000000000:stack\/Base\//);
    expect(base.CreationTime).toBeInstanceOf(Date);
    const roleArn = base.Outputs!.find((o) => o.OutputKey === 'RoleArn')!;
    expect(roleArn).toEqual({ OutputKey: 'RoleArn', OutputValue: expect.stringMatching(/^arn:aws:iam::000000000000:role\/Base-Role-[A-Z0-9]{12}$/), Description: 'the role', ExportName: 'base-role-arn' });
    expect(base.Outputs!.find((o) => o.OutputKey === 'LogGroupArn')!.OutputValue).toBe('arn:aws:logs:us-east-1:000000000000:log-group:/converge/test:*');
  });

  it('DescribeStacks by name or id, and a missing stack fails as on AWS', async () => {
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: 'App' }));
    expect(Stacks).toHaveLength(1);
    const byId = await cfn.send(new DescribeStacksCommand({ StackName: Stacks![0]!.StackId }));
    expect(byId.Stacks![0]!.StackName).toBe('App');
    const err = await cfn.send(new DescribeStacksCommand({ StackName: 'Nope' })).catch((e) => e);
    expect(err).toBeInstanceOf(CloudFormationServiceException);
    expect(err.name).toBe('ValidationError');
    expect(err.message).toBe('Stack with id Nope does not exist');
    expect(err.$metadata.httpStatusCode).toBe(400);
  });

  it('ListStacks, DescribeStackResources, ListStackResources and ListExports', async () => {
    const listed = await cfn.send(new ListStacksCommand({ StackStatusFilter: ['CREATE_COMPLETE'] }));
    expect(listed.StackSummaries!.map((s) => [s.StackName, s.StackStatus])).toEqual([
      ['Base', 'CREATE_COMPLETE'],
      ['App', 'CREATE_COMPLETE'],
    ]);
    expect((await cfn.send(new ListStacksCommand({ StackStatusFilter: ['DELETE_COMPLETE'] }))).StackSummaries).toEqual([]);
    const resources = await cfn.send(new DescribeStackResourcesCommand({ StackName: 'Base' }));
    expect(resources.StackResources!.map((r) => [r.LogicalResourceId, r.ResourceType, r.ResourceStatus])).toEqual([
      ['Role', 'AWS::IAM::Role', 'CREATE_COMPLETE'],
      ['Logs', 'AWS::Logs::LogGroup', 'CREATE_COMPLETE'],
    ]);
    expect(resources.StackResources![1]!.PhysicalResourceId).toBe('/converge/test');
    const summaries = await cfn.send(new ListStackResourcesCommand({ StackName: 'App' }));
    expect(summaries.StackResourceSummaries!.map((r) => r.LogicalResourceId).sort()).toEqual(['Meta', 'Policy']);
    const exports = await cfn.send(new ListExportsCommand({}));
    expect(exports.Exports!.map((e) => e.Name)).toEqual(['base-role-arn']);
  });

  it('refuses an unknown action with InvalidAction', async () => {
    const res = await fetch(front.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=CreateStack&Version=2010-05-15' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>InvalidAction</Code>');
  });

  it('records IAM roles and the policies attached to them', () => {
    const roleArn = parts.deployer!.stack('Base')!.outputs.find((o) => o.OutputKey === 'RoleArn')!.OutputValue;
    expect(parts.iam.statementsFor(roleArn)).toEqual([{ Effect: 'Deny', Action: ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'], Resource: '*' }]);
    expect(parts.iam.role(roleArn)!.assumeRolePolicyDocument).toMatchObject({ Statement: [{ Principal: { Service: 'lambda.amazonaws.com' } }] });
    expect(() => parts.iam.statementsFor('arn:aws:iam::000000000000:role/ghost')).toThrow(/no recorded IAM role arn:aws:iam::000000000000:role\/ghost/);
  });
});
