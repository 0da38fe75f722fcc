/** `tessera plan`: validate the definitions, print the catalog and what differs from the deployed one. */
import type { Command } from 'commander';
import { buildCatalog, type Catalog, type CatalogChange, diffCatalogs } from '../lambdas/core/catalog.js';
import { type DefinitionsOptions, withApi, withDefinitions } from './command.js';
import { countOf, loadRegistry } from './definitions.js';
import { reach, resolveTarget, type TargetOptions } from './target.js';

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

export function register(program: Command): void {
  withDefinitions(withApi(program.command('plan')))
    .description('validate the definitions, show the catalog and what changed against the deployed one')
    .option('--json', 'print the catalog as JSON')
    .action(async (options: TargetOptions & DefinitionsOptions & { json?: boolean }) => {
      const registry = await loadRegistry(options.definitions);
      const catalog = buildCatalog(registry);
      if (options.json) return console.log(JSON.stringify(catalog, null, 2));
      console.log(`Definitions in ${options.definitions} are valid.\n${describeCatalog(catalog)}\n`);
      const target = await resolveTarget(options, process.env);
      try {
        console.log(describeChanges(diffCatalogs(await reach(target, () => target.client.catalog()), catalog), target.description));
      } catch (error) {
        console.log(`Could not read the catalog to compare with: ${(error as Error).message}. Everything would be new.`);
      }
    });
}
