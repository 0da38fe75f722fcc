/**
 * Offline compaction: merges the small objects of each (view, hour) partition into one and
 * drops copies of events. Safe to run twice and beside writers and other compactions:
 * - the merged object is named by its inputs (core/offline.ts `planCompaction`), so runs that
 *   saw the same objects write the same object, and a partition already compacted is left be;
 * - the merged object is written before any input is deleted, so a reader sees every row
 *   at every moment (perhaps twice for a moment: the query drops copies);
 * - objects newer than `minAgeMs` are skipped, and inputs are read and deleted only while
 *   their ETag is the one listed, so a batch rewriting its object is never lost.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { FeatureView } from '../core/definitions.js';
import { type CompactionOptions, type CompactionTask, compactRows, OFFLINE_PREFIX, planCompaction, type StoredObject } from '../core/offline.js';
import type { Registry } from '../core/registry.js';
import { decodeRows, encodeRows } from './parquet.js';

export interface CompactionReport {
  readonly partitions: number;
  readonly objectsRead: number;
  readonly rowsRead: number;
  readonly rowsWritten: number;
  /** Partitions left for the next run: the deadline came, or an input changed under us. */
  readonly skipped: number;
}

export const DEFAULT_COMPACTION: CompactionOptions = { minAgeMs: 2 * 3_600_000, maxInputs: 1_000 };

export class OfflineCompactor {
  private readonly options: CompactionOptions;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly registry: Registry,
    options: Partial<CompactionOptions> = {},
  ) {
    this.options = { ...DEFAULT_COMPACTION, ...options };
  }

  /** Every settled offline object of the registry's views. */
  async list(): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: OFFLINE_PREFIX, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        if (o.Key && o.ETag) objects.push({ key: o.Key, etag: o.ETag, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  /** Compacts what is due at `now`, stopping before `deadline` (epoch ms) when given. */
  async run(now: number, deadline?: number, clock: () => number = () => now): Promise<CompactionReport> {
    const tasks = planCompaction(await this.list(), new Set(this.registry.views.keys()), now, this.options);
    let partitions = 0;
    let objectsRead = 0;
    let rowsRead = 0;
    let rowsWritten = 0;
    let skipped = 0;
    for (const task of tasks) {
      if (deadline !== undefined && clock() >= deadline) {
        skipped++;
        continue;
      }
      const done = await this.compact(this.registry.views.get(task.view) as FeatureView, task);
      if (!done) {
        skipped++;
        continue;
      }
      partitions++;
      objectsRead += task.inputs.length;
      rowsRead += done.rowsRead;
      rowsWritten += done.rowsWritten;
    }
    return { partitions, objectsRead, rowsRead, rowsWritten, skipped };
  }

  /** One partition; undefined when an input changed since it was listed (left for the next run). */
  private async compact(view: FeatureView, task: CompactionTask): Promise<{ rowsRead: number; rowsWritten: number } | undefined> {
    const read = await Promise.all(task.inputs.map((input) => this.read(view, input)));
    if (read.some((rows) => rows === undefined)) return undefined;
    const rows = read.flat() as NonNullable<(typeof read)[number]>;
    const merged = compactRows(rows);
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: task.output, Body: await encodeRows(view, merged), ContentType: 'application/vnd.apache.parquet' }),
    );
    for (const input of task.inputs) {
      if (input.key === task.output) continue;
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: input.key, IfMatch: input.etag }));
      } catch (error) {
        // Rewritten since it was read (PreconditionFailed) or already gone: the next run sees it.
        if (isNotImplemented(error)) await this.deleteIfUnchanged(input);
        else if (!isConditionFailure(error)) throw error;
      }
    }
    return { rowsRead: rows.length, rowsWritten: merged.length };
  }

  /**
   * For S3 implementations without conditional deletes (LocalStack answers 501): compare the
   * ETag first, then delete. A rewrite between the two calls would be lost, a window AWS S3
   * (which has conditional deletes) does not have.
   */
  private async deleteIfUnchanged(input: StoredObject): Promise<void> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: input.key }));
      if (head.ETag !== input.etag) return;
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: input.key }));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  private async read(view: FeatureView, input: StoredObject) {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: input.key, IfMatch: input.etag }));
      return await decodeRows(view, Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()));
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }
}

function isNotImplemented(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotImplemented' || e?.$metadata?.httpStatusCode === 501;
}

function isConditionFailure(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'PreconditionFailed' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 412 || e?.$metadata?.httpStatusCode === 404;
}
