import { GetFunctionCommand, InvokeCommand, ListFunctionsCommand, TooManyRequestsException } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fixtureFunction, startHarness, type Harness } from '../helpers.js';

const decode = (bytes?: Uint8Array) => (bytes && bytes.length ? JSON.parse(Buffer.from(bytes).toString('utf8')) : undefined);
const encode = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('local Lambda runtime over the Invoke API', () => {
  let h: Harness;
  let echoName: string;

  beforeAll(async () => {
    h = await startHarness({ asyncRetryDelaysMs: [10, 10] });
    echoName = (await h.provision('AWS::Lambda::Function', 'EchoFunction', fixtureFunction('echo.handler', { MemorySize: 256, Timeout: 5, Environment: { Variables: { TABLE_NAME: 'Orders' } } }))).physicalId;
    await h.provision('AWS::Lambda::Function', 'FailFunction', fixtureFunction('fail.handler', { FunctionName: 'fail-fn' }));
    await h.provision('AWS::Lambda::Function', 'SlowFunction', fixtureFunction('slow.handler', { FunctionName: 'slow-fn', Timeout: 1 }));
    await h.provision('AWS::Lambda::Function', 'CallbackFunction', fixtureFunction('callback.handler', { FunctionName: 'callback-fn' }));
    await h.provision('AWS::Lambda::Function', 'ExitFunction', fixtureFunction('exit.handler', { FunctionName: 'exit-fn' }));
    await h.provision('AWS::Lambda::Function', 'CommonJsFunction', fixtureFunction('commonjs.handler', { FunctionName: 'cjs-fn' }));
  });
  afterAll(async () => h.close());

  it('round-trips an event with a real context and keeps module state warm', async () => {
    const first = await h.client.send(new InvokeCommand({ FunctionName: echoName, Payload: encode({ hello: 'world' }) }));
    expect(first.StatusCode).toBe(200);
    expect(first.FunctionError).toBeUndefined();
    expect(first.ExecutedVersion).toBe('$LATEST');
    const out = decode(first.Payload);
    expect(out.event).toEqual({ hello: 'world' });
    expect(out.context).toMatchObject({
      functionName: echoName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${echoName}`,
      memoryLimitInMB: '256',
      logGroupName: `/aws/lambda/${echoName}`,
      callbackWaitsForEmptyEventLoop: true,
    });
    expect(out.context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.context.logStreamName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(out.context.remaining).toBeGreaterThan(4000);
    expect(out.context.remaining).toBeLessThanOrEqual(5000);

    const second = decode((await h.client.send(new InvokeCommand({ FunctionName: `arn:aws:lambda:us-east-1:000000000000:function:${echoName}`, Payload: encode({}) }))).Payload);
    expect(second.pid).toBe(out.pid);
    expect(second.invocations).toBe(2);
    expect(second.context.awsRequestId).not.toBe(out.context.awsRequestId);
  });

  it('gives the function its template env, the reserved variables and AWS_ENDPOINT_URL', async () => {
    const out = decode((await h.client.send(new InvokeCommand({ FunctionName: echoName }))).Payload);
    expect(out.event).toEqual({});
    expect(out.env).toMatchObject({
      AWS_ENDPOINT_URL: h.front.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_LAMBDA_FUNCTION_NAME: echoName,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${echoName}`,
      _HANDLER: 'echo.handler',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      TZ: ':UTC',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      TABLE_NAME: 'Orders',
    });
    expect(out.env.LAMBDA_TASK_ROOT).toMatch(/fixtures\/?$/);
    expect(out.env.AWS_LAMBDA_LOG_STREAM_NAME).toBe(out.context.logStreamName);
    expect(out.env.NODE_OPTIONS).toBeUndefined();
  });

  it("starts the function's Node with the managed runtime's flags, sized from its memory", async () => {
    const out = decode((await h.client.send(new InvokeCommand({ FunctionName: echoName }))).Payload);
    // 256 MB: a tenth (25 MB) is the young generation, split in two semi-spaces; the rest is old space.
    expect(out.execArgv).toEqual(['--expose-gc', '--max-http-header-size=81920', '--max-semi-space-size=12', '--max-old-space-size=231']);
    expect(out.gcExposed).toBe(true);
  });

  it('returns the tail of the log with LogType Tail and passes the client context', async () => {
    const clientContext = Buffer.from(JSON.stringify({ custom: { tenant: 't1' } })).toString('base64');
    const res = await h.client.send(new InvokeCommand({ FunctionName: echoName, Payload: encode({ n: 42 }), LogType: 'Tail', ClientContext: clientContext }));
    const log = Buffer.from(res.LogResult ?? '', 'base64').toString('utf8');
    expect(log).toContain('START RequestId:');
    expect(log).toMatch(/\tINFO\techo \{"n":42\}/);
    expect(decode(res.Payload).context.clientContext).toEqual({ custom: { tenant: 't1' } });
  });

  it('reports a thrown error with its name, message and trace, as FunctionError Unhandled', async () => {
    const res = await h.client.send(new InvokeCommand({ FunctionName: 'fail-fn', Payload: encode({ orderId: 'o-1' }) }));
    expect(res.StatusCode).toBe(200);
    expect(res.FunctionError).toBe('Unhandled');
    const err = decode(res.Payload);
    expect(err.errorType).toBe('OrderRejected');
    expect(err.errorMessage).toBe('cannot take order o-1');
    expect(err.trace[0]).toBe('OrderRejected: cannot take order o-1');
  });

  it('loads a CommonJS .js bundle as CommonJS although an ESM package.json sits above the code directory', async () => {
    const res = await h.client.send(new InvokeCommand({ FunctionName: 'cjs-fn', Payload: encode({ n: 1 }) }));
    expect(res.FunctionError).toBeUndefined();
    expect(decode(res.Payload)).toEqual({ format: 'commonjs', event: { n: 1 } });
  });

  it('supports callback-style handlers', async () => {
    expect(decode((await h.client.send(new InvokeCommand({ FunctionName: 'callback-fn', Payload: encode({ n: 7 }) }))).Payload)).toEqual({ via: 'callback', n: 7 });
    const failed = await h.client.send(new InvokeCommand({ FunctionName: 'callback-fn', Payload: encode({ fail: true }) }));
    expect(failed.FunctionError).toBe('Unhandled');
    expect(decode(failed.Payload)).toMatchObject({ errorType: 'TypeError', errorMessage: 'bad input' });
  });

  it('kills an invocation at its Timeout with Sandbox.Timedout, then serves the next one from a fresh container', async () => {
    const started = Date.now();
    const res = await h.client.send(new InvokeCommand({ FunctionName: 'slow-fn', Payload: encode({ ms: 5000 }) }));
    const elapsed = Date.now() - started;
    expect(res.FunctionError).toBe('Unhandled');
    const err = decode(res.Payload);
    expect(err.errorType).toBe('Sandbox.Timedout');
    expect(err.errorMessage).toMatch(/^RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.\d\d seconds$/);
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(3000);
    const next = await h.client.send(new InvokeCommand({ FunctionName: 'slow-fn', Payload: encode({ ms: 1 }) }));
    expect(next.FunctionError).toBeUndefined();
    expect(decode(next.Payload)).toEqual({ slept: 1 });
  });

  it('reports a runtime that exits as Runtime.ExitError', async () => {
    const res = await h.client.send(new InvokeCommand({ FunctionName: 'exit-fn' }));
    expect(res.FunctionError).toBe('Unhandled');
    expect(decode(res.Payload)).toMatchObject({ errorType: 'Runtime.ExitError', errorMessage: expect.stringMatching(/Runtime exited with error: exit status 3$/) });
  });

  it('answers Event with 202 and DryRun with 204', async () => {
    const event = await h.client.send(new InvokeCommand({ FunctionName: echoName, InvocationType: 'Event', Payload: encode({ a: 1 }) }));
    expect(event.StatusCode).toBe(202);
    const dry = await h.client.send(new InvokeCommand({ FunctionName: echoName, InvocationType: 'DryRun' }));
    expect(dry.StatusCode).toBe(204);
    await h.lambda.asyncIdle();
  });

  it('refuses unknown functions, qualifiers and bad payloads with Lambda error names', async () => {
    await expect(h.client.send(new InvokeCommand({ FunctionName: 'nope' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });
    await expect(h.client.send(new InvokeCommand({ FunctionName: echoName, Qualifier: 'live' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(h.client.send(new InvokeCommand({ FunctionName: 'EchoFunction' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(h.lambda.aliasesOf(echoName)).toEqual([echoName, 'EchoFunction']);
    await expect(h.client.send(new InvokeCommand({ FunctionName: echoName, Payload: Buffer.from('{not json') }))).rejects.toMatchObject({ name: 'InvalidRequestContentException' });
  });

  it('describes functions through GetFunction and ListFunctions', async () => {
    const got = await h.client.send(new GetFunctionCommand({ FunctionName: 'fail-fn' }));
    expect(got.Configuration).toMatchObject({ FunctionName: 'fail-fn', Runtime: 'nodejs22.x', Handler: 'fail.handler', Timeout: 3, MemorySize: 128, Version: '$LATEST', State: 'Active' });
    const list = await h.client.send(new ListFunctionsCommand({}));
    expect(list.Functions?.map((f) => f.FunctionName)).toEqual(expect.arrayContaining([echoName, 'fail-fn', 'slow-fn']));
  });
});

describe('concurrency and faults', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.provision('AWS::Lambda::Function', 'Reserved', fixtureFunction('slow.handler', { FunctionName: 'reserved-fn', ReservedConcurrentExecutions: 1 }));
    await h.provision('AWS::Lambda::Function', 'Disabled', fixtureFunction('slow.handler', { FunctionName: 'zero-fn', ReservedConcurrentExecutions: 0 }));
    await h.provision('AWS::Lambda::Function', 'PaymentFunction', fixtureFunction('echo.handler', { FunctionName: 'payment-fn' }));
  });
  afterAll(async () => h.close());

  it('throttles a synchronous invoke beyond reserved concurrency, and always at 0', async () => {
    const slow = h.client.send(new InvokeCommand({ FunctionName: 'reserved-fn', Payload: encode({ ms: 600 }) }));
    await vi.waitFor(() => expect(h.lambda.invocations('reserved-fn')).toBe(1));
    const err = await h.client.send(new InvokeCommand({ FunctionName: 'reserved-fn', Payload: encode({ ms: 1 }) })).catch((e) => e);
    expect(err).toBeInstanceOf(TooManyRequestsException);
    expect(err).toMatchObject({ Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', $metadata: { httpStatusCode: 429 } });
    expect((await slow).FunctionError).toBeUndefined();
    expect((await h.client.send(new InvokeCommand({ FunctionName: 'reserved-fn', Payload: encode({ ms: 1 }) }))).StatusCode).toBe(200);
    await expect(h.client.send(new InvokeCommand({ FunctionName: 'zero-fn' }))).rejects.toMatchObject({ name: 'TooManyRequestsException' });
  });

  it('injects a fault-plan error on the first N calls, matched by logical id', async () => {
    h.kernel.faults.load({ rules: [{ service: 'lambda', function: 'PaymentFunction', kind: 'error', errorName: 'PaymentGatewayDown', times: 2 }] });
    const before = h.lambda.invocations('payment-fn');
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await h.client.send(new InvokeCommand({ FunctionName: 'payment-fn', Payload: encode({ i }) })));
    expect(results.map((r) => r.FunctionError)).toEqual(['Unhandled', 'Unhandled', undefined]);
    expect(decode(results[0].Payload)).toMatchObject({ errorType: 'PaymentGatewayDown', errorMessage: expect.any(String) });
    expect(decode(results[2].Payload).event).toEqual({ i: 2 });
    expect(h.lambda.invocations('payment-fn') - before).toBe(3);
    expect(h.kernel.faults.stats()[0]).toMatchObject({ matched: 3, fired: 2 });
    h.kernel.faults.clear();
  });

  it('injects timeouts and throttles', async () => {
    h.kernel.faults.load({ rules: [{ function: 'payment-fn', kind: 'timeout', times: 1 }, { function: 'payment-fn', kind: 'throttle', after: 1, times: 1 }] });
    const timedOut = await h.client.send(new InvokeCommand({ FunctionName: 'payment-fn' }));
    expect(timedOut.FunctionError).toBe('Unhandled');
    expect(decode(timedOut.Payload)).toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: expect.stringMatching(/Task timed out after 3\.00 seconds$/) });
    await expect(h.client.send(new InvokeCommand({ FunctionName: 'payment-fn' }))).rejects.toMatchObject({ name: 'TooManyRequestsException' });
    expect((await h.client.send(new InvokeCommand({ FunctionName: 'payment-fn' }))).FunctionError).toBeUndefined();
    h.kernel.faults.clear();
  });
});

describe('asynchronous invocation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ asyncRetryDelaysMs: [150, 150] });
  });
  afterAll(async () => h.close());

  it('retries a failing Event invocation twice by default, then sends the event to the DLQ', async () => {
    const dlq = 'arn:aws:sqs:us-east-1:000000000000:fail-dlq';
    await h.provision('AWS::Lambda::Function', 'AsyncFail', fixtureFunction('fail.handler', { FunctionName: 'async-fail', DeadLetterConfig: { TargetArn: dlq } }));
    const res = await h.client.send(new InvokeCommand({ FunctionName: 'async-fail', InvocationType: 'Event', Payload: encode({ orderId: 'o-9' }) }));
    expect(res.StatusCode).toBe(202);
    await h.lambda.asyncIdle();
    expect(h.lambda.invocations('async-fail')).toBe(3);
    const [msg] = h.sqs.messages.filter((m) => m.queue === dlq);
    expect(JSON.parse(msg.body)).toEqual({ orderId: 'o-9' });
    expect(msg.attributes).toMatchObject({
      RequestID: { DataType: 'String', StringValue: expect.stringMatching(/^[0-9a-f-]{36}$/) },
      ErrorCode: { DataType: 'Number', StringValue: '200' },
      ErrorMessage: { DataType: 'String', StringValue: 'cannot take order o-9' },
    });
  });

  it('honours EventInvokeConfig retries and sends an invocation record to the on-failure destination', async () => {
    const dest = 'arn:aws:sqs:us-east-1:000000000000:on-failure';
    await h.provision('AWS::Lambda::Function', 'AsyncFail2', fixtureFunction('fail.handler', { FunctionName: 'async-fail-2' }));
    await h.provision('AWS::Lambda::EventInvokeConfig', 'Cfg', { FunctionName: 'async-fail-2', Qualifier: '$LATEST', MaximumRetryAttempts: 0, DestinationConfig: { OnFailure: { Destination: dest } } });
    await h.lambda.invoke('async-fail-2', JSON.stringify({ orderId: 'o-10' }), { invocationType: 'Event' });
    await h.lambda.asyncIdle();
    expect(h.lambda.invocations('async-fail-2')).toBe(1);
    const [record] = h.sqs.bodies(dest);
    expect(record).toMatchObject({
      version: '1.0',
      timestamp: expect.any(String),
      requestContext: { requestId: expect.any(String), functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:async-fail-2:$LATEST', condition: 'RetriesExhausted', approximateInvokeCount: 1 },
      requestPayload: { orderId: 'o-10' },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: 'OrderRejected', errorMessage: 'cannot take order o-10' },
    });
  });

  it('drops an event older than MaximumEventAgeInSeconds to the destination with EventAgeExceeded', async () => {
    const dest = 'arn:aws:sqs:us-east-1:000000000000:aged';
    await h.provision('AWS::Lambda::Function', 'AsyncAged', fixtureFunction('fail.handler', { FunctionName: 'async-aged' }));
    await h.provision('AWS::Lambda::EventInvokeConfig', 'CfgAged', { FunctionName: 'async-aged', MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60, DestinationConfig: { OnFailure: { Destination: dest } } });
    await h.lambda.invoke('async-aged', '{}', { invocationType: 'Event' });
    await vi.waitFor(() => expect(h.lambda.invocations('async-aged')).toBeGreaterThanOrEqual(1), { interval: 5 });
    await h.kernel.clock.advance(61_000);
    await h.lambda.asyncIdle();
    expect(h.lambda.invocations('async-aged')).toBeLessThan(3);
    expect(h.sqs.bodies(dest)[0].requestContext.condition).toBe('EventAgeExceeded');
  });
});

describe('function provider', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('refuses what the local runtime cannot run, by name', async () => {
    await expect(h.provision('AWS::Lambda::Function', 'Py', fixtureFunction('app.handler', { Runtime: 'python3.12' }))).rejects.toThrow(/Py .*Runtime python3\.12 .*not supported/);
    await expect(h.provision('AWS::Lambda::Function', 'Odd', fixtureFunction('echo.handler', { FileSystemConfigs: [] }))).rejects.toThrow(/property FileSystemConfigs/);
    await expect(h.provision('AWS::Lambda::Function', 'Env', fixtureFunction('echo.handler', { Environment: { Variables: { AWS_REGION: 'eu-west-1' } } }))).rejects.toMatchObject({
      code: 'InvalidParameterValueException',
      message: expect.stringContaining('Reserved keys used in this request: AWS_REGION'),
    });
    await expect(h.provision('AWS::Lambda::Function', 'Layered', fixtureFunction('echo.handler', { Layers: ['arn:aws:lambda:us-east-1:1:layer:x:1'] }))).rejects.toThrow(/Layers/);
  });

  it('runs inline ZipFile code and reports a missing handler as Runtime.HandlerNotFound', async () => {
    await h.provision('AWS::Lambda::Function', 'Inline', {
      Code: { ZipFile: 'exports.handler = async (event) => ({ inline: true, echo: event.x });' },
      Runtime: 'nodejs20.x',
      Handler: 'index.handler',
      FunctionName: 'inline-fn',
    });
    expect(decode((await h.client.send(new InvokeCommand({ FunctionName: 'inline-fn', Payload: encode({ x: 1 }) }))).Payload)).toEqual({ inline: true, echo: 1 });
    await h.provision('AWS::Lambda::Function', 'Missing', fixtureFunction('echo.nothere', { FunctionName: 'missing-fn' }));
    const res = await h.client.send(new InvokeCommand({ FunctionName: 'missing-fn' }));
    expect(res.FunctionError).toBe('Unhandled');
    expect(decode(res.Payload)).toMatchObject({ errorType: 'Runtime.HandlerNotFound', errorMessage: 'echo.nothere is undefined or not exported' });
  });
});
