/**
 * The serve handler's use cases: a feature read (plan the request, authorize the caller, one
 * online read, assemble the vector) and the catalog as a caller may see it. Everything
 * per-service — read plans, the catalog, the access index — is computed once, so a request
 * costs what its own features and entities cost, never the size of the registry.
 */
import type { OnlineStore } from '../adapters/ports.js';
import { authorize, type Caller, mayRead } from '../core/access.js';
import type { PlannedRead } from '../core/audit.js';
import { buildCatalog, type Catalog, catalogFor } from '../core/catalog.js';
import type { ServedRequest } from '../core/feast.js';
import type { Registry } from '../core/registry.js';
import { assembleResponse, planRequest } from '../core/serving.js';

/** What a read request got as far as, for its audit entry. */
export interface ReadRecord {
  planned?: PlannedRead;
}

export interface FeatureReads {
  /** The whole catalog, built once. */
  readonly catalog: Catalog;
  /** The vector of a request body, read for `caller`; `record` learns what was planned, even when the read is refused. */
  read(body: unknown, caller: Caller, record: ReadRecord): Promise<ServedRequest>;
  /** The catalog's JSON text, limited to the services `caller` may read. */
  catalogJsonFor(caller: Caller): string;
}

export function createFeatureReads(registry: Registry, online: OnlineStore, now: () => number): FeatureReads {
  const catalog = buildCatalog(registry);
  // The catalog a caller sees depends only on which services it may read: one JSON text per such set.
  const catalogs = new Map<string, string>();
  return {
    catalog,
    async read(body, caller, record) {
      const planned = planRequest(registry, body);
      record.planned = { service: planned.service, features: planned.plan.features, entityCount: planned.rows.length };
      authorize(registry, caller, planned);
      const items = await online.read(planned.pks);
      const at = now();
      return { response: assembleResponse(planned, items, at), planned, items, now: at };
    },
    catalogJsonFor(caller) {
      const readable = [...registry.services.values()].filter((service) => mayRead(service, caller)).map((service) => service.name);
      const key = readable.join(',');
      let text = catalogs.get(key);
      if (text === undefined) {
        text = JSON.stringify(catalogFor(catalog, (name) => readable.includes(name)));
        catalogs.set(key, text);
      }
      return text;
    },
  };
}
