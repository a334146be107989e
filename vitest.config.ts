import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Interop tests start real daemons on fixed loopback addresses: keep files apart.
    fileParallelism: true,
    pool: 'forks',
  },
});
