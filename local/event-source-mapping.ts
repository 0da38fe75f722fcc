/**
 * Lambda's Kinesis event source mapping, in-process: polls every shard of some streams and
 * invokes a stream handler (the deployed one, unchanged) with the events Lambda would build,
 * under the error settings the stack deploys (lib/constructs/processing.ts):
 *
 * - per shard, in order, one batch at a time (parallelization factor 1); shards in parallel;
 * - iterators from TRIM_HORIZON, then from the in-memory checkpoint (an expired iterator is
 *   re-read from the checkpoint);
 * - partial batch responses (ReportBatchItemFailures): the checkpoint moves to just before the
 *   lowest reported failure and the records from there are delivered again; an identifier
 *   that is not a record of the batch fails the whole batch, as in Lambda;
 * - a thrown error (or an invalid response) splits the batch in halves (bisect on error) down
 *   to single records; halves do not consume retries;
 * - after `maxRetryAttempts` retries, or once records are older than `maxRecordAgeMs`, the
 *   records go to the on-failure destination — a JSON invocation record in the bucket under
 *   `failed-batches/` — and the shard moves on.
 *
 * `drain()` makes tests deterministic: it resolves once every shard has been read to its end
 * and every batch handled.
 */
import {
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
  type _Record as KinesisRecord,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';

import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { BUCKET_PREFIX } from '../lambdas/core/deployment.js';
import { TesseraError } from '../lambdas/core/errors.js';

/** The account the local ARNs carry; nothing checks it. */
export const LOCAL_ACCOUNT = '000000000000';

export const FAILED_BATCH_PREFIX = BUCKET_PREFIX.failedBatches;

/** A Kinesis function: its result is read as a partial batch response (ReportBatchItemFailures). */
export type StreamHandler = (event: KinesisStreamEvent) => Promise<unknown>;

export interface MappingLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** One call of the handler, as the mapping saw it: for logs, metrics and tests. */
export interface Invocation {
  readonly stream: string;
  readonly shardId: string;
  /** Sequence numbers of the records in the event, in order. */
  readonly sequenceNumbers: readonly string[];
  /** Retries of these records so far (0 on the first delivery). */
  readonly attempt: number;
  readonly outcome:
    | { readonly kind: 'ok' }
    | { readonly kind: 'partial'; readonly failed: readonly string[] }
    | { readonly kind: 'error'; readonly error: Error };
}

export interface EventSourceMappingOptions {
  readonly kinesis: KinesisClient;
  /** Client and bucket of the on-failure destination. */
  readonly s3: S3Client;
  readonly bucket: string;
  readonly region: string;
  /** Stream names to read. */
  readonly streams: readonly string[];
  readonly handler: StreamHandler;
  /** Records per invocation, at most (Kinesis allows up to 10 000). @default 500, as the stack deploys */
  readonly batchSize?: number;
  /** Pause between polls of a caught-up shard, when started with `start()`. @default 1000 ms */
  readonly pollIntervalMs?: number;
  /** @default true */
  readonly bisectBatchOnError?: boolean;
  /** Retries of failing records before they go to the failure destination. @default 5 */
  readonly maxRetryAttempts?: number;
  /** Records older than this go to the failure destination unprocessed. @default 1 hour */
  readonly maxRecordAgeMs?: number;
  /** First delay between retries, doubled each retry up to 5 s. @default 100 ms */
  readonly retryBackoffMs?: number;
  /** An invocation running longer than this counts as failed (Lambda's function timeout). @default 60 s */
  readonly invocationTimeoutMs?: number;
  /** @default 'TRIM_HORIZON' */
  readonly startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /**
   * Where the shard checkpoints outlive the process, as Lambda's mapping keeps them: a restarted
   * local mode resumes after the last record handled instead of re-reading its streams.
   * @default none — every start reads from `startingPosition`
   */
  readonly checkpointStore?: CheckpointStore;
  readonly logger?: MappingLogger;
  readonly onInvocation?: (invocation: Invocation) => void;
  /** Wall clock for record age and failure records. @default Date.now */
  readonly now?: () => number;
}

/** Checkpoints by `<stream>/<shardId>`, kept somewhere that outlives the process. */
export interface CheckpointStore {
  load(): Readonly<Record<string, string>>;
  save(checkpoints: Readonly<Record<string, string>>): void;
}

/** Builds the event Lambda delivers for records of one shard. */
export function kinesisEvent(
  records: readonly KinesisRecord[],
  where: { readonly region: string; readonly streamName: string; readonly shardId: string; readonly account?: string },
): KinesisStreamEvent {
  const account = where.account ?? LOCAL_ACCOUNT;
  return {
    Records: records.map((record) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: record.PartitionKey as string,
        sequenceNumber: record.SequenceNumber as string,
        data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
        approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp?.getTime() ?? 0) / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${where.shardId}:${record.SequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: `arn:aws:iam::${account}:role/tessera-stream-handler`,
      awsRegion: where.region,
      eventSourceARN: streamArn(where.region, where.streamName, account),
    })),
  };
}

export const streamArn = (region: string, streamName: string, account = LOCAL_ACCOUNT): string => `arn:aws:kinesis:${region}:${account}:stream/${streamName}`;

export class DrainTimeout extends TesseraError {
  constructor(message: string, options?: ErrorOptions) {
    super('DrainTimeout', message, undefined, options);
  }
}

export class MappingStopped extends TesseraError {
  constructor(message: string, options?: ErrorOptions) {
    super('MappingStopped', message, undefined, options);
  }
}

interface ShardState {
  readonly stream: string;
  readonly shardId: string;
  iterator?: string;
  /** Sequence number of the last record handled (processed or sent to the failure destination). */
  checkpoint?: string;
  /** The shard was closed (resharding) and read to its end. */
  finished: boolean;
}

type Outcome = Invocation['outcome'];

interface PendingBatch {
  readonly records: readonly KinesisRecord[];
  readonly attempt: number;
}

/** Reads per shard in one pass before the pass yields to the next (keeps drain() responsive). */
const MAX_READS_PER_PASS = 50;

export class EventSourceMapping {
  private readonly shards = new Map<string, ShardState>();
  private readonly batchSize: number;
  private readonly logger: MappingLogger;
  private readonly now: () => number;
  /** Passes run one after the other: a shard is never read by two passes at once. */
  private queue: Promise<unknown> = Promise.resolve();
  private loop?: Promise<void>;
  private wake?: () => void;
  private stopped = false;
  /** The checkpoints as last saved, including shards this process has not read yet. */
  private saved: Readonly<Record<string, string>>;

  constructor(private readonly options: EventSourceMappingOptions) {
    this.saved = options.checkpointStore?.load() ?? {};
    this.batchSize = options.batchSize ?? 500;
    if (!(Number.isInteger(this.batchSize) && this.batchSize >= 1 && this.batchSize <= 10_000)) {
      throw new RangeError('batchSize must be an integer from 1 to 10000');
    }
    this.logger = options.logger ?? consoleLogger;
    this.now = options.now ?? Date.now;
  }

  /** Polls in the background until `stop()`, as the deployed mapping does. */
  start(): void {
    if (this.stopped) throw new MappingStopped('the mapping was stopped');
    this.loop ??= (async () => {
      while (!this.stopped) {
        try {
          // Behind (the pass stopped at its read limit): poll again at once, as Lambda does.
          if (!(await this.runPass())) continue;
        } catch (error) {
          if (!this.stopped) this.logger.error('event source mapping: poll failed', { error: describe(error) });
        }
        if (this.stopped) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.pollIntervalMs ?? 1_000);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })();
  }

  /**
   * Resolves once every shard has been read up to its current end and every batch read has
   * been handled (processed, or sent to the failure destination). Records put before the
   * call are therefore all handled when it resolves.
   */
  async drain(options: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      if (this.stopped) throw new MappingStopped('the mapping was stopped');
      if (await this.runPass()) return;
      if (Date.now() > deadline) throw new DrainTimeout('the streams were not drained in time');
    }
  }

  /** Stops polling and waits for the batch in flight; no handler call starts afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.queue;
  }

  /** The checkpoint of each shard, by `<stream>/<shardId>`: the last sequence number handled. */
  checkpoints(): ReadonlyMap<string, string | undefined> {
    return new Map([...this.shards].map(([key, shard]) => [key, shard.checkpoint]));
  }

  private runPass(): Promise<boolean> {
    const pass = this.queue.then(() => this.pass());
    this.queue = pass.catch(() => undefined);
    return pass;
  }

  /** Reads every shard until it is caught up (or the per-pass limit); true when all are. */
  private async pass(): Promise<boolean> {
    if (this.stopped) return false;
    await this.discoverShards();
    // allSettled: a pass ends only when no shard has a call in flight, even if one shard failed.
    const outcomes = await Promise.allSettled([...this.shards.values()].filter((s) => !s.finished).map((shard) => this.pollShard(shard)));
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) throw failure.reason;
    return outcomes.every((o) => o.status === 'fulfilled' && o.value);
  }

  private async discoverShards(): Promise<void> {
    await Promise.all(
      this.options.streams.map(async (stream) => {
        let nextToken: string | undefined;
        do {
          const page = await this.options.kinesis.send(new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: stream }));
          for (const shard of page.Shards ?? []) this.addShard(stream, shard);
          nextToken = page.NextToken;
        } while (nextToken);
      }),
    );
  }

  private addShard(stream: string, shard: Shard): void {
    const key = `${stream}/${shard.ShardId}`;
    if (this.shards.has(key)) return;
    const checkpoint = this.saved[key];
    this.shards.set(key, { stream, shardId: shard.ShardId as string, finished: false, ...(checkpoint ? { checkpoint } : {}) });
  }

  private async pollShard(shard: ShardState): Promise<boolean> {
    for (let reads = 0; reads < MAX_READS_PER_PASS; reads++) {
      if (this.stopped) return false;
      const { records, behind } = await this.read(shard);
      if (records.length > 0) {
        try {
          await this.deliver(shard, records);
        } catch (error) {
          // Not even the failure destination took the records: read them again from the checkpoint.
          shard.iterator = undefined;
          throw error;
        }
      } else if (shard.finished || !behind) {
        return true;
      }
    }
    return false;
  }

  private async read(shard: ShardState): Promise<{ records: KinesisRecord[]; behind: boolean }> {
    shard.iterator ??= await this.iteratorFromCheckpoint(shard);
    let response: GetRecordsCommandOutput;
    try {
      response = await this.options.kinesis.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: this.batchSize }));
    } catch (error) {
      if (!(error instanceof ExpiredIteratorException)) throw error;
      this.logger.info('event source mapping: shard iterator expired; reading again from the checkpoint', {
        stream: shard.stream,
        shardId: shard.shardId,
      });
      shard.iterator = await this.iteratorFromCheckpoint(shard);
      response = await this.options.kinesis.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: this.batchSize }));
    }
    shard.iterator = response.NextShardIterator;
    if (shard.iterator === undefined) shard.finished = true;
    return { records: response.Records ?? [], behind: (response.MillisBehindLatest ?? 0) > 0 };
  }

  private async iteratorFromCheckpoint(shard: ShardState): Promise<string> {
    const { ShardIterator } = await this.options.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: shard.stream,
        ShardId: shard.shardId,
        ...(shard.checkpoint
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: shard.checkpoint }
          : { ShardIteratorType: this.options.startingPosition ?? 'TRIM_HORIZON' }),
      }),
    );
    return ShardIterator as string;
  }

  /** Hands records of one shard to the handler until every one is processed or given up on. */
  private async deliver(shard: ShardState, records: readonly KinesisRecord[]): Promise<void> {
    const maxRetries = this.options.maxRetryAttempts ?? 5;
    const work: PendingBatch[] = [{ records, attempt: 0 }];
    while (work.length > 0) {
      if (this.stopped) throw new MappingStopped('stopped while delivering a batch');
      const batch = work.shift() as PendingBatch;
      const tooOld = this.expired(batch.records);
      if (tooOld.length > 0) {
        await this.sendToFailureDestination(shard, tooOld, batch.attempt, 'RecordAgeExceeded');
        if (tooOld.length < batch.records.length) work.unshift({ records: batch.records.slice(tooOld.length), attempt: batch.attempt });
        continue;
      }
      const outcome = await this.invoke(shard, batch);
      if (outcome.kind === 'ok') {
        this.advance(shard, batch.records.at(-1));
        continue;
      }
      if (outcome.kind === 'partial') {
        const first = batch.records.findIndex((r) => outcome.failed.includes(r.SequenceNumber as string));
        if (first > 0) this.advance(shard, batch.records[first - 1]);
        const rest = batch.records.slice(first);
        if (batch.attempt >= maxRetries) {
          await this.sendToFailureDestination(shard, rest, batch.attempt, 'RetryAttemptsExhausted', 'reported as failed by the function');
          continue;
        }
        await this.backoff(batch.attempt);
        work.unshift({ records: rest, attempt: batch.attempt + 1 });
        continue;
      }
      if ((this.options.bisectBatchOnError ?? true) && batch.records.length > 1) {
        const middle = Math.ceil(batch.records.length / 2);
        work.unshift({ records: batch.records.slice(0, middle), attempt: batch.attempt }, { records: batch.records.slice(middle), attempt: batch.attempt });
        continue;
      }
      if (batch.attempt >= maxRetries) {
        await this.sendToFailureDestination(shard, batch.records, batch.attempt, 'RetryAttemptsExhausted', outcome.error.message);
        continue;
      }
      await this.backoff(batch.attempt);
      work.unshift({ records: batch.records, attempt: batch.attempt + 1 });
    }
  }

  private async invoke(shard: ShardState, batch: PendingBatch): Promise<Outcome> {
    const event = kinesisEvent(batch.records, { region: this.options.region, streamName: shard.stream, shardId: shard.shardId });
    const sequenceNumbers = batch.records.map((r) => r.SequenceNumber as string);
    let outcome: Outcome;
    try {
      const response = await withTimeout(this.options.handler(event), this.options.invocationTimeoutMs ?? 60_000);
      outcome = interpret(response, sequenceNumbers);
    } catch (error) {
      outcome = { kind: 'error', error: error instanceof Error ? error : new Error(String(error)) };
    }
    if (outcome.kind === 'error') {
      this.logger.warn('event source mapping: the function failed', {
        stream: shard.stream,
        shardId: shard.shardId,
        records: batch.records.length,
        attempt: batch.attempt,
        error: describe(outcome.error),
      });
    }
    this.options.onInvocation?.({ stream: shard.stream, shardId: shard.shardId, sequenceNumbers, attempt: batch.attempt, outcome });
    return outcome;
  }

  private advance(shard: ShardState, record: KinesisRecord | undefined): void {
    if (!record?.SequenceNumber) return;
    shard.checkpoint = record.SequenceNumber;
    if (!this.options.checkpointStore) return;
    this.saved = { ...this.saved, [`${shard.stream}/${shard.shardId}`]: record.SequenceNumber };
    this.options.checkpointStore.save(this.saved);
  }

  /** The leading records older than the maximum record age (arrival times grow along a shard). */
  private expired(records: readonly KinesisRecord[]): readonly KinesisRecord[] {
    const maxAge = this.options.maxRecordAgeMs ?? 3_600_000;
    const oldest = this.now() - maxAge;
    const fresh = records.findIndex((r) => (r.ApproximateArrivalTimestamp?.getTime() ?? Number.POSITIVE_INFINITY) >= oldest);
    return fresh === -1 ? records : records.slice(0, fresh);
  }

  /**
   * Keeps records the function could not process, in the shape of Lambda's on-failure
   * invocation record (with the whole event as payload, as Lambda's S3 destination does),
   * under a key derived from the records so that writing it again overwrites it.
   */
  private async sendToFailureDestination(
    shard: ShardState,
    records: readonly KinesisRecord[],
    attempt: number,
    condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded',
    reason?: string,
  ): Promise<void> {
    const first = records[0] as KinesisRecord;
    const last = records.at(-1) as KinesisRecord;
    const at = new Date(this.now());
    const record = {
      version: '1.0',
      timestamp: at.toISOString(),
      requestContext: {
        requestId: `${shard.shardId}:${first.SequenceNumber}`,
        functionArn: `arn:aws:lambda:${this.options.region}:${LOCAL_ACCOUNT}:function:tessera-stream-handler`,
        condition,
        approximateInvokeCount: condition === 'RecordAgeExceeded' ? attempt : attempt + 1,
      },
      responseContext: {
        statusCode: 200,
        executedVersion: '$LATEST',
        functionError: condition === 'RecordAgeExceeded' ? null : 'Unhandled',
        ...(reason ? { reason } : {}),
      },
      KinesisBatchInfo: {
        shardId: shard.shardId,
        startSequenceNumber: first.SequenceNumber,
        endSequenceNumber: last.SequenceNumber,
        approximateArrivalOfFirstRecord: first.ApproximateArrivalTimestamp?.toISOString(),
        approximateArrivalOfLastRecord: last.ApproximateArrivalTimestamp?.toISOString(),
        batchSize: records.length,
        streamArn: streamArn(this.options.region, shard.stream),
      },
      payload: JSON.stringify(kinesisEvent(records, { region: this.options.region, streamName: shard.stream, shardId: shard.shardId })),
    };
    const key = failedBatchKey(shard.stream, shard.shardId, at, first.SequenceNumber as string, last.SequenceNumber as string);
    await this.options.s3.send(
      new PutObjectCommand({ Bucket: this.options.bucket, Key: key, ContentType: 'application/json', Body: Buffer.from(JSON.stringify(record)) }),
    );
    this.advance(shard, last);
    this.logger.error('event source mapping: records sent to the failure destination', {
      stream: shard.stream,
      shardId: shard.shardId,
      records: records.length,
      condition,
      key,
    });
  }

  private async backoff(attempt: number): Promise<void> {
    const base = this.options.retryBackoffMs ?? 100;
    if (base <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(base * 2 ** attempt, 5_000)));
  }
}

export function failedBatchKey(stream: string, shardId: string, at: Date, firstSequence: string, lastSequence: string): string {
  const date = at.toISOString().slice(0, 10).replaceAll('-', '/');
  return `${FAILED_BATCH_PREFIX}${stream}/${shardId}/${date}/${firstSequence}-${lastSequence}.json`;
}

/** Lambda's reading of a function response for a Kinesis batch with ReportBatchItemFailures. */
function interpret(response: unknown, sequenceNumbers: readonly string[]): Outcome {
  const failures = (response as Partial<KinesisStreamBatchResponse> | null | undefined)?.batchItemFailures;
  if (failures === undefined || failures === null || failures.length === 0) return { kind: 'ok' };
  const known = new Set(sequenceNumbers);
  const failed = failures.map((f) => f?.itemIdentifier);
  if (!failed.every((id): id is string => typeof id === 'string' && known.has(id))) {
    return { kind: 'error', error: new Error(`invalid batchItemFailures: ${JSON.stringify(failures)} (an identifier is not a sequence number of the batch)`) };
  }
  return { kind: 'partial', failed };
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the function timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const consoleLogger: MappingLogger = {
  info: () => {},
  warn: (message, extra) => console.warn(message, extra ?? ''),
  error: (message, extra) => console.error(message, extra ?? ''),
};
