import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Feast SDK suite needs Feast's Python SDK: `npm run test:feast` installs it and sets this.
    exclude: [...configDefaults.exclude, ...(process.env.TESSERA_FEAST_PYTHON ? [] : ['test/feast/**'])],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: integration files each start their own emulators; keep them from starving.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
