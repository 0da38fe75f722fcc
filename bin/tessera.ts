#!/usr/bin/env -S npx tsx
/**
 * The Tessera CLI. Talks to local mode (http://127.0.0.1:4000) by default, or to a deployed
 * stack with `--stack NAME --region REGION` and the normal AWS credential chain.
 */
import { Command, Option } from 'commander';
import { TesseraApiError } from '../client/tessera-client.js';
import { buildCatalog, DEFAULT_DEFINITIONS, describeCatalog, describeChanges, diffCatalogs, loadRegistry } from '../cli/plan.js';
import { pushFile } from '../cli/push.js';
import { resolveTarget, type TargetOptions } from '../cli/target.js';

const program = new Command('tessera').description('Tessera: a real-time feature store for AWS').showHelpAfterError();

const withTarget = (command: Command) =>
  command
    .option('--url <url>', 'the API of local mode (or any Tessera API without IAM)', process.env.TESSERA_URL)
    .option('--stack <name>', 'a deployed Tessera stack (CloudFormation stack name)')
    .addOption(new Option('--region <region>', 'AWS region of the stack').env('AWS_REGION'));

withTarget(program.command('plan'))
  .description('validate the definitions, show the catalog and what changed against the deployed one')
  .option('--definitions <module>', 'the definitions module', DEFAULT_DEFINITIONS)
  .option('--json', 'print the catalog as JSON')
  .action(async (options: TargetOptions & { definitions: string; json?: boolean }) => {
    const registry = await loadRegistry(options.definitions);
    const catalog = buildCatalog(registry);
    if (options.json) return console.log(JSON.stringify(catalog, null, 2));
    console.log(`Definitions in ${options.definitions} are valid.\n${describeCatalog(catalog)}\n`);
    const target = await resolveTarget(options, process.env);
    try {
      console.log(describeChanges(diffCatalogs(await target.client.catalog(), catalog), target.description));
    } catch (error) {
      console.log(`Could not read the catalog of ${target.description} (${(error as Error).message}); everything would be new.`);
    }
  });

withTarget(program.command('push'))
  .description('send events from a JSON-lines file to a stream source')
  .requiredOption('--file <path>', 'JSON lines, one event per line')
  .option('--source <name>', 'the stream source', 'transactions')
  .option('--definitions <module>', 'the definitions module', DEFAULT_DEFINITIONS)
  .action(async (options: TargetOptions & { file: string; source: string; definitions: string }) => {
    const registry = await loadRegistry(options.definitions);
    const target = await resolveTarget(options, process.env);
    const summary = await pushFile(options.file, options.source, registry, target, process.stderr.isTTY === true);
    console.log(`${summary.sent} events sent to ${options.source} on ${target.description}; ${summary.rejected.length} rejected.`);
    for (const { line, rejection } of summary.rejected.slice(0, 20)) console.log(`  line ${line}: ${rejection.code}: ${rejection.message}`);
    if (summary.rejected.length > 20) console.log(`  … and ${summary.rejected.length - 20} more`);
    if (summary.rejected.length) process.exitCode = 2;
  });

withTarget(program.command('get'))
  .description('online features of entities, e.g. tessera get --service fraud_v1 --entity user_id=u0001')
  .option('--service <name>', 'a feature service')
  .option('--features <refs>', 'comma-separated view:feature references (instead of --service)')
  .requiredOption('--entity <key=value...>', 'an entity row: join keys and request context, comma-separated; repeat for more rows')
  .option('--json', 'print the API response as JSON')
  .action(async (options: TargetOptions & { service?: string; features?: string; entity: string[]; json?: boolean }) => {
    const target = await resolveTarget(options, process.env);
    const entities = options.entity.map((row) =>
      Object.fromEntries(
        row.split(',').map((pair) => {
          const [key, ...rest] = pair.split('=');
          const value = rest.join('=');
          return [key, value !== '' && !Number.isNaN(Number(value)) && !/^[a-z]/i.test(value) ? Number(value) : value];
        }),
      ),
    );
    const response = await target.client.getFeatures({
      ...(options.service ? { service: options.service } : { features: (options.features ?? '').split(',').filter(Boolean) }),
      entities,
    });
    if (options.json) return console.log(JSON.stringify(response, null, 2));
    for (const result of response.results) {
      console.log(JSON.stringify(result.entity));
      for (const column of response.features) {
        const at = result.eventTimestamps[column];
        console.log(`  ${column.padEnd(40)} ${JSON.stringify(result.values[column]).padEnd(24)} ${result.status[column]}${at ? `  @ ${new Date(at).toISOString()}` : ''}`);
      }
    }
  });

program.parseAsync().catch((error: unknown) => {
  if (error instanceof TesseraApiError) console.error(`tessera: the API answered ${error.message}`);
  else console.error(`tessera: ${(error as Error).message}`);
  process.exitCode = 1;
});
