/**
 * From a raw source record to feature rows: parse, validate against the source schema, run
 * every view's transform, check the output types. One function for the stream handler, the
 * batch handler and `/v1/push`; a record either yields rows for every view of its source or
 * a dead-letter reason, never half of each: every check of every view (event time, keys,
 * transform output) runs before anything is written.
 */
import * as z from 'zod';
import type { FeatureView, Row, Source } from './definitions.js';
import { formatDuration } from './duration.js';
import { entityIdOf, itemKeyProblem } from './entity-key.js';
import { TesseraError } from './errors.js';
import { type EventTimeWindow, type Registry, rowProblem } from './registry.js';

/** One transformed row of one view: what the online and offline stores receive. */
export interface ViewRow {
  readonly view: string;
  readonly entityId: string;
  /** Join key values, by join key name. */
  readonly keys: Readonly<Record<string, string | number>>;
  readonly eventTs: number;
  readonly ingestTs: number;
  readonly eventId: string;
  readonly values: Row;
}

export type RejectionCode = 'MalformedPayload' | 'SchemaMismatch' | 'EventTimeOutOfRange' | 'KeyTooLong' | 'TransformFailed' | 'InvalidOutput';

export interface Rejection {
  readonly code: RejectionCode;
  readonly message: string;
  readonly view?: string;
}

export type IngestOutcome =
  | { readonly ok: true; readonly eventId: string; readonly eventTs: number; readonly rows: readonly ViewRow[] }
  | { readonly ok: false; readonly rejection: Rejection };

/** Epoch milliseconds from an integer or an ISO-8601 string; undefined when neither. */
export function toEpochMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** The event times every path can store: 1970-01-01 to the end of 9999 (ISO-8601, Parquet and both SQL engines hold these). */
export const EARLIEST_EVENT_TIME = 0;
export const LATEST_EVENT_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const iso = (ms: number) => new Date(ms).toISOString();

/** Why an event time is not accepted at `ingestTs`, or undefined when it is. */
export function eventTimeProblem(eventTs: number, ingestTs: number, window: EventTimeWindow): string | undefined {
  if (eventTs < EARLIEST_EVENT_TIME || eventTs > LATEST_EVENT_TIME) {
    return `event time ${eventTs} is outside the storable range ${iso(EARLIEST_EVENT_TIME)} to ${iso(LATEST_EVENT_TIME)}`;
  }
  if (eventTs > ingestTs + window.maxFutureSkewMs) {
    return `event time ${iso(eventTs)} is more than maxFutureSkew ${formatDuration(window.maxFutureSkewMs)} ahead of the ingest time ${iso(ingestTs)}`;
  }
  if (window.maxAgeMs !== undefined && eventTs < ingestTs - window.maxAgeMs) {
    return `event time ${iso(eventTs)} is more than maxAge ${formatDuration(window.maxAgeMs)} behind the ingest time ${iso(ingestTs)}`;
  }
  return undefined;
}

export class Ingestor {
  private readonly viewsBySource = new Map<string, FeatureView[]>();
  private readonly windows: ReadonlyMap<string, EventTimeWindow>;

  constructor(registry: Registry) {
    for (const source of registry.sources.values()) this.viewsBySource.set(source.name, registry.viewsOfSource(source.name));
    this.windows = registry.eventTimeWindows;
  }

  /** Parses and transforms one record; `payload` is the record's bytes as the producer sent them. */
  ingest(source: Source, payload: string | Uint8Array, ingestTs: number): IngestOutcome {
    const decoded = decodePayload(payload);
    return 'json' in decoded ? this.ingestEvent(source, decoded.json, ingestTs) : { ok: false, rejection: decoded.rejection };
  }

  /** Validates and transforms an already-decoded event. */
  ingestEvent(source: Source, json: unknown, ingestTs: number): IngestOutcome {
    const parsed = source.schema.safeParse(json);
    if (!parsed.success) return reject('SchemaMismatch', z.prettifyError(parsed.error).replaceAll('\n', '; '));
    const event = parsed.data as Row;
    const eventTs = toEpochMs(event[source.eventTimeField]);
    if (eventTs === undefined) return reject('SchemaMismatch', `"${source.eventTimeField}" is not an event time (epoch ms or ISO-8601)`);
    const timeProblem = eventTimeProblem(eventTs, ingestTs, this.windows.get(source.name) as EventTimeWindow);
    if (timeProblem) return reject('EventTimeOutOfRange', `"${source.eventTimeField}": ${timeProblem}`);
    const eventId = String(event[source.eventIdField]);
    const rows: ViewRow[] = [];
    for (const view of this.viewsBySource.get(source.name) ?? []) {
      let values: Row | null;
      let entityId: string;
      try {
        entityId = entityIdOf(view, event);
        values = view.transform(event);
      } catch (error) {
        const message = error instanceof TesseraError ? error.message : `the transform threw: ${(error as Error).message}`;
        return reject('TransformFailed', message, view.name);
      }
      if (values === null) continue;
      const keyProblem = itemKeyProblem(view, entityId);
      if (keyProblem) return reject('KeyTooLong', keyProblem, view.name);
      const problem = rowProblem(view, values);
      if (problem) return reject('InvalidOutput', problem, view.name);
      const keys = Object.fromEntries(view.entities.map((e) => [e.joinKey, event[e.joinKey] as string | number]));
      rows.push({ view: view.name, entityId, keys, eventTs, ingestTs, eventId, values });
    }
    return { ok: true, eventId, eventTs, rows };
  }
}

/** A record's bytes as JSON, or the rejection of a malformed payload. */
export function decodePayload(payload: string | Uint8Array): { readonly json: unknown } | { readonly rejection: Rejection } {
  try {
    return { json: JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8')) };
  } catch (error) {
    return { rejection: { code: 'MalformedPayload', message: `not JSON: ${(error as Error).message}` } };
  }
}

function reject(code: RejectionCode, message: string, view?: string): IngestOutcome {
  return { ok: false, rejection: { code, message: view ? `feature view "${view}": ${message}` : message, ...(view ? { view } : {}) } };
}
