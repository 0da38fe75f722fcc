/**
 * `tessera erase --entity user_id=u0001`: removes one subject from every store — online items
 * of every view keyed by it (composite keys included, and the items extending an entity's
 * key), offline Parquet rows (partitions rewritten; noncurrent versions purged where the bucket
 * keeps versions), the raw archive `raw/<source>/` (JSON lines, gzipped or not), dead
 * letters — then writes a receipt (what, when, by whom, why) that names the subject by
 * pseudonym only. What belongs to the subject is decided by core/erasure.ts; this walks the
 * stores. Idempotent: a re-run finds nothing, changes nothing and writes no receipt.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { type AttributeValue, DeleteItemCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { BucketObjects } from '../adapters/bucket-objects.js';
import { decodeRows, encodeRows } from '../adapters/parquet.js';
import { rawLocation } from '../core/batch.js';
import { BUCKET_PREFIX } from '../core/deployment.js';
import {
  type ErasureCounts,
  type ErasureReceipt,
  type ErasureSubject,
  erasedAnything,
  noErasures,
  onlineErasurePlan,
  receiptKey,
  recordBelongsTo,
  subjectPseudonym,
  textMentions,
} from '../core/erasure.js';
import { offlineColumns, toOfflineRecord, viewPrefix } from '../core/offline.js';
import type { Registry } from '../core/registry.js';

export interface ErasureDeps {
  readonly registry: Registry;
  readonly dynamodb: DynamoDBClient;
  readonly table: string;
  readonly objects: BucketObjects;
  /** @default Date.now */
  readonly now?: () => number;
  /** One line per step, for the command's progress. */
  readonly progress?: (line: string) => void;
}

export interface ErasureRequest {
  readonly subject: ErasureSubject;
  /** Who asked for it, for the receipt (a user name or IAM principal). */
  readonly erasedBy: string;
  readonly reason?: string;
}

export interface ErasureResult {
  readonly removed: ErasureCounts;
  /** Absent when there was nothing to erase. */
  readonly receipt?: { readonly key: string; readonly receipt: ErasureReceipt };
}

export async function eraseSubject(request: ErasureRequest, deps: ErasureDeps): Promise<ErasureResult> {
  const { subject } = request;
  const now = deps.now ?? Date.now;
  const progress = deps.progress ?? (() => {});
  const counts = noErasures();
  const changedKeys: string[] = [];

  counts.onlineItems = await eraseOnline(subject, deps);
  progress(`online: ${counts.onlineItems} items deleted`);

  for (const view of deps.registry.views.values()) {
    if (!offlineColumns(view).some((c) => c.name === subject.entity.joinKey)) continue;
    for (const object of await deps.objects.list(viewPrefix(view.name))) {
      if (!object.key.endsWith('.parquet')) continue;
      const rows = await decodeRows(view, await deps.objects.get(object.key));
      const kept = rows.filter((row) => !recordBelongsTo(toOfflineRecord(view, row), subject));
      if (kept.length === rows.length) continue;
      counts.offlineRows += rows.length - kept.length;
      if (kept.length) {
        await deps.objects.put(object.key, await encodeRows(view, kept), 'application/vnd.apache.parquet');
        counts.offlineObjectsRewritten += 1;
      } else {
        await deps.objects.delete(object.key);
        counts.offlineObjectsDeleted += 1;
      }
      changedKeys.push(object.key);
    }
  }
  progress(`offline: ${counts.offlineRows} rows removed (${counts.offlineObjectsRewritten} objects rewritten, ${counts.offlineObjectsDeleted} deleted)`);

  for (const source of deps.registry.sources.values()) {
    for (const object of await deps.objects.list(rawLocation(source.name))) {
      if (!/\.(jsonl|json|ndjson)(\.gz)?$/.test(object.key)) continue;
      const stored = await deps.objects.get(object.key);
      const gzipped = stored[0] === 0x1f && stored[1] === 0x8b;
      const lines = (gzipped ? gunzipSync(stored) : stored).toString('utf8').split('\n');
      const kept = lines.filter((line) => line.trim() === '' || !lineBelongsTo(line, subject));
      if (kept.length === lines.length) continue;
      counts.rawRecords += lines.length - kept.length;
      if (kept.some((line) => line.trim() !== '')) {
        const text = Buffer.from(kept.join('\n'));
        await deps.objects.put(object.key, gzipped ? gzipSync(text) : text, 'application/x-ndjson');
        counts.rawObjectsRewritten += 1;
      } else {
        await deps.objects.delete(object.key);
      }
      changedKeys.push(object.key);
    }
  }
  progress(`raw archive: ${counts.rawRecords} records removed`);

  for (const object of await deps.objects.list(BUCKET_PREFIX.deadLetter)) {
    const letter = JSON.parse((await deps.objects.get(object.key)).toString('utf8')) as { payload?: string | null; payloadBase64?: string };
    const payload = letter.payload ?? Buffer.from(letter.payloadBase64 ?? '', 'base64').toString('latin1');
    if (!lineBelongsTo(payload, subject)) continue;
    await deps.objects.delete(object.key);
    counts.deadLetters += 1;
    changedKeys.push(object.key);
  }
  progress(`dead letters: ${counts.deadLetters} removed`);

  if (changedKeys.length && (await deps.objects.versioned())) {
    for (const key of changedKeys) counts.noncurrentVersionsPurged += await deps.objects.purgeNoncurrentVersions(key);
    progress(`versions: ${counts.noncurrentVersionsPurged} noncurrent versions purged`);
  }

  if (!erasedAnything(counts)) return { removed: counts };
  const at = now();
  const pseudonym = subjectPseudonym(subject);
  const receipt: ErasureReceipt = {
    subject: { entity: subject.entity.name, joinKey: subject.entity.joinKey, pseudonym },
    erasedAt: new Date(at).toISOString(),
    erasedBy: request.erasedBy,
    reason: request.reason ?? null,
    removed: counts,
  };
  const key = receiptKey(pseudonym, at);
  await deps.objects.put(key, Buffer.from(`${JSON.stringify(receipt, null, 2)}\n`), 'application/json');
  return { removed: counts, receipt: { key, receipt } };
}

/** A line of JSON belongs to the subject by its field; a line that is not JSON, by mentioning the value. */
function lineBelongsTo(line: string, subject: ErasureSubject): boolean {
  try {
    return recordBelongsTo(JSON.parse(line), subject);
  } catch {
    return textMentions(line, subject);
  }
}

/** Scans the table for the subject's items (exact keys and prefixes, filtered server-side) and deletes them. */
async function eraseOnline(subject: ErasureSubject, deps: ErasureDeps): Promise<number> {
  const plan = onlineErasurePlan(deps.registry, subject);
  const starts = [...plan.keys, ...plan.prefixes];
  if (!starts.length) return 0;
  const values: Record<string, AttributeValue> = Object.fromEntries(starts.map((p, i) => [`:p${i}`, { S: p }]));
  const filter = starts.map((_, i) => `begins_with(pk, :p${i})`).join(' OR ');
  let deleted = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await deps.dynamodb.send(
      new ScanCommand({
        TableName: deps.table,
        ProjectionExpression: 'pk',
        FilterExpression: filter,
        ExpressionAttributeValues: values,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const pk = item.pk?.S;
      if (pk === undefined || !plan.matches(pk)) continue;
      await deps.dynamodb.send(new DeleteItemCommand({ TableName: deps.table, Key: { pk: { S: pk } } }));
      deleted += 1;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return deleted;
}
