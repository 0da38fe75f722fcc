/**
 * Feast's online-serving shape (`POST /get-online-features` of the Feast feature server), so a
 * team coming from Feast can point Feast's own SDK (`online_store: {type: remote}`) at Tessera:
 * columnar entities in, one result per feature (join keys first) out, with Feast's status
 * names. Translated to and from the native request, so both shapes share every rule (access,
 * TTL, windows); what differs is only what Feast's SDK needs to read an answer:
 *
 * - the request is read as Feast 0.67's server reads it: `feature_service` wins over
 *   `features`, unknown keys are ignored, a number given for a string join key is that
 *   number's text;
 * - a feature with nothing to serve is null + NOT_FOUND: an entity the online store has never
 *   seen (where the native route answers a count of 0), and an empty `last_n` window (the SDK
 *   cannot type an empty list);
 * - features of one name from several views need `full_feature_names`, as in Feast;
 * - float features are written as JSON floats (`10.0`), so the SDK types them as doubles;
 * - a row feature carries its row's event time; a windowed aggregation and an on-demand
 *   feature carry the request time (the end of the window the value covers).
 */
import * as z from 'zod';
import type { Entity, FeatureType } from './definitions.js';
import { ValidationError } from './errors.js';
import type { FeatureStatus, TierItem } from './online.js';
import type { ReadPlan } from './registry.js';
import type { FeaturesRequest, FeaturesResponse, RequestPlan } from './serving.js';

const column = z.array(z.union([z.string(), z.number(), z.boolean(), z.null()]));

/** Feast 0.67's `GetOnlineFeaturesRequest`, plus `request_context` (older Feast servers' name for request data). */
export const FeastRequest = z
  .object({
    features: z.array(z.string().min(1)).optional().describe('Feature references, view:feature; ignored when feature_service is given'),
    feature_service: z.string().min(1).optional(),
    entities: z.record(z.string(), column).describe('Join key (or request data field) → values, one per entity row'),
    request_context: z.record(z.string(), column).optional(),
    full_feature_names: z.boolean().optional(),
    include_feature_view_version_metadata: z.boolean().optional(),
  })
  .refine((r) => r.feature_service !== undefined || (r.features?.length ?? 0) > 0, { message: 'give "feature_service" or a non-empty "features"' });
export type FeastRequest = z.infer<typeof FeastRequest>;

export const FeastResponse = z.object({
  metadata: z.object({
    feature_names: z.array(z.string()),
    feature_view_metadata: z.array(z.object({ name: z.string(), version: z.number().int().optional() })).optional(),
  }),
  results: z.array(z.object({ values: z.array(z.unknown()), statuses: z.array(z.string()), event_timestamps: z.array(z.string()) })),
});
export type FeastResponse = z.infer<typeof FeastResponse>;

export interface FeastOptions {
  readonly fullNames: boolean;
  readonly versionMetadata: boolean;
}

const STATUS: Record<FeatureStatus, string> = { present: 'PRESENT', missing: 'NOT_FOUND', expired: 'OUTSIDE_MAX_AGE' };
/** Feast's event time for values that have none (join keys, values not found). */
const EPOCH = '1970-01-01T00:00:00Z';

/** The native request for a Feast body; `entities` are the join keys of the registry's entities. */
export function fromFeastRequest(body: unknown, entities: Iterable<Entity>): { request: FeaturesRequest; options: FeastOptions } {
  const parsed = FeastRequest.safeParse(body);
  if (!parsed.success) throw new ValidationError(z.prettifyError(parsed.error).replaceAll('\n', '; '), { issues: parsed.error.issues });
  const feast = parsed.data;
  const stringKeys = new Set([...entities].filter((e) => e.keyType === 'string').map((e) => e.joinKey));
  const columns = { ...feast.entities, ...feast.request_context };
  const lengths = new Set(Object.values(columns).map((c) => c.length));
  if (lengths.size !== 1) throw new ValidationError('every entities and request_context column must have the same length');
  const count = [...lengths][0] as number;
  const valueAt = (key: string, values: (typeof columns)[string], i: number) => {
    const value = values[i] ?? null;
    // Feast coerces entity values to the entity's declared type; its SDK sends `1` for `{"user_id": 1}`.
    return typeof value === 'number' && stringKeys.has(key) ? String(value) : value;
  };
  const rows = Array.from({ length: count }, (_, i) => Object.fromEntries(Object.entries(columns).map(([key, values]) => [key, valueAt(key, values, i)])));
  const request: FeaturesRequest = feast.feature_service
    ? { service: feast.feature_service, entities: rows }
    : { features: feast.features as string[], entities: rows };
  return { request, options: { fullNames: feast.full_feature_names ?? false, versionMetadata: feast.include_feature_view_version_metadata ?? false } };
}

/** What the serve path knows after answering a request natively: the answer, its plan, the items read and when. */
export interface ServedRequest {
  readonly response: FeaturesResponse;
  readonly planned: RequestPlan;
  readonly items: ReadonlyMap<string, TierItem>;
  readonly now: number;
}

export function toFeastResponse({ response, planned, items, now }: ServedRequest, options: FeastOptions): FeastResponse {
  const { plan } = planned;
  const featureNames = plan.features.map((f) => (options.fullNames ? f.column : f.feature));
  const collisions = featureNames.filter((name, i) => featureNames.indexOf(name) !== i);
  if (collisions.length > 0) {
    // Feast's FeatureNameCollisionError: the answer would have two columns of one name.
    throw new ValidationError(`features named alike in several views (${[...new Set(collisions)].join(', ')}): set full_feature_names`, {
      features: [...new Set(collisions)],
    });
  }
  const requestTime = new Date(now).toISOString();
  const keyResults = plan.joinKeys.map((key) => ({
    values: response.results.map((r) => r.entity[key] ?? null),
    statuses: response.results.map(() => 'PRESENT'),
    event_timestamps: response.results.map(() => EPOCH),
  }));
  const featureResults = plan.features.map((feature) => {
    const cells = response.results.map((result, row) => {
      const value = result.values[feature.column] ?? null;
      const status = result.status[feature.column] ?? 'missing';
      const stored = feature.kind !== 'onDemand';
      const unknownEntity = stored && !items.has(planned.rows[row]?.pks.get(feature.view)?.[0] as string);
      if (unknownEntity || status === 'missing' || (Array.isArray(value) && value.length === 0)) {
        return { value: null, status: STATUS.missing, at: EPOCH };
      }
      const eventTs = result.eventTimestamps[feature.column];
      const at = feature.kind === 'row' ? (eventTs === null || eventTs === undefined ? EPOCH : new Date(eventTs).toISOString()) : requestTime;
      return { value: status === 'present' ? value : null, status: STATUS[status], at };
    });
    return { values: cells.map((c) => c.value), statuses: cells.map((c) => c.status), event_timestamps: cells.map((c) => c.at) };
  });
  const metadata: FeastResponse['metadata'] = { feature_names: [...plan.joinKeys, ...featureNames] };
  if (options.versionMetadata) metadata.feature_view_metadata = viewVersions(plan);
  return { metadata, results: [...keyResults, ...featureResults] };
}

/** The views a response's features come from, with their versions (Feast's `feature_view_metadata`; on-demand features have none). */
function viewVersions(plan: ReadPlan): { name: string; version?: number }[] {
  const versions = new Map(plan.views.map(({ view }) => [view.name, view.version]));
  const names = [...new Set(plan.features.map((f) => f.view))];
  return names.map((name) => {
    const version = versions.get(name);
    return version === undefined ? { name } : { name, version };
  });
}

const FLOAT_TYPES: ReadonlySet<FeatureType> = new Set(['float', 'float[]']);

/**
 * The response as JSON text, float features written as floats: `JSON.stringify(10)` is `10`,
 * which Python reads as an int and Feast's SDK then types as int64.
 */
export function feastResponseText(feast: FeastResponse, plan: ReadPlan): string {
  const floats = [...plan.joinKeys.map(() => false), ...plan.features.map((f) => FLOAT_TYPES.has(f.type))];
  const results = feast.results.map((result, i) => {
    const values = floats[i] ? `[${result.values.map(floatText).join(',')}]` : JSON.stringify(result.values);
    return `{"values":${values},"statuses":${JSON.stringify(result.statuses)},"event_timestamps":${JSON.stringify(result.event_timestamps)}}`;
  });
  return `{"metadata":${JSON.stringify(feast.metadata)},"results":[${results.join(',')}]}`;
}

function floatText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(floatText).join(',')}]`;
  // Beyond 1e21 JavaScript already writes an exponent, which Python reads as a float.
  if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 1e21) return value.toFixed(1);
  return JSON.stringify(value ?? null);
}
