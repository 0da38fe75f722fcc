/**
 * `tessera backfill`: re-applies a source's files over a time range with the batch handler —
 * the same pipeline, transforms and idempotent writes as the stream — and shows the job's
 * progress until every file is applied.
 *
 * Two targets, one display:
 * - a deployed stack (`--stack`): the batch Lambda (output BatchFunctionName) is invoked with
 *   the run; it lists the files and applies a few itself or queues one chunk per file for its
 *   parallel workers; the job item in the online table (output TableName) is polled;
 * - local mode (default): found through its discovery file, the batch handler runs in this
 *   process against local mode's emulators, every file applied here (`inline`), the job item
 *   polled the same way.
 *
 * `--view` names the data to rebuild by view: it selects the view's source, and the run
 * re-applies every view of that source (a run is per source; views already current change
 * nothing, since the pipeline is idempotent per event).
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { JobProgress, JobStore } from '../lambdas/adapters/ports.js';
import { rawLocation } from '../lambdas/core/batch.js';
import { NotFoundError, ValidationError } from '../lambdas/core/errors.js';
import type { Registry } from '../lambdas/core/registry.js';
import { type LocalEndpoints, localBatch, type RunRequest, type RunResult, readDiscoveryFile } from '../local/discovery.js';
import { type DefinitionsOptions, type Output, type StoreOptions, withDefinitions, withStack } from './command.js';
import { loadRegistry } from './definitions.js';
import { readStackOutputs, type StackRef } from './stack-outputs.js';

export interface BackfillOptions {
  /** The source whose files to apply; or give `view`. */
  readonly source?: string;
  /** A feature view: its source's files are applied (every view of that source is rebuilt). */
  readonly view?: string;
  /** Start of the range: ISO-8601 or epoch milliseconds. */
  readonly from: string;
  /** End of the range, inclusive. */
  readonly to: string;
  /**
   * Files elsewhere than the source's own location: a local folder (`./…`, `../…` or `/…`,
   * uploaded to the store's bucket first), a key prefix of the store's bucket or `s3://bucket/prefix/`.
   */
  readonly location?: string;
}

/** Where a backfill runs: starts the run and reads its job item. */
export interface BackfillTarget {
  readonly description: string;
  readonly jobs: JobStore;
  /** How often the job item is read while the run goes on. */
  readonly pollIntervalMs: number;
  /** Copies the files of a local folder into the store's bucket; returns the key prefix they are under. */
  upload(folder: string, source: string): Promise<{ prefix: string; files: number }>;
  /** Runs `request`; `onJob` hears the job id as soon as the job exists. */
  start(request: RunRequest, onJob: (jobId: string) => void): Promise<RunResult>;
  close(): void;
}

export interface BackfillDeps {
  readonly registry: Registry;
  readonly target: BackfillTarget;
  /** The summary. */
  readonly stdout: Output;
  /** Progress: a live bar on a terminal, a line per change otherwise. */
  readonly stderr: Output;
  /** @default Date.now */
  readonly clock?: () => number;
}

export interface BackfillSummary {
  readonly job: JobProgress;
  /** Whether the files went to the backfill queue's workers (else the invocation applied them). */
  readonly queued: boolean;
  readonly elapsedMs: number;
}

/** The run event of the options: the source (resolved from `view`), the range, the location. */
export function backfillRequest(options: BackfillOptions, registry: Registry): RunRequest {
  let source = options.source;
  if (options.view !== undefined) {
    const view = registry.views.get(options.view);
    if (!view) throw new NotFoundError(`unknown feature view "${options.view}"; the views are ${[...registry.views.keys()].join(', ')}`);
    if (source !== undefined && source !== view.source.name) {
      throw new ValidationError(`feature view "${options.view}" reads source "${view.source.name}", not "${source}"`);
    }
    source = view.source.name;
  }
  if (source === undefined) throw new ValidationError('give --source, or --view to backfill the source of a view');
  if (!registry.sources.has(source)) throw new NotFoundError(`unknown source "${source}"; the sources are ${[...registry.sources.keys()].join(', ')}`);
  const time = (name: string, text: string) => {
    const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
    if (Number.isNaN(ms)) throw new ValidationError(`--${name} "${text}" is not an ISO-8601 time or epoch milliseconds`);
    return ms;
  };
  const from = time('from', options.from);
  const to = time('to', options.to);
  if (from > to) throw new ValidationError(`--from ${options.from} is after --to ${options.to}`);
  return { source, from, to, ...(options.location ? { location: options.location } : {}) };
}

/** Whether a --location names a folder on this machine rather than a place in S3. */
export const isLocalFolder = (location: string): boolean => /^(\.{1,2}|~)?\//.test(location) || location === '.' || location === '..';

export async function backfillCommand(options: BackfillOptions, deps: BackfillDeps): Promise<BackfillSummary> {
  const { registry, target } = deps;
  const clock = deps.clock ?? Date.now;
  let request = backfillRequest(options, registry);
  if (request.location !== undefined && isLocalFolder(request.location)) {
    const uploaded = await target.upload(request.location, request.source);
    deps.stderr.write(`uploaded ${uploaded.files} files of ${request.location} to ${uploaded.prefix} in the store's bucket\n`);
    request = { ...request, location: uploaded.prefix };
  }
  const source = registry.sources.get(request.source)!;
  const location = request.location ?? (source.kind === 'batch' ? source.location : rawLocation(source.name));
  const range = `${new Date(request.from as number).toISOString()} to ${new Date(request.to as number).toISOString()}`;
  if (options.view !== undefined) {
    deps.stderr.write(`--view ${options.view}: applying source ${source.name}, which rebuilds every view of it (unchanged values stay as they are)\n`);
  }
  deps.stderr.write(`backfill of ${source.name} (${describeLocation(location)}) from ${range} on ${target.description}\n`);

  const started = clock();
  const display = progressDisplay(deps.stderr);
  let jobId: string | undefined;
  let result: RunResult | undefined;
  let failure: { error: unknown } | undefined;
  const running = target.start(request, (id) => {
    jobId = id;
  });
  const settled = running.then(
    (r) => {
      result = r;
      jobId = r.jobId;
    },
    (error: unknown) => {
      failure = { error };
    },
  );
  let job: JobProgress | undefined;
  try {
    for (;;) {
      const done = result !== undefined || failure !== undefined;
      if (failure) throw failure.error;
      if (jobId !== undefined) {
        job = (await target.jobs.get(jobId)) ?? job;
        if (job?.chunks) display.update(job);
        if (done && !job) throw new Error(`job ${jobId} has no progress item in the online table`);
        if (done && job && job.done + job.failed >= job.chunks) break;
      }
      // Wake early when the invocation returns; after that, poll at the interval.
      await (done ? sleep(target.pollIntervalMs) : Promise.race([sleep(target.pollIntervalMs), settled]));
    }
  } finally {
    display.stop();
  }
  const finished = job as JobProgress;
  const summary: BackfillSummary = { job: finished, queued: result?.queued ?? false, elapsedMs: clock() - started };
  deps.stdout.write(describeBackfill(summary, source.name, location));
  return summary;
}

/** The report printed when the job is over. */
export function describeBackfill(summary: BackfillSummary, source: string, location: string): string {
  const { job } = summary;
  const seconds = (summary.elapsedMs / 1000).toFixed(1);
  if (job.chunks === 0) return `job ${job.id}: no files of ${source} under ${describeLocation(location)} in the range; nothing to apply.\n`;
  const lines = [
    `job ${job.id}: ${job.done}/${job.chunks} files applied${summary.queued ? ' by the backfill workers' : ''} in ${seconds} s`,
    `  ${job.rows.toLocaleString('en-US')} rows written, ${job.rejected.toLocaleString('en-US')} records rejected${job.rejected ? ` (kept under dead-letter/${source}/)` : ''}`,
  ];
  if (job.failed) lines.push(`  ${job.failed} files failed every attempt: they wait in the backfill dead-letter queue; fix the cause, then redrive it`);
  return `${lines.join('\n')}\n`;
}

const describeLocation = (location: string) => (location.startsWith('s3://') ? location : `${location} in the store's bucket`);

/** A cli-progress bar on a terminal; a plain line whenever a file completes, elsewhere (CI logs, tests). */
function progressDisplay(stream: Output): { update: (job: JobProgress) => void; stop: () => void } {
  if (!stream.isTTY) {
    let last = '';
    return {
      update(job) {
        const line = `${job.done + job.failed}/${job.chunks} files, ${job.rows} rows, ${job.rejected} rejected${job.failed ? `, ${job.failed} failed` : ''}`;
        if (line === last) return;
        last = line;
        stream.write(`progress: ${line}\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: stream as NodeJS.WritableStream,
      format: 'backfill |{bar}| {value}/{total} files | {rows} rows | {rejected} rejected{failed}',
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let running = false;
  return {
    update(job) {
      const payload = { rows: job.rows, rejected: job.rejected, failed: job.failed ? ` | ${job.failed} failed` : '' };
      if (!running) {
        bar.start(job.chunks, job.done + job.failed, payload);
        running = true;
      } else {
        bar.setTotal(job.chunks);
        bar.update(job.done + job.failed, payload);
      }
    },
    stop() {
      if (running) bar.stop();
    },
  };
}

/**
 * Local mode: the batch handler in this process, on local mode's emulators (from its
 * discovery file), built the way a deployed handler builds itself — `readConfig` over an
 * environment that differs only in its endpoints. Every file is applied here.
 */
export async function localBackfillTarget(endpoints: LocalEndpoints, registry: Registry): Promise<BackfillTarget> {
  const [batch, { PutObjectCommand }] = await Promise.all([localBatch(endpoints, registry), import('@aws-sdk/client-s3')]);
  return {
    description: `local mode at ${endpoints.url}`,
    jobs: batch.jobs,
    pollIntervalMs: 200,
    async upload(folder, source) {
      const files = await filesUnder(folder);
      if (files.length === 0) throw new ValidationError(`--location ${folder}: no files in that folder`);
      // One prefix per folder name: uploading the same folder again replaces its files, and the pipeline is idempotent.
      const prefix = `uploads/${source}/${basename(resolve(folder))}/`;
      for (const file of files) {
        // Buffers, not streams: s3rver stores streamed bodies with the SDK's checksum framing.
        await batch.s3.send(new PutObjectCommand({ Bucket: endpoints.bucket, Key: `${prefix}${file}`, Body: await readFile(join(folder, file)) }));
      }
      return { prefix, files: files.length };
    },
    start(request, onJob) {
      const jobs: JobStore = {
        async create(job) {
          await batch.jobs.create(job);
          onJob(job.id);
        },
        record: (id, delta) => batch.jobs.record(id, delta),
        get: (id) => batch.jobs.get(id),
      };
      return batch.run(request, jobs);
    },
    close: () => batch.close(),
  };
}

/** A deployed stack: its batch function invoked with the run, its job items read from its table. */
export async function stackBackfillTarget(ref: StackRef, env: NodeJS.ProcessEnv): Promise<BackfillTarget> {
  const [outputs, { DynamoDBClient }, { InvokeCommand, LambdaClient }, { NodeHttpHandler }, { DynamoJobStore }] = await Promise.all([
    readStackOutputs(ref, env),
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/client-lambda'),
    import('@smithy/node-http-handler'),
    import('../lambdas/adapters/jobs.js'),
  ]);
  const functionName = outputs.require('BatchFunctionName');
  const table = outputs.require('TableName');
  // One attempt: a retried invocation would start a second job over the same files. The
  // function may apply a few files before it answers, for up to its 15-minute timeout.
  const lambda = new LambdaClient({ region: outputs.region, maxAttempts: 1, requestHandler: new NodeHttpHandler({ requestTimeout: 16 * 60_000 }) });
  const dynamodb = new DynamoDBClient({ region: outputs.region });
  return {
    description: `stack ${outputs.stack} (${outputs.region})`,
    jobs: new DynamoJobStore(dynamodb, table),
    pollIntervalMs: 2_000,
    async upload(folder) {
      throw new ValidationError(
        `--location ${folder}: a local folder works with local mode; copy it to S3 (aws s3 sync ${folder} s3://…) and pass the s3:// location`,
      );
    },
    async start(request, onJob) {
      const response = await lambda.send(
        new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(request)) }),
      );
      const payload = response.Payload ? new TextDecoder().decode(response.Payload) : '';
      if (response.FunctionError) {
        const { errorType, errorMessage } = (safeJson(payload) ?? {}) as { errorType?: string; errorMessage?: string };
        throw new Error(`the batch function ${functionName} failed: ${errorType ?? response.FunctionError}: ${errorMessage ?? payload}`);
      }
      const result = safeJson(payload) as RunResult | undefined;
      if (!result?.jobId) throw new Error(`the batch function ${functionName} answered ${payload || 'nothing'}, not a job`);
      onJob(result.jobId);
      return result;
    },
    close() {
      lambda.destroy();
      dynamodb.destroy();
    },
  };
}

/** Every file under `folder`, as paths relative to it with `/` separators (hidden files left out). */
async function filesUnder(folder: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(folder, { recursive: true, withFileTypes: true });
  } catch (error) {
    throw new ValidationError(
      `--location ${folder}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (error as Error).message}`,
      undefined,
      { cause: error },
    );
  }
  return entries
    .filter((entry) => entry.isFile() && !entry.name.startsWith('.'))
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function register(program: Command): void {
  withStack(
    withDefinitions(
      program
        .command('backfill')
        .description('apply the files of a source over a time range with the batch handler, and follow the job')
        .option('--source <name>', 'the source whose files to apply')
        .option('--view <view>', "a feature view: applies the view's source, which rebuilds every view of that source")
        .requiredOption('--from <time>', 'start of the range (ISO-8601 or epoch ms)')
        .requiredOption('--to <time>', 'end of the range, inclusive (ISO-8601 or epoch ms)')
        .option(
          '--location <./dir|prefix|s3://…>',
          "files elsewhere than the source's own location: a local folder (uploaded to local mode's bucket first), a key prefix or s3://… (a deployed stack must be granted it: backfillReadLocations)",
        ),
    ),
  ).action(async (options: BackfillOptions & DefinitionsOptions & StoreOptions) => {
    const registry = await loadRegistry(options.definitions);
    const target = options.stack
      ? await stackBackfillTarget({ stack: options.stack, ...(options.region ? { region: options.region } : {}) }, process.env)
      : await localBackfillTarget(readDiscoveryFile(), registry);
    try {
      const summary = await backfillCommand(options, { registry, target, stdout: process.stdout, stderr: process.stderr });
      if (summary.job.failed) process.exitCode = 2;
    } finally {
      target.close();
    }
  });
}
