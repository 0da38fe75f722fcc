/**
 * The offline writer: a view's transformed rows as Parquet objects in S3, one object per
 * (view, event-time hour) and batch, at `offline/<view>/date=YYYY-MM-DD/hour=HH/<batch>.parquet`.
 * The name is the batch's identity, so a retried batch overwrites its own objects instead of
 * adding rows; copies of one event within the batch are written once.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { FeatureView } from '../core/definitions.js';
import type { ViewRow } from '../core/ingest.js';
import { byPartition, dedupeCopies, objectName, offlineKey } from '../core/offline.js';
import { encodeRows } from './parquet.js';
import type { OfflineWriter } from './ports.js';

export class S3OfflineWriter implements OfflineWriter {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async write(view: FeatureView, rows: readonly ViewRow[], batch: readonly string[]): Promise<void> {
    const name = objectName(batch);
    await Promise.all(
      [...byPartition(dedupeCopies(rows)).values()].map(async ({ partition, rows: inPartition }) => {
        // A Buffer body, not a stream: s3rver stores streamed uploads with checksum framing.
        const body = await encodeRows(view, inPartition);
        await this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: offlineKey(view.name, partition, name), Body: body, ContentType: 'application/vnd.apache.parquet' }),
        );
      }),
    );
  }
}
