/**
 * The objects of one bucket, as the governance tools (catalog figures, audit queries, erasure)
 * walk them: every key under a prefix (paged), an object's bytes, a write, a delete. Buffers
 * in and out, so the local S3 stores exactly the bytes written (see DESIGN: s3rver).
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

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
}
