/**
 * `tessera audit --feature user_location:lat --since 7d`: who read which features, newest
 * first — Athena over the audit table of `--stack`, or DuckDB over local mode's audit rows.
 */
import type { Command } from 'commander';
import type { Row } from '../lambdas/core/definitions.js';
import { STACK_OUTPUT } from '../lambdas/core/deployment.js';
import { ValidationError } from '../lambdas/core/errors.js';
import type { Registry } from '../lambdas/core/registry.js';
import { accessOf, readDiscoveryFile } from '../local/discovery.js';
import { type DefinitionsOptions, withDefinitions, withStack } from './command.js';
import { loadRegistry } from './definitions.js';
import { readStackOutputs } from './stack-outputs.js';

export interface AuditOptions {
  /** A feature (`view:feature`) or a whole view, repeatable. */
  readonly feature?: string[];
  readonly principal?: string;
  readonly service?: string;
  readonly since: string;
  readonly limit: string;
  readonly json?: boolean;
  readonly stack?: string;
  readonly region?: string;
}

/** The feature references a `--feature` value names: itself, or every feature of a view. */
export function featureRefs(registry: Registry, names: readonly string[]): string[] {
  return names.flatMap((name) => {
    if (name.includes(':')) {
      registry.feature(name);
      return [name];
    }
    const view = registry.views.get(name);
    const odfv = registry.onDemand.get(name);
    const features = view ? [...Object.keys(view.features), ...view.aggregations.map((a) => a.name)] : odfv ? Object.keys(odfv.features) : [];
    const refs = features.map((feature) => `${name}:${feature}`);
    if (!refs.length) throw new ValidationError(`--feature: no feature view or on-demand feature "${name}"`);
    return refs;
  });
}

export async function auditCommand(options: AuditOptions, registry: Registry, env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<Row[]> {
  const [{ sinceOf }, { queryAuditWithAthena, queryAuditWithDuckDb }, { BucketObjects }] = await Promise.all([
    import('../lambdas/core/audit.js'),
    import('../tools/audit-query.js'),
    import('../lambdas/adapters/bucket-objects.js'),
  ]);
  const query = {
    since: sinceOf(options.since, Date.now()),
    limit: Number(options.limit),
    ...(options.feature?.length ? { features: featureRefs(registry, options.feature) } : {}),
    ...(options.principal ? { principal: options.principal } : {}),
    ...(options.service ? { service: options.service } : {}),
  };
  let rows: Row[];
  if (options.stack) {
    const outputs = await readStackOutputs({ stack: options.stack, ...(options.region ? { region: options.region } : {}) }, env);
    const [{ AthenaClient }, { AthenaQueryRunner }] = await Promise.all([import('@aws-sdk/client-athena'), import('../lambdas/adapters/athena-runner.js')]);
    const athena = new AthenaClient({ region: outputs.region });
    try {
      rows = await queryAuditWithAthena(
        new AthenaQueryRunner(athena, { workgroup: outputs.require(STACK_OUTPUT.athenaWorkgroup), database: outputs.require(STACK_OUTPUT.glueDatabase) }),
        query,
      );
    } finally {
      athena.destroy();
    }
  } else {
    const local = readDiscoveryFile();
    const { createClients } = await import('../lambdas/adapters/aws.js');
    const clients = createClients(accessOf(local));
    try {
      rows = await queryAuditWithDuckDb(new BucketObjects(clients.s3, local.bucket), query);
    } finally {
      for (const client of Object.values(clients)) client.destroy();
    }
  }
  if (options.json) out(JSON.stringify(rows, null, 2));
  else {
    out(`${rows.length} reads since ${new Date(query.since).toISOString()}${query.features ? ` of ${query.features.join(', ')}` : ''}:`);
    for (const r of rows) {
      const pii = (r.pii_features as string[]).length ? `  pii: ${(r.pii_features as string[]).join(',')}` : '';
      out(
        `  ${new Date(Number(r.ts)).toISOString()}  ${String(r.status)}  ${r.principal ?? '(unsigned)'}  ${r.service ?? '(feature list)'}  ${r.entity_count} entities  request ${r.request_id}${pii}`,
      );
    }
  }
  return rows;
}

export function register(program: Command): void {
  withStack(
    withDefinitions(
      program
        .command('audit')
        .description('who read which features: e.g. tessera audit --feature user_location:lat --since 7d')
        .option('--feature <view:feature|view...>', 'reads of this feature, or of any feature of this view (repeatable)')
        .option('--principal <arn>', 'reads by this IAM principal')
        .option('--service <name>', 'reads through this feature service')
        .option('--since <duration|time>', 'how far back: 7d, 12h, or an ISO-8601 time', '7d')
        .option('--limit <n>', 'at most this many reads, newest first', '1000')
        .option('--json', 'print the reads as JSON'),
    ),
    'a deployed Tessera stack (Athena over its audit table); default: local mode (DuckDB)',
  ).action(async (options: AuditOptions & DefinitionsOptions) => {
    await auditCommand(options, await loadRegistry(options.definitions), process.env, console.log);
  });
}
