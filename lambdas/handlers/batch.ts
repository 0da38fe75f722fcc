/**
 * The batch handler: the same pipeline as the stream, fed from files. Three kinds of event:
 * - a run (EventBridge schedule, `tessera backfill`): `{source, from?, to?, lookback?, location?}`
 *   lists the source's files in the range; few files are applied at once, more are split into
 *   chunks (one per file) on the backfill queue, with a job item counting progress;
 * - an SQS batch of chunks from that queue: each file applied, failed chunks reported back;
 * - a chunk applied directly (`{chunk}`), which is what an SQS record carries.
 * Re-running any of them changes nothing: the pipeline is idempotent per event id.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { type BatchFiles, S3BatchFiles } from '../adapters/batch-files.js';
import { type Chunk, type ChunkQueue, SqsChunkQueue } from '../adapters/chunk-queue.js';
import { EmfFreshnessRecorder } from '../adapters/freshness-metrics.js';
import { DynamoJobStore, type JobStore } from '../adapters/jobs.js';
import { parseLocation, rawLocation } from '../core/batch.js';
import { parseDuration } from '../core/duration.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { toEpochMs } from '../core/ingest.js';
import { type PipelineRecord, runPipeline } from './pipeline.js';
import { createRuntime, lazyHandler, type Runtime, readConfig } from './runtime.js';

export const RunRequest = z
  .object({
    source: z.string().min(1),
    from: z.union([z.number(), z.string()]).optional(),
    to: z.union([z.number(), z.string()]).optional(),
    /** For schedules: the range is the last `lookback` (e.g. "2h") before now. */
    lookback: z.string().optional(),
    /** @default the batch source's location, or raw/<source>/ for a stream source */
    location: z.string().optional(),
    /** Apply every file in this invocation instead of queueing chunks. */
    inline: z.boolean().optional(),
  })
  .strict();
export type RunRequest = z.infer<typeof RunRequest>;

export interface RunResult {
  readonly jobId: string;
  readonly chunks: number;
  readonly queued: boolean;
  readonly rows: number;
  readonly rejected: number;
}

/** Files up to this many are applied in the invocation that lists them; more go to the queue. */
export const INLINE_CHUNKS = 4;

export interface BatchDependencies {
  readonly files: BatchFiles;
  readonly jobs: JobStore;
  /** Absent: every run is applied inline. */
  readonly queue?: ChunkQueue;
}

type BatchEvent = RunRequest | SQSEvent | { chunk: Chunk };

export function createBatchHandler(runtime: Runtime, deps: BatchDependencies) {
  const { registry, logger } = runtime;

  async function applyChunk(chunk: Chunk): Promise<{ rows: number; rejected: number }> {
    const source = registry.sources.get(chunk.source);
    if (!source) throw new NotFoundError(`unknown source "${chunk.source}"`);
    const now = runtime.now();
    const events = await deps.files.read({ bucket: chunk.bucket, key: chunk.key }, source.schema);
    const records: PipelineRecord[] = events.map((e) => ({
      position: `${chunk.key}/${e.line}`,
      arrivedAt: now,
      payloadBase64: Buffer.from(e.raw).toString('base64'),
      event: 'event' in e ? { json: e.event } : { rejection: { code: 'MalformedPayload', message: e.error } },
    }));
    // The file names the offline batch: re-running the chunk replaces what it wrote.
    const batch = ['batch', createHash('sha256').update(`${chunk.bucket}/${chunk.key}`).digest('hex').slice(0, 20)];
    const result = await runPipeline(runtime, source, records, now, batch);
    if (result.failed.length) throw new Error(`${result.failed.length} records of ${chunk.key} could not be written; the chunk will be retried`);
    return { rows: result.rows, rejected: result.deadLettered };
  }

  async function run(request: RunRequest): Promise<RunResult> {
    const source = registry.sources.get(request.source);
    if (!source) throw new NotFoundError(`unknown source "${request.source}"`);
    const now = runtime.now();
    const lookback = request.lookback ? parseDuration(request.lookback) : undefined;
    if (request.lookback && lookback === undefined) throw new ValidationError(`bad lookback "${request.lookback}"`);
    const from = request.from !== undefined ? toEpochMs(request.from) : lookback !== undefined ? now - lookback : 0;
    const to = request.to !== undefined ? toEpochMs(request.to) : now;
    if (from === undefined || to === undefined || from > to) throw new ValidationError('from and to must be times (epoch ms or ISO-8601) with from <= to');
    const location = request.location ?? (source.kind === 'batch' ? source.location : rawLocation(source.name));
    const { bucket, prefix } = parseLocation(location, runtime.config.bucket);
    const files = await deps.files.list(bucket, prefix, from, to);
    const jobId = `${source.name}-${new Date(now).toISOString().replace(/[-:.]/g, '')}-${randomUUID().slice(0, 8)}`;
    const chunks: Chunk[] = files.map((f) => ({ jobId, source: source.name, bucket: f.bucket, key: f.key }));
    await deps.jobs.create({ id: jobId, source: source.name, from, to, chunks: chunks.length, createdAt: now });
    if (deps.queue && !request.inline && chunks.length > INLINE_CHUNKS) {
      await deps.queue.enqueue(chunks);
      logger.info('backfill queued', { jobId, chunks: chunks.length });
      return { jobId, chunks: chunks.length, queued: true, rows: 0, rejected: 0 };
    }
    let rows = 0;
    let rejected = 0;
    for (const chunk of chunks) {
      const applied = await applyChunk(chunk);
      rows += applied.rows;
      rejected += applied.rejected;
      await deps.jobs.record(jobId, { done: 1, rows: applied.rows, rejected: applied.rejected });
    }
    return { jobId, chunks: chunks.length, queued: false, rows, rejected };
  }

  async function fromQueue(event: SQSEvent): Promise<SQSBatchResponse> {
    const failures: { itemIdentifier: string }[] = [];
    for (const record of event.Records) {
      const chunk = JSON.parse(record.body) as Chunk;
      try {
        const applied = await applyChunk(chunk);
        await deps.jobs.record(chunk.jobId, { done: 1, rows: applied.rows, rejected: applied.rejected });
      } catch (error) {
        logger.error('chunk failed', { chunk, error: error as Error });
        failures.push({ itemIdentifier: record.messageId });
        // On its last delivery the chunk goes to the dead-letter queue: count it, so the job ends.
        if (Number(record.attributes?.ApproximateReceiveCount ?? 1) >= runtime.config.backfillMaxReceives) {
          await deps.jobs.record(chunk.jobId, { failed: 1 });
        }
      }
    }
    return { batchItemFailures: failures };
  }

  return async (event: BatchEvent): Promise<RunResult | SQSBatchResponse | { rows: number; rejected: number }> => {
    if ('Records' in event) return fromQueue(event);
    if ('chunk' in event) return applyChunk(event.chunk);
    const parsed = RunRequest.safeParse(event);
    if (!parsed.success) throw new ValidationError(z.prettifyError(parsed.error));
    return run(parsed.data);
  };
}

export function batchDependencies(runtime: Runtime): BatchDependencies {
  const queueUrl = runtime.config.backfillQueueUrl;
  return {
    files: new S3BatchFiles(runtime.clients.s3),
    jobs: new DynamoJobStore(runtime.clients.dynamodb, runtime.config.tableName),
    ...(queueUrl ? { queue: new SqsChunkQueue(runtime.clients.sqs, queueUrl) } : {}),
  };
}

export const handler = lazyHandler(() => {
  const runtime = createRuntime(readConfig(process.env), { freshness: new EmfFreshnessRecorder() });
  return createBatchHandler(runtime, batchDependencies(runtime));
});
