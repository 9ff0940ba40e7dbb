/**
 * Resource types the local cloud records without running anything behind them: log groups,
 * KMS keys and aliases, alarms, CDK metadata and SSM parameters. Their Ref and GetAtt values
 * have AWS's shapes so that templates referring to them resolve as on AWS.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { arn, type ProvisionRequest, type Provisioned, type ResourceProvider } from '../core/aws.js';
import { generatedName } from '../iam/index.js';

/** The version a freshly bootstrapped CDK environment (qualifier hnb659fds) reports. */
export const CDK_BOOTSTRAP_VERSION = '30';
/** Where `cdk bootstrap` stores its version. */
export const CDK_BOOTSTRAP_PARAMETER = '/cdk-bootstrap/hnb659fds/version';

/** A local SSM Parameter Store, seeded as a bootstrapped CDK environment. */
export class ParameterStore {
  private readonly values: Record<string, { value: string; type: string }>;
  private readonly file?: string;

  /** @param stateDir where parameters persist; in memory when undefined */
  constructor(stateDir?: string) {
    this.file = stateDir ? path.join(stateDir, 'ssm', 'parameters.json') : undefined;
    this.values = this.file && existsSync(this.file) ? JSON.parse(readFileSync(this.file, 'utf8')) : {};
    this.values[CDK_BOOTSTRAP_PARAMETER] ??= { value: CDK_BOOTSTRAP_VERSION, type: 'String' };
  }

  /** The value of a parameter, or undefined. */
  get(name: string): string | undefined {
    return this.values[name]?.value;
  }

  /** Creates or overwrites a parameter. */
  put(name: string, value: string, type = 'String'): void {
    this.values[name] = { value, type };
    this.save();
  }

  /** Removes a parameter (absent is fine). */
  delete(name: string): void {
    delete this.values[name];
    this.save();
  }

  private save(): void {
    if (!this.file) return;
    mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileSync(this.file, JSON.stringify(this.values));
  }
}

function simple(types: string[], make: (req: ProvisionRequest) => Provisioned): ResourceProvider {
  return {
    types,
    async create(req) {
      return make(req);
    },
    async delete() {},
  };
}

/** Providers that record the types listed in the module comment. */
export function recordProviders(ssm: ParameterStore): ResourceProvider[] {
  const logGroup = simple(['AWS::Logs::LogGroup'], (req) => {
    const name: string = req.properties.LogGroupName ?? generatedName(req.stackName, req.logicalId, 512);
    return { physicalId: name, attributes: { Arn: arn('logs', `log-group:${name}:*`) } };
  });
  const key = simple(['AWS::KMS::Key'], () => {
    const id = randomUUID();
    return { physicalId: id, attributes: { Arn: arn('kms', `key/${id}`), KeyId: id } };
  });
  const alias = simple(['AWS::KMS::Alias'], (req) => {
    const name = req.properties.AliasName;
    if (typeof name !== 'string' || !name.startsWith('alias/')) throw new Error('AliasName must start with alias/');
    return { physicalId: name, attributes: {} };
  });
  const alarm = simple(['AWS::CloudWatch::Alarm'], (req) => {
    const name: string = req.properties.AlarmName ?? generatedName(req.stackName, req.logicalId, 255);
    return { physicalId: name, attributes: { Arn: arn('cloudwatch', `alarm:${name}`) } };
  });
  const metadata = simple(['AWS::CDK::Metadata'], () => ({ physicalId: randomUUID(), attributes: {} }));
  const parameter: ResourceProvider = {
    types: ['AWS::SSM::Parameter'],
    async create(req) {
      const p = req.properties;
      if (typeof p.Value !== 'string') throw new Error('Value is required and must be a string');
      const type = p.Type ?? 'String';
      if (!['String', 'StringList'].includes(type)) throw new Error(`Type ${type} is not supported (String, StringList)`);
      const name: string = p.Name ?? `CFN-${req.logicalId}-${randomUUID().slice(0, 12)}`;
      ssm.put(name, p.Value, type);
      return { physicalId: name, attributes: { Type: type, Value: p.Value } };
    },
    async delete(_type, physicalId) {
      ssm.delete(physicalId);
    },
  };
  return [logGroup, key, alias, alarm, metadata, parameter];
}
