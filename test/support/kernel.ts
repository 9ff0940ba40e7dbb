/**
 * A minimal {@link Kernel} for testing one local-cloud service on its own: every port not given
 * throws, naming itself, so a test fails loudly if the service reaches a part it doesn't wire.
 */
import type { Kernel } from '../../local/core/kernel.js';
import { LocalClock } from '../../local/core/clock.js';
import { FaultInjector } from '../../local/core/faults.js';

function absent(port: string): any {
  return new Proxy({}, { get: (_t, member) => () => { throw new Error(`the ${port} port (${String(member)}) is not part of this test`); } });
}

/** A kernel on `stateDir` with a fresh clock and fault injector; `overrides` wire real or fake ports. */
export function testKernel(stateDir: string, overrides: Partial<Kernel> = {}): Kernel {
  return {
    clock: new LocalClock(),
    faults: new FaultInjector(),
    stateDir,
    region: 'us-east-1',
    endpoint: '',
    lambda: absent('lambda'),
    streams: absent('streams'),
    sqs: absent('sqs'),
    states: absent('states'),
    events: absent('events'),
    dynamodb: absent('dynamodb'),
    ...overrides,
  };
}
