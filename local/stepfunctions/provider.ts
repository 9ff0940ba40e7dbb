/**
 * CloudFormation provider for `AWS::StepFunctions::StateMachine`.
 */
import { createHash } from 'node:crypto';
import { AwsError, type ProvisionRequest, type Provisioned, type ResourceProvider } from '../core/aws.js';
import type { Kernel } from '../core/kernel.js';
import type { StepFunctionsEngine } from './engine.js';
import { deleteMachine, putMachine } from './machines.js';
import type { FileStore } from './store.js';

const KNOWN = new Set(['Definition', 'DefinitionS3Location', 'DefinitionString', 'DefinitionSubstitutions', 'LoggingConfiguration', 'RoleArn', 'StateMachineName', 'StateMachineType', 'Tags', 'TracingConfiguration', 'EncryptionConfiguration']);

function refuse(req: ProvisionRequest, message: string): AwsError {
  return new AwsError('ValidationException', `${req.logicalId} (${req.type}): ${message}`);
}

/** A CloudFormation-style physical name: `<logicalId>-<12 chars>`, stable for a stack and logical id. */
function generatedName(stackName: string, logicalId: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const hash = createHash('sha256').update(`${stackName}/${logicalId}`).digest();
  const suffix = Array.from(hash.subarray(0, 12), (b) => alphabet[b % alphabet.length]).join('');
  return `${logicalId.slice(0, 80 - 13)}-${suffix}`;
}

/** Replaces `${key}` by its DefinitionSubstitutions value; an unknown key stays (as CloudFormation leaves it). */
function substitute(definition: string, substitutions: Record<string, unknown> | undefined): string {
  if (!substitutions) return definition;
  return definition.replace(/\$\{([^}]+)\}/g, (whole, key: string) => (Object.hasOwn(substitutions, key) ? String(substitutions[key]) : whole));
}

/** Builds the provider. */
export function createStateMachineProvider(kernel: Kernel, engine: StepFunctionsEngine, store: FileStore): ResourceProvider {
  const provision = async (req: ProvisionRequest): Promise<Provisioned> => {
    const p = req.properties;
    for (const key of Object.keys(p)) if (!KNOWN.has(key)) throw refuse(req, `property ${key} is not supported by the local cloud`);
    if (p.DefinitionS3Location !== undefined) throw refuse(req, 'DefinitionS3Location is not supported by the local cloud; use DefinitionString or Definition');
    if ((p.DefinitionString === undefined) === (p.Definition === undefined)) throw refuse(req, 'exactly one of DefinitionString or Definition is required');
    if (p.EncryptionConfiguration !== undefined && p.EncryptionConfiguration.Type !== 'AWS_OWNED_KEY') throw refuse(req, `EncryptionConfiguration.Type ${String(p.EncryptionConfiguration.Type)} is not supported by the local cloud`);
    const raw = p.DefinitionString !== undefined ? p.DefinitionString : JSON.stringify(p.Definition);
    if (typeof raw !== 'string') throw refuse(req, 'DefinitionString must be a string');
    if (p.DefinitionSubstitutions !== undefined && (typeof p.DefinitionSubstitutions !== 'object' || p.DefinitionSubstitutions === null)) throw refuse(req, 'DefinitionSubstitutions must be an object');
    const definition = substitute(raw, p.DefinitionSubstitutions);
    const logging = p.LoggingConfiguration
      ? {
          level: p.LoggingConfiguration.Level ?? 'OFF',
          includeExecutionData: p.LoggingConfiguration.IncludeExecutionData ?? false,
          ...(p.LoggingConfiguration.Destinations ? { destinations: p.LoggingConfiguration.Destinations.map((d: any) => ({ cloudWatchLogsLogGroup: { logGroupArn: d.CloudWatchLogsLogGroup?.LogGroupArn } })) } : {}),
        }
      : undefined;
    const name = p.StateMachineName ?? generatedName(req.stackName, req.logicalId);
    let record;
    try {
      record = putMachine(
        engine,
        store,
        kernel.region,
        {
          name,
          definition,
          roleArn: p.RoleArn,
          type: p.StateMachineType,
          loggingConfiguration: logging,
          tracingConfiguration: p.TracingConfiguration ? { enabled: !!p.TracingConfiguration.Enabled } : undefined,
          tags: Array.isArray(p.Tags) ? p.Tags.map((t: { Key: string; Value: string }) => ({ key: t.Key, value: t.Value })) : [],
        },
        kernel.clock.now(),
      );
    } catch (err) {
      if (err instanceof AwsError) throw new AwsError(err.code, `${req.logicalId} (${req.type}): ${err.message}`, err.statusCode);
      throw err;
    }
    return { physicalId: record.stateMachineArn, attributes: { Arn: record.stateMachineArn, Name: record.name, StateMachineRevisionId: record.revisionId } };
  };

  return {
    types: ['AWS::StepFunctions::StateMachine'],
    create: provision,
    async update(req, previous) {
      const next = await provision(req);
      // A new name is a replacement: the old machine goes, as CloudFormation does.
      if (next.physicalId !== previous.physicalId) deleteMachine(engine, store, previous.physicalId);
      return next;
    },
    async delete(_type, physicalId) {
      deleteMachine(engine, store, physicalId);
    },
  };
}
