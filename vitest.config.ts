import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // Function logs drown the test report; set CONVERGE_LAMBDA_LOGS=1 to see them.
    env: { CONVERGE_LAMBDA_LOGS: process.env.CONVERGE_LAMBDA_LOGS ?? '0' },
  },
});
