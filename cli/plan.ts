/** `tessera plan`: validate the definitions, print the catalog and what differs from the deployed one. */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildCatalog, type Catalog, type CatalogChange, diffCatalogs } from '../lambdas/core/catalog.js';
import { Registry } from '../lambdas/core/registry.js';

export const DEFAULT_DEFINITIONS = 'features/index.ts';

export async function loadRegistry(path = DEFAULT_DEFINITIONS): Promise<Registry> {
  return Registry.fromModule(await import(pathToFileURL(resolve(path)).href));
}

/** `1 source`, `2 sources`, `1 entity`, `3 entities`. */
export const countOf = (n: number, noun: string): string =>
  `${n.toLocaleString('en-US')} ${n === 1 ? noun : noun.endsWith('y') ? `${noun.slice(0, -1)}ies` : `${noun}s`}`;

export function describeCatalog(catalog: Catalog): string {
  const lines = [
    `${countOf(catalog.entities.length, 'entity')}: ${catalog.entities.map((e) => `${e.name} (${e.joinKey})`).join(', ')}`,
    `${countOf(catalog.sources.length, 'source')}: ${catalog.sources.map((s) => `${s.name} [${s.kind}]`).join(', ')}`,
    `${countOf(catalog.featureViews.length, 'feature view')}:`,
    ...catalog.featureViews.map(
      (v) =>
        `  ${v.name} v${v.version}  ${countOf(v.features.length, 'feature')}  entities ${v.entities.join('+')}  ttl ${v.ttl ?? 'none'}${v.tags.length ? `  tags ${v.tags.join(',')}` : ''}`,
    ),
    `${countOf(catalog.onDemandFeatures.length, 'on-demand feature')}:${catalog.onDemandFeatures.length ? '' : ' -'}`,
    ...catalog.onDemandFeatures.flatMap((o) =>
      o.features.map((f) => `  ${o.name}:${f.name}  ${f.type}${f.pii ? `  pii${f.piiFrom.length ? ` (computed from ${f.piiFrom.join(', ')})` : ''}` : ''}`),
    ),
    `${countOf(catalog.featureServices.length, 'feature service')}:`,
    ...catalog.featureServices.map(
      (s) => `  ${s.name} v${s.version}  ${countOf(s.features.length, 'feature')}${s.piiFeatures.length ? `  pii ${s.piiFeatures.join(', ')}` : ''}`,
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
