/**
 * The public surface of lambdas/app/ for code outside lambdas/ (cli/, lib/, local/, tests). Inside
 * lambdas/, modules import each other directly, which keeps each handler's bundle to what it uses.
 */
export * from './backfill.js';
export * from './compaction.js';
export * from './offline-batch.js';
export * from './pipeline.js';
export * from './push.js';
export * from './serving.js';
