import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // Files that touch SQL start their own PostgreSQL server in beforeAll: seconds on a busy machine.
    hookTimeout: 120_000,
    restoreMocks: true,
    unstubEnvs: true,
  },
});
