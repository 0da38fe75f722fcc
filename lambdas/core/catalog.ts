/**
 * The published catalog: every definition as JSON, with lineage (source → view → feature →
 * service). Served at GET /v1/catalog and printed by `tessera plan`; `diffCatalogs` is what
 * `plan` shows as changed.
 */
import * as z from 'zod';
import type { Registry } from './registry.js';

export interface Catalog {
  readonly entities: readonly { name: string; joinKey: string; keyType: string; description?: string }[];
  readonly sources: readonly {
    name: string;
    kind: string;
    stream?: string;
    location?: string;
    eventTimeField: string;
    eventIdField: string;
    schema: unknown;
  }[];
  readonly featureViews: readonly {
    name: string;
    version: number;
    entities: string[];
    source: string;
    ttl: string | null;
    owner: string;
    description: string;
    tags: string[];
    features: { name: string; type: string; kind: string; aggregation?: unknown; pii: boolean }[];
  }[];
  readonly onDemandFeatures: readonly {
    name: string;
    inputs: string[];
    /** `pii` when tagged or computed from a pii feature; `piiFrom` names the tagged features it is computed from. */
    features: { name: string; type: string; pii: boolean; piiFrom: string[] }[];
    request: unknown;
    owner: string;
    description: string;
    tags: string[];
  }[];
  readonly featureServices: readonly {
    name: string;
    version: number;
    owner: string;
    description: string;
    features: string[];
    piiFeatures: string[];
    /** Left out for a caller who may not read the service (see catalogFor). */
    allowedPrincipals?: string[];
  }[];
  /** Edges of the lineage graph, as `kind:name` pairs. */
  readonly lineage: readonly { from: string; to: string }[];
}

export function buildCatalog(registry: Registry): Catalog {
  const lineage: { from: string; to: string }[] = [];
  const featureViews = [...registry.views.values()].map((view) => {
    lineage.push({ from: `source:${view.source.name}`, to: `view:${view.name}` });
    const pii = view.tags.includes('pii');
    const features = [
      ...Object.entries(view.features).map(([name, type]) => ({ name, type, kind: 'row', pii })),
      ...view.aggregations.map((a) => ({ name: a.name, type: registry.feature(`${view.name}:${a.name}`).type, kind: 'aggregation', aggregation: a, pii })),
    ];
    for (const f of features) lineage.push({ from: `view:${view.name}`, to: `feature:${view.name}:${f.name}` });
    return {
      name: view.name,
      version: view.version,
      entities: view.entities.map((e) => e.name),
      source: view.source.name,
      ttl: view.ttl ?? null,
      owner: view.owner,
      description: view.description,
      tags: [...view.tags],
      features,
    };
  });
  const onDemandFeatures = [...registry.onDemand.values()].map((odfv) => {
    for (const input of odfv.inputs) lineage.push({ from: `feature:${input}`, to: `view:${odfv.name}` });
    for (const name of Object.keys(odfv.features)) lineage.push({ from: `view:${odfv.name}`, to: `feature:${odfv.name}:${name}` });
    return {
      name: odfv.name,
      inputs: [...odfv.inputs],
      features: Object.entries(odfv.features).map(([name, type]) => {
        const { pii, piiFrom } = registry.feature(`${odfv.name}:${name}`);
        return { name, type, pii, piiFrom: [...piiFrom] };
      }),
      request: z.toJSONSchema(odfv.request),
      owner: odfv.owner,
      description: odfv.description,
      tags: [...odfv.tags],
    };
  });
  const featureServices = [...registry.services.values()].map((service) => {
    const features = registry.servicePlan(service.name).features.map((f) => f.ref);
    for (const ref of features) lineage.push({ from: `feature:${ref}`, to: `service:${service.name}` });
    return {
      name: service.name,
      version: service.version,
      owner: service.owner,
      description: service.description,
      features,
      piiFeatures: [...service.piiFeatures],
      allowedPrincipals: [...service.allowedPrincipals],
    };
  });
  return {
    entities: [...registry.entities.values()].map((e) => ({
      name: e.name,
      joinKey: e.joinKey,
      keyType: e.keyType,
      ...(e.description ? { description: e.description } : {}),
    })),
    sources: [...registry.sources.values()].map((s) => ({
      name: s.name,
      kind: s.kind,
      ...(s.kind === 'stream' ? { stream: s.streamName } : { location: s.location }),
      eventTimeField: s.eventTimeField,
      eventIdField: s.eventIdField,
      schema: z.toJSONSchema(s.schema),
    })),
    featureViews,
    onDemandFeatures,
    featureServices,
    lineage,
  };
}

/** The catalog as a caller sees it: the principal ARNs of services `mayRead` refuses are left out. */
export function catalogFor(catalog: Catalog, mayRead: (service: string) => boolean): Catalog {
  return {
    ...catalog,
    featureServices: catalog.featureServices.map(({ allowedPrincipals, ...service }) =>
      mayRead(service.name) ? { ...service, ...(allowedPrincipals ? { allowedPrincipals } : {}) } : service,
    ),
  };
}

export interface CatalogChange {
  readonly kind: 'added' | 'removed' | 'changed';
  readonly definition: string;
}

/** What differs between a published catalog and a new one, definition by definition. */
export function diffCatalogs(before: Catalog | undefined, after: Catalog): CatalogChange[] {
  const index = (c: Catalog | undefined) => {
    const map = new Map<string, string>();
    if (!c) return map;
    for (const [kind, list] of [
      ['entity', c.entities],
      ['source', c.sources],
      ['feature view', c.featureViews],
      ['on-demand feature', c.onDemandFeatures],
      ['feature service', c.featureServices],
    ] as const) {
      for (const item of list) map.set(`${kind} ${item.name}`, JSON.stringify(item));
    }
    return map;
  };
  // A service whose principals the published catalog did not show us is compared without them.
  const hidden = new Set(before?.featureServices.filter((s) => s.allowedPrincipals === undefined).map((s) => s.name));
  const a = index(before);
  const b = index(hidden.size ? catalogFor(after, (name) => !hidden.has(name)) : after);
  const changes: CatalogChange[] = [];
  for (const [name, json] of b) {
    if (!a.has(name)) changes.push({ kind: 'added', definition: name });
    else if (a.get(name) !== json) changes.push({ kind: 'changed', definition: name });
  }
  for (const name of a.keys()) if (!b.has(name)) changes.push({ kind: 'removed', definition: name });
  return changes;
}
