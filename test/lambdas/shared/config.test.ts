import { describe, expect, it } from 'vitest';
import { loadConfig, positiveInt, required } from '../../../lambdas/shared/config.js';
import { ConfigError } from '../../../lambdas/shared/errors.js';

describe('loadConfig', () => {
  const shape = { TABLE_NAME: required(), BATCH: positiveInt(25) };

  it('reads variables and applies defaults', () => {
    expect(loadConfig(shape, { TABLE_NAME: 'Orders' })).toEqual({ TABLE_NAME: 'Orders', BATCH: 25 });
  });

  it('fails fast naming a missing variable', () => {
    expect(() => loadConfig(shape, {})).toThrow(ConfigError);
    expect(() => loadConfig(shape, {})).toThrow(/TABLE_NAME: is required/);
  });

  it('fails fast naming a malformed variable', () => {
    try {
      loadConfig(shape, { TABLE_NAME: 'x', BATCH: '-3' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe('BATCH');
    }
  });
});
