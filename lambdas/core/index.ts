/**
 * The public surface of lambdas/core/ for code outside lambdas/ (cli/, lib/, local/, tests). Inside
 * lambdas/, modules import each other directly, which keeps each handler's bundle to what it uses.
 */
export * from './access.js';
export * from './aggregation.js';
export * from './aggregation-reference.js';
export * from './audit.js';
export * from './batch.js';
export * from './catalog.js';
export * from './catalog-page.js';
export * from './definition-reference.js';
export * from './definition-schema.js';
export * from './definitions.js';
export * from './deployment.js';
export * from './drift.js';
export * from './duration.js';
export * from './entity-key.js';
export * from './erasure.js';
export * from './errors.js';
export * from './feast.js';
export * from './freshness.js';
export * from './hll.js';
export * from './ingest.js';
export * from './offline.js';
export * from './online.js';
export * from './openapi.js';
export * from './order.js';
export * from './point-in-time.js';
export * from './point-in-time-reference.js';
export * from './principal.js';
export * from './registry.js';
export * from './schedule.js';
export * from './serving.js';
export * from './staleness.js';
export * from './training-set.js';
export * from './values.js';
export * from './windows.js';
