/**
 * A tiny kernel with fake Lambda/DynamoDB/EventBridge/SQS ports, the Step Functions service
 * behind the real HTTP front, and an SDK v3 client pointed at it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { AwsError, type ProvisionRequest } from '../../../local/core/aws.js';
import { LocalClock } from '../../../local/core/clock.js';
import { FaultInjector } from '../../../local/core/faults.js';
import type { Kernel } from '../../../local/core/kernel.js';
import { startFront, type Front } from '../../../local/core/server.js';
import { createStepFunctions } from '../../../local/stepfunctions/index.js';

export const ROLE = 'arn:aws:iam::000000000000:role/sfn-role';

export type FakeFunction = (event: any) => unknown;

export interface Harness {
  readonly kernel: Kernel;
  readonly sfn: SFNClient;
  readonly front: Front;
  readonly sf: ReturnType<typeof createStepFunctions>;
  readonly functions: Map<string, FakeFunction>;
  readonly lambdaCalls: Array<{ functionName: string; payload: any }>;
  readonly dynamoCalls: Array<{ operation: string; input: any }>;
  dynamoHandler: (operation: string, input: any) => Promise<any>;
  readonly events: Array<Record<string, unknown>>;
  readonly messages: Array<{ queue: string; body: string }>;
  deploy(logicalId: string, definition: unknown, extra?: Record<string, unknown>): Promise<string>;
  /** Advances the local clock in steps until the execution leaves RUNNING. */
  drive(executionArn: string, stepMs?: number): Promise<any>;
  close(): Promise<void>;
}

/** Starts a harness; pass `stateDir` to reuse persisted state (a "restart"). */
export async function startHarness(stateDir = mkdtempSync(join(tmpdir(), 'sfn-test-'))): Promise<Harness> {
  const functions = new Map<string, FakeFunction>();
  const lambdaCalls: Harness['lambdaCalls'] = [];
  const dynamoCalls: Harness['dynamoCalls'] = [];
  const events: Harness['events'] = [];
  const messages: Harness['messages'] = [];
  const kernel: Kernel = {
    clock: new LocalClock(Date.parse('2026-01-01T00:00:00Z')),
    faults: new FaultInjector(),
    stateDir,
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:0',
    lambda: {
      async invoke(functionName, payload) {
        const name = functionName.split(':function:').pop()!.split(':')[0];
        const fn = functions.get(name);
        if (!fn) throw new AwsError('ResourceNotFoundException', `Function not found: ${functionName}`, 404);
        const event = JSON.parse(payload);
        lambdaCalls.push({ functionName, payload: event });
        try {
          const out = await fn(event);
          return { statusCode: 200, payload: JSON.stringify(out ?? null), executedVersion: '$LATEST', requestId: randomUUID() };
        } catch (err) {
          const e = err as Error;
          return { statusCode: 200, payload: JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: [] }), functionError: 'Unhandled', executedVersion: '$LATEST', requestId: randomUUID() };
        }
      },
      aliasesOf: (n) => [n],
    },
    streams: {} as Kernel['streams'],
    sqs: {
      async sendMessage(queue, body) {
        messages.push({ queue, body });
        return { MessageId: randomUUID() };
      },
    },
    states: {} as Kernel['states'],
    events: {
      async putEvents(entries) {
        events.push(...entries);
        const results = entries.map((e) => (e.Source === 'bad.source' ? { ErrorCode: 'InvalidArgument', ErrorMessage: 'bad source' } : { EventId: randomUUID() }));
        return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
      },
    },
    dynamodb: { call: (operation, input) => harness.dynamoHandler(operation, input) },
  };
  const sf = createStepFunctions(kernel);
  kernel.states = sf.states;
  const front = await startFront({ json: [sf.service.json!], routes: [], port: 0 });
  const sfn = new SFNClient({ endpoint: front.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const provider = sf.service.providers![0];
  const harness: Harness = {
    kernel,
    sfn,
    front,
    sf,
    functions,
    lambdaCalls,
    dynamoCalls,
    dynamoHandler: async (operation, input) => {
      dynamoCalls.push({ operation, input });
      return {};
    },
    events,
    messages,
    async deploy(logicalId, definition, extra = {}) {
      const req: ProvisionRequest = {
        stackName: 'TestStack',
        logicalId,
        type: 'AWS::StepFunctions::StateMachine',
        properties: { DefinitionString: typeof definition === 'string' ? definition : JSON.stringify(definition), RoleArn: ROLE, ...extra },
        metadata: {},
        assemblyDir: '/nonexistent',
        assetPath: (k) => k,
      };
      return (await provider.create(req)).physicalId;
    },
    async drive(executionArn, stepMs = 1000) {
      for (let i = 0; i < 500; i++) {
        const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
        if (d.status !== 'RUNNING') return d;
        await new Promise((r) => setTimeout(r, 2));
        await kernel.clock.advance(stepMs);
      }
      throw new Error(`${executionArn} did not finish`);
    },
    async close() {
      sfn.destroy();
      await sf.service.stop?.();
      await front.close();
    },
  };
  return harness;
}
