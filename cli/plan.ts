/** `tessera plan`: validate the definitions, print the catalog and what differs from the deployed one. */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildCatalog, type Catalog, type CatalogChange, diffCatalogs } from '../lambdas/core/catalog.js';
import { Registry } from '../lambdas/core/registry.js';

export const DEFAULT_DEFINITIONS = 'features/index.ts';

export async function loadRegistry(path = DEFAULT_DEFINITIONS): Promise<Registry> {
  return Registry.fromModule(await import(pathToFileURL(resolve(path)).href));
}

export function describeCatalog(catalog: Catalog): string {
  const lines = [
    `${catalog.entities.length} entities: ${catalog.entities.map((e) => `${e.name} (${e.joinKey})`).join(', ')}`,
    `${catalog.sources.length} sources: ${catalog.sources.map((s) => `${s.name} [${s.kind}]`).join(', ')}`,
    `${catalog.featureViews.length} feature views:`,
    ...catalog.featureViews.map(
      (v) =>
        `  ${v.name} v${v.version}  ${v.features.length} features  entities ${v.entities.join('+')}  ttl ${v.ttl ?? 'none'}${v.tags.length ? `  tags ${v.tags.join(',')}` : ''}`,
    ),
    `${catalog.onDemandFeatures.length} on-demand features:${catalog.onDemandFeatures.length ? '' : ' -'}`,
    ...catalog.onDemandFeatures.flatMap((o) =>
      o.features.map((f) => `  ${o.name}:${f.name}  ${f.type}${f.pii ? `  pii${f.piiFrom.length ? ` (computed from ${f.piiFrom.join(', ')})` : ''}` : ''}`),
    ),
    `${catalog.featureServices.length} feature services:`,
    ...catalog.featureServices.map(
      (s) => `  ${s.name} v${s.version}  ${s.features.length} features${s.piiFeatures.length ? `  pii ${s.piiFeatures.join(', ')}` : ''}`,
    ),
  ];
  return lines.join('\n');
}

export function describeChanges(changes: readonly CatalogChange[], against: string): string {
  if (!changes.length) return `No changes against ${against}.`;
  const sign = { added: '+', removed: '-', changed: '~' } as const;
  return [`Changes against ${against}:`, ...changes.map((c) => `  ${sign[c.kind]} ${c.definition} (${c.kind})`)].join('\n');
}

export { buildCatalog, diffCatalogs };
