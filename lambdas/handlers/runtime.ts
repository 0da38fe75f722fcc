/**
 * The composition root of a deployed handler: configuration read once from the environment,
 * the registry of the bundled definitions, SDK clients and adapters built once per cold start.
 * Local mode builds the same runtime from its own environment object; only endpoints differ.
 *
 * The shared part (config, registry, online store, event stream) is runtime-base.ts, which
 * the serve handler uses alone; this module adds what the pipeline handlers write to (the
 * offline store, dead letters) and every SDK client.
 */
import { type AwsClients, createClients } from '../adapters/aws.js';
import { DynamoEventClaims } from '../adapters/claims.js';
import { S3DeadLetterSink } from '../adapters/dead-letters.js';
import { S3OfflineWriter } from '../adapters/offline-writer.js';
import type { DeadLetterSink, EventClaims, FreshnessRecorder, OfflineWriter } from '../adapters/ports.js';
import type { TesseraConfig } from '../core/deployment.js';
import { type BaseRuntime, createBaseRuntime, type RuntimeParts } from './runtime-base.js';

export { readConfig, type TesseraConfig } from '../core/deployment.js';
export { type BaseRuntime, createBaseRuntime, lazyHandler } from './runtime-base.js';

export interface Runtime extends BaseRuntime {
  readonly config: TesseraConfig;
  readonly clients: AwsClients;
  /** The offline store's writer: transformed rows as Parquet in S3. */
  readonly offline: OfflineWriter;
  readonly deadLetters: DeadLetterSink;
  /** One record per event id: producer duplicates are applied once. */
  readonly claims: EventClaims;
  /** Freshness metrics of applied batches; the deployed handlers emit them as EMF, elsewhere none. */
  readonly freshness?: FreshnessRecorder;
}

export function createRuntime(config: TesseraConfig, parts: RuntimeParts<Runtime>): Runtime {
  const { registry, ...overrides } = parts;
  const clients = overrides.clients ?? createClients(config.access);
  return {
    ...createBaseRuntime(config, { ...overrides, registry, clients }),
    config,
    clients,
    offline: overrides.offline ?? new S3OfflineWriter(clients.s3, config.bucket),
    deadLetters: overrides.deadLetters ?? new S3DeadLetterSink(clients.s3, config.bucket),
    claims: overrides.claims ?? new DynamoEventClaims(clients.dynamodb, config.tableName),
    ...(overrides.freshness ? { freshness: overrides.freshness } : {}),
  };
}
