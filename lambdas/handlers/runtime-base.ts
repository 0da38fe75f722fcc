/**
 * The part of the composition root every handler shares: configuration read once from the
 * environment, the registry of the bundled definitions, the clock, the logger, and the two
 * adapters serving needs (the online store on DynamoDB, the event stream on Kinesis). The
 * serve handler runs on this alone, so its bundle holds no S3, SQS, Athena or Parquet code;
 * runtime.ts adds the pipeline's adapters on top of it for every other handler.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { LogAuditTrail } from '../adapters/audit-trail.js';
import { type AwsClients, createDynamoDbClient, createKinesisClient } from '../adapters/aws.js';
import { KinesisEventStream } from '../adapters/event-stream.js';
import { DynamoOnlineStore } from '../adapters/online-store.js';
import type { AuditTrail, EventStream, OnlineStore } from '../adapters/ports.js';
import { SERVICE_NAME, type ServeConfig } from '../core/deployment.js';
import { Ingestor } from '../core/ingest.js';
import type { Registry } from '../core/registry.js';

/** What every handler's runtime holds; the serve handler needs nothing more. */
export interface BaseRuntime {
  readonly config: ServeConfig;
  readonly registry: Registry;
  readonly ingestor: Ingestor;
  readonly clients: Pick<AwsClients, 'dynamodb' | 'kinesis'>;
  readonly online: OnlineStore;
  readonly events: EventStream;
  readonly logger: Logger;
  /** Where the serve handler records every feature read. @default one structured log line per read */
  readonly audit: AuditTrail;
  /** The clock: epoch milliseconds. */
  readonly now: () => number;
}

/**
 * The runtime of `registry`'s definitions. The definitions module is named only by the
 * composition roots (the handler entry points, local/, bin/), which build the registry.
 */
export function createBaseRuntime(config: ServeConfig, parts: RuntimeParts<BaseRuntime>): BaseRuntime {
  const { registry, ...overrides } = parts;
  const clients = overrides.clients ?? { dynamodb: createDynamoDbClient(config.access), kinesis: createKinesisClient(config.access) };
  const logger = overrides.logger ?? new Logger({ serviceName: SERVICE_NAME, logLevel: config.logLevel as 'INFO' });
  return {
    config,
    registry,
    clients,
    ingestor: overrides.ingestor ?? new Ingestor(registry),
    online: overrides.online ?? new DynamoOnlineStore(clients.dynamodb, config.tableName),
    events: overrides.events ?? new KinesisEventStream(clients.kinesis),
    logger,
    audit: overrides.audit ?? new LogAuditTrail(logger),
    now: overrides.now ?? Date.now,
  };
}

/** What a composition root hands a runtime: the registry it built, and any adapter it replaces. */
export type RuntimeParts<R extends BaseRuntime> = Partial<Omit<R, 'config' | 'registry'>> & { readonly registry: Registry };

/** A handler built on its first invocation, so importing a handler module reads no environment. */
export function lazyHandler<E, R>(build: () => (event: E) => Promise<R>): (event: E) => Promise<R> {
  let built: ((event: E) => Promise<R>) | undefined;
  return (event) => {
    built ??= build();
    return built(event);
  };
}
