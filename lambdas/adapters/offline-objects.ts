/**
 * The offline store's Parquet objects in S3, as compaction sees them: list what is settled,
 * read an object only while its ETag is the one listed, write a merged object, delete an input
 * only while it is unchanged — so a batch rewriting its object is never lost.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { FeatureView } from '../core/definitions.js';
import type { ViewRow } from '../core/ingest.js';
import { OFFLINE_PREFIX, type StoredObject } from '../core/offline.js';
import { decodeRows, encodeRows } from './parquet.js';
import type { OfflineObjects } from './ports.js';

export class S3OfflineObjects implements OfflineObjects {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

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

  async read(view: FeatureView, input: StoredObject): Promise<ViewRow[] | undefined> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: input.key, IfMatch: input.etag }));
      return await decodeRows(view, Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()));
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async write(view: FeatureView, key: string, rows: readonly ViewRow[]): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: await encodeRows(view, rows), ContentType: 'application/vnd.apache.parquet' }),
    );
  }

  async deleteIfUnchanged(input: StoredObject): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: input.key, IfMatch: input.etag }));
    } catch (error) {
      // Rewritten since it was read (PreconditionFailed) or already gone: the next run sees it.
      if (isNotImplemented(error)) await this.headThenDelete(input);
      else if (!isConditionFailure(error)) throw error;
    }
  }

  /**
   * For S3 implementations without conditional deletes (LocalStack answers 501): compare the
   * ETag first, then delete. A rewrite between the two calls would be lost, a window AWS S3
   * (which has conditional deletes) does not have.
   */
  private async headThenDelete(input: StoredObject): Promise<void> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: input.key }));
      if (head.ETag !== input.etag) return;
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: input.key }));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
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
