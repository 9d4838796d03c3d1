import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Test files run in parallel across workers; CI machines have 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
