/**
 * The right to erasure: what belongs to one subject (an entity instance, `user_id=u0001`) in
 * every store, decided here once, so the erasure job only walks stores and applies these
 * rules. A record belongs to the subject when its field named like the entity's join key
 * holds the subject's value — a row of a view keyed by the entity (a composite key that
 * includes it too), a raw event, the payload of a dead letter — and is deleted. A row of a
 * view keyed by another entity that stores the id as a feature (the merchant view's
 * `user_id`) is the other entity's: it stays, with the id nulled (erasure-scrub.ts). Pure.
 *
 * The online state of one (view, entity) is `onlineItemKeysOf(view, entityId)` plus items whose
 * key starts with `itemKey(view, entityId) + '#'`; the erasure job deletes both.
 */
import { createHash } from 'node:crypto';
import type { Entity, FeatureView } from './definitions.js';
import { encodeEntityId, itemKey } from './entity-key.js';
import { ValidationError } from './errors.js';
import type { Registry } from './registry.js';

export interface ErasureSubject {
  readonly entity: Entity;
  readonly value: string | number;
}

/** The keys of the online items holding one (view, entity)'s state: its group's hot item and the tiers below (online.ts). */
export function onlineItemKeysOf(view: FeatureView, entityId: string): string[] {
  const hot = itemKey(view, entityId);
  return [hot, `${hot}#1`, `${hot}#2`];
}

/** `user_id=u0001` → the subject, with the value typed as the entity's key. */
export function parseSubject(registry: Registry, text: string): ErasureSubject {
  const at = text.indexOf('=');
  const joinKey = text.slice(0, Math.max(at, 0));
  const raw = text.slice(at + 1);
  const entity = [...registry.entities.values()].find((e) => e.joinKey === joinKey);
  if (at <= 0 || raw === '') throw new ValidationError(`--entity: "${text}" is not <join key>=<value>, e.g. user_id=u0001`);
  if (!entity) throw new ValidationError(`--entity: no entity has the join key "${joinKey}"`);
  if (entity.keyType === 'int' && !/^-?\d+$/.test(raw)) throw new ValidationError(`--entity: ${joinKey} is an integer key; "${raw}" is not`);
  return { entity, value: entity.keyType === 'int' ? Number(raw) : raw };
}

/** A stable pseudonym of the subject for receipts: they must not hold the id they prove erased. */
export function subjectPseudonym(subject: ErasureSubject): string {
  return createHash('sha256').update(`${subject.entity.joinKey}=${subject.value}`).digest('hex');
}

/** Whether a decoded record (event, offline row, dead-letter payload) belongs to the subject. */
export function recordBelongsTo(record: unknown, subject: ErasureSubject): boolean {
  if (record === null || typeof record !== 'object') return false;
  const value = (record as Record<string, unknown>)[subject.entity.joinKey];
  return value !== undefined && value !== null && String(value) === String(subject.value);
}

/**
 * Whether undecodable text (a line that is not JSON) mentions the subject's value as a whole
 * token: such a line cannot be checked field by field, and keeping it could keep the subject.
 */
export function textMentions(text: string, subject: ErasureSubject): boolean {
  const value = String(subject.value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_])${value}([^A-Za-z0-9_]|$)`).test(text);
}

/** What to look for in the online table: exact keys, and key prefixes only a scan can find. */
export interface OnlineErasurePlan {
  readonly keys: readonly string[];
  /** Keys starting with one of these belong to the subject when `matches` says so. */
  readonly prefixes: readonly string[];
  matches(pk: string): boolean;
}

export function onlineErasurePlan(registry: Registry, subject: ErasureSubject): OnlineErasurePlan {
  const keys: string[] = [];
  const exact: string[] = [];
  const composite: { prefix: string; position: number }[] = [];
  const encoded = encodeEntityId([subject.value]);
  for (const view of registry.views.values()) {
    const position = view.entities.findIndex((e) => e.name === subject.entity.name);
    if (position < 0) continue;
    if (view.entities.length === 1) {
      keys.push(...onlineItemKeysOf(view, encoded));
      exact.push(`${itemKey(view, encoded)}#`);
    } else {
      composite.push({ prefix: itemKey(view, ''), position });
    }
  }
  return {
    keys,
    prefixes: [...exact, ...composite.map((c) => c.prefix)],
    matches(pk) {
      if (keys.includes(pk) || exact.some((p) => pk.startsWith(p))) return true;
      return composite.some(({ prefix, position }) => {
        if (!pk.startsWith(prefix)) return false;
        // The entity id ends at the first '#' after the view's prefix (state items extend it with '#…').
        const entityId = pk.slice(prefix.length).split('#')[0] ?? '';
        return entityId.split('|')[position] === encoded;
      });
    },
  };
}

export interface ErasureCounts {
  onlineItems: number;
  /** Items of other entities (a merchant's) whose values named the subject, now nulled. */
  onlineItemsScrubbed: number;
  offlineRows: number;
  /** Rows of other entities' views that named the subject, rewritten with it nulled. */
  offlineRowsScrubbed: number;
  offlineObjectsRewritten: number;
  offlineObjectsDeleted: number;
  rawRecords: number;
  rawObjectsRewritten: number;
  deadLetters: number;
  noncurrentVersionsPurged: number;
}

export const noErasures = (): ErasureCounts => ({
  onlineItems: 0,
  onlineItemsScrubbed: 0,
  offlineRows: 0,
  offlineRowsScrubbed: 0,
  offlineObjectsRewritten: 0,
  offlineObjectsDeleted: 0,
  rawRecords: 0,
  rawObjectsRewritten: 0,
  deadLetters: 0,
  noncurrentVersionsPurged: 0,
});

export const erasedAnything = (counts: ErasureCounts): boolean => Object.values(counts).some((n) => n > 0);

/** Deliveries of an erasure chunk before its queue moves it to the dead-letter queue (and the job counts it failed). */
export const ERASURE_MAX_RECEIVES = 3;

export const ERASURE_RECEIPT_PREFIX = 'erasure/receipts/';

/** The record that an erasure happened: what was removed, when, by whom, why — naming the subject only by pseudonym. */
export interface ErasureReceipt {
  readonly subject: { readonly entity: string; readonly joinKey: string; readonly pseudonym: string };
  readonly erasedAt: string;
  readonly erasedBy: string;
  readonly reason: string | null;
  readonly removed: ErasureCounts;
}

export const receiptKey = (pseudonym: string, at: number): string =>
  `${ERASURE_RECEIPT_PREFIX}${pseudonym}/${new Date(at).toISOString().replaceAll(':', '-')}.json`;

export const addCounts = (a: ErasureCounts, b: Partial<ErasureCounts>): ErasureCounts =>
  Object.fromEntries(Object.entries(a).map(([name, n]) => [name, n + (b[name as keyof ErasureCounts] ?? 0)])) as unknown as ErasureCounts;

/** The parts of an erasure job, each counted in its progress: online scan segments, offline partitions (files), raw archive files, dead letters. */
export const ERASURE_PARTS = ['online', 'offline', 'raw', 'deadLetters'] as const;
export type ErasurePart = (typeof ERASURE_PARTS)[number];

/** An erasure job's progress: chunks per part and how many are done, what was removed so far. Names the subject by pseudonym only. */
export interface ErasureJob {
  readonly id: string;
  readonly subject: ErasureReceipt['subject'];
  readonly erasedBy: string;
  readonly reason: string | null;
  readonly createdAt: number;
  readonly chunks: Readonly<Record<ErasurePart, number>>;
  readonly done: Readonly<Record<ErasurePart, number>>;
  readonly failed: number;
  readonly removed: ErasureCounts;
  /** Set once every chunk is done and something was removed. */
  readonly receiptKey?: string;
}

export const chunkCount = (job: ErasureJob): number => ERASURE_PARTS.reduce((n, part) => n + job.chunks[part], 0);
export const finishedChunks = (job: ErasureJob): number => ERASURE_PARTS.reduce((n, part) => n + job.done[part], job.failed);
const allChunksDone = (job: ErasureJob): boolean => finishedChunks(job) >= chunkCount(job);
/** Every chunk done or failed, and the receipt written if one is due: what a follower waits for. */
export const jobComplete = (job: ErasureJob): boolean => allChunksDone(job) && (job.failed > 0 || !erasedAnything(job.removed) || job.receiptKey !== undefined);
/** Whether the worker that counted this state finished the last chunk and owes the receipt. */
export const receiptDue = (job: ErasureJob): boolean => allChunksDone(job) && job.failed === 0 && erasedAnything(job.removed) && job.receiptKey === undefined;

/** The receipt of a job every chunk of which succeeded. */
export const receiptOf = (job: ErasureJob, at: number): ErasureReceipt => ({
  subject: job.subject,
  erasedAt: new Date(at).toISOString(),
  erasedBy: job.erasedBy,
  reason: job.reason,
  removed: job.removed,
});

/** One line of progress: `offline partitions 3/8, online segments 4/4, raw files 1/2, dead letters 1/1`. */
export function progressLine(job: ErasureJob): string {
  const label: Record<ErasurePart, string> = { online: 'online segments', offline: 'offline partitions', raw: 'raw files', deadLetters: 'dead letters' };
  const parts = ERASURE_PARTS.map((part) => `${label[part]} ${job.done[part]}/${job.chunks[part]}`);
  const r = job.removed;
  return `${parts.join(', ')}${job.failed ? `, ${job.failed} failed` : ''} — removed ${r.onlineItems} online items, ${r.offlineRows} offline rows, ${r.rawRecords} raw records, ${r.deadLetters} dead letters; nulled the id in ${r.onlineItemsScrubbed} items, ${r.offlineRowsScrubbed} rows of other entities`;
}
