/**
 * `tessera catalog --out site/`: the catalog page as a static site (index.html beside the
 * catalog JSON), with the offline figures — freshness and null rates — measured from the
 * Parquet objects of each view when a store is reachable.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BucketObjects } from '../lambdas/adapters/bucket-objects.js';
import { decodeRows } from '../lambdas/adapters/parquet.js';
import { buildCatalog } from '../lambdas/core/catalog.js';
import { catalogPage, measureViewRows, type ViewStats } from '../lambdas/core/catalog-page.js';
import { viewPrefix } from '../lambdas/core/offline.js';
import type { Registry } from '../lambdas/core/registry.js';

/** Figures of every view's offline rows, read from its Parquet objects. */
export async function measureOfflineStats(registry: Registry, objects: BucketObjects): Promise<Record<string, ViewStats>> {
  const stats: Record<string, ViewStats> = {};
  for (const view of registry.views.values()) {
    const rows = [];
    for (const object of await objects.list(viewPrefix(view.name))) {
      if (object.key.endsWith('.parquet')) rows.push(...(await decodeRows(view, await objects.get(object.key))));
    }
    stats[view.name] = measureViewRows(Object.keys(view.features), rows);
  }
  return stats;
}

export interface CatalogSite {
  readonly files: readonly string[];
}

export async function writeCatalogSite(
  out: string,
  registry: Registry,
  figures?: { stats: Record<string, ViewStats>; measuredAt: number },
): Promise<CatalogSite> {
  const catalog = buildCatalog(registry);
  await mkdir(out, { recursive: true });
  const files = [join(out, 'index.html'), join(out, 'catalog.json')];
  await writeFile(files[0]!, catalogPage(catalog, figures ?? {}));
  await writeFile(files[1]!, `${JSON.stringify(catalog, null, 2)}\n`);
  return { files };
}
