/**
 * The objects of one bucket, as the governance tools (catalog figures, audit queries, erasure)
 * walk them: every key under a prefix (paged), an object's bytes, a write, a delete. Buffers
 * in and out, so the local S3 stores exactly the bytes written (see DESIGN: s3rver).
 */
import {
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

export interface BucketObject {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
}

export class BucketObjects {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
  ) {}

  /** Every object under `prefix`, in key order. */
  async list(prefix: string): Promise<BucketObject[]> {
    const objects: BucketObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) objects.push({ key: o.Key ?? '', etag: o.ETag ?? '', size: o.Size ?? 0 });
      token = page.NextContinuationToken;
    } while (token);
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async get(key: string): Promise<Buffer> {
    const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return Buffer.from(await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }));
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** Whether the bucket keeps versions (enabled, or suspended with versions left); an S3 without versioning says no. */
  async versioned(): Promise<boolean> {
    try {
      const { Status } = await this.client.send(new GetBucketVersioningCommand({ Bucket: this.bucket }));
      return Status === 'Enabled' || Status === 'Suspended';
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 501) return false;
      throw error;
    }
  }

  /** Deletes every version of `key` but the current one (all of them when `key` was deleted); resolves to how many. */
  async purgeNoncurrentVersions(key: string): Promise<number> {
    let purged = 0;
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: key, KeyMarker: keyMarker, VersionIdMarker: versionMarker }),
      );
      for (const version of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        if (version.Key !== key || (version.IsLatest && !(page.DeleteMarkers ?? []).some((m) => m.IsLatest && m.Key === key))) continue;
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, VersionId: version.VersionId }));
        purged += 1;
      }
      keyMarker = page.NextKeyMarker;
      versionMarker = page.NextVersionIdMarker;
    } while (keyMarker);
    return purged;
  }
}
