/**
 * The serving API's core, free of transport: request schemas, the plan of one request (which
 * items to read) and the response assembled from the items read. The serve handler is glue
 * around these two functions; the OpenAPI document is generated from the same schemas.
 */
import * as z from 'zod';
import { entityIdOf, itemKeyProblem, MAX_ITEM_KEY_BYTES } from './entity-key.js';
import { API_ERROR_CODES, PayloadTooLargeError, ValidationError } from './errors.js';
import { evaluateOnDemand } from './on-demand.js';
import { type FeatureValue, onlineGroups, readFeatures, type TierItem, tierKeys } from './online.js';
import type { ReadPlan, Registry } from './registry.js';

export const MAX_ENTITIES = 100;
/** The largest request body the handler parses (API Gateway itself admits up to 10 MB). */
export const MAX_BODY_BYTES = 256 * 1024;

const keyValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const FeaturesRequest = z
  .object({
    service: z.string().min(1).optional().describe('A feature service name, e.g. fraud_v1'),
    features: z.array(z.string().min(1)).min(1).max(500).optional().describe('Feature references, view:feature'),
    entities: z.array(z.record(z.string(), keyValue)).min(1).describe('Entity rows: join keys, plus request-context fields for on-demand features'),
  })
  .strict()
  .refine((r) => (r.service === undefined) !== (r.features === undefined), { message: 'give either "service" or "features"' });
export type FeaturesRequest = z.infer<typeof FeaturesRequest>;

export const FeatureStatusSchema = z.enum(['present', 'missing', 'expired']);

export const FeaturesResponse = z.object({
  service: z.string().nullable(),
  features: z.array(z.string()).describe('Column names, view__feature, in the order of every result row'),
  results: z.array(
    z.object({
      entity: z.record(z.string(), keyValue),
      values: z.record(z.string(), z.unknown()),
      status: z.record(z.string(), FeatureStatusSchema),
      eventTimestamps: z.record(z.string(), z.number().nullable()),
    }),
  ),
});
export type FeaturesResponse = z.infer<typeof FeaturesResponse>;

export const MAX_PUSH_EVENTS = 500;

export const PushRequest = z
  .object({
    source: z.string().min(1).describe('A stream source name, e.g. transactions'),
    events: z.array(z.record(z.string(), z.unknown())).min(1).max(MAX_PUSH_EVENTS),
  })
  .strict();
export type PushRequest = z.infer<typeof PushRequest>;

export const PushResponse = z.object({ source: z.string(), accepted: z.number().int() });

export const Health = z.object({ status: z.literal('ok') });

/** The body of every 4xx and 5xx response. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.enum(API_ERROR_CODES),
    message: z.string(),
    details: z.unknown().optional(),
    requestId: z.string(),
  }),
});

export interface RequestPlan {
  readonly service: string | null;
  readonly plan: ReadPlan;
  /** Per entity row, the keys of each view's items (its group's hot item, and the tiers below when aggregations are asked). */
  readonly rows: readonly { readonly entity: FeaturesRequest['entities'][number]; readonly pks: ReadonlyMap<string, readonly string[]> }[];
  /** Every item to read, once. */
  readonly pks: readonly string[];
}

/** Validates a request body and works out the items it needs. Throws ValidationError / NotFoundError. */
export function planRequest(registry: Registry, body: unknown): RequestPlan {
  if (Array.isArray((body as { entities?: unknown })?.entities) && (body as { entities: unknown[] }).entities.length > MAX_ENTITIES) {
    throw new PayloadTooLargeError(`at most ${MAX_ENTITIES} entity rows per request`, { limit: MAX_ENTITIES });
  }
  const parsed = FeaturesRequest.safeParse(body);
  if (!parsed.success) throw new ValidationError(z.prettifyError(parsed.error).replaceAll('\n', '; '), { issues: parsed.error.issues });
  const request = parsed.data;
  const plan = request.service ? registry.servicePlan(request.service) : registry.plan(request.features as string[]);
  const pks = new Set<string>();
  const groups = onlineGroups(registry.views);
  const rows = request.entities.map((entity, index) => {
    const byView = new Map<string, readonly string[]>();
    for (const { view, features } of plan.views) {
      let entityId: string;
      try {
        entityId = entityIdOf(view, entity);
      } catch (error) {
        throw new ValidationError(`entities[${index}]: ${(error as Error).message}`, { index }, { cause: error });
      }
      const keyProblem = itemKeyProblem(view, entityId);
      if (keyProblem) throw new ValidationError(`entities[${index}]: ${keyProblem}`, { index, limitBytes: MAX_ITEM_KEY_BYTES });
      const keys = tierKeys(groups.get(view.name) as NonNullable<ReturnType<typeof groups.get>>, entityId);
      const needed = features.some((f) => f.kind === 'aggregation') ? keys : keys.slice(0, 1);
      byView.set(view.name, needed);
      for (const pk of needed) pks.add(pk);
    }
    return { entity, pks: byView };
  });
  return { service: request.service ?? null, plan, rows, pks: [...pks] };
}

/** Where each value of a response comes from: [view index, feature index] in `plan.views`, or an on-demand output. */
type Source = { readonly view: number; readonly feature: number } | { readonly onDemand: number; readonly name: string };

interface Layout {
  readonly columns: readonly { readonly column: string; readonly source: Source }[];
  /** The position in `plan.views` of every stored feature, by reference: where on-demand inputs are read. */
  readonly inputs: ReadonlyMap<string, { readonly view: number; readonly feature: number }>;
  readonly featureColumns: readonly string[];
}

const layouts = new WeakMap<ReadPlan, Layout>();

/** A plan's layout, derived once per plan: service plans live as long as the registry. */
function layoutOf(plan: ReadPlan): Layout {
  let layout = layouts.get(plan);
  if (layout) return layout;
  const positions = new Map<string, { view: number; feature: number }>();
  for (const [view, { features }] of plan.views.entries()) {
    for (const [feature, f] of features.entries()) positions.set(f.ref, { view, feature });
  }
  const onDemandIndex = new Map(plan.onDemand.map((odfv, i) => [odfv.name, i]));
  layout = {
    columns: plan.features.map((f) => ({
      column: f.column,
      source:
        f.kind === 'onDemand'
          ? { onDemand: onDemandIndex.get(f.view) as number, name: f.feature }
          : (positions.get(f.ref) as { view: number; feature: number }),
    })),
    inputs: positions,
    featureColumns: plan.features.map((f) => f.column),
  };
  layouts.set(plan, layout);
  return layout;
}

/** The response for a planned request from the items read, at time `now`. */
export function assembleResponse(planned: RequestPlan, items: ReadonlyMap<string, TierItem>, now: number): FeaturesResponse {
  const { plan } = planned;
  const layout = layoutOf(plan);
  const results = planned.rows.map(({ entity, pks }, index) => {
    const stored = plan.views.map(({ view, features }) =>
      readFeatures(
        view,
        (pks.get(view.name) ?? []).map((pk) => items.get(pk)),
        features,
        now,
      ),
    );
    const computed = evaluateOnDemand(
      plan.onDemand,
      entity,
      (ref) => {
        const at = layout.inputs.get(ref) as { view: number; feature: number };
        const input = stored[at.view]?.[at.feature];
        return input?.status === 'present' ? input.value : null;
      },
      { name: `entities[${index}]`, index },
    );
    const values: Record<string, unknown> = {};
    const status: Record<string, FeatureValue['status']> = {};
    const eventTimestamps: Record<string, number | null> = {};
    for (const { column, source } of layout.columns) {
      if ('view' in source) {
        const v = stored[source.view]?.[source.feature] as FeatureValue;
        values[column] = v.value;
        status[column] = v.status;
        eventTimestamps[column] = v.eventTs;
      } else {
        const value = computed[source.onDemand]?.[source.name] ?? null;
        values[column] = value;
        status[column] = value === null ? 'missing' : 'present';
        eventTimestamps[column] = null;
      }
    }
    return { entity, values, status, eventTimestamps };
  });
  return { service: planned.service, features: [...layout.featureColumns], results };
}
