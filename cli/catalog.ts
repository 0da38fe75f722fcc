/**
 * `tessera catalog --out site/`: writes the catalog page (and its JSON) as a static site. With
 * a reachable store — local mode's discovery file, or `--stack` — the page carries each
 * view's freshness and null rates measured from the offline Parquet objects.
 */
import type { Command } from 'commander';

import { STACK_OUTPUT } from '../lambdas/core/deployment.js';
import type { Registry } from '../lambdas/core/registry.js';
import { accessOf, LocalModeNotRunning, readDiscoveryFile } from '../local/discovery.js';
import { type DefinitionsOptions, withDefinitions, withStack } from './command.js';
import { loadRegistry } from './definitions.js';
import { readStackOutputs } from './stack-outputs.js';

export interface CatalogOptions {
  readonly out: string;
  /** Measure the offline rows. @default true */
  readonly stats: boolean;
  readonly stack?: string;
  readonly region?: string;
}

export async function catalogCommand(options: CatalogOptions, registry: Registry, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<void> {
  const [{ writeCatalogSite, measureOfflineStats }, { BucketObjects }, { S3Client }] = await Promise.all([
    import('../tools/catalog-site.js'),
    import('../lambdas/adapters/bucket-objects.js'),
    import('@aws-sdk/client-s3'),
  ]);
  let figures: Awaited<ReturnType<typeof measure>> | undefined;
  async function measure(client: InstanceType<typeof S3Client>, bucket: string) {
    try {
      return { stats: await measureOfflineStats(registry, new BucketObjects(client, bucket)), measuredAt: Date.now() };
    } finally {
      client.destroy();
    }
  }
  if (options.stats && options.stack) {
    const outputs = await readStackOutputs({ stack: options.stack, ...(options.region ? { region: options.region } : {}) }, env);
    figures = await measure(new S3Client({ region: outputs.region }), outputs.require(STACK_OUTPUT.bucketName));
  } else if (options.stats) {
    try {
      const local = readDiscoveryFile();
      const { createClients } = await import('../lambdas/adapters/aws.js');
      const { s3, ...others } = createClients(accessOf(local));
      for (const client of Object.values(others)) client.destroy();
      figures = await measure(s3, local.bucket);
    } catch (error) {
      if (!(error instanceof LocalModeNotRunning)) throw error;
      log(`No offline figures: ${error.message}`);
    }
  }
  const site = await writeCatalogSite(options.out, registry, figures);
  log(`Wrote ${site.files.join(', ')}${figures ? ` with figures of ${Object.keys(figures.stats).length} views` : ''}.`);
}

export function register(program: Command): void {
  withStack(
    withDefinitions(
      program
        .command('catalog')
        .description('write the catalog page (search, lineage, pii, freshness) as a static site')
        .requiredOption('--out <dir>', 'the folder to write index.html and catalog.json to')
        .option('--no-stats', 'skip measuring freshness and null rates from the offline store'),
    ),
    'a deployed Tessera stack to measure (CloudFormation stack name); default: local mode, if running',
  ).action(async (options: CatalogOptions & DefinitionsOptions) => {
    await catalogCommand(options, await loadRegistry(options.definitions), process.env, console.log);
  });
}
