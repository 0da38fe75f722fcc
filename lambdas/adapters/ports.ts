/**
 * The ports: what app/ and the handlers need from the outside world, shaped by the domain and
 * not by the SDK. The convention of this folder: every interface lives here, apart from the
 * modules that implement it against one AWS service or engine (online-store.ts on DynamoDB,
 * offline-writer.ts on S3, ...), so a use case imports this file and never an SDK. The query
 * engines' ports are query-runner.ts, which holds no implementation either.
 */
import type { AuditEntry } from '../core/audit.js';
import type { EventSchema, FeatureView } from '../core/definitions.js';
import type { TimedRow } from '../core/freshness.js';
import type { Rejection, ViewRow } from '../core/ingest.js';
import type { StoredObject } from '../core/offline.js';
import type { OnlineGroup, PositionedRow, TierItem } from '../core/online.js';

export interface OnlineStore {
  /** Items by partition key, read whole; keys with no item are absent. */
  read(pks: readonly string[]): Promise<Map<string, TierItem>>;
  /** Applies rows of one group, by entity id, at time `now`; resolves to the entity ids whose write failed. */
  apply(group: OnlineGroup, rowsByEntity: ReadonlyMap<string, readonly PositionedRow[]>, now: number): Promise<string[]>;
}

export interface OfflineWriter {
  /**
   * Writes rows of one view. `batch` names what they came from (e.g. shard, first and last
   * sequence number): writing the same batch again replaces what it wrote before.
   */
  write(view: FeatureView, rows: readonly ViewRow[], batch: readonly string[]): Promise<void>;
}

export interface StreamRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

export interface EventStream {
  /** Resolves to the number of records that could not be written before the deadline. */
  put(streamName: string, records: readonly StreamRecord[]): Promise<{ failed: number }>;
}

export interface Claim {
  readonly eventId: string;
  /** The record's position: `<shard>/<sequence>` or `<file>/<line>`. */
  readonly position: string;
}

export interface ClaimOutcome {
  /** Positions of records whose event id another position owns. */
  readonly duplicates: ReadonlySet<string>;
  /** Positions whose claim could not be written (throttling, errors): retry them. */
  readonly failed: ReadonlySet<string>;
}

export interface EventClaims {
  /** Claims each event id for its position until `expiresAt` (epoch ms). */
  claim(source: string, claims: readonly Claim[], now: number, expiresAt: number): Promise<ClaimOutcome>;
}

export interface DeadLetter {
  readonly source: string;
  /** Where the record came from: `<shard>/<sequence number>` for a stream, a request id for a push. */
  readonly position: string;
  /** When the record reached Tessera (epoch ms); it dates the key, so keep it stable across retries. */
  readonly arrivedAt: number;
  readonly rejection: Rejection;
  /** The payload exactly as received, base64. */
  readonly payloadBase64: string;
}

export interface DeadLetterSink {
  write(letters: readonly DeadLetter[]): Promise<void>;
}

export interface BatchFile {
  readonly bucket: string;
  readonly key: string;
}

/** One event of a file: its 1-based position and the decoded object, or why it could not be decoded. */
export type FileEvent =
  | { readonly line: number; readonly event: unknown; readonly raw: string }
  | { readonly line: number; readonly error: string; readonly raw: string };

export interface BatchFiles {
  list(bucket: string, prefix: string, from: number, to: number): Promise<BatchFile[]>;
  read(file: BatchFile, schema: EventSchema): Promise<FileEvent[]>;
}

export interface Chunk {
  readonly jobId: string;
  readonly source: string;
  readonly bucket: string;
  readonly key: string;
}

/** One message per chunk; the erasure job sends its own chunk type on its own queue. */
export interface ChunkQueue<T = Chunk> {
  enqueue(chunks: readonly T[]): Promise<void>;
}

export interface JobProgress {
  readonly id: string;
  readonly source: string;
  readonly from: number;
  readonly to: number;
  readonly chunks: number;
  readonly done: number;
  readonly failed: number;
  readonly rows: number;
  readonly rejected: number;
  readonly createdAt: number;
}

export interface JobStore {
  create(job: Omit<JobProgress, 'done' | 'failed' | 'rows' | 'rejected'>): Promise<void>;
  record(id: string, delta: { done?: number; failed?: number; rows?: number; rejected?: number }): Promise<void>;
  get(id: string): Promise<JobProgress | undefined>;
}

export interface AuditTrail {
  record(entry: AuditEntry): void;
  /** Resolves once every entry recorded so far is delivered. */
  flush(): Promise<void>;
}

export interface FreshnessRecorder {
  /** Records the rows one batch made servable (not those of failed writes: their retry records them). */
  record(rows: readonly TimedRow[]): void;
}

/** The offline store's objects as compaction sees them; reads and deletes hold only while an object is unchanged. */
export interface OfflineObjects {
  /** Every offline object, with the ETag it has now. */
  list(): Promise<StoredObject[]>;
  /** The object's rows; undefined when it changed (or went) since it was listed. */
  read(view: FeatureView, object: StoredObject): Promise<ViewRow[] | undefined>;
  write(view: FeatureView, key: string, rows: readonly ViewRow[]): Promise<void>;
  /** Deletes the object unless it changed since it was listed (then the next run sees it). */
  deleteIfUnchanged(object: StoredObject): Promise<void>;
}

/** Where the daily profile job writes a service's profiles of a day. */
export interface ProfileSink {
  /** Replaces the object at `key` with these JSON lines. */
  write(key: string, lines: readonly string[]): Promise<void>;
}

/** Where the daily profile job reports drift (deployed: EMF metrics the PSI alarms watch). */
export interface PsiRecorder {
  /** The PSI of each feature of a service that has a reference, and their largest. */
  record(service: string, psiByFeature: ReadonlyMap<string, number>): void;
}
