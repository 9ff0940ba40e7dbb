/**
 * The `AWSStepFunctions` JSON API of the local cloud (awsJson1_0, `X-Amz-Target: AWSStepFunctions.<Operation>`).
 */
import { AwsError, type JsonService, type RequestContext } from '../core/aws.js';
import type { Kernel } from '../core/kernel.js';
import { EXECUTION_STATUSES, checkExecutionArn, checkMachineArn, type StepFunctionsEngine } from './engine.js';
import { deleteMachine, putMachine } from './machines.js';
import type { FileStore } from './store.js';

const seconds = (ms: number) => ms / 1000;

function page<T>(items: readonly T[], input: { maxResults?: unknown; nextToken?: unknown }, scope: string): { items: T[]; nextToken?: string } {
  const max = input.maxResults ?? 0;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 0 || max > 1000) throw new AwsError('ValidationException', `1 validation error detected: Value '${String(max)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000`);
  let offset = 0;
  if (input.nextToken !== undefined && input.nextToken !== null) {
    try {
      const decoded = JSON.parse(Buffer.from(String(input.nextToken), 'base64url').toString('utf8'));
      if (decoded.s !== scope || !Number.isInteger(decoded.o) || decoded.o < 0) throw new Error('scope');
      offset = decoded.o;
    } catch {
      throw new AwsError('InvalidToken', `Invalid Token: '${String(input.nextToken).slice(0, 40)}'`);
    }
  }
  const size = max === 0 ? 100 : max;
  const slice = items.slice(offset, offset + size);
  const next = offset + size < items.length ? Buffer.from(JSON.stringify({ s: scope, o: offset + size })).toString('base64url') : undefined;
  return { items: slice, ...(next ? { nextToken: next } : {}) };
}

function requireString(input: Record<string, unknown>, field: string): string {
  const v = input[field];
  if (typeof v !== 'string' || v.length === 0) throw new AwsError('ValidationException', `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
  return v;
}

/** Builds the JSON service over an engine. */
export function createStepFunctionsApi(kernel: Kernel, engine: StepFunctionsEngine, store: FileStore): JsonService {
  const machine = (value: unknown) => {
    const key = checkMachineArn(value);
    const m = engine.machines.get(key);
    if (!m) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${key}'`);
    return m.record;
  };
  const describeMachine = (r: ReturnType<typeof machine>) => ({
    stateMachineArn: r.stateMachineArn,
    name: r.name,
    status: 'ACTIVE',
    definition: r.definition,
    roleArn: r.roleArn,
    type: r.type,
    creationDate: seconds(r.creationDate),
    loggingConfiguration: r.loggingConfiguration,
    tracingConfiguration: r.tracingConfiguration,
    revisionId: r.revisionId,
  });

  const ops: Record<string, (input: Record<string, any>) => unknown> = {
    ListStateMachines: (input) => {
      const all = [...engine.machines.values()].map((m) => m.record).sort((a, b) => a.name.localeCompare(b.name));
      const { items, nextToken } = page(all, input, 'machines');
      return { stateMachines: items.map((r) => ({ stateMachineArn: r.stateMachineArn, name: r.name, type: r.type, creationDate: seconds(r.creationDate) })), ...(nextToken ? { nextToken } : {}) };
    },
    DescribeStateMachine: (input) => describeMachine(machine(input.stateMachineArn)),
    DescribeStateMachineForExecution: (input) => {
      const live = engine.get(input.executionArn);
      const m = engine.machines.get(live.record.stateMachineArn)?.record;
      if (!m) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${live.record.executionArn}'`);
      const { status: _s, creationDate, ...rest } = describeMachine(m);
      return { ...rest, definition: live.record.definition, updateDate: creationDate };
    },
    CreateStateMachine: (input) => {
      const name = requireString(input, 'name');
      const definition = requireString(input, 'definition');
      const roleArn = requireString(input, 'roleArn');
      const existing = [...engine.machines.values()].find((m) => m.record.name === name)?.record;
      if (existing && (existing.definition !== definition || existing.roleArn !== roleArn || existing.type !== (input.type ?? 'STANDARD'))) {
        throw new AwsError('StateMachineAlreadyExists', `State Machine Already Exists: '${existing.stateMachineArn}'`);
      }
      const tags = Array.isArray(input.tags) ? input.tags.map((t: { key: string; value: string }) => ({ key: t.key, value: t.value })) : [];
      const r = existing ?? putMachine(engine, store, kernel.region, { name, definition, roleArn, type: input.type, loggingConfiguration: input.loggingConfiguration, tracingConfiguration: input.tracingConfiguration, tags }, kernel.clock.now());
      return { stateMachineArn: r.stateMachineArn, creationDate: seconds(r.creationDate), stateMachineVersionArn: undefined };
    },
    DeleteStateMachine: (input) => {
      deleteMachine(engine, store, checkMachineArn(input.stateMachineArn));
      return {};
    },
    StartExecution: (input) => engine.startExecution(input as { stateMachineArn: unknown }),
    DescribeExecution: (input) => engine.describe(engine.get(input.executionArn).record),
    ListExecutions: (input) => {
      if (input.mapRunArn !== undefined) throw new AwsError('ValidationException', 'mapRunArn is not supported by the local cloud (no Distributed Map)');
      const m = machine(input.stateMachineArn);
      if (m.type === 'EXPRESS') throw new AwsError('StateMachineTypeNotSupported', 'This operation is not supported by this type of state machine');
      const filter = input.statusFilter;
      if (filter !== undefined && !EXECUTION_STATUSES.includes(filter)) {
        throw new AwsError('ValidationException', `1 validation error detected: Value '${String(filter)}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [${EXECUTION_STATUSES.join(', ')}]`);
      }
      if (input.redriveFilter !== undefined && !['REDRIVEN', 'NOT_REDRIVEN'].includes(input.redriveFilter)) throw new AwsError('ValidationException', `Invalid redriveFilter '${String(input.redriveFilter)}'`);
      const all = [...engine.executions.values()]
        .map((l) => l.record)
        .filter((r) => r.stateMachineArn === m.stateMachineArn)
        .filter((r) => filter === undefined || r.status === filter)
        .filter((r) => input.redriveFilter === undefined || (input.redriveFilter === 'REDRIVEN') === r.redriveCount > 0)
        .sort((a, b) => b.startDate - a.startDate || b.executionArn.localeCompare(a.executionArn));
      const { items, nextToken } = page(all, input, `executions:${m.stateMachineArn}:${filter ?? ''}`);
      return {
        executions: items.map((r) => ({
          executionArn: r.executionArn,
          stateMachineArn: r.stateMachineArn,
          name: r.name,
          status: r.status,
          startDate: seconds(r.startDate),
          ...(r.stopDate !== undefined ? { stopDate: seconds(r.stopDate) } : {}),
          ...(r.redriveCount > 0 ? { redriveCount: r.redriveCount, redriveDate: seconds(r.redriveDate ?? r.startDate) } : {}),
        })),
        ...(nextToken ? { nextToken } : {}),
      };
    },
    GetExecutionHistory: (input) => {
      const live = engine.get(input.executionArn);
      if (input.reverseOrder !== undefined && typeof input.reverseOrder !== 'boolean') throw new AwsError('ValidationException', 'reverseOrder must be a boolean');
      const includeExecutionData = input.includeExecutionData !== false;
      let events = [...live.record.history];
      if (input.reverseOrder) events.reverse();
      if (!includeExecutionData) events = events.map(stripExecutionData);
      const { items, nextToken } = page(events, input, `history:${live.record.executionArn}:${input.reverseOrder ? 'r' : 'f'}`);
      return { events: items, ...(nextToken ? { nextToken } : {}) };
    },
    StopExecution: (input) => engine.stopExecution(input.executionArn, input.error, input.cause),
    SendTaskSuccess: (input) => {
      engine.sendTaskSuccess(input.taskToken, input.output);
      return {};
    },
    SendTaskFailure: (input) => {
      engine.sendTaskFailure(input.taskToken, input.error, input.cause);
      return {};
    },
    SendTaskHeartbeat: (input) => {
      engine.sendTaskHeartbeat(input.taskToken);
      return {};
    },
    RedriveExecution: (input) => engine.redrive(checkExecutionArn(input.executionArn)),
  };

  return {
    targetPrefixes: ['AWSStepFunctions'],
    async handle(operation: string, input: any, _ctx: RequestContext): Promise<unknown> {
      const op = ops[operation];
      if (!op) throw new AwsError('UnknownOperationException', `The local cloud does not implement AWSStepFunctions.${operation}`);
      if (!input || typeof input !== 'object' || Array.isArray(input)) throw new AwsError('SerializationException', 'the request body must be a JSON object');
      return op(input);
    },
  };
}

/** GetExecutionHistory with includeExecutionData=false drops inputs, outputs and parameters. */
function stripExecutionData(event: Record<string, any>): any {
  const out: Record<string, any> = {};
  for (const [k, v] of Object.entries(event)) {
    if (k.endsWith('EventDetails') && v && typeof v === 'object') {
      const { input: _i, output: _o, parameters: _p, ...rest } = v;
      out[k] = rest;
    } else out[k] = v;
  }
  return out;
}
