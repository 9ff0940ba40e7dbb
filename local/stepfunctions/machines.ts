/**
 * State machine registry operations shared by the CloudFormation provider and the
 * CreateStateMachine/DeleteStateMachine API.
 */
import { createHash } from 'node:crypto';
import { AwsError, arn } from '../core/aws.js';
import { compileDefinition } from './definition.js';
import { checkName, type MachineRecord, type StepFunctionsEngine } from './engine.js';
import type { FileStore } from './store.js';

/** What it takes to create or update a state machine. */
export interface MachineSpec {
  readonly name: string;
  readonly definition: string;
  readonly roleArn: string;
  readonly type?: string;
  readonly loggingConfiguration?: Record<string, unknown>;
  readonly tracingConfiguration?: Record<string, unknown>;
  readonly tags?: Array<{ key: string; value: string }>;
}

/** A deterministic revision id (UUID-shaped) for a definition and role. */
function revisionOf(definition: string, roleArn: string): string {
  const h = createHash('sha256').update(definition).update('\0').update(roleArn).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Creates or replaces a state machine; validates its definition first (InvalidDefinition naming the state). */
export function putMachine(engine: StepFunctionsEngine, store: FileStore, region: string, spec: MachineSpec, now: number): MachineRecord {
  checkName(spec.name);
  const type = spec.type ?? 'STANDARD';
  if (type !== 'STANDARD' && type !== 'EXPRESS') throw new AwsError('ValidationException', `Value '${type}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]`);
  if (typeof spec.roleArn !== 'string' || !/^arn:aws[\w-]*:iam::\d{12}:role\/.+/.test(spec.roleArn)) throw new AwsError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${String(spec.roleArn)}'`);
  const compiled = compileDefinition(spec.definition);
  const stateMachineArn = arn('states', `stateMachine:${spec.name}`, region);
  const previous = engine.machines.get(stateMachineArn)?.record;
  const logging = spec.loggingConfiguration ?? { level: 'OFF', includeExecutionData: false };
  if (logging.level !== undefined && !['ALL', 'ERROR', 'FATAL', 'OFF'].includes(String(logging.level))) throw new AwsError('InvalidLoggingConfiguration', `Invalid logging level '${String(logging.level)}'`);
  const record: MachineRecord = {
    stateMachineArn,
    name: spec.name,
    type,
    roleArn: spec.roleArn,
    definition: spec.definition,
    creationDate: previous?.creationDate ?? now,
    loggingConfiguration: logging,
    tracingConfiguration: spec.tracingConfiguration ?? { enabled: false },
    tags: spec.tags ?? [],
    revisionId: revisionOf(spec.definition, spec.roleArn),
  };
  engine.machines.set(stateMachineArn, { record, compiled });
  store.saveMachines([...engine.machines.values()].map((m) => m.record));
  return record;
}

/** Removes a state machine; its executions stay describable. */
export function deleteMachine(engine: StepFunctionsEngine, store: FileStore, stateMachineArn: string): void {
  if (engine.machines.delete(stateMachineArn)) store.saveMachines([...engine.machines.values()].map((m) => m.record));
}
