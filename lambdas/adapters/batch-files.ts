/**
 * The files of a batch source in S3: listed by prefix and date range, read as events from
 * JSON lines (`.jsonl`, `.json`), CSV (`.csv`, header row) or Parquet (`.parquet`), each
 * optionally gzipped (`.gz` after the format, as the raw archive writes `.jsonl.gz`).
 */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { parse } from 'csv-parse/sync';
import parquet from 'parquetjs-lite';
import { coerceCsvRecord, keyInRange } from '../core/batch.js';
import type { EventSchema } from '../core/definitions.js';
import type { BatchFile, BatchFiles, FileEvent } from './ports.js';

export class S3BatchFiles implements BatchFiles {
  constructor(private readonly client: S3Client) {}

  async list(bucket: string, prefix: string, from: number, to: number): Promise<BatchFile[]> {
    const files: BatchFile[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const key = object.Key ?? '';
        if (/\.(jsonl|json|csv|parquet)(\.gz)?$/.test(key) && keyInRange(key.slice(prefix.length), from, to)) files.push({ bucket, key });
      }
      token = page.NextContinuationToken;
    } while (token);
    return files.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  async read(file: BatchFile, schema: EventSchema): Promise<FileEvent[]> {
    const response = await this.client.send(new GetObjectCommand({ Bucket: file.bucket, Key: file.key }));
    const body = Buffer.from(await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    const gzipped = file.key.endsWith('.gz');
    const bytes = gzipped ? gunzipSync(body) : body;
    const name = gzipped ? file.key.slice(0, -'.gz'.length) : file.key;
    if (name.endsWith('.parquet')) return readParquet(bytes);
    const text = bytes.toString('utf8');
    if (name.endsWith('.csv')) {
      const records = parse(text, { columns: true, skip_empty_lines: true, relax_column_count: true }) as Record<string, string>[];
      return records.map((record, i) => ({ line: i + 2, event: coerceCsvRecord(schema, record), raw: JSON.stringify(record) }));
    }
    return text
      .split('\n')
      .map((raw, i) => ({ raw, line: i + 1 }))
      .filter(({ raw }) => raw.trim() !== '')
      .map(({ raw, line }) => {
        try {
          return { line, event: JSON.parse(raw), raw };
        } catch (error) {
          return { line, error: `not JSON: ${(error as Error).message}`, raw };
        }
      });
  }
}

async function readParquet(bytes: Buffer): Promise<FileEvent[]> {
  const reader = await parquet.ParquetReader.openBuffer(bytes);
  try {
    const cursor = reader.getCursor();
    const events: FileEvent[] = [];
    for (let record = await cursor.next(), line = 1; record; record = await cursor.next(), line++) {
      const event = Object.fromEntries(
        Object.entries(record).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : Buffer.isBuffer(v) ? v.toString('utf8') : v]),
      );
      events.push({ line, event, raw: JSON.stringify(event) });
    }
    return events;
  } finally {
    await reader.close();
  }
}
