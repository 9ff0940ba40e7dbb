import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCloud } from '../../local/cloud.js';
import { waitFor } from '../support/wait.js';

// A tiny stream handler: forwards what it receives to the queue, through the SQS JSON API at
// AWS_ENDPOINT_URL (no SDK in the bundle), which proves the function's env comes from the cloud.
const HANDLER = `
export const handler = async (event) => {
  const summary = event.Records.map((r) => ({ name: r.eventName, id: r.dynamodb.Keys.id.S, source: r.eventSourceARN }));
  const res = await fetch(process.env.AWS_ENDPOINT_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' },
    body: JSON.stringify({ QueueUrl: process.env.QUEUE_URL, MessageBody: JSON.stringify(summary) }),
  });
  if (!res.ok) throw new Error('SendMessage failed: ' + res.status + ' ' + (await res.text()));
  return {};
};
`;

const TEMPLATE = {
  Parameters: {
    BootstrapVersion: { Type: 'AWS::SSM::Parameter::Value<String>', Default: '/cdk-bootstrap/hnb659fds/version' },
  },
  Rules: {
    CheckBootstrapVersion: {
      Assertions: [{ Assert: { 'Fn::Not': [{ 'Fn::Contains': [['1', '2', '3', '4', '5'], { Ref: 'BootstrapVersion' }] }] }, AssertDescription: 'CDK bootstrap stack version 6 required.' }],
    },
  },
  Resources: {
    Table: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      },
    },
    Queue: { Type: 'AWS::SQS::Queue', Properties: { SqsManagedSseEnabled: true } },
    Role: {
      Type: 'AWS::IAM::Role',
      Properties: { AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] } },
    },
    Policy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'FnPolicy',
        Roles: [{ Ref: 'Role' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:DescribeStream', 'dynamodb:ListStreams'], Resource: { 'Fn::GetAtt': ['Table', 'StreamArn'] } },
            { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] } },
          ],
        },
      },
    },
    Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 7 } },
    Fn: {
      Type: 'AWS::Lambda::Function',
      DependsOn: ['Policy'],
      Properties: {
        Code: { S3Bucket: { 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' }, S3Key: 'f00d.zip' },
        Handler: 'index.handler',
        Runtime: 'nodejs22.x',
        Timeout: 10,
        Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
        Environment: { Variables: { QUEUE_URL: { Ref: 'Queue' } } },
        LoggingConfig: { LogGroup: { Ref: 'Logs' } },
      },
    },
    Mapping: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: { FunctionName: { Ref: 'Fn' }, EventSourceArn: { 'Fn::GetAtt': ['Table', 'StreamArn'] }, StartingPosition: 'TRIM_HORIZON', BatchSize: 10 },
    },
    CDKMetadata: { Type: 'AWS::CDK::Metadata', Properties: { Analytics: 'v2:deflate64:H4sI' } },
  },
  Outputs: {
    TableName: { Value: { Ref: 'Table' } },
    QueueUrl: { Value: { Ref: 'Queue' } },
    RoleArn: { Value: { 'Fn::GetAtt': ['Role', 'Arn'] } },
  },
};

function writeAssembly(dir: string): void {
  mkdirSync(path.join(dir, 'asset.f00d'), { recursive: true });
  writeFileSync(path.join(dir, 'asset.f00d', 'index.mjs'), HANDLER);
  writeFileSync(path.join(dir, 'Mini.template.json'), JSON.stringify(TEMPLATE));
  writeFileSync(path.join(dir, 'Mini.assets.json'), JSON.stringify({ version: '48.0.0', files: { f00d: { source: { path: 'asset.f00d', packaging: 'zip' }, destinations: { 'current_account-current_region': { bucketName: 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}', objectKey: 'f00d.zip' } } } }, dockerImages: {} }));
  writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify({
      version: '48.0.0',
      artifacts: {
        'Mini.assets': { type: 'cdk:asset-manifest', properties: { file: 'Mini.assets.json' } },
        Mini: { type: 'aws:cloudformation:stack', environment: 'aws://unknown-account/unknown-region', properties: { templateFile: 'Mini.template.json' }, dependencies: ['Mini.assets'] },
      },
    }),
  );
}

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
let root: string;
let assemblyDir: string;
let stateDir: string;
let cloud: LocalCloud;
let outputs: Record<string, string>;

function clients(endpoint: string) {
  const config = { endpoint, region: 'us-east-1', credentials };
  return { ddb: new DynamoDBClient(config), sqs: new SQSClient(config), cfn: new CloudFormationClient(config) };
}

/** Waits for the handler's message about `id`, and deletes it. */
async function forwarded(sqs: SQSClient, queueUrl: string, id: string): Promise<Array<{ name: string; id: string; source: string }>> {
  return waitFor(
    async () => {
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }));
      for (const m of got.Messages ?? []) {
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
        const records = JSON.parse(m.Body!) as Array<{ name: string; id: string; source: string }>;
        if (records.some((r) => r.id === id)) return records;
      }
      return undefined;
    },
    { timeoutMs: 20_000, intervalMs: 10, message: `the stream record of ${id} to reach the function` },
  );
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'converge-cloud-'));
  assemblyDir = path.join(root, 'cdk.out');
  stateDir = path.join(root, 'state');
  writeAssembly(assemblyDir);
  cloud = await LocalCloud.start({ stateDir, port: 0, fresh: true, quiet: true });
  outputs = (await cloud.deploy(assemblyDir)).stacks.Mini!;
});

afterAll(async () => {
  await cloud?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('LocalCloud', () => {
  it('deploys a table with a stream, a mapping and a function; a PutItem through the SDK reaches the function', async () => {
    const { ddb, sqs } = clients(cloud.endpoint);
    expect(outputs.QueueUrl).toMatch(new RegExp(`^${cloud.endpoint}/000000000000/Mini-Queue-`));
    await ddb.send(new PutItemCommand({ TableName: outputs.TableName, Item: { id: { S: 'order-1' }, n: { N: '1' } } }));
    const records = await forwarded(sqs, outputs.QueueUrl!, 'order-1');
    expect(records[0]).toMatchObject({ name: 'INSERT', id: 'order-1', source: expect.stringMatching(new RegExp(`^arn:aws:dynamodb:us-east-1:000000000000:table/${outputs.TableName}/stream/`)) });
    ddb.destroy();
    sqs.destroy();
  });

  it('records the IAM policy attached to the function role', () => {
    const actions = cloud.iam.statementsFor(outputs.RoleArn!).flatMap((s) => [s.Action].flat());
    expect(actions).toContain('sqs:SendMessage');
    expect(actions).toContain('dynamodb:GetRecords');
  });

  it('serves DescribeStacks and writes outputs in the cdk --outputs-file shape', async () => {
    const { cfn } = clients(cloud.endpoint);
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: 'Mini' }));
    expect(Object.fromEntries(Stacks![0]!.Outputs!.map((o) => [o.OutputKey, o.OutputValue]))).toEqual(outputs);
    cfn.destroy();
    const file = path.join(root, 'out', 'outputs.json');
    cloud.writeOutputs(file);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ Mini: outputs });
  });

  it('serves the admin API: health, clock, faults and stats', async () => {
    const admin = async (method: string, route: string, body?: unknown) => {
      const res = await fetch(`${cloud.endpoint}/_converge/${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as any };
    };
    const health = await admin('GET', 'health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', endpoint: cloud.endpoint, stacks: [{ stackName: 'Mini', status: 'CREATE_COMPLETE' }], services: expect.arrayContaining(['dynamodb', 'lambda', 'sqs', 'cloudformation']) });
    expect(health.body.deployedAt).toBeGreaterThanOrEqual(health.body.startedAt);

    const before = (await admin('GET', 'clock')).body.now;
    const advanced = await admin('POST', 'clock/advance', { ms: 3_600_000 });
    expect(advanced.body.now - before).toBeGreaterThanOrEqual(3_600_000);
    expect(cloud.kernel.clock.now()).toBeGreaterThanOrEqual(advanced.body.now);
    expect((await admin('POST', 'clock/advance', { ms: -1 })).status).toBe(400);

    const bad = await admin('PUT', 'faults', { rules: [{ kind: 'explode' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.__type).toBe('ValidationException');
    expect(bad.body.message).toContain('rules.0.kind');
    const put = await admin('PUT', 'faults', { seed: 7, rules: [{ id: 'sqs-down', service: 'sqs', operation: 'GetQueueUrl', kind: 'error', errorName: 'Boom', times: 1 }] });
    expect(put.status).toBe(200);
    const { sqs } = clients(cloud.endpoint);
    const { GetQueueUrlCommand } = await import('@aws-sdk/client-sqs');
    const queueName = outputs.QueueUrl!.split('/').pop()!;
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: queueName }))).rejects.toMatchObject({ name: 'Boom' });
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: queueName }))).resolves.toMatchObject({ QueueUrl: outputs.QueueUrl });
    sqs.destroy();
    expect((await admin('GET', 'faults')).body.rules).toEqual([{ rule: 'sqs-down', matched: 2, fired: 1 }]);
    await admin('DELETE', 'faults');
    expect((await admin('GET', 'faults')).body.rules).toEqual([]);

    const stats = await admin('GET', 'stats');
    expect(stats.body.dynamodb.requests.PutItem).toBeGreaterThanOrEqual(1);
    expect(stats.body.sqs.operations.GetQueueUrl).toBe(2);
    await admin('POST', 'stats/reset');
    const reset = await admin('GET', 'stats');
    expect(reset.body.sqs.operations.GetQueueUrl).toBeUndefined();
    expect(reset.body.dynamodb.requests.PutItem ?? 0).toBe(0);
    expect((await admin('GET', 'nothing')).status).toBe(404);
  });

  it('restarts from its state directory: redeploys incrementally, keeps data and keeps streaming', async () => {
    const { ddb } = clients(cloud.endpoint);
    await ddb.send(new PutItemCommand({ TableName: outputs.TableName, Item: { id: { S: 'kept' } } }));
    ddb.destroy();
    const roleArn = outputs.RoleArn;
    await cloud.stop();
    cloud = await LocalCloud.start({ stateDir, port: 0, quiet: true });
    const again = (await cloud.deploy(assemblyDir)).stacks.Mini!;
    // Same physical resources (the queue URL's host follows the new port).
    expect(again.TableName).toBe(outputs.TableName);
    expect(again.RoleArn).toBe(roleArn);
    expect(cloud.deployer.stack('Mini')!.status).toBe('CREATE_COMPLETE');
    const c = clients(cloud.endpoint);
    const item = await c.ddb.send(new GetItemCommand({ TableName: again.TableName, Key: { id: { S: 'kept' } } }));
    expect(item.Item).toEqual({ id: { S: 'kept' } });
    await c.ddb.send(new PutItemCommand({ TableName: again.TableName, Item: { id: { S: 'after-restart' } } }));
    const queueUrl = `${cloud.endpoint}/000000000000/${outputs.QueueUrl!.split('/').pop()}`;
    const records = await forwarded(c.sqs, queueUrl, 'after-restart');
    expect(records.find((r) => r.id === 'after-restart')!.name).toBe('INSERT');
    c.ddb.destroy();
    c.sqs.destroy();
  });
});
