/**
 * Backfills and scheduled runs of a source, the use case behind the batch handler: a run
 * (`{source, from?, to?, lookback?, location?}`) lists the source's files in the range, names
 * a job, and applies few files at once or splits more into chunks (one per file) on the
 * backfill queue, with a job item counting progress; a chunk is one file applied through the
 * shared pipeline. Re-running any of them changes nothing: the pipeline is idempotent per
 * event id.
 */
import { createHash, randomUUID } from 'node:crypto';
import * as z from 'zod';
import type { BatchFiles, Chunk, ChunkQueue, JobStore } from '../adapters/ports.js';
import { parseLocation, rawLocation } from '../core/batch.js';
import { parseDuration } from '../core/duration.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { toEpochMs } from '../core/ingest.js';
import { type PipelinePorts, type PipelineRecord, runPipeline } from './pipeline.js';
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

/** What a backfill reads and records, on top of the pipeline's ports. */
export interface BatchDependencies {
  readonly files: BatchFiles;
  readonly jobs: JobStore;
  /** Absent: every run is applied inline. */
  readonly queue?: ChunkQueue;
}

/** The pipeline's ports, the store's own bucket and a clock: what a backfill runs with. */
export interface BackfillPorts extends PipelinePorts {
  readonly config: { readonly bucket: string };
  readonly now: () => number;
}

/** A job's id: the source, the time it was planned, and a random suffix. */
export const jobIdOf = (source: string, now: number, random: string): string =>
  `${source}-${new Date(now).toISOString().replace(/[-:.]/g, '')}-${random.slice(0, 8)}`;

export interface Backfill {
  /** Plans a run and applies it inline or queues its chunks. */
  run(request: RunRequest): Promise<RunResult>;
  /** Applies one chunk (one file); throws when some of its records could not be written, so it is retried. */
  applyChunk(chunk: Chunk): Promise<{ rows: number; rejected: number }>;
  /** Applies a chunk delivered by the queue for the `delivery`-th time and records the job's progress. */
  deliverChunk(chunk: Chunk, delivery: number): Promise<void>;
}

export function createBackfill(ports: BackfillPorts, deps: BatchDependencies, maxDeliveries: number): Backfill {
  const { registry } = ports;

  async function applyChunk(chunk: Chunk): Promise<{ rows: number; rejected: number }> {
    const source = registry.sources.get(chunk.source);
    if (!source) throw new NotFoundError(`unknown source "${chunk.source}"`);
    const now = ports.now();
    const events = await deps.files.read({ bucket: chunk.bucket, key: chunk.key }, source.schema);
    const records: PipelineRecord[] = events.map((e) => ({
      position: `${chunk.key}/${e.line}`,
      arrivedAt: now,
      payloadBase64: Buffer.from(e.raw).toString('base64'),
      event: 'event' in e ? { json: e.event } : { rejection: { code: 'MalformedPayload', message: e.error } },
    }));
    // The file names the offline batch: re-running the chunk replaces what it wrote.
    const batch = ['batch', createHash('sha256').update(`${chunk.bucket}/${chunk.key}`).digest('hex').slice(0, 20)];
    const result = await runPipeline(ports, source, records, now, batch);
    if (result.failed.length) throw new Error(`${result.failed.length} records of ${chunk.key} could not be written; the chunk will be retried`);
    return { rows: result.rows, rejected: result.deadLettered };
  }

  async function run(request: RunRequest): Promise<RunResult> {
    const source = registry.sources.get(request.source);
    if (!source) throw new NotFoundError(`unknown source "${request.source}"`);
    const now = ports.now();
    const lookback = request.lookback ? parseDuration(request.lookback) : undefined;
    if (request.lookback && lookback === undefined) throw new ValidationError(`bad lookback "${request.lookback}"`);
    const from = request.from !== undefined ? toEpochMs(request.from) : lookback !== undefined ? now - lookback : 0;
    const to = request.to !== undefined ? toEpochMs(request.to) : now;
    if (from === undefined || to === undefined || from > to) throw new ValidationError('from and to must be times (epoch ms or ISO-8601) with from <= to');
    const location = request.location ?? (source.kind === 'batch' ? source.location : rawLocation(source.name));
    const { bucket, prefix } = parseLocation(location, ports.config.bucket);
    const files = await deps.files.list(bucket, prefix, from, to);
    const jobId = jobIdOf(source.name, now, randomUUID());
    const chunks: Chunk[] = files.map((f) => ({ jobId, source: source.name, bucket: f.bucket, key: f.key }));
    await deps.jobs.create({ id: jobId, source: source.name, from, to, chunks: chunks.length, createdAt: now });
    if (deps.queue && !request.inline && chunks.length > INLINE_CHUNKS) {
      await deps.queue.enqueue(chunks);
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

  async function deliverChunk(chunk: Chunk, delivery: number): Promise<void> {
    try {
      const applied = await applyChunk(chunk);
      await deps.jobs.record(chunk.jobId, { done: 1, rows: applied.rows, rejected: applied.rejected });
    } catch (error) {
      // On its last delivery the chunk goes to the dead-letter queue: count it, so the job ends.
      if (delivery >= maxDeliveries) await deps.jobs.record(chunk.jobId, { failed: 1 });
      throw error;
    }
  }

  return { run, applyChunk, deliverChunk };
}
