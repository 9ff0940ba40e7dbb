import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProvisionRequest, ResourceProvider } from '../../../local/core/aws.js';
import { Deployer, DeployError, ParameterStore } from '../../../local/cloudformation/index.js';

interface Call {
  op: 'create' | 'update' | 'delete';
  logicalId?: string;
  physicalId: string;
  properties: Record<string, any>;
}

/** A provider that records every call and hands out fresh physical ids. */
function recorder(types: string[] = ['Test::Thing'], withUpdate = true): ResourceProvider & { calls: Call[]; props: Map<string, Record<string, any>> } {
  let n = 0;
  const calls: Call[] = [];
  const props = new Map<string, Record<string, any>>();
  const make = (req: ProvisionRequest, physicalId: string) => {
    props.set(req.logicalId, req.properties);
    return { physicalId, attributes: { Arn: `arn:test:${req.logicalId}`, List: ['x', 'y', 'z'], Name: req.properties.Name } };
  };
  const provider: ResourceProvider & { calls: Call[]; props: Map<string, Record<string, any>> } = {
    types,
    calls,
    props,
    async create(req) {
      const physicalId = `phys-${req.logicalId}-${++n}`;
      calls.push({ op: 'create', logicalId: req.logicalId, physicalId, properties: req.properties });
      return make(req, physicalId);
    },
    async delete(_type, physicalId, properties) {
      calls.push({ op: 'delete', physicalId, properties });
    },
  };
  if (withUpdate) {
    provider.update = async (req, previous) => {
      calls.push({ op: 'update', logicalId: req.logicalId, physicalId: previous.physicalId, properties: req.properties });
      return make(req, previous.physicalId);
    };
  }
  return provider;
}

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'converge-cfn-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const BOOTSTRAP = {
  Parameters: {
    BootstrapVersion: { Type: 'AWS::SSM::Parameter::Value<String>', Default: '/cdk-bootstrap/hnb659fds/version', Description: 'bootstrap version' },
  },
  Rules: {
    CheckBootstrapVersion: {
      Assertions: [
        {
          Assert: { 'Fn::Not': [{ 'Fn::Contains': [['1', '2', '3', '4', '5'], { Ref: 'BootstrapVersion' }] }] },
          AssertDescription: "CDK bootstrap stack version 6 required. Please run 'cdk bootstrap' with a recent version of the CDK CLI.",
        },
      ],
    },
  },
};

describe('intrinsics', () => {
  const template = {
    Parameters: {
      ...BOOTSTRAP.Parameters,
      Env: { Type: 'String', Default: 'dev', AllowedValues: ['dev', 'prod'] },
      Zones: { Type: 'CommaDelimitedList', Default: 'a,b' },
    },
    Rules: BOOTSTRAP.Rules,
    Mappings: { RegionMap: { 'us-east-1': { Short: 'use1' } } },
    Conditions: {
      IsDev: { 'Fn::Equals': [{ Ref: 'Env' }, 'dev'] },
      IsProd: { 'Fn::Not': [{ Condition: 'IsDev' }] },
      Both: { 'Fn::And': [{ Condition: 'IsDev' }, { 'Fn::Equals': ['a', 'a'] }] },
      Either: { 'Fn::Or': [{ Condition: 'IsProd' }, { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] }] },
    },
    Resources: {
      A: { Type: 'Test::Thing', Properties: { Name: 'a' } },
      Gone: { Type: 'Test::Thing', Condition: 'IsProd', Properties: { Name: 'never' } },
      B: {
        Type: 'Test::Thing',
        Properties: {
          Ref: { Ref: 'A' },
          GetAttList: { 'Fn::GetAtt': ['A', 'Arn'] },
          GetAttDotted: { 'Fn::GetAtt': 'A.Arn' },
          Join: { 'Fn::Join': ['-', ['x', { Ref: 'A' }, { 'Fn::GetAtt': ['A', 'Name'] }]] },
          Sub: { 'Fn::Sub': '${A}/${A.Arn}/${AWS::Region}/${Env}/${!Literal}' },
          SubVars: { 'Fn::Sub': ['${X}-${A}-${AWS::AccountId}', { X: { Ref: 'Env' } }] },
          Select: { 'Fn::Select': [1, { 'Fn::GetAtt': ['A', 'List'] }] },
          SelectString: { 'Fn::Select': ['2', ['p', 'q', 'r']] },
          Split: { 'Fn::Split': [',', 'a,b,,c'] },
          SelectSplit: { 'Fn::Select': [1, { 'Fn::Split': ['/', { 'Fn::Sub': 'one/${A}' }] }] },
          If: { 'Fn::If': ['IsDev', 'yes', 'no'] },
          IfOtherBranchRefersToSkipped: { 'Fn::If': ['IsProd', { Ref: 'Gone' }, 'skipped-ok'] },
          IfNoValue: { 'Fn::If': ['IsProd', 'x', { Ref: 'AWS::NoValue' }] },
          ListWithNoValue: ['keep', { Ref: 'AWS::NoValue' }, { 'Fn::If': ['Both', 'both', { Ref: 'AWS::NoValue' }] }],
          FindInMap: { 'Fn::FindInMap': ['RegionMap', { Ref: 'AWS::Region' }, 'Short'] },
          AZ: { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] },
          Base64: { 'Fn::Base64': { 'Fn::Join': ['', ['h', 'i']] } },
          Either: { 'Fn::If': ['Either', true, false] },
          Region: { Ref: 'AWS::Region' },
          AccountId: { Ref: 'AWS::AccountId' },
          Partition: { Ref: 'AWS::Partition' },
          StackName: { Ref: 'AWS::StackName' },
          StackId: { Ref: 'AWS::StackId' },
          URLSuffix: { Ref: 'AWS::URLSuffix' },
          NotificationARNs: { Ref: 'AWS::NotificationARNs' },
          ListParam: { Ref: 'Zones' },
          Bootstrap: { Ref: 'BootstrapVersion' },
          Nested: { Deep: [{ Statement: { Condition: { StringEquals: { k: { Ref: 'Env' } } } } }] },
        },
      },
      C: { Type: 'Test::Thing', DependsOn: 'B', Properties: { Name: 'c' } },
    },
    Outputs: {
      BName: { Value: { Ref: 'B' }, Description: 'b', Export: { Name: { 'Fn::Sub': '${AWS::StackName}-b' } } },
      OnlyProd: { Condition: 'IsProd', Value: 'prod' },
    },
  };

  it('resolves every supported intrinsic, condition and pseudo parameter', async () => {
    const provider = recorder();
    const deployer = new Deployer({ providers: [provider], ssm: new ParameterStore() });
    const stack = await deployer.deployStack({ stackName: 'TestStack', template });
    const a = stack.resources.A!.physicalId;
    const b = provider.props.get('B')!;
    expect(b).toEqual({
      Ref: a,
      GetAttList: 'arn:test:A',
      GetAttDotted: 'arn:test:A',
      Join: `x-${a}-a`,
      Sub: `${a}/arn:test:A/us-east-1/dev/\${Literal}`,
      SubVars: `dev-${a}-000000000000`,
      Select: 'y',
      SelectString: 'r',
      Split: ['a', 'b', '', 'c'],
      SelectSplit: a,
      If: 'yes',
      IfOtherBranchRefersToSkipped: 'skipped-ok',
      ListWithNoValue: ['keep', 'both'],
      FindInMap: 'use1',
      AZ: 'us-east-1a',
      Base64: 'aGk=',
      Either: true,
      Region: 'us-east-1',
      AccountId: '000000000000',
      Partition: 'aws',
      StackName: 'TestStack',
      StackId: stack.stackId,
      URLSuffix: 'amazonaws.com',
      NotificationARNs: [],
      ListParam: ['a', 'b'],
      Bootstrap: '30',
      Nested: { Deep: [{ Statement: { Condition: { StringEquals: { k: 'dev' } } } }] },
    });
    expect(stack.stackId).toMatch(/^arn:aws:cloudformation:us-east-1:000000000000:stack\/TestStack\/[0-9a-f-]{36}$/);
    expect(Object.keys(stack.resources).sort()).toEqual(['A', 'B', 'C']);
    // DependsOn and references order the creates.
    expect(provider.calls.map((c) => c.logicalId)).toEqual(['A', 'B', 'C']);
    expect(stack.outputs).toEqual([{ OutputKey: 'BName', OutputValue: stack.resources.B!.physicalId, Description: 'b', ExportName: 'TestStack-b' }]);
    expect(stack.status).toBe('CREATE_COMPLETE');
  });

  it('honours given parameters, and conditions that flip', async () => {
    const provider = recorder();
    const deployer = new Deployer({ providers: [provider], ssm: new ParameterStore() });
    const stack = await deployer.deployStack({ stackName: 'Prod', template, parameters: { Env: 'prod' } });
    expect(Object.keys(stack.resources).sort()).toEqual(['A', 'B', 'C', 'Gone']);
    expect(provider.props.get('B')!.IfNoValue).toBe('x');
    expect(provider.props.get('B')!.IfOtherBranchRefersToSkipped).toBe(stack.resources.Gone!.physicalId);
    expect(stack.outputs.map((o) => o.OutputKey)).toEqual(['BName', 'OnlyProd']);
    await expect(deployer.deployStack({ stackName: 'Bad', template, parameters: { Env: 'qa' } })).rejects.toThrow(/Env must be one of dev, prod/);
  });
});

describe('refusals', () => {
  const deploy = (resources: Record<string, any>, extra: Record<string, any> = {}) => {
    const provider = recorder();
    const deployer = new Deployer({ providers: [provider] });
    return { provider, result: deployer.deployStack({ stackName: 'S', template: { Resources: resources, ...extra } }) };
  };

  it('refuses an unknown resource type by logical id and type, before creating anything', async () => {
    const { provider, result } = deploy({ First: { Type: 'Test::Thing', Properties: {} }, Mystery: { Type: 'AWS::Foo::Bar', Properties: {} } });
    const err = await result.catch((e) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect(err.logicalId).toBe('Mystery');
    expect(err.resourceType).toBe('AWS::Foo::Bar');
    expect(err.message).toContain('Mystery (AWS::Foo::Bar)');
    expect(err.message).toContain('unsupported resource type');
    expect(provider.calls).toEqual([]);
  });

  it('refuses an unknown intrinsic by name', async () => {
    const { result } = deploy({ X: { Type: 'Test::Thing', Properties: { N: { 'Fn::Length': [1, 2] } } } });
    const err = await result.catch((e) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect(err.message).toMatch(/resource X \(Test::Thing\): unsupported intrinsic function Fn::Length/);
  });

  it('refuses an unresolvable Ref, GetAtt attribute and Sub variable', async () => {
    await expect(deploy({ X: { Type: 'Test::Thing', Properties: { N: { Ref: 'Nope' } } } }).result).rejects.toThrow(/resource X \(Test::Thing\): unresolvable reference to Nope/);
    await expect(deploy({ A: { Type: 'Test::Thing' }, X: { Type: 'Test::Thing', Properties: { N: { 'Fn::GetAtt': ['A', 'Missing'] } } } }).result).rejects.toThrow(/resource X \(Test::Thing\).*Test::Thing has no attribute Missing/);
    await expect(deploy({ X: { Type: 'Test::Thing', Properties: { N: { 'Fn::Sub': '${Ghost.Arn}' } } } }).result).rejects.toThrow(/resource X .*Ghost/);
    await expect(deploy({ X: { Type: 'Test::Thing', DependsOn: ['Ghost'] } }).result).rejects.toThrow(/resource X .*DependsOn names "Ghost"/);
  });

  it('refuses unsupported template features by name', async () => {
    await expect(deploy({ X: { Type: 'Test::Thing' } }, { Transform: 'AWS::Serverless-2016-10-31' }).result).rejects.toThrow(/Transform "AWS::Serverless-2016-10-31" is not supported/);
    await expect(deploy({ X: { Type: 'Test::Thing', CreationPolicy: {} } }).result).rejects.toThrow(/resource X \(Test::Thing\): resource attribute CreationPolicy is not supported/);
  });

  it('detects cycles and names them', async () => {
    const { result } = deploy({ A: { Type: 'Test::Thing', Properties: { B: { Ref: 'B' } } }, B: { Type: 'Test::Thing', Properties: { A: { 'Fn::GetAtt': ['A', 'Arn'] } } } });
    await expect(result).rejects.toThrow(/circular dependency between resources: (A -> B -> A|B -> A -> B)/);
  });

  it('evaluates Rules and fails with the AssertDescription', async () => {
    const deployer = new Deployer({ providers: [recorder()], ssm: { get: () => '3' } });
    await expect(deployer.deployStack({ stackName: 'Old', template: { ...BOOTSTRAP, Resources: { X: { Type: 'Test::Thing' } } } })).rejects.toThrow(
      /stack Old: rule CheckBootstrapVersion failed: CDK bootstrap stack version 6 required/,
    );
    const none = new Deployer({ providers: [recorder()] });
    await expect(none.deployStack({ stackName: 'NoSsm', template: { ...BOOTSTRAP, Resources: { X: { Type: 'Test::Thing' } } } })).rejects.toThrow(/SSM parameter \/cdk-bootstrap\/hnb659fds\/version, which does not exist/);
  });

  it('refuses two providers claiming one type', () => {
    expect(() => new Deployer({ providers: [recorder(), recorder()] })).toThrow(/two providers claim the resource type Test::Thing/);
  });

  it('names the resource whose provider failed', async () => {
    const failing: ResourceProvider = { types: ['Test::Fails'], create: async () => Promise.reject(new Error('boom')), delete: async () => {} };
    const deployer = new Deployer({ providers: [failing] });
    await expect(deployer.deployStack({ stackName: 'F', template: { Resources: { Broken: { Type: 'Test::Fails' } } } })).rejects.toThrow('stack F, resource Broken (Test::Fails): boom');
    expect(deployer.stack('F')!.status).toBe('CREATE_FAILED');
  });
});

describe('redeploy', () => {
  const v1 = {
    Resources: {
      A: { Type: 'Test::Thing', Properties: { Name: 'a' } },
      B: { Type: 'Test::Thing', Properties: { Name: 'b', A: { Ref: 'A' } } },
      C: { Type: 'Test::Plain', Properties: { Name: 'c' } },
      D: { Type: 'Test::Thing', Properties: { Name: 'd' } },
    },
  };

  it('keeps unchanged resources, updates or replaces changed ones, deletes removed ones, and survives a restart', async () => {
    const stateDir = tempDir();
    const things = recorder(['Test::Thing'], true);
    const plain = recorder(['Test::Plain'], false);
    const first = new Deployer({ providers: [things, plain], stateDir });
    const s1 = await first.deployStack({ stackName: 'R', template: v1 });
    const oldC = s1.resources.C!.physicalId;
    things.calls.length = 0;
    plain.calls.length = 0;

    // A restart: a new deployer over the same state directory.
    const second = new Deployer({ providers: [things, plain], stateDir });
    const unchanged = await second.deployStack({ stackName: 'R', template: v1 });
    expect(things.calls).toEqual([]);
    expect(plain.calls).toEqual([]);
    expect(unchanged.status).toBe('CREATE_COMPLETE');

    const v2 = structuredClone(v1) as any;
    v2.Resources.B.Properties.Name = 'b2';
    v2.Resources.C.Properties.Name = 'c2';
    delete v2.Resources.D;
    const s2 = await second.deployStack({ stackName: 'R', template: v2 });
    expect(things.calls.map((c) => `${c.op}:${c.logicalId ?? c.physicalId}`)).toEqual(['update:B', `delete:${s1.resources.D!.physicalId}`]);
    // No update handler: delete, then create.
    expect(plain.calls.map((c) => c.op)).toEqual(['delete', 'create']);
    expect(plain.calls[0]!.physicalId).toBe(oldC);
    expect(s2.resources.C!.physicalId).not.toBe(oldC);
    expect(s2.resources.A!.physicalId).toBe(s1.resources.A!.physicalId);
    expect(Object.keys(s2.resources).sort()).toEqual(['A', 'B', 'C']);
    expect(s2.status).toBe('UPDATE_COMPLETE');
  });

  it('propagates a replacement to the resources that refer to it', async () => {
    const things = recorder(['Test::Thing'], false);
    const deployer = new Deployer({ providers: [things, recorder(['Test::Plain'])] });
    const s1 = await deployer.deployStack({ stackName: 'P', template: v1 });
    // The deployer updates its stack record in place, so keep the old ids now.
    const [oldA, oldB] = [s1.resources.A!.physicalId, s1.resources.B!.physicalId];
    things.calls.length = 0;
    const v2 = structuredClone(v1) as any;
    v2.Resources.A.Properties.Name = 'a2';
    const s2 = await deployer.deployStack({ stackName: 'P', template: v2 });
    expect(s2.resources.A!.physicalId).not.toBe(oldA);
    expect(things.props.get('B')!.A).toBe(s2.resources.A!.physicalId);
    expect(things.calls.map((c) => `${c.op}:${c.logicalId ?? c.physicalId}`)).toEqual([`delete:${oldA}`, 'create:A', `delete:${oldB}`, 'create:B']);
  });

  it('deletes removed resources dependents first', async () => {
    const things = recorder();
    const deployer = new Deployer({ providers: [things, recorder(['Test::Plain'])] });
    const s1 = await deployer.deployStack({ stackName: 'O', template: v1 });
    const [a, b] = [s1.resources.A!.physicalId, s1.resources.B!.physicalId];
    things.calls.length = 0;
    await deployer.deployStack({ stackName: 'O', template: { Resources: { C: v1.Resources.C, D: v1.Resources.D } } });
    expect(things.calls.map((c) => c.physicalId)).toEqual([b, a]);
  });
});

describe('cloud assemblies', () => {
  function writeAssembly(dir: string): void {
    mkdirSync(path.join(dir, 'asset.abc123'), { recursive: true });
    writeFileSync(path.join(dir, 'asset.abc123', 'index.js'), 'exports.handler = async () => 1;');
    const producer = {
      Resources: { Shared: { Type: 'Test::Thing', Properties: { Name: 'shared' } } },
      Outputs: { SharedName: { Value: { Ref: 'Shared' }, Export: { Name: 'shared-name' } } },
    };
    const consumer = {
      Resources: {
        Fn: {
          Type: 'Test::Thing',
          Properties: { Imported: { 'Fn::ImportValue': 'shared-name' }, Code: { S3Bucket: { 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' }, S3Key: 'abc123.zip' } },
        },
      },
      Outputs: { Imported: { Value: { 'Fn::ImportValue': 'shared-name' } } },
    };
    writeFileSync(path.join(dir, 'Producer.template.json'), JSON.stringify(producer));
    writeFileSync(path.join(dir, 'Consumer.template.json'), JSON.stringify(consumer));
    writeFileSync(
      path.join(dir, 'Consumer.assets.json'),
      JSON.stringify({ version: '1', files: { abc123: { source: { path: 'asset.abc123', packaging: 'zip' }, destinations: { 'current_account-current_region': { bucketName: 'b', objectKey: 'abc123.zip' } } } }, dockerImages: {} }),
    );
    writeFileSync(
      path.join(dir, 'manifest.json'),
      JSON.stringify({
        version: '48.0.0',
        artifacts: {
          // Listed first on purpose: the dependency must still deploy Producer before it.
          Consumer: { type: 'aws:cloudformation:stack', properties: { templateFile: 'Consumer.template.json' }, dependencies: ['Producer', 'Consumer.assets'] },
          'Consumer.assets': { type: 'cdk:asset-manifest', properties: { file: 'Consumer.assets.json' } },
          Producer: { type: 'aws:cloudformation:stack', properties: { templateFile: 'Producer.template.json', stackName: 'producer-stack' } },
          Tree: { type: 'cdk:tree', properties: { file: 'tree.json' } },
        },
      }),
    );
  }

  it('deploys stacks in dependency order, resolves ImportValue across stacks, and maps assets', async () => {
    const dir = tempDir();
    writeAssembly(dir);
    const seen: string[] = [];
    const things = recorder();
    const wrapped: ResourceProvider = {
      ...things,
      async create(req) {
        if (req.properties.Code) seen.push(req.assetPath(req.properties.Code.S3Key));
        return things.create(req);
      },
    };
    const deployer = new Deployer({ providers: [wrapped] });
    const outputs = await deployer.deployAssembly(dir);
    const shared = deployer.stack('producer-stack')!.resources.Shared!.physicalId;
    expect(outputs).toEqual({ 'producer-stack': { SharedName: shared }, Consumer: { Imported: shared } });
    expect(things.props.get('Fn')!.Imported).toBe(shared);
    expect(seen).toEqual([path.join(dir, 'asset.abc123')]);
    expect(deployer.exports()).toEqual([{ name: 'shared-name', value: shared, stackName: 'producer-stack', stackId: deployer.stack('producer-stack')!.stackId }]);
  });

  it('fails an import of a missing export, and a missing manifest, by name', async () => {
    const deployer = new Deployer({ providers: [recorder()] });
    await expect(deployer.deployStack({ stackName: 'I', template: { Resources: { X: { Type: 'Test::Thing', Properties: { V: { 'Fn::ImportValue': 'nope' } } } } } })).rejects.toThrow(/resource X \(Test::Thing\): unresolvable reference: Fn::ImportValue: no export named nope/);
    await expect(deployer.deployAssembly(tempDir())).rejects.toThrow(/manifest.json is missing/);
  });
});
