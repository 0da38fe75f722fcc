/**
 * The discovery file of a running local mode, `.work/local-endpoints.json`: the emulators'
 * endpoints and credentials, the region and the resource names, written when local mode
 * starts and removed when it stops. It is how a second process — `tessera backfill`,
 * `tessera training-set` — reaches the stores of the local mode that is running, since
 * local mode has no AWS account or CloudFormation outputs to look them up in. It is the CLI's
 * one way into local mode: what a command needs of it (the batch handler, for a backfill)
 * is built here, so that cli/ never reaches into the handlers or local/store.ts.
 */
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { AwsAccess } from '../lambdas/adapters/aws.js';
import type { JobStore } from '../lambdas/adapters/ports.js';
import type { RunRequest, RunResult } from '../lambdas/app/backfill.js';
import { TesseraError } from '../lambdas/core/errors.js';
import type { Registry } from '../lambdas/core/registry.js';
import type { ResourceNames } from './resources.js';
import type { LocalStore } from './store.js';

/**
 * The principal local mode's own tools sign as — the CLI against local mode — and local mode
 * lets push to every stream source (TESSERA_WRITERS), as a deployment lets the roles its stack
 * grants push. Local mode maps this access key to the ARN without checking the signature
 * (see http.ts): a stand-in for IAM on one machine, not a secret.
 */
export const LOCAL_OPERATOR = {
  accessKeyId: 'TESSERALOCALOPERATOR',
  secretAccessKey: 'local-mode-does-not-verify-signatures',
  arn: 'arn:aws:iam::000000000000:role/tessera-local-operator',
} as const;

/** Where local mode writes the file, relative to the folder it runs in (the project root for `npm start`). */
export const LOCAL_ENDPOINTS_FILE = '.work/local-endpoints.json';

export const LocalEndpoints = z.object({
  /** The process of local mode: a file whose process is gone is stale. */
  pid: z.number().int(),
  startedAt: z.string(),
  /** Base URL of the HTTP API. */
  url: z.string(),
  region: z.string(),
  credentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string(), sessionToken: z.string().optional() }).optional(),
  endpoints: z.object({
    dynamodb: z.string().optional(),
    kinesis: z.string().optional(),
    s3: z.string().optional(),
    sqs: z.string().optional(),
    athena: z.string().optional(),
    glue: z.string().optional(),
  }),
  table: z.string(),
  bucket: z.string(),
  /** Physical stream name of each stream source, by source name. */
  streams: z.record(z.string(), z.string()),
});
export type LocalEndpoints = z.infer<typeof LocalEndpoints>;

/** A store that is not running, or a file that does not describe one: the message says what to do. */
export class LocalModeNotRunning extends TesseraError {
  constructor(message: string, options?: ErrorOptions) {
    super('LocalModeNotRunning', message, undefined, options);
  }
}

/** What the discovery file of `store` holds. */
export function describeLocalStore(store: LocalStore, pid = process.pid, now = Date.now()): LocalEndpoints {
  const { config } = store.runtime;
  // Copied field by field: the SDK decorates the credentials object it was given.
  const credentials = config.access.credentials;
  return {
    pid,
    startedAt: new Date(now).toISOString(),
    url: store.url,
    region: config.access.region,
    ...(credentials
      ? {
          credentials: {
            accessKeyId: credentials.accessKeyId,
            secretAccessKey: credentials.secretAccessKey,
            ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
          },
        }
      : {}),
    endpoints: { ...config.access.endpoints },
    table: config.tableName,
    bucket: config.bucket,
    streams: { ...config.streams },
  };
}

export interface DiscoveryFile {
  readonly path: string;
  /** Removes the file if it is still this process's (another local mode may have replaced it). Synchronous: safe in an `exit` listener. */
  remove(): void;
}

/**
 * Writes the discovery file of `store` (owner-only, replaced atomically) and returns how to
 * remove it. A file left by a local mode that is still running is refused, so two local
 * modes never point the CLI at each other's stores.
 */
export async function writeDiscoveryFile(store: LocalStore, path = LOCAL_ENDPOINTS_FILE): Promise<DiscoveryFile> {
  const file = resolve(path);
  const existing = readIfPresent(file);
  if (existing && existing.pid !== process.pid && isRunning(existing.pid)) {
    throw new LocalModeNotRunning(`${path} belongs to another local mode (pid ${existing.pid}, ${existing.url}); stop it first`);
  }
  const contents = describeLocalStore(store);
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(contents, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
  return {
    path: file,
    remove() {
      if (readIfPresent(file)?.pid === contents.pid) unlinkSync(file);
    },
  };
}

/** Reads the discovery file; throws `LocalModeNotRunning` when there is none or its process is gone. */
export function readDiscoveryFile(path = LOCAL_ENDPOINTS_FILE): LocalEndpoints {
  const file = resolve(path);
  if (!existsSync(file)) {
    throw new LocalModeNotRunning(
      `local mode is not running (no ${path}): start it with \`npm start\` in this folder, or pass --stack NAME for a deployed store`,
    );
  }
  const endpoints = readIfPresent(file);
  if (!endpoints) throw new LocalModeNotRunning(`${path} is not a local mode discovery file; delete it and restart local mode`);
  if (!isRunning(endpoints.pid)) {
    throw new LocalModeNotRunning(`${path} was left by a local mode that is gone (pid ${endpoints.pid}); start it again with \`npm start\``);
  }
  return endpoints;
}

/** The endpoints as the AWS clients take them. */
export const accessOf = (endpoints: LocalEndpoints): AwsAccess => ({
  region: endpoints.region,
  ...(endpoints.credentials ? { credentials: endpoints.credentials } : {}),
  endpoints: endpoints.endpoints,
});

export const namesOf = (endpoints: LocalEndpoints): ResourceNames => ({ table: endpoints.table, bucket: endpoints.bucket, streams: endpoints.streams });

/** The run of a backfill, as the batch function takes it and answers. */
export type { RunRequest, RunResult };

/** Local mode's batch handler, built in this process against the stores of a running local mode. */
export interface LocalBatch {
  readonly s3: S3Client;
  /** Local mode's job items. */
  readonly jobs: JobStore;
  /** Applies the run's files here (inline), recording the job through `jobs`. */
  run(request: RunRequest, jobs: JobStore): Promise<RunResult>;
  close(): void;
}

/** Wires the batch handler as local mode wires its own (local/store.ts), against the stores `endpoints` name. */
export async function localBatch(endpoints: LocalEndpoints, registry: Registry): Promise<LocalBatch> {
  // Loaded here, not at the top: every CLI command reads this module, and the batch pipeline is heavy.
  const [{ batchDependencies }, { createBackfill }, { createRuntime, readConfig }, { handlerEnvironment }] = await Promise.all([
    import('../lambdas/handlers/batch.js'),
    import('../lambdas/app/backfill.js'),
    import('../lambdas/handlers/runtime.js'),
    import('./store.js'),
  ]);
  const runtime = createRuntime(readConfig(handlerEnvironment(accessOf(endpoints), namesOf(endpoints), 'ERROR')), { registry });
  const deps = batchDependencies(runtime);
  return {
    s3: runtime.clients.s3,
    jobs: deps.jobs,
    run: (request, jobs) => createBackfill(runtime, { ...deps, jobs }, runtime.config.backfillMaxReceives).run({ ...request, inline: true }),
    close() {
      for (const client of Object.values(runtime.clients)) client.destroy();
    },
  };
}

function readIfPresent(file: string): LocalEndpoints | undefined {
  try {
    const parsed = LocalEndpoints.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
