import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: integration files each start their own emulators; keep them from starving.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
