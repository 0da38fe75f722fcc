/**
 * The serving API's core, free of transport: request schemas, the plan of one request (which
 * items to read) and the response assembled from the items read. The serve handler is glue
 * around these two functions; the OpenAPI document is generated from the same schemas.
 */
import { z } from 'zod';
import { entityIdOf, itemKey } from './entity-key.js';
import { PayloadTooLargeError, ValidationError } from './errors.js';
import { type FeatureValue, type OnlineItem, readFeatures } from './online.js';
import type { ReadPlan, Registry } from './registry.js';

export const MAX_ENTITIES = 100;

const keyValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const FeaturesRequest = z
  .object({
    service: z.string().min(1).optional().describe('A feature service name, e.g. fraud_v1'),
    features: z.array(z.string().min(1)).min(1).max(500).optional().describe('Feature references, view:feature'),
    entities: z
      .array(z.record(z.string(), keyValue))
      .min(1)
      .describe('Entity rows: join keys, plus request-context fields for on-demand features'),
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

/** The body of every 4xx and 5xx response. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.enum(['ValidationError', 'NotFoundError', 'AccessDeniedError', 'PayloadTooLargeError', 'MethodNotAllowed', 'DefinitionError', 'InternalError', 'ServiceUnavailable']),
    message: z.string(),
    details: z.unknown().optional(),
    requestId: z.string(),
  }),
});

export interface RequestPlan {
  readonly service: string | null;
  readonly plan: ReadPlan;
  readonly rows: readonly { readonly entity: FeaturesRequest['entities'][number]; readonly pks: ReadonlyMap<string, string> }[];
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
  const rows = request.entities.map((entity, index) => {
    const byView = new Map<string, string>();
    for (const { view } of plan.views) {
      let entityId: string;
      try {
        entityId = entityIdOf(view, entity);
      } catch (error) {
        throw new ValidationError(`entities[${index}]: ${(error as Error).message}`, { index });
      }
      const pk = itemKey(view.name, entityId);
      byView.set(view.name, pk);
      pks.add(pk);
    }
    return { entity, pks: byView };
  });
  return { service: request.service ?? null, plan, rows, pks: [...pks] };
}

/** The response for a planned request from the items read, at time `now`. */
export function assembleResponse(planned: RequestPlan, items: ReadonlyMap<string, OnlineItem>, now: number): FeaturesResponse {
  const { plan } = planned;
  const results = planned.rows.map(({ entity, pks }, index) => {
    const found = new Map<string, FeatureValue>();
    for (const { view, features } of plan.views) {
      const values = readFeatures(view, items.get(pks.get(view.name) as string), features, now);
      for (const [i, f] of features.entries()) found.set(f.ref, values[i] as FeatureValue);
    }
    for (const odfv of plan.onDemand) {
      const context = odfv.request.safeParse(entity);
      if (!context.success) {
        throw new ValidationError(`entities[${index}]: request context for "${odfv.name}": ${z.prettifyError(context.error).replaceAll('\n', '; ')}`, {
          index,
        });
      }
      const inputs = Object.fromEntries(odfv.inputs.map((ref) => [ref, found.get(ref)?.status === 'present' ? found.get(ref)?.value : null]));
      const computed = odfv.compute({ request: context.data, features: inputs });
      for (const name of Object.keys(odfv.features)) {
        const value = computed[name] ?? null;
        found.set(`${odfv.name}:${name}`, { value, status: value === null ? 'missing' : 'present', eventTs: null });
      }
    }
    const values: Record<string, unknown> = {};
    const status: Record<string, FeatureValue['status']> = {};
    const eventTimestamps: Record<string, number | null> = {};
    for (const f of plan.features) {
      const v = found.get(f.ref) as FeatureValue;
      values[f.column] = v.value;
      status[f.column] = v.status;
      eventTimestamps[f.column] = v.eventTs;
    }
    return { entity, values, status, eventTimestamps };
  });
  return { service: planned.service, features: plan.features.map((f) => f.column), results };
}
