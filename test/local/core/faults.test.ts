import { describe, expect, it } from 'vitest';
import { FaultInjector, servicesOf } from '../../../local/core/faults.js';

const lambdaSite = (name: string) => ({ service: 'lambda' as const, functionNames: [name, 'SyncFunction'] });
const batchSite = (name: string) => ({ service: 'streams' as const, tableName: 'Orders', functionNames: [name, 'SyncFunction'] });

describe('FaultInjector', () => {
  it('fails a named function exactly N times after skipping the first K calls', () => {
    const faults = new FaultInjector({ rules: [{ function: '*Sync*', kind: 'error', errorName: 'Boom', after: 1, times: 2 }] });
    const fired = Array.from({ length: 5 }, () => faults.decide(lambdaSite('Converge-OrdersSync-1')).map((e) => e.errorName));
    expect(fired).toEqual([[], ['Boom'], ['Boom'], [], []]);
    expect(faults.stats()).toEqual([{ rule: 'rule-0', matched: 5, fired: 2 }]);
  });

  it('counts a function rule at the invocation only, never again at the stream batch that causes it', () => {
    const faults = new FaultInjector({ rules: [{ function: '*Sync*', kind: 'error', times: 2 }] });
    expect(faults.decide(batchSite('Converge-OrdersSync-1'))).toEqual([]);
    expect(faults.decide(lambdaSite('Converge-OrdersSync-1'))).toHaveLength(1);
    expect(faults.decide(lambdaSite('Converge-OrdersSync-1'))).toHaveLength(1);
    expect(faults.decide(lambdaSite('Converge-OrdersSync-1'))).toHaveLength(0);
  });

  it('applies duplicate and reorder rules to deliveries, not to invocations', () => {
    const faults = new FaultInjector({ rules: [{ function: '*Sync*', kind: 'duplicate' }] });
    expect(faults.decide(lambdaSite('Converge-OrdersSync-1'))).toEqual([]);
    expect(faults.decide(batchSite('Converge-OrdersSync-1')).map((e) => e.kind)).toEqual(['duplicate']);
    expect(servicesOf({ table: 'Orders', kind: 'reorder' })).toEqual(['streams']);
    expect(servicesOf({ state: 'ReserveInventory', kind: 'error' })).toEqual(['states']);
  });

  it('is deterministic for a seed', () => {
    const run = (seed: number) => {
      const f = new FaultInjector({ seed, rules: [{ service: 'lambda', kind: 'error', probability: 0.5 }] });
      return Array.from({ length: 32 }, () => f.decide(lambdaSite('f')).length).join('');
    };
    expect(run(7)).toBe(run(7));
    expect(run(7)).not.toBe(run(8));
    expect(run(7)).toMatch(/1/);
    expect(run(7)).toMatch(/0/);
  });

  it('names throttles TooManyRequestsException and gives latency a default', () => {
    const f = new FaultInjector({ rules: [{ service: 'lambda', kind: 'throttle' }, { service: 'lambda', kind: 'latency' }] });
    expect(f.decide(lambdaSite('f'))).toMatchObject([{ kind: 'throttle', errorName: 'TooManyRequestsException' }, { kind: 'latency', latencyMs: 100 }]);
  });

  it.each([
    [{ service: 'dynamodb', kind: 'duplicate' }, /does not apply to service 'dynamodb'/],
    [{ state: 'ReserveInventory', kind: 'reorder' }, /does not apply to service 'states'/],
    [{ service: 'sqs', kind: 'timeout' }, /does not apply to service 'sqs'/],
    [{ service: 'lambda', state: 'X', kind: 'error' }, /state filter only applies/],
    [{ kind: 'explode' }, /kind/],
    [{ kind: 'error', tables: 'typo' }, /tables/],
  ])('refuses a rule that could never fire or is malformed (%#)', (rule, message) => {
    expect(() => new FaultInjector().load({ rules: [rule] })).toThrow(message);
  });
});
