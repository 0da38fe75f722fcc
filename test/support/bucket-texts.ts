/** Every object of a bucket as searchable text — gzip unpacked, Parquet decoded row by row — for "no trace of the id" checks. */
import { gunzipSync } from 'node:zlib';
import parquet from 'parquetjs-lite';
import type { BucketObjects } from '../../lambdas/adapters/bucket-objects.js';

export async function bucketTexts(objects: BucketObjects): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const { key } of await objects.list('')) {
    let bytes = await objects.get(key);
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
    if (bytes.subarray(0, 4).toString() !== 'PAR1') {
      texts.set(key, bytes.toString('utf8'));
      continue;
    }
    const reader = await parquet.ParquetReader.openBuffer(bytes);
    const cursor = reader.getCursor();
    const rows: unknown[] = [];
    for (let row = await cursor.next(); row; row = await cursor.next()) rows.push(row);
    await reader.close();
    texts.set(
      key,
      JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
    );
  }
  return texts;
}
