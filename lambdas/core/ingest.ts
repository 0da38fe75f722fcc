/**
 * From a raw source record to feature rows: parse, validate against the source schema, run
 * every view's transform, check the output types. One function for the stream handler, the
 * batch handler and `/v1/push`; a record either yields rows for every view of its source or
 * a dead-letter reason, never half of each.
 */
import * as z from 'zod';
import type { FeatureView, Row, Source } from './definitions.js';
import { entityIdOf } from './entity-key.js';
import { TesseraError } from './errors.js';
import { type Registry, rowProblem } from './registry.js';

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

export type RejectionCode = 'MalformedPayload' | 'SchemaMismatch' | 'TransformFailed' | 'InvalidOutput';

export interface Rejection {
  readonly code: RejectionCode;
  readonly message: string;
  readonly view?: string;
}

export type IngestOutcome =
  | { readonly ok: true; readonly eventId: string; readonly eventTs: number; readonly rows: readonly ViewRow[] }
  | { readonly ok: false; readonly rejection: Rejection };

/** Epoch milliseconds from a number or an ISO-8601 string; undefined when neither. */
export function toEpochMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

export class Ingestor {
  private readonly viewsBySource = new Map<string, FeatureView[]>();

  constructor(registry: Registry) {
    for (const source of registry.sources.values()) this.viewsBySource.set(source.name, registry.viewsOfSource(source.name));
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
