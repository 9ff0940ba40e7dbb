import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GetExecutionHistoryCommand, SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, StartExecutionCommand, DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { startHarness, type Harness } from './harness.js';

const FN = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

async function start(machineArn: string, input: unknown, name?: string): Promise<string> {
  const out = await h.sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn, input: JSON.stringify(input), name }));
  return out.executionArn!;
}

async function history(executionArn: string) {
  return (await h.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }))).events!;
}

describe('Task retries and catches', () => {
  it('retries a named error exactly MaxAttempts-bounded times and then succeeds', async () => {
    let calls = 0;
    h.functions.set('flaky', () => {
      calls += 1;
      if (calls <= 2) {
        const e = new Error(`attempt ${calls} failed`);
        e.name = 'TransientError';
        throw e;
      }
      return { ok: true, calls };
    });
    const arn = await h.deploy('Retry', {
      StartAt: 'Call',
      States: {
        Call: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: FN('flaky'), 'Payload.$': '$' },
          Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }],
          OutputPath: '$.Payload',
          End: true,
        },
      },
    });
    const exec = await start(arn, { n: 1 });
    const done = await h.drive(exec);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toEqual({ ok: true, calls: 3 });
    expect(calls).toBe(3);
    const types = (await history(exec)).map((e) => e.type);
    expect(types.filter((t) => t === 'TaskScheduled')).toHaveLength(3);
    expect(types.filter((t) => t === 'TaskFailed')).toHaveLength(2);
    expect(types.filter((t) => t === 'TaskStateEntered')).toHaveLength(1);
  });

  it('waits for the retry interval on the local clock', async () => {
    let calls = 0;
    h.functions.set('flaky', () => {
      calls += 1;
      if (calls === 1) throw Object.assign(new Error('x'), { name: 'TransientError' });
      return {};
    });
    const arn = await h.deploy('RetryWait', {
      StartAt: 'Call',
      States: { Call: { Type: 'Task', Resource: FN('flaky'), Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 30 }], End: true } },
    });
    const exec = await start(arn, {});
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(1);
    await h.kernel.clock.advance(29_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(1);
    await h.kernel.clock.advance(1_000);
    const done = await h.sf.states.waitForExecution(exec, 5000);
    expect(done.status).toBe('SUCCEEDED');
    expect(calls).toBe(2);
  });

  it('gives up after MaxAttempts and fails the execution with the error name and JSON cause', async () => {
    h.functions.set('broken', () => {
      throw Object.assign(new Error('still broken'), { name: 'TransientError' });
    });
    const arn = await h.deploy('GiveUp', {
      StartAt: 'Call',
      States: { Call: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'broken', 'Payload.$': '$' }, Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 1, MaxAttempts: 2 }], End: true } },
    });
    const exec = await start(arn, {});
    const done = await h.drive(exec);
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('TransientError');
    expect(JSON.parse(done.cause!)).toMatchObject({ errorType: 'TransientError', errorMessage: 'still broken' });
    expect(h.lambdaCalls).toHaveLength(3);
  });

  it('routes a business error to the compensation states with Error/Cause under ResultPath', async () => {
    h.functions.set('reserve', () => ({ reserved: true }));
    h.functions.set('charge', () => {
      throw Object.assign(new Error('balance too low'), { name: 'PaymentDeclined' });
    });
    h.functions.set('release', (e) => ({ released: e }));
    const arn = await h.deploy('Saga', {
      StartAt: 'Reserve',
      States: {
        Reserve: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'reserve', 'Payload.$': '$' }, ResultPath: '$.reserve', Next: 'Charge' },
        Charge: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: 'charge', 'Payload.$': '$' },
          Retry: [{ ErrorEquals: ['TransientError'], MaxAttempts: 5 }],
          Catch: [{ ErrorEquals: ['PaymentDeclined'], ResultPath: '$.Errors.Charge', Next: 'Release' }],
          Next: 'Done',
        },
        Release: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'release', 'Payload.$': '$' }, ResultPath: '$.release', Next: 'Compensated' },
        Compensated: { Type: 'Fail', Error: 'SagaCompensated', Cause: 'payment declined' },
        Done: { Type: 'Succeed' },
      },
    });
    const exec = await start(arn, { orderId: 'o-1' });
    const done = await h.drive(exec);
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('SagaCompensated');
    expect(done.cause).toBe('payment declined');
    const releaseInput = h.lambdaCalls.find((c) => c.functionName === 'release')!.payload;
    expect(releaseInput.Errors.Charge.Error).toBe('PaymentDeclined');
    expect(JSON.parse(releaseInput.Errors.Charge.Cause)).toMatchObject({ errorType: 'PaymentDeclined', errorMessage: 'balance too low' });
    expect(h.lambdaCalls.filter((c) => c.functionName === 'charge')).toHaveLength(1);
    const entered = (await history(exec)).filter((e) => e.type?.endsWith('StateEntered')).map((e) => e.stateEnteredEventDetails!.name);
    expect(entered).toEqual(['Reserve', 'Charge', 'Release', 'Compensated']);
  });

  it('does not let States.TaskFailed catch a task timeout', async () => {
    h.functions.set('slow', () => new Promise(() => undefined));
    const arn = await h.deploy('Timeout', {
      StartAt: 'Slow',
      States: {
        Slow: { Type: 'Task', Resource: FN('slow'), TimeoutSeconds: 5, Catch: [{ ErrorEquals: ['States.TaskFailed'], Next: 'Caught' }], End: true },
        Caught: { Type: 'Succeed' },
      },
    });
    const exec = await start(arn, {});
    const done = await h.drive(exec, 1000);
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('States.Timeout');
    expect((await history(exec)).map((e) => e.type)).toContain('LambdaFunctionTimedOut');
  });
});

describe('execution timeout', () => {
  it('times the execution out on the local clock', async () => {
    const arn = await h.deploy('Slow', { StartAt: 'Hold', TimeoutSeconds: 10, States: { Hold: { Type: 'Wait', Seconds: 100, End: true } } });
    const exec = await start(arn, {});
    const done = await h.drive(exec, 5000);
    expect(done).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
    expect((await history(exec)).map((e) => e.type)).toEqual(['ExecutionStarted', 'WaitStateEntered', 'ExecutionTimedOut']);
  });
});

describe('integrations', () => {
  it('returns the lambda:invoke result in the AWS shape', async () => {
    h.functions.set('echo', (e) => ({ got: e }));
    const arn = await h.deploy('Invoke', { StartAt: 'Call', States: { Call: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: FN('echo'), Payload: { 'x.$': '$.x', fixed: 1 } }, End: true } } });
    const done = await h.drive(await start(arn, { x: 'y' }));
    const out = JSON.parse(done.output!);
    expect(out).toMatchObject({ ExecutedVersion: '$LATEST', StatusCode: 200, Payload: { got: { x: 'y', fixed: 1 } } });
    expect(out.SdkHttpMetadata.HttpStatusCode).toBe(200);
    expect(typeof out.SdkResponseMetadata.RequestId).toBe('string');
  });

  it('maps a missing function to Lambda.ResourceNotFoundException', async () => {
    const arn = await h.deploy('Missing', { StartAt: 'Call', States: { Call: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'nope' }, End: true } } });
    const done = await h.drive(await start(arn, {}));
    expect(done.error).toBe('Lambda.ResourceNotFoundException');
    expect(done.cause).toContain('Error Code: ResourceNotFoundException');
  });

  it('calls DynamoDB and EventBridge with the resolved Parameters and maps their errors', async () => {
    h.dynamoHandler = async (operation, input) => {
      h.dynamoCalls.push({ operation, input });
      if (operation === 'GetItem') return { Item: { pk: { S: 'k1' }, v: { N: '3' } } };
      if (operation === 'UpdateItem') throw Object.assign(new (await import('../../../local/core/aws.js')).AwsError('ConditionalCheckFailedException', 'The conditional request failed'));
      return {};
    };
    const arn = await h.deploy('Dynamo', {
      StartAt: 'Put',
      States: {
        Put: { Type: 'Task', Resource: 'arn:aws:states:::dynamodb:putItem', Parameters: { TableName: 'T', Item: { pk: { 'S.$': '$.id' } } }, ResultPath: null, Next: 'Get' },
        Get: { Type: 'Task', Resource: 'arn:aws:states:::dynamodb:getItem', Parameters: { TableName: 'T', Key: { pk: { 'S.$': '$.id' } } }, ResultSelector: { 'v.$': '$.Item.v.N' }, ResultPath: '$.got', Next: 'Emit' },
        Emit: { Type: 'Task', Resource: 'arn:aws:states:::events:putEvents', Parameters: { Entries: [{ Source: 'shop.orders', DetailType: 'Thing', Detail: { 'id.$': '$.id' }, EventBusName: 'bus' }] }, ResultPath: '$.emit', Next: 'Guarded' },
        Guarded: {
          Type: 'Task',
          Resource: 'arn:aws:states:::dynamodb:updateItem',
          Parameters: { TableName: 'T', Key: { pk: { S: 'k1' } }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { N: '1' } } },
          Catch: [{ ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], ResultPath: '$.err', Next: 'Out' }],
          End: true,
        },
        Out: { Type: 'Pass', End: true },
      },
    });
    const done = await h.drive(await start(arn, { id: 'k1' }));
    expect(done.status).toBe('SUCCEEDED');
    expect(h.dynamoCalls.map((c) => c.operation)).toEqual(['PutItem', 'GetItem', 'UpdateItem']);
    expect(h.dynamoCalls[0].input).toEqual({ TableName: 'T', Item: { pk: { S: 'k1' } } });
    expect(h.events).toEqual([{ Source: 'shop.orders', DetailType: 'Thing', Detail: JSON.stringify({ id: 'k1' }), EventBusName: 'bus' }]);
    const out = JSON.parse(done.output!);
    expect(out.got).toEqual({ v: '3' });
    expect(out.emit.FailedEntryCount).toBe(0);
    expect(out.err.Error).toBe('DynamoDB.ConditionalCheckFailedException');
  });

  it('fails an events:putEvents task with EventBridge.FailedEntry when an entry fails', async () => {
    const arn = await h.deploy('BadEvent', { StartAt: 'Emit', States: { Emit: { Type: 'Task', Resource: 'arn:aws:states:::events:putEvents', Parameters: { Entries: [{ Source: 'bad.source', DetailType: 'x', Detail: '{}' }] }, End: true } } });
    const done = await h.drive(await start(arn, {}));
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('EventBridge.FailedEntry');
  });
});

describe('.waitForTaskToken', () => {
  const machine = (extra: Record<string, unknown> = {}) => ({
    StartAt: 'Ask',
    States: {
      Ask: {
        Type: 'Task',
        Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
        Parameters: { QueueUrl: 'http://sqs/q', MessageBody: { 'token.$': '$$.Task.Token', 'order.$': '$.orderId', 'exec.$': '$$.Execution.Id', 'state.$': '$$.State.Name' } },
        ResultPath: '$.decision',
        ...extra,
        End: true,
      },
    },
  });

  async function tokenOf(i = 0): Promise<string> {
    for (let n = 0; n < 200 && h.messages.length <= i; n++) await new Promise((r) => setTimeout(r, 5));
    return JSON.parse(h.messages[i].body).token;
  }

  it('waits until SendTaskSuccess and uses its output', async () => {
    const arn = await h.deploy('Callback', machine());
    const exec = await start(arn, { orderId: 'o-9' });
    const token = await tokenOf();
    const body = JSON.parse(h.messages[0].body);
    expect(body).toMatchObject({ order: 'o-9', exec, state: 'Ask' });
    await new Promise((r) => setTimeout(r, 30));
    expect((await h.sfn.send(new DescribeExecutionCommand({ executionArn: exec }))).status).toBe('RUNNING');
    await h.sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
    await h.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ decision: 'retry' }) }));
    const done = await h.sf.states.waitForExecution(exec, 5000);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toEqual({ orderId: 'o-9', decision: { decision: 'retry' } });
    const types = (await history(exec)).map((e) => e.type);
    expect(types).toEqual(['ExecutionStarted', 'TaskStateEntered', 'TaskScheduled', 'TaskStarted', 'TaskSubmitted', 'TaskSucceeded', 'TaskStateExited', 'ExecutionSucceeded']);
    await expect(h.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }))).rejects.toMatchObject({ name: 'TaskDoesNotExist' });
  });

  it('fails with the error given to SendTaskFailure', async () => {
    const arn = await h.deploy('CallbackFail', machine());
    const exec = await start(arn, { orderId: 'o-1' });
    const token = await tokenOf();
    await h.sfn.send(new SendTaskFailureCommand({ taskToken: token, error: 'HumanSaidNo', cause: 'rejected by operator' }));
    const done = await h.sf.states.waitForExecution(exec, 5000);
    expect(done).toMatchObject({ status: 'FAILED', error: 'HumanSaidNo', cause: 'rejected by operator' });
  });

  it('times out on HeartbeatSeconds, and then reports TaskTimedOut', async () => {
    const arn = await h.deploy('CallbackHeartbeat', machine({ HeartbeatSeconds: 10, TimeoutSeconds: 100 }));
    const exec = await start(arn, { orderId: 'o-2' });
    const token = await tokenOf();
    await h.kernel.clock.advance(8_000);
    await h.sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
    await h.kernel.clock.advance(8_000);
    expect((await h.sfn.send(new DescribeExecutionCommand({ executionArn: exec }))).status).toBe('RUNNING');
    await h.kernel.clock.advance(3_000);
    const done = await h.sf.states.waitForExecution(exec, 5000);
    expect(done).toMatchObject({ status: 'FAILED', error: 'States.HeartbeatTimeout' });
    await expect(h.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }))).rejects.toMatchObject({ name: 'TaskTimedOut' });
    await expect(h.sfn.send(new SendTaskSuccessCommand({ taskToken: 'garbage', output: '{}' }))).rejects.toMatchObject({ name: 'InvalidToken' });
  });
});

describe('faults', () => {
  it('makes a named state fail exactly N times', async () => {
    h.functions.set('ok', () => ({ fine: true }));
    h.kernel.faults.load({ rules: [{ service: 'states', state: 'Charge', kind: 'error', errorName: 'TransientError', times: 2 }] });
    const arn = await h.deploy('Faulty', {
      StartAt: 'Charge',
      States: { Charge: { Type: 'Task', Resource: FN('ok'), Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 1, MaxAttempts: 5 }], End: true } },
    });
    const exec = await start(arn, {});
    const done = await h.drive(exec);
    expect(done.status).toBe('SUCCEEDED');
    const failed = (await history(exec)).filter((e) => e.type === 'LambdaFunctionFailed');
    expect(failed).toHaveLength(2);
    expect(failed[0].lambdaFunctionFailedEventDetails!.error).toBe('TransientError');
    expect(h.lambdaCalls).toHaveLength(1);
    expect(h.kernel.faults.stats()[0]).toMatchObject({ matched: 3, fired: 2 });
  });
});
