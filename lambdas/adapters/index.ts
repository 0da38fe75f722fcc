/**
 * The public surface of lambdas/adapters/ for code outside lambdas/ (cli/, lib/, local/, tests). Inside
 * lambdas/, modules import each other directly, which keeps each handler's bundle to what it uses.
 */
export * from './athena-runner.js';
export * from './audit-trail.js';
export * from './aws.js';
export * from './batch-files.js';
export * from './bucket-objects.js';
export * from './chunk-queue.js';
export * from './claims.js';
export * from './dead-letters.js';
export * from './duckdb-runner.js';
export * from './event-stream.js';
export * from './freshness-metrics.js';
export * from './jobs.js';
export * from './labels.js';
export * from './offline-objects.js';
export * from './offline-writer.js';
export * from './online-store.js';
export * from './parquet.js';
export * from './ports.js';
export * from './query-runner.js';
