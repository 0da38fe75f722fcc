/**
 * The erasure job (`tessera erase --entity user_id=u0001`): removes one subject from every
 * store, in the backfill's shape — a job item counting progress, chunks that workers apply in
 * parallel from a queue, any order, each idempotent:
 * - online: one segment of a parallel scan of the table — the subject's items (every view
 *   keyed by it, composite keys included, items extending its key) deleted, other entities'
 *   items that name it (a merchant's latest row, buffered rows, last/last_n values) rewritten
 *   with the id nulled;
 * - offline: one Parquet file — the subject's rows dropped (file rewritten, or deleted when
 *   empty), rows of other entities' views that name it rewritten with the id nulled;
 * - raw: one file of the raw archive (JSON lines, gzipped or not) — the subject's events dropped;
 * - dead letters: every dead letter whose payload is the subject's, deleted.
 * Where the bucket keeps versions, the noncurrent versions of every object a chunk changed are
 * purged. The worker that finishes the last chunk writes the receipt (what, when, by whom, why —
 * the subject by pseudonym only). A re-run finds nothing, changes nothing, writes no receipt.
 * What belongs to the subject is decided by core/erasure.ts and core/erasure-scrub.ts.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import * as z from 'zod';
import type { BucketObjects } from '../adapters/bucket-objects.js';
import type { ErasureJobStore } from '../adapters/erasure-jobs.js';
import type { OnlineEraser, OnlineErasureTargets } from '../adapters/online-eraser.js';
import { decodeRows, encodeRows } from '../adapters/parquet.js';
import type { ChunkQueue } from '../adapters/ports.js';
import { rawLocation } from '../core/batch.js';
import { BUCKET_PREFIX } from '../core/deployment.js';
import {
  type ErasureCounts,
  type ErasureJob,
  type ErasurePart,
  type ErasureReceipt,
  type ErasureSubject,
  noErasures,
  onlineErasurePlan,
  parseSubject,
  receiptDue,
  receiptKey,
  receiptOf,
  recordBelongsTo,
  subjectPseudonym,
  textMentions,
} from '../core/erasure.js';
import { scrubbedGroupPrefixes, scrubPlan, scrubRow, scrubTierItem } from '../core/erasure-scrub.js';
import { ValidationError } from '../core/errors.js';
import { fromOfflineRecord, offlineColumns, toOfflineRecord, viewPrefix } from '../core/offline.js';
import { onlineGroups } from '../core/online.js';
import type { Registry } from '../core/registry.js';

/** Segments of the online table's parallel scan: each is one chunk. */
export const ONLINE_SEGMENTS = 4;

export type ErasureChunk =
  | { readonly part: 'online'; readonly segment: number; readonly segments: number }
  | { readonly part: 'offline'; readonly view: string; readonly key: string }
  | { readonly part: 'raw'; readonly key: string }
  | { readonly part: 'deadLetters' };

/** What a queue message carries: the subject as given (`user_id=u0001`), since the job item names it only by pseudonym. */
export interface ErasureMessage {
  readonly jobId: string;
  readonly subject: string;
  readonly chunk: ErasureChunk;
}

export const ErasureRequest = z
  .object({
    /** `<join key>=<value>`, e.g. `user_id=u0001`. */
    entity: z.string().min(1),
    /** Who asked for it, for the receipt (a user name or IAM principal). */
    erasedBy: z.string().min(1),
    reason: z.string().optional(),
  })
  .strict();
export type ErasureRequest = z.infer<typeof ErasureRequest>;

export interface ErasurePorts {
  readonly registry: Registry;
  readonly objects: BucketObjects;
  readonly online: OnlineEraser;
  readonly jobs: ErasureJobStore;
  /** Absent: the chunks are applied by the caller (runErasure). */
  readonly queue?: ChunkQueue<ErasureMessage>;
  readonly now: () => number;
  readonly newId: () => string;
}

export interface ErasureResult {
  readonly jobId: string;
  readonly removed: ErasureCounts;
  /** Absent when there was nothing to erase. */
  readonly receipt?: { readonly key: string; readonly receipt: ErasureReceipt };
}

/** Lists the chunks, creates the job item and queues the chunks (when there is a queue). */
export async function startErasure(input: ErasureRequest, ports: ErasurePorts): Promise<{ job: ErasureJob; messages: ErasureMessage[] }> {
  const parsed = ErasureRequest.safeParse(input);
  if (!parsed.success) throw new ValidationError(z.prettifyError(parsed.error));
  const request = parsed.data;
  const subject = parseSubject(ports.registry, request.entity);
  const chunks: ErasureChunk[] = Array.from({ length: ONLINE_SEGMENTS }, (_, segment) => ({ part: 'online', segment, segments: ONLINE_SEGMENTS }));
  for (const view of ports.registry.views.values()) {
    if (!offlineColumns(view).some((c) => c.name === subject.entity.joinKey)) continue;
    for (const object of await ports.objects.list(viewPrefix(view.name))) {
      if (object.key.endsWith('.parquet')) chunks.push({ part: 'offline', view: view.name, key: object.key });
    }
  }
  for (const source of ports.registry.sources.values()) {
    for (const object of await ports.objects.list(rawLocation(source.name))) {
      if (/\.(jsonl|json|ndjson)(\.gz)?$/.test(object.key)) chunks.push({ part: 'raw', key: object.key });
    }
  }
  chunks.push({ part: 'deadLetters' });
  const count = (part: ErasurePart) => chunks.filter((c) => c.part === part).length;
  const now = ports.now();
  const job: ErasureJob = {
    id: `erase-${new Date(now).toISOString().replace(/[-:.]/g, '')}-${ports.newId()}`,
    subject: { entity: subject.entity.name, joinKey: subject.entity.joinKey, pseudonym: subjectPseudonym(subject) },
    erasedBy: request.erasedBy,
    reason: request.reason ?? null,
    createdAt: now,
    chunks: { online: count('online'), offline: count('offline'), raw: count('raw'), deadLetters: count('deadLetters') },
    done: { online: 0, offline: 0, raw: 0, deadLetters: 0 },
    failed: 0,
    removed: noErasures(),
  };
  await ports.jobs.create(job);
  const messages = chunks.map((chunk) => ({ jobId: job.id, subject: request.entity, chunk }));
  await ports.queue?.enqueue(messages);
  return { job, messages };
}

/** Applies one chunk and counts it; the chunk that completes the job writes the receipt. */
export async function applyErasureChunk(message: ErasureMessage, ports: ErasurePorts): Promise<ErasureJob> {
  const subject = parseSubject(ports.registry, message.subject);
  const { removed, changedKeys } = await eraseChunk(message.chunk, subject, ports);
  if (changedKeys.length && (await ports.objects.versioned())) {
    for (const key of changedKeys) removed.noncurrentVersionsPurged += await ports.objects.purgeNoncurrentVersions(key);
  }
  const job = await ports.jobs.record(message.jobId, { part: message.chunk.part, removed });
  if (!receiptDue(job)) return job;
  // The receipt is written before the job item names it, so whoever reads the key finds the object.
  const at = ports.now();
  const key = receiptKey(job.subject.pseudonym, at);
  await ports.objects.put(key, Buffer.from(`${JSON.stringify(receiptOf(job, at), null, 2)}\n`), 'application/json');
  if (await ports.jobs.finish(job.id, key)) return { ...job, receiptKey: key };
  await ports.objects.delete(key); // a retried last chunk raced another: the first receipt stands
  return job;
}

/** Counts a chunk that failed its last delivery, so the job ends (without a receipt: it is incomplete). */
export const failErasureChunk = (message: ErasureMessage, ports: ErasurePorts): Promise<ErasureJob> => ports.jobs.record(message.jobId, 'failed');

/** The whole job in this process, chunk after chunk (local mode, or a caller without a queue). */
export async function runErasure(request: ErasureRequest, ports: ErasurePorts, progress: (job: ErasureJob) => void = () => {}): Promise<ErasureResult> {
  const { job, messages } = await startErasure(request, { ...ports, queue: undefined } as ErasurePorts);
  let current = job;
  for (const message of messages) {
    current = await applyErasureChunk(message, ports);
    progress(current);
  }
  if (!current.receiptKey) return { jobId: job.id, removed: current.removed };
  const receipt = JSON.parse((await ports.objects.get(current.receiptKey)).toString('utf8')) as ErasureReceipt;
  return { jobId: job.id, removed: current.removed, receipt: { key: current.receiptKey, receipt } };
}

async function eraseChunk(chunk: ErasureChunk, subject: ErasureSubject, ports: ErasurePorts): Promise<{ removed: ErasureCounts; changedKeys: string[] }> {
  const removed = noErasures();
  const changedKeys: string[] = [];
  const { objects, registry } = ports;
  switch (chunk.part) {
    case 'online': {
      const counts = await ports.online.eraseSegment(chunk.segment, chunk.segments, onlineTargets(registry, subject));
      removed.onlineItems = counts.deleted;
      removed.onlineItemsScrubbed = counts.scrubbed;
      break;
    }
    case 'offline': {
      const view = registry.views.get(chunk.view);
      if (!view) break;
      const columns = scrubPlan(registry, subject).get(view.name);
      const stored = await getIfPresent(objects, chunk.key);
      if (!stored) break;
      const rows = await decodeRows(view, stored);
      const kept = [];
      for (const row of rows) {
        const record = toOfflineRecord(view, row);
        if (!recordBelongsTo(record, subject)) kept.push(row);
        else if (columns) {
          kept.push(fromOfflineRecord(view, scrubRow(record, columns, subject) ?? record));
          removed.offlineRowsScrubbed += 1;
        } else removed.offlineRows += 1;
      }
      if (!removed.offlineRows && !removed.offlineRowsScrubbed) break;
      if (kept.length) {
        await objects.put(chunk.key, await encodeRows(view, kept), 'application/vnd.apache.parquet');
        removed.offlineObjectsRewritten = 1;
      } else {
        await objects.delete(chunk.key);
        removed.offlineObjectsDeleted = 1;
      }
      changedKeys.push(chunk.key);
      break;
    }
    case 'raw': {
      const stored = await getIfPresent(objects, chunk.key);
      if (!stored) break;
      const gzipped = stored[0] === 0x1f && stored[1] === 0x8b;
      const lines = (gzipped ? gunzipSync(stored) : stored).toString('utf8').split('\n');
      const kept = lines.filter((line) => line.trim() === '' || !lineBelongsTo(line, subject));
      if (kept.length === lines.length) break;
      removed.rawRecords = lines.length - kept.length;
      if (kept.some((line) => line.trim() !== '')) {
        const text = Buffer.from(kept.join('\n'));
        await objects.put(chunk.key, gzipped ? gzipSync(text) : text, 'application/x-ndjson');
        removed.rawObjectsRewritten = 1;
      } else {
        await objects.delete(chunk.key);
      }
      changedKeys.push(chunk.key);
      break;
    }
    case 'deadLetters': {
      for (const object of await objects.list(BUCKET_PREFIX.deadLetter)) {
        const letter = JSON.parse((await objects.get(object.key)).toString('utf8')) as { payload?: string | null; payloadBase64?: string };
        const payload = letter.payload ?? Buffer.from(letter.payloadBase64 ?? '', 'base64').toString('latin1');
        if (!lineBelongsTo(payload, subject)) continue;
        await objects.delete(object.key);
        removed.deadLetters += 1;
        changedKeys.push(object.key);
      }
      break;
    }
  }
  return { removed, changedKeys };
}

/** The online rules of the subject for the table adapter: its own items, and other entities' items to scrub. */
function onlineTargets(registry: Registry, subject: ErasureSubject): OnlineErasureTargets {
  const own = onlineErasurePlan(registry, subject);
  const plan = scrubPlan(registry, subject);
  const scrubbed = scrubbedGroupPrefixes(registry, plan);
  const groups = [...new Set(onlineGroups(registry.views).values())];
  return {
    prefixes: [...own.keys, ...own.prefixes, ...scrubbed],
    owns: (pk) => own.matches(pk),
    scrub(item) {
      const group = groups.find((g) => item.pk.startsWith(`${g.name}#`));
      return group && scrubbed.includes(`${group.name}#`) ? scrubTierItem(group.views, item, plan, subject) : undefined;
    },
  };
}

/** A file listed when the job started may be gone when its chunk runs (a retried chunk deleted it): nothing to erase. */
async function getIfPresent(objects: BucketObjects, key: string): Promise<Buffer | undefined> {
  try {
    return await objects.get(key);
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/** A line of JSON belongs to the subject by its field; a line that is not JSON, by mentioning the value. */
function lineBelongsTo(line: string, subject: ErasureSubject): boolean {
  try {
    return recordBelongsTo(JSON.parse(line), subject);
  } catch {
    return textMentions(line, subject);
  }
}
