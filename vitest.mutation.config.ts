/**
 * The tests Stryker runs against each mutant (`npm run test:mutation`, stryker.config.json):
 * the unit tests and the integration tests of the write path on the embedded emulators.
 * Not the end-to-end, infrastructure or conformance suites, and not the concurrency test
 * (a minute of real time per run): they cover the same code far more slowly.
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({
  test: {
    ...base.test,
    include: [
      'test/unit/**/*.test.ts',
      'test/integration/stream-handler.test.ts',
      'test/integration/batch-handler.test.ts',
      'test/integration/as-served-failed-writes.test.ts',
    ],
    setupFiles: ['test/support/fixed-seed.ts'],
  },
});
