import { afterEach, describe, expect, it } from 'vitest';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  RedriveExecutionCommand,
  SFNServiceException,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { startHarness, type Harness } from './harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const waitMachine = { StartAt: 'Hold', States: { Hold: { Type: 'Wait', Seconds: 3600, Next: 'Done' }, Done: { Type: 'Pass', Result: { done: true }, End: true } } };

async function raw(operation: string, body: unknown) {
  const res = await fetch(h.front.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AWSStepFunctions.${operation}` }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('StartExecution names', () => {
  it('is idempotent for the same name and input only while RUNNING', async () => {
    h = await startHarness();
    const sm = await h.deploy('Hold', waitMachine);
    const first = await h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: 'order-1', input: '{"a":1}' }));
    const again = await h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: 'order-1', input: '{"a":1}' }));
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate!.getTime()).toBe(first.startDate!.getTime());
    expect(first.executionArn).toBe(`arn:aws:states:us-east-1:000000000000:execution:${sm.split(':').pop()}:order-1`);
    await expect(h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: 'order-1', input: '{"a":2}' }))).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
    await h.kernel.clock.advance(3_600_000);
    expect((await h.sf.states.waitForExecution(first.executionArn!, 5000)).status).toBe('SUCCEEDED');
    await expect(h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: 'order-1', input: '{"a":1}' }))).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
  });

  it('generates UUID names and validates input, names and ARNs', async () => {
    h = await startHarness();
    const sm = await h.deploy('Hold', waitMachine);
    const out = await h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm }));
    expect(out.executionArn!.split(':').pop()).toMatch(/^[0-9a-f-]{36}$/);
    await expect(h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm, input: '{nope' }))).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
    await expect(h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: 'bad name' }))).rejects.toMatchObject({ name: 'InvalidName' });
    await expect(h.sfn.send(new StartExecutionCommand({ stateMachineArn: `${sm}x` }))).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await expect(h.sfn.send(new StartExecutionCommand({ stateMachineArn: 'not-an-arn' }))).rejects.toMatchObject({ name: 'InvalidArn' });
    await expect(h.sfn.send(new DescribeExecutionCommand({ executionArn: `${out.executionArn}x` }))).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
    const unknown = await raw('FrobnicateExecution', {});
    expect(unknown.body.__type).toBe('UnknownOperationException');
  });
});

describe('listing and history', () => {
  it('lists executions by status, newest first, with pagination', async () => {
    h = await startHarness();
    const sm = await h.deploy('Hold', waitMachine);
    const running = [];
    for (let i = 0; i < 3; i++) {
      running.push((await h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: `r${i}` }))).executionArn!);
      await h.kernel.clock.advance(1000);
    }
    await h.sfn.send(new StopExecutionCommand({ executionArn: running[0], error: 'Operator', cause: 'stopped by test' }));
    const page1 = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: sm, statusFilter: 'RUNNING', maxResults: 1 }));
    expect(page1.executions!.map((e) => e.name)).toEqual(['r2']);
    const page2 = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: sm, statusFilter: 'RUNNING', maxResults: 1, nextToken: page1.nextToken }));
    expect(page2.executions!.map((e) => e.name)).toEqual(['r1']);
    expect(page2.nextToken).toBeUndefined();
    const aborted = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: sm, statusFilter: 'ABORTED' }));
    expect(aborted.executions!.map((e) => e.name)).toEqual(['r0']);
    await expect(h.sfn.send(new ListExecutionsCommand({ stateMachineArn: sm, statusFilter: 'BOGUS' as never }))).rejects.toMatchObject({ name: 'ValidationException' });
    const machines = await h.sfn.send(new ListStateMachinesCommand({}));
    expect(machines.stateMachines!.map((m) => m.stateMachineArn)).toEqual([sm]);
  });

  it('stops an execution: ABORTED with error and cause, and an ExecutionAborted event', async () => {
    h = await startHarness();
    const sm = await h.deploy('Hold', waitMachine);
    const { executionArn } = await h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm }));
    await new Promise((r) => setTimeout(r, 20));
    const stop = await h.sfn.send(new StopExecutionCommand({ executionArn, error: 'Operator', cause: 'no longer needed' }));
    expect(stop.stopDate).toBeInstanceOf(Date);
    const d = await h.sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(d).toMatchObject({ status: 'ABORTED', error: 'Operator', cause: 'no longer needed' });
    await h.kernel.clock.advance(3_600_000);
    await new Promise((r) => setTimeout(r, 20));
    const events = (await h.sfn.send(new GetExecutionHistoryCommand({ executionArn }))).events!;
    expect(events.map((e) => e.type)).toEqual(['ExecutionStarted', 'WaitStateEntered', 'ExecutionAborted']);
    expect(events[2].executionAbortedEventDetails).toEqual({ error: 'Operator', cause: 'no longer needed' });
  });

  it('records the history in AWS shape, with reverseOrder and paging', async () => {
    h = await startHarness();
    h.functions.set('double', (e) => e.items.map((n: number) => n * 2));
    const sm = await h.deploy('Shapes', {
      StartAt: 'Pick',
      States: {
        Pick: { Type: 'Choice', Choices: [{ Variable: '$.go', BooleanEquals: true, Next: 'Fan' }], Default: 'Nope' },
        Fan: { Type: 'Map', ItemsPath: '$.items', ItemProcessor: { StartAt: 'Inc', States: { Inc: { Type: 'Pass', Parameters: { 'v.$': 'States.MathAdd($, 1)' }, End: true } } }, ResultPath: '$.mapped', Next: 'Both' },
        Both: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'Call', States: { Call: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'double', 'Payload.$': '$' }, OutputPath: '$.Payload', End: true } } },
            { StartAt: 'Echo', States: { Echo: { Type: 'Pass', End: true } } },
          ],
          ResultPath: '$.both',
          End: true,
        },
        Nope: { Type: 'Fail', Error: 'NoGo' },
      },
    });
    const { executionArn } = await h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm, input: JSON.stringify({ go: true, items: [1, 2] }) }));
    const done = await h.sf.states.waitForExecution(executionArn!, 5000);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toMatchObject({ mapped: [{ v: 2 }, { v: 3 }], both: [[2, 4], { go: true, items: [1, 2] }] });
    const events = (await h.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }))).events!;
    events.forEach((e, i) => {
      expect(e.id).toBe(i + 1);
      expect(e.previousEventId).toBe(i);
      expect(e.timestamp).toBeInstanceOf(Date);
    });
    // Timestamps come from the local clock, which the harness starts at 2026-01-01.
    expect(events[0].timestamp!.getTime() - Date.parse('2026-01-01T00:00:00Z')).toBeLessThan(60_000);
    expect(events[0]).toMatchObject({ type: 'ExecutionStarted', executionStartedEventDetails: { input: JSON.stringify({ go: true, items: [1, 2] }), roleArn: 'arn:aws:iam::000000000000:role/sfn-role' } });
    const types = events.map((e) => e.type);
    for (const t of ['ChoiceStateEntered', 'ChoiceStateExited', 'MapStateEntered', 'MapStateStarted', 'MapIterationStarted', 'MapIterationSucceeded', 'MapStateSucceeded', 'MapStateExited', 'ParallelStateEntered', 'ParallelStateStarted', 'TaskScheduled', 'TaskSucceeded', 'ParallelStateSucceeded', 'ParallelStateExited', 'ExecutionSucceeded']) {
      expect(types).toContain(t);
    }
    expect(events.find((e) => e.type === 'MapStateStarted')!.mapStateStartedEventDetails).toEqual({ length: 2 });
    const scheduled = events.find((e) => e.type === 'TaskScheduled')!.taskScheduledEventDetails!;
    expect(scheduled).toMatchObject({ resourceType: 'lambda', resource: 'invoke', region: 'us-east-1' });
    expect(JSON.parse(scheduled.parameters!)).toEqual({ FunctionName: 'double', Payload: { go: true, items: [1, 2], mapped: [{ v: 2 }, { v: 3 }] } });
    // State transitions are countable from the history.
    expect(types.filter((t) => t!.endsWith('StateEntered'))).toHaveLength(1 + 1 + 2 + 1 + 2);
    const reversed = await h.sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 2 }));
    expect(reversed.events!.map((e) => e.id)).toEqual([events.length, events.length - 1]);
    const next = await h.sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 2, nextToken: reversed.nextToken }));
    expect(next.events!.map((e) => e.id)).toEqual([events.length - 2, events.length - 3]);
  });

  it('describes a deployed state machine', async () => {
    h = await startHarness();
    const sm = await h.deploy('Described', waitMachine, { StateMachineName: 'Described', StateMachineType: 'STANDARD', TracingConfiguration: { Enabled: true } });
    const d = await h.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: sm }));
    expect(d).toMatchObject({ name: 'Described', status: 'ACTIVE', type: 'STANDARD', roleArn: 'arn:aws:iam::000000000000:role/sfn-role', tracingConfiguration: { enabled: true } });
    expect(JSON.parse(d.definition!)).toEqual(waitMachine);
    expect(d.creationDate).toBeInstanceOf(Date);
  });
});

describe('redrive and persistence', () => {
  it('redrives a FAILED execution from the failed state with its input', async () => {
    h = await startHarness();
    let fail = true;
    h.functions.set('first', (e) => ({ ...e, first: true }));
    h.functions.set('second', (e) => {
      if (fail) throw Object.assign(new Error('down'), { name: 'Outage' });
      return { ...e, second: true };
    });
    const sm = await h.deploy('Redrive', {
      StartAt: 'First',
      States: {
        First: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:first', Next: 'Second' },
        Second: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:second', End: true },
      },
    });
    const { executionArn } = await h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm, input: '{"x":1}' }));
    const failed = await h.sf.states.waitForExecution(executionArn!, 5000);
    expect(failed).toMatchObject({ status: 'FAILED', error: 'Outage', redriveStatus: 'REDRIVABLE' });
    fail = false;
    const redriven = await h.sfn.send(new RedriveExecutionCommand({ executionArn }));
    expect(redriven.redriveDate).toBeInstanceOf(Date);
    const done = await h.sf.states.waitForExecution(executionArn!, 5000);
    expect(done).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    expect(JSON.parse(done.output!)).toEqual({ x: 1, first: true, second: true });
    expect(h.lambdaCalls.filter((c) => c.functionName.endsWith('first'))).toHaveLength(1);
    const types = (await h.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }))).events!.map((e) => e.type);
    expect(types).toContain('ExecutionRedriven');
    await expect(h.sfn.send(new RedriveExecutionCommand({ executionArn }))).rejects.toMatchObject({ name: 'ExecutionNotRedrivable' });
  });

  it('keeps machines and executions across a restart; a RUNNING one becomes FAILED and redrivable', async () => {
    h = await startHarness();
    const dir = h.kernel.stateDir;
    h.functions.set('ok', () => ({ fine: true }));
    const sm = await h.deploy('Persist', { StartAt: 'Hold', States: { Hold: { Type: 'Wait', Seconds: 60, Next: 'Call' }, Call: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:ok', End: true } } });
    const { executionArn: quick } = await h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: 'quick' }));
    await h.kernel.clock.advance(60_000);
    expect((await h.sf.states.waitForExecution(quick!, 5000)).status).toBe('SUCCEEDED');
    const { executionArn: slow } = await h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: 'slow' }));
    await new Promise((r) => setTimeout(r, 30));
    await h.close();

    h = await startHarness(dir);
    h.functions.set('ok', () => ({ fine: true }));
    const q = await h.sfn.send(new DescribeExecutionCommand({ executionArn: quick }));
    expect(q.status).toBe('SUCCEEDED');
    expect(JSON.parse(q.output!)).toEqual({ fine: true });
    const s = await h.sfn.send(new DescribeExecutionCommand({ executionArn: slow }));
    expect(s).toMatchObject({ status: 'FAILED', error: 'States.Runtime', cause: 'local cloud restarted', redriveStatus: 'REDRIVABLE' });
    const events = (await h.sfn.send(new GetExecutionHistoryCommand({ executionArn: quick, maxResults: 1000 }))).events!;
    expect(events.at(-1)!.type).toBe('ExecutionSucceeded');
    await h.sfn.send(new RedriveExecutionCommand({ executionArn: slow }));
    await h.kernel.clock.advance(60_000);
    expect((await h.sf.states.waitForExecution(slow!, 5000)).status).toBe('SUCCEEDED');
    await expect(h.sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: 'quick' }))).rejects.toBeInstanceOf(SFNServiceException);
  });
});
