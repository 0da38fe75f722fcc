/**
 * Feast's online-serving shape (`POST /get-online-features` of the Feast feature server), so
 * Feast clients can switch without rewriting: columnar entities in, one result per feature
 * (join keys first) out, with Feast's status names. Translated to and from the native
 * request, so both shapes share every rule.
 */
import * as z from 'zod';
import { ValidationError } from './errors.js';
import type { FeatureStatus } from './online.js';
import type { FeaturesRequest, FeaturesResponse } from './serving.js';

const column = z.array(z.union([z.string(), z.number(), z.boolean(), z.null()]));

export const FeastRequest = z
  .object({
    features: z.array(z.string().min(1)).min(1).optional(),
    feature_service: z.string().min(1).optional(),
    entities: z.record(z.string(), column).describe('Join key → values, one per entity row'),
    request_context: z.record(z.string(), column).optional(),
    full_feature_names: z.boolean().optional(),
  })
  .strict();
export type FeastRequest = z.infer<typeof FeastRequest>;

export const FeastResponse = z.object({
  metadata: z.object({ feature_names: z.array(z.string()) }),
  results: z.array(z.object({ values: z.array(z.unknown()), statuses: z.array(z.string()), event_timestamps: z.array(z.string()) })),
});
export type FeastResponse = z.infer<typeof FeastResponse>;

const STATUS: Record<FeatureStatus, string> = { present: 'PRESENT', missing: 'NOT_FOUND', expired: 'OUTSIDE_MAX_AGE' };
const EPOCH = '1970-01-01T00:00:00Z';

export function fromFeastRequest(body: unknown): { request: FeaturesRequest; fullNames: boolean } {
  const parsed = FeastRequest.safeParse(body);
  if (!parsed.success) throw new ValidationError(z.prettifyError(parsed.error).replaceAll('\n', '; '), { issues: parsed.error.issues });
  const feast = parsed.data;
  const columns = { ...feast.entities, ...feast.request_context };
  const lengths = new Set(Object.values(columns).map((c) => c.length));
  if (lengths.size !== 1) throw new ValidationError('every entities and request_context column must have the same length');
  const count = [...lengths][0] as number;
  const entities = Array.from({ length: count }, (_, i) => Object.fromEntries(Object.entries(columns).map(([k, values]) => [k, values[i] ?? null])));
  const request: FeaturesRequest = {
    ...(feast.feature_service ? { service: feast.feature_service } : {}),
    ...(feast.features ? { features: feast.features } : {}),
    entities,
  };
  return { request, fullNames: feast.full_feature_names ?? false };
}

export function toFeastResponse(response: FeaturesResponse, joinKeys: readonly string[], fullNames: boolean): FeastResponse {
  const keyResults = joinKeys.map((key) => ({
    values: response.results.map((r) => r.entity[key] ?? null),
    statuses: response.results.map(() => 'PRESENT'),
    event_timestamps: response.results.map(() => EPOCH),
  }));
  const featureResults = response.features.map((name) => ({
    values: response.results.map((r) => r.values[name] ?? null),
    statuses: response.results.map((r) => STATUS[r.status[name] ?? 'missing']),
    event_timestamps: response.results.map((r) => {
      const at = r.eventTimestamps[name];
      return at ? new Date(at).toISOString() : EPOCH;
    }),
  }));
  const featureNames = response.features.map((name) => (fullNames ? name : name.slice(name.indexOf('__') + 2)));
  return { metadata: { feature_names: [...joinKeys, ...featureNames] }, results: [...keyResults, ...featureResults] };
}
