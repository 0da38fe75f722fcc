/**
 * The deployment contract, in one place: what a construct (lib/) sets on a function, what a
 * handler reads back at cold start, what local mode (local/) hands the same handlers, which
 * bucket prefixes mean what, and the names of the stack's outputs the CLI reads. Pure: the
 * environment comes in as a plain object; nothing here reads `process.env`.
 *
 * `environmentFor` is the inverse of the read functions: readConfig(environmentFor(s))
 * gives back the settings `s`, which a unit test pins.
 */
import { TesseraError } from './errors.js';
import { OFFLINE_PREFIX } from './offline.js';

/** The environment variables a handler reads, by what they carry. */
export const ENV = {
  table: 'TESSERA_TABLE',
  bucket: 'TESSERA_BUCKET',
  /** JSON object: stream source name → physical stream name. */
  streams: 'TESSERA_STREAMS',
  /** JSON array of IAM role ARNs allowed to push to every stream source. */
  writers: 'TESSERA_WRITERS',
  backfillQueue: 'TESSERA_BACKFILL_QUEUE',
  backfillMaxReceives: 'TESSERA_BACKFILL_MAX_RECEIVES',
  compactionMinAgeMinutes: 'TESSERA_COMPACTION_MIN_AGE_MINUTES',
  compactionBudgetSeconds: 'TESSERA_COMPACTION_BUDGET_SECONDS',
  /** SQS queue of erasure chunks (the erase handler's workers). */
  erasureQueue: 'TESSERA_ERASURE_QUEUE',
  glueDatabase: 'TESSERA_GLUE_DATABASE',
  athenaWorkgroup: 'TESSERA_ATHENA_WORKGROUP',
  profileReferenceDays: 'TESSERA_PROFILE_REFERENCE_DAYS',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
} as const;

/** The service name of every handler's logs and metrics. */
export const SERVICE_NAME = 'tessera';

/** Key prefixes of the store's bucket; each ends with `/`. */
export const BUCKET_PREFIX = {
  /** Transformed rows, `offline/<view>/date=YYYY-MM-DD/hour=HH/<name>.parquet`. */
  offline: OFFLINE_PREFIX,
  /** Events as produced, `raw/<source>/date=YYYY-MM-DD/<name>.jsonl.gz` (core/batch.ts `rawLocation`). */
  raw: 'raw/',
  /** Records the raw archive could not deliver, `raw-errors/<source>/<error type>/date=YYYY-MM-DD/`. */
  rawErrors: 'raw-errors/',
  /** Events that failed validation or transformation, with the error (adapters/dead-letters.ts). */
  deadLetter: 'dead-letter/',
  /** Where Lambda's S3 on-failure destination writes: `aws/lambda/<mapping>/<shard>/YYYY/MM/DD/...`. */
  lambdaFailedBatches: 'aws/lambda/',
  /** Failed batches written by Tessera's own tooling (the local event-source poller, replays). */
  failedBatches: 'failed-batches/',
  athenaResults: 'athena-results/',
  /** The daily profile job's output, `profiles/<service>/date=YYYY-MM-DD/profiles.jsonl`. */
  profiles: 'profiles/',
} as const;

/** Compaction's settings when nothing else is said: the construct, the handler and the use case share them. */
export const COMPACTION_DEFAULTS = {
  /** Objects younger than this are left alone: at least the stream mapping's maximum record age. */
  minAgeMs: 2 * 3_600_000,
  /** Inputs merged per partition and run. */
  maxInputs: 1_000,
  /** The time a run may take. */
  budgetMs: 600_000,
} as const;

/** A run's budget in a function with `timeoutMs`: two minutes of headroom, at least one minute. */
export const compactionBudgetMs = (timeoutMs: number): number => Math.max(60_000, timeoutMs - 120_000);

/** Deliveries of a backfill chunk before SQS moves it to the dead-letter queue. */
export const DEFAULT_BACKFILL_MAX_RECEIVES = 3;

/** A service's endpoints when they are not AWS's (local mode, emulators, LocalStack). */
export interface Endpoints {
  readonly dynamodb: string;
  readonly kinesis: string;
  readonly s3: string;
}

/** Endpoint overrides per service; a service left out is reached at its AWS endpoint. */
export type EndpointOverrides = Partial<Endpoints> & { readonly sqs?: string; readonly athena?: string; readonly glue?: string };

export interface AwsAccess {
  readonly region: string;
  /** @default the SDK's default credential chain */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  readonly endpoints: EndpointOverrides;
}

/** What the serve handler needs: the online table, the streams it pushes to, who may push. */
export interface ServeConfig {
  readonly tableName: string;
  /** Physical stream name of each stream source, by source name. */
  readonly streams: Readonly<Record<string, string>>;
  /** IAM role ARNs allowed to push to every stream source, on top of each source's allowedWriters. @default [] */
  readonly writers: readonly string[];
  readonly access: AwsAccess;
  readonly logLevel: string;
}

/** What the pipeline handlers (stream, batch) need on top: the bucket and the backfill queue. */
export interface TesseraConfig extends ServeConfig {
  readonly bucket: string;
  /** SQS queue of backfill chunks; absent, the batch handler applies every run inline. */
  readonly backfillQueueUrl?: string;
  /** Deliveries of a chunk before SQS moves it to the dead-letter queue. @default 3 */
  readonly backfillMaxReceives: number;
  /** SQS queue of erasure chunks; absent, `tessera erase` runs the job in its own process. */
  readonly erasureQueueUrl?: string;
}

/** What the daily profile job needs: the bucket and the Athena database and workgroup it queries. */
export interface ProfileConfig {
  readonly bucket: string;
  readonly access: AwsAccess;
  readonly logLevel: string;
  readonly database: string;
  readonly workgroup: string;
  /** Days before the profiled one that make its reference. @default 7 */
  readonly referenceDays: number;
}

/** What the compaction handler needs: the bucket only. */
export interface CompactionConfig {
  readonly bucket: string;
  readonly access: AwsAccess;
  readonly logLevel: string;
  /** @default 2 hours */
  readonly minAgeMs: number;
  /** @default 10 minutes */
  readonly budgetMs: number;
}

/** A setting the process cannot start without is missing or malformed. */
export class ConfigError extends TesseraError {
  constructor(message: string, options?: ErrorOptions) {
    super('ConfigError', message, undefined, options);
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

const required = (env: Env, name: string): string => {
  const value = env[name];
  if (!value) throw new ConfigError(`${name} is not set`);
  return value;
};

/** The AWS access of a Lambda (or of local mode, which sets the same variables). */
export function readAccess(env: Env): AwsAccess {
  const endpoint = (service: string) => env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
  const endpoints = Object.fromEntries(
    (['dynamodb', 'kinesis', 's3', 'sqs', 'athena', 'glue'] as const).map((s) => [s, endpoint(s.toUpperCase())]).filter(([, url]) => url !== undefined),
  );
  return {
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
  };
}

/** Reads and checks the serve handler's environment once; a missing setting fails the cold start loudly. */
export function readServeConfig(env: Env): ServeConfig {
  let streams: Record<string, string>;
  try {
    streams = JSON.parse(env[ENV.streams] ?? '{}');
  } catch {
    throw new ConfigError(`${ENV.streams} is not a JSON object of source name → stream name`);
  }
  let writers: unknown;
  try {
    writers = JSON.parse(env[ENV.writers] ?? '[]');
  } catch {
    writers = undefined;
  }
  if (!Array.isArray(writers) || !writers.every((w) => typeof w === 'string')) throw new ConfigError(`${ENV.writers} is not a JSON array of IAM role ARNs`);
  return { tableName: required(env, ENV.table), streams, writers, logLevel: env[ENV.logLevel] ?? 'INFO', access: readAccess(env) };
}

/** Reads and checks a pipeline handler's environment once (stream, batch). */
export function readConfig(env: Env): TesseraConfig {
  const queue = env[ENV.backfillQueue];
  return {
    ...readServeConfig(env),
    bucket: required(env, ENV.bucket),
    ...(queue ? { backfillQueueUrl: queue } : {}),
    backfillMaxReceives: Number(env[ENV.backfillMaxReceives] ?? DEFAULT_BACKFILL_MAX_RECEIVES),
    ...(env[ENV.erasureQueue] ? { erasureQueueUrl: env[ENV.erasureQueue] } : {}),
  };
}

/** Reads and checks the profile job's environment once. */
export function readProfileConfig(env: Env): ProfileConfig {
  return {
    bucket: required(env, ENV.bucket),
    access: readAccess(env),
    logLevel: env[ENV.logLevel] ?? 'INFO',
    database: required(env, ENV.glueDatabase),
    workgroup: required(env, ENV.athenaWorkgroup),
    referenceDays: Number(env[ENV.profileReferenceDays] ?? 7),
  };
}

/** Reads and checks the compaction handler's environment once. */
export function readCompactionConfig(env: Env): CompactionConfig {
  const minutes = env[ENV.compactionMinAgeMinutes];
  const seconds = env[ENV.compactionBudgetSeconds];
  return {
    bucket: required(env, ENV.bucket),
    access: readAccess(env),
    logLevel: env[ENV.logLevel] ?? 'INFO',
    minAgeMs: minutes ? Number(minutes) * 60_000 : COMPACTION_DEFAULTS.minAgeMs,
    budgetMs: seconds ? Number(seconds) * 1000 : COMPACTION_DEFAULTS.budgetMs,
  };
}

/** The settings a construct (or local mode) gives a handler; each is left out when absent. */
export interface HandlerSettings {
  readonly tableName?: string;
  readonly bucket?: string;
  /** Source name → stream name, or that map already encoded as JSON (a CDK token from `Stack.toJsonString`). */
  readonly streams?: Readonly<Record<string, string>> | string;
  readonly writers?: readonly string[];
  readonly backfillQueueUrl?: string;
  readonly backfillMaxReceives?: number;
  readonly compactionMinAgeMs?: number;
  readonly compactionBudgetMs?: number;
  readonly erasureQueueUrl?: string;
  readonly glueDatabase?: string;
  readonly athenaWorkgroup?: string;
  readonly profileReferenceDays?: number;
  readonly logLevel?: string;
}

/** The inverse of the read functions: the environment variables that carry `settings`. */
export function environmentFor(settings: HandlerSettings): Record<string, string> {
  const env: Record<string, string> = {};
  const set = (name: string, value: string | undefined) => {
    if (value !== undefined) env[name] = value;
  };
  set(ENV.table, settings.tableName);
  set(ENV.bucket, settings.bucket);
  set(ENV.streams, typeof settings.streams === 'string' ? settings.streams : settings.streams && JSON.stringify(settings.streams));
  set(ENV.writers, settings.writers && JSON.stringify(settings.writers));
  set(ENV.backfillQueue, settings.backfillQueueUrl);
  set(ENV.backfillMaxReceives, settings.backfillMaxReceives?.toString());
  set(ENV.compactionMinAgeMinutes, settings.compactionMinAgeMs === undefined ? undefined : String(settings.compactionMinAgeMs / 60_000));
  set(ENV.compactionBudgetSeconds, settings.compactionBudgetMs === undefined ? undefined : String(settings.compactionBudgetMs / 1000));
  set(ENV.erasureQueue, settings.erasureQueueUrl);
  set(ENV.glueDatabase, settings.glueDatabase);
  set(ENV.athenaWorkgroup, settings.athenaWorkgroup);
  set(ENV.profileReferenceDays, settings.profileReferenceDays?.toString());
  set(ENV.logLevel, settings.logLevel);
  return env;
}

/** The inverse of `readAccess`: the variables that point a handler at `access` (local mode, tests). */
export function accessEnvironment(access: AwsAccess): Record<string, string> {
  const env: Record<string, string> = { AWS_REGION: access.region };
  if (access.credentials) {
    env.AWS_ACCESS_KEY_ID = access.credentials.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = access.credentials.secretAccessKey;
    if (access.credentials.sessionToken) env.AWS_SESSION_TOKEN = access.credentials.sessionToken;
  }
  for (const [service, url] of Object.entries(access.endpoints)) {
    if (url) env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] = url;
  }
  return env;
}

/** `user_events` → `UserEvents`: how a source name appears in output names and construct ids. */
export const pascalCase = (name: string): string =>
  name
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/** The stack's outputs, which the CLI reads to find a deployed store. */
export const STACK_OUTPUT = {
  apiUrl: 'ApiUrl',
  tableName: 'TableName',
  bucketName: 'BucketName',
  glueDatabase: 'GlueDatabase',
  athenaWorkgroup: 'AthenaWorkgroup',
  alarmTopicArn: 'AlarmTopicArn',
  batchFunctionName: 'BatchFunctionName',
  eraseFunctionName: 'EraseFunctionName',
  /** The physical stream of a stream source. */
  streamName: (source: string) => `StreamName${pascalCase(source)}`,
  /** The ARN of a stream source's stream. */
  streamArn: (source: string) => `StreamArn${pascalCase(source)}`,
} as const;
