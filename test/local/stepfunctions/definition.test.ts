import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../local/stepfunctions/definition.js';
import { startHarness } from './harness.js';

const task = (resource: string, extra: Record<string, unknown> = {}) => ({ Type: 'Task', Resource: resource, ...extra, End: true });

function refusal(definition: unknown): string {
  try {
    compileDefinition(JSON.stringify(definition));
  } catch (err) {
    expect((err as { name: string }).name).toBe('InvalidDefinition');
    return (err as Error).message;
  }
  throw new Error('definition was accepted');
}

describe('compileDefinition refuses what the local cloud cannot run, by state name', () => {
  it('refuses JSONata at the top level and per state', () => {
    expect(refusal({ QueryLanguage: 'JSONata', StartAt: 'A', States: { A: { Type: 'Pass', End: true } } })).toContain('JSONata');
    expect(refusal({ StartAt: 'A', States: { A: { Type: 'Pass', QueryLanguage: 'JSONata', Output: '{% 1 %}', End: true } } })).toMatch(/state 'A'.*JSONata/);
  });

  it('refuses Assign and Distributed Map features inside nested Parallel branches and Map processors', () => {
    const nested = (inner: Record<string, unknown>) => ({
      StartAt: 'P',
      States: { P: { Type: 'Parallel', Branches: [{ StartAt: 'M', States: { M: { Type: 'Map', ItemProcessor: { StartAt: 'Deep', States: { Deep: inner } }, End: true } } }], End: true } },
    });
    expect(refusal(nested({ Type: 'Pass', Assign: { x: 1 }, End: true }))).toMatch(/state 'Deep'.*Assign/);
    expect(refusal({ StartAt: 'M', States: { M: { Type: 'Map', ItemReader: { Resource: 'arn:aws:states:::s3:getObject' }, ItemProcessor: { StartAt: 'X', States: { X: { Type: 'Pass', End: true } } }, End: true } } })).toMatch(/state 'M'.*ItemReader/);
    expect(refusal({ StartAt: 'M', States: { M: { Type: 'Map', ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'X', States: { X: { Type: 'Pass', End: true } } }, End: true } } })).toMatch(/state 'M'.*DISTRIBUTED/);
    expect(refusal(nested(task('arn:aws:states:::s3:getObject')))).toMatch(/state 'Deep'.*unsupported Task Resource/);
  });

  it('refuses unsupported integrations and patterns, and $$.Task.Token outside a callback task', () => {
    expect(refusal({ StartAt: 'A', States: { A: task('arn:aws:states:::aws-sdk:dynamodb:scan') } })).toMatch(/state 'A'/);
    expect(refusal({ StartAt: 'A', States: { A: task('arn:aws:states:::lambda:invoke.sync', { Parameters: { FunctionName: 'f' } }) } })).toMatch(/\.sync/);
    expect(refusal({ StartAt: 'A', States: { A: task('arn:aws:states:::dynamodb:putItem.waitForTaskToken') } })).toMatch(/state 'A'/);
    expect(refusal({ StartAt: 'A', States: { A: task('arn:aws:states:::lambda:invoke', { Parameters: { FunctionName: 'f', 'T.$': '$$.Task.Token' } }) } })).toMatch(/state 'A'.*Task\.Token/);
  });

  it('reports asl-validator errors and accepts the supported forms', () => {
    expect(refusal({ StartAt: 'Missing', States: { A: { Type: 'Pass', End: true } } })).toContain('Missing');
    const ok = compileDefinition(
      JSON.stringify({
        StartAt: 'A',
        TimeoutSeconds: 30,
        States: {
          A: task('arn:aws:states:::lambda:invoke.waitForTaskToken', { Parameters: { FunctionName: 'f', Payload: { 'token.$': '$$.Task.Token' } }, Retry: [{ ErrorEquals: ['States.ALL'] }] }),
        },
      }),
    );
    expect(ok.timeoutSeconds).toBe(30);
    expect(ok.states.get('A')!.task).toMatchObject({ kind: 'lambda-invoke', waitForTaskToken: true, resourceName: 'invoke.waitForTaskToken' });
    expect(ok.runnable.States.A.Retry).toBeUndefined();
  });
});

describe('the AWS::StepFunctions::StateMachine provider', () => {
  it('applies DefinitionSubstitutions, generates a stable name and returns Arn/Name/StateMachineRevisionId', async () => {
    const h = await startHarness();
    try {
      const provider = h.sf.service.providers![0];
      const req = {
        stackName: 'Stack',
        logicalId: 'SagaMachine',
        type: 'AWS::StepFunctions::StateMachine',
        properties: {
          DefinitionString: JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Task', Resource: '${Fn}', End: true } } }),
          DefinitionSubstitutions: { Fn: 'arn:aws:lambda:us-east-1:000000000000:function:f' },
          RoleArn: 'arn:aws:iam::000000000000:role/r',
        },
        metadata: {},
        assemblyDir: '/x',
        assetPath: (k: string) => k,
      };
      const a = await provider.create(req);
      const b = await provider.create(req);
      expect(a.physicalId).toBe(b.physicalId);
      expect(a.attributes.Name).toMatch(/^SagaMachine-[A-Za-z0-9]{12}$/);
      expect(a.attributes.Arn).toBe(`arn:aws:states:us-east-1:000000000000:stateMachine:${a.attributes.Name}`);
      expect(a.attributes.StateMachineRevisionId).toMatch(/^[0-9a-f-]{36}$/);
      await expect(provider.create({ ...req, properties: { ...req.properties, DefinitionS3Location: { Bucket: 'b', Key: 'k' } } })).rejects.toThrow(/SagaMachine.*DefinitionS3Location/);
      await expect(provider.create({ ...req, properties: { ...req.properties, Frobnicate: 1 } })).rejects.toThrow(/Frobnicate/);
      await expect(provider.create({ ...req, properties: { ...req.properties, StateMachineType: 'TURBO' } })).rejects.toThrow(/TURBO/);
      await expect(
        provider.create({ ...req, properties: { ...req.properties, DefinitionString: JSON.stringify({ StartAt: 'R', States: { R: { Type: 'Map', ItemReader: {}, ItemProcessor: { StartAt: 'X', States: { X: { Type: 'Pass', End: true } } }, End: true } } }) } }),
      ).rejects.toThrow(/SagaMachine.*state 'R'.*ItemReader/);
      await provider.delete('AWS::StepFunctions::StateMachine', a.physicalId, req.properties);
      expect(h.sf.service.providers![0].types).toEqual(['AWS::StepFunctions::StateMachine']);
    } finally {
      await h.close();
    }
  });
});
