/**
 * The part of the composition root every handler shares: configuration read once from the
 * environment, the registry of the bundled definitions, the clock, the logger, and the two
 * adapters serving needs (the online store on DynamoDB, the event stream on Kinesis). The
 * serve handler runs on this alone, so its bundle holds no S3, SQS, Athena or Parquet code;
 * runtime.ts adds the pipeline's adapters on top of it for every other handler.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import * as definitions from '../../features/index.js';
import { type AuditTrail, LogAuditTrail } from '../adapters/audit-trail.js';
import { type AwsAccess, type AwsClients, createDynamoDbClient, createKinesisClient } from '../adapters/aws.js';
import { type EventStream, KinesisEventStream } from '../adapters/event-stream.js';
import { DynamoOnlineStore, type OnlineStore } from '../adapters/online-store.js';
import { TesseraError } from '../core/errors.js';
import { Ingestor } from '../core/ingest.js';
import { Registry } from '../core/registry.js';

export interface TesseraConfig {
  readonly tableName: string;
  readonly bucket: string;
  /** Physical stream name of each stream source, by source name. */
  readonly streams: Readonly<Record<string, string>>;
  readonly access: AwsAccess;
  readonly logLevel: string;
  /** SQS queue of backfill chunks; absent, the batch handler applies every run inline. */
  readonly backfillQueueUrl?: string;
  /** Deliveries of a chunk before SQS moves it to the dead-letter queue. @default 3 */
  readonly backfillMaxReceives: number;
  /** SQS queue of erasure chunks (the erase handler's workers); absent, `tessera erase` runs the job in its own process. */
  readonly erasureQueueUrl?: string;
  /** IAM role ARNs allowed to push to every stream source, on top of each source's allowedWriters (TESSERA_WRITERS, a JSON array). @default [] */
  readonly writers: readonly string[];
}

/** A setting the process cannot start without is missing or malformed. */
export class ConfigError extends TesseraError {
  constructor(message: string, options?: ErrorOptions) {
    super('ConfigError', message, undefined, options);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and checks the environment once; a missing setting fails the cold start loudly. */
export function readConfig(env: Env): TesseraConfig {
  const required = (name: string): string => {
    const value = env[name];
    if (!value) throw new ConfigError(`${name} is not set`);
    return value;
  };
  let streams: Record<string, string>;
  try {
    streams = JSON.parse(env.TESSERA_STREAMS ?? '{}');
  } catch {
    throw new ConfigError('TESSERA_STREAMS is not a JSON object of source name → stream name');
  }
  let writers: unknown;
  try {
    writers = JSON.parse(env.TESSERA_WRITERS ?? '[]');
  } catch {
    writers = undefined;
  }
  if (!Array.isArray(writers) || !writers.every((w) => typeof w === 'string')) throw new ConfigError('TESSERA_WRITERS is not a JSON array of IAM role ARNs');
  const endpoint = (service: string) => env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
  const endpoints = Object.fromEntries(
    (['dynamodb', 'kinesis', 's3', 'sqs', 'athena', 'glue'] as const).map((s) => [s, endpoint(s.toUpperCase())]).filter(([, url]) => url !== undefined),
  );
  return {
    tableName: required('TESSERA_TABLE'),
    bucket: required('TESSERA_BUCKET'),
    streams,
    logLevel: env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
    ...(env.TESSERA_BACKFILL_QUEUE ? { backfillQueueUrl: env.TESSERA_BACKFILL_QUEUE } : {}),
    backfillMaxReceives: Number(env.TESSERA_BACKFILL_MAX_RECEIVES ?? 3),
    ...(env.TESSERA_ERASURE_QUEUE ? { erasureQueueUrl: env.TESSERA_ERASURE_QUEUE } : {}),
    writers,
    access: {
      region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? {
            credentials: {
              accessKeyId: env.AWS_ACCESS_KEY_ID,
              secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
              ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
            },
          }
        : {}),
      endpoints,
    },
  };
}

/** What every handler's runtime holds; the serve handler needs nothing more. */
export interface BaseRuntime {
  readonly config: TesseraConfig;
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

export function createBaseRuntime(config: TesseraConfig, overrides: Partial<Omit<BaseRuntime, 'config'>> = {}): BaseRuntime {
  const registry = overrides.registry ?? Registry.fromModule(definitions);
  const clients = overrides.clients ?? { dynamodb: createDynamoDbClient(config.access), kinesis: createKinesisClient(config.access) };
  const logger = overrides.logger ?? new Logger({ serviceName: 'tessera', logLevel: config.logLevel as 'INFO' });
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

/** A handler built on its first invocation, so importing a handler module reads no environment. */
export function lazyHandler<E, R>(build: () => (event: E) => Promise<R>): (event: E) => Promise<R> {
  let built: ((event: E) => Promise<R>) | undefined;
  return (event) => {
    built ??= build();
    return built(event);
  };
}
