import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['collector/test/**/*.test.ts', 'test/**/*.test.ts', 'instrumentation/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
