#!/usr/bin/env -S npx tsx
/**
 * The Tessera CLI. Talks to local mode by default — found the same way by every command
 * (cli/target.ts: --url, TESSERA_URL, the discovery file `.work/local-endpoints.json`, port
 * 4000) — or to a deployed stack with `--stack NAME --region REGION` and the normal AWS
 * credential chain.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import { Command, Option } from 'commander';
import type { AdviseOptions } from '../cli/advise.js';
import { type AuditOptions, auditCommand } from '../cli/audit.js';
import type { BackfillOptions, BackfillTarget } from '../cli/backfill.js';
import { type CatalogOptions, catalogCommand } from '../cli/catalog.js';
import type { DriftOptions } from '../cli/drift.js';
import { type EraseOptions, eraseCommand } from '../cli/erase.js';
import { checkCsvLabels } from '../cli/labels.js';
import type { OfflineStoreOptions } from '../cli/offline-store.js';
import { buildCatalog, countOf, DEFAULT_DEFINITIONS, describeCatalog, describeChanges, diffCatalogs, loadRegistry } from '../cli/plan.js';
import { pushFile } from '../cli/push.js';
import { sdkNodeWarningOnce } from '../cli/sdk-warning.js';
import { readStackOutputs } from '../cli/stack-outputs.js';
import { FINDING_LOCAL_MODE, reach, resolveTarget, type TargetOptions } from '../cli/target.js';
import { TesseraApiError } from '../client/tessera-client.js';
import { accessOf, readDiscoveryFile } from '../local/discovery.js';

sdkNodeWarningOnce(process.env);
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** The schema DuckDB puts the offline views in, locally (the Glue database's name in a stack). */
const LOCAL_DATABASE = 'tessera';
/** What `training-set --out` writes. */
const OUTPUT_FORMATS = ['.parquet', '.csv'];

const program = new Command('tessera')
  .description('Tessera: a real-time feature store for AWS')
  .version(version, '-V, --version')
  .showHelpAfterError()
  .addHelpText('after', `\n${FINDING_LOCAL_MODE}`);

const withTarget = (command: Command) =>
  command
    .addHelpText('after', `\n${FINDING_LOCAL_MODE}`)
    .option('--url <url>', 'the API of local mode (or any Tessera API without IAM); default: TESSERA_URL, else the running local mode')
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
      console.log(describeChanges(diffCatalogs(await reach(target, () => target.client.catalog()), catalog), target.description));
    } catch (error) {
      console.log(`Could not read the catalog to compare with: ${(error as Error).message}. Everything would be new.`);
    }
  });

withTarget(program.command('url'))
  .description('print the API URL the other commands use, e.g. curl "$(npx tessera url)/v1/catalog"')
  .action(async (options: TargetOptions) => {
    const target = await resolveTarget(options, process.env);
    console.log(target.url);
  });

withTarget(program.command('push'))
  .description('send events from a JSON-lines file to a stream source')
  .requiredOption('--file <path>', 'JSON lines, one event per line')
  .option('--source <name>', 'the stream source', 'transactions')
  .option('--definitions <module>', 'the definitions module', DEFAULT_DEFINITIONS)
  .action(async (options: TargetOptions & { file: string; source: string; definitions: string }) => {
    const registry = await loadRegistry(options.definitions);
    const target = await resolveTarget(options, process.env);
    const summary = await reach(target, () => pushFile(options.file, options.source, registry, target, process.stderr.isTTY === true));
    console.log(`${countOf(summary.sent, 'event')} sent to ${options.source} on ${target.description}; ${summary.rejected.length} rejected.`);
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
  .action(async (options: TargetOptions & { service?: string; features?: string; entity: string[]; json?: boolean }, command: Command) => {
    const target = await resolveTarget(options, process.env);
    if ((options.service === undefined) === (options.features === undefined)) {
      const services = await reach(target, () => target.client.catalog())
        .then((catalog) => ` (services on ${target.description}: ${catalog.featureServices.map((s) => s.name).join(', ') || 'none'})`)
        .catch(() => '');
      command.error(`error: give either --service NAME${services} or --features view:feature,…`);
    }
    const entities = options.entity.map((row) =>
      Object.fromEntries(
        row.split(',').map((pair) => {
          const [key, ...rest] = pair.split('=');
          const value = rest.join('=');
          return [key, value !== '' && !Number.isNaN(Number(value)) && !/^[a-z]/i.test(value) ? Number(value) : value];
        }),
      ),
    );
    const response = await reach(target, () =>
      target.client.getFeatures({
        ...(options.service ? { service: options.service } : { features: (options.features ?? '').split(',').filter(Boolean) }),
        entities,
      }),
    );
    if (options.json) return console.log(JSON.stringify(response, null, 2));
    for (const result of response.results) {
      console.log(JSON.stringify(result.entity));
      for (const column of response.features) {
        const at = result.eventTimestamps[column];
        console.log(
          `  ${column.padEnd(40)} ${JSON.stringify(result.values[column]).padEnd(24)} ${result.status[column]}${at ? `  @ ${new Date(at).toISOString()}` : ''}`,
        );
      }
    }
  });

program
  .command('backfill')
  .description('apply the files of a source over a time range with the batch handler, and follow the job')
  .option('--source <name>', 'the source whose files to apply')
  .option('--view <view>', "a feature view: applies the view's source, which rebuilds every view of that source")
  .requiredOption('--from <time>', 'start of the range (ISO-8601 or epoch ms)')
  .requiredOption('--to <time>', 'end of the range, inclusive (ISO-8601 or epoch ms)')
  .option(
    '--location <./dir|prefix|s3://…>',
    "files elsewhere than the source's own location: a local folder (uploaded to local mode's bucket first), a key prefix or s3://… (a deployed stack must be granted it: backfillReadLocations)",
  )
  .option('--definitions <module>', 'the definitions module', DEFAULT_DEFINITIONS)
  .option('--stack <name>', 'a deployed Tessera stack (CloudFormation stack name); default: local mode')
  .addOption(new Option('--region <region>', 'AWS region of the stack').env('AWS_REGION'))
  .action(async (options: BackfillOptions & { definitions: string; stack?: string; region?: string }) => {
    // Loaded here, not at the top: the batch pipeline (Parquet, every SDK client) would slow every other command.
    const { backfillCommand, localBackfillTarget, stackBackfillTarget } = await import('../cli/backfill.js');
    const registry = await loadRegistry(options.definitions);
    const target: BackfillTarget = options.stack
      ? await stackBackfillTarget({ stack: options.stack, ...(options.region ? { region: options.region } : {}) }, process.env)
      : localBackfillTarget(readDiscoveryFile(), registry);
    try {
      const summary = await backfillCommand(options, { registry, target, stdout: process.stdout, stderr: process.stderr });
      if (summary.job.failed) process.exitCode = 2;
    } finally {
      target.close();
    }
  });

program
  .command('catalog')
  .description('write the catalog page (search, lineage, pii, freshness) as a static site')
  .requiredOption('--out <dir>', 'the folder to write index.html and catalog.json to')
  .option('--no-stats', 'skip measuring freshness and null rates from the offline store')
  .option('--definitions <module>', 'the definitions module', DEFAULT_DEFINITIONS)
  .option('--stack <name>', 'a deployed Tessera stack to measure (CloudFormation stack name); default: local mode, if running')
  .addOption(new Option('--region <region>', 'AWS region of the stack').env('AWS_REGION'))
  .action(async (options: CatalogOptions & { definitions: string }) => {
    await catalogCommand(options, await loadRegistry(options.definitions), process.env, console.log);
  });

program
  .command('audit')
  .description('who read which features: e.g. tessera audit --feature user_location:lat --since 7d')
  .option('--feature <view:feature|view...>', 'reads of this feature, or of any feature of this view (repeatable)')
  .option('--principal <arn>', 'reads by this IAM principal')
  .option('--service <name>', 'reads through this feature service')
  .option('--since <duration|time>', 'how far back: 7d, 12h, or an ISO-8601 time', '7d')
  .option('--limit <n>', 'at most this many reads, newest first', '1000')
  .option('--json', 'print the reads as JSON')
  .option('--definitions <module>', 'the definitions module', DEFAULT_DEFINITIONS)
  .option('--stack <name>', 'a deployed Tessera stack (Athena over its audit table); default: local mode (DuckDB)')
  .addOption(new Option('--region <region>', 'AWS region of the stack').env('AWS_REGION'))
  .action(async (options: AuditOptions & { definitions: string }) => {
    await auditCommand(options, await loadRegistry(options.definitions), process.env, console.log);
  });

program
  .command('erase')
  .description("erase an entity from every store (online, offline, raw archive, dead letters; its id nulled in other entities' rows) and write a receipt")
  .option('--entity <key=value>', 'the subject, e.g. user_id=u0001')
  .option('--status <job>', 'show the progress of an erasure job of --stack')
  .option('--reason <text>', 'why, for the receipt (e.g. the request reference)')
  .option('--by <who>', 'who asked, for the receipt (default: your user name)')
  .option('--json', 'print what was removed and the receipt as JSON')
  .option('--definitions <module>', 'the definitions module', DEFAULT_DEFINITIONS)
  .option('--stack <name>', 'a deployed Tessera stack (CloudFormation stack name); default: local mode')
  .addOption(new Option('--region <region>', 'AWS region of the stack').env('AWS_REGION'))
  .action(async (options: EraseOptions & { definitions: string }) => {
    await eraseCommand(options, await loadRegistry(options.definitions), process.env, console.log);
  });

program
  .command('training-set')
  .description('build a point-in-time correct training set')
  .requiredOption('--labels <file|s3://…>', 'labels: join keys, a time column, anything else (.parquet or .csv)')
  .option('--service <name>', 'a feature service')
  .option('--features <refs>', 'comma-separated view:feature references (instead of --service)')
  .option('--as-served', 'only values the online API had served at each label time')
  .requiredOption('--out <path|s3://…>', '.parquet or .csv')
  .option('--timestamp-column <name>', "the labels' time column", 'event_timestamp')
  .addOption(new Option('--engine <engine>', 'default: athena for --stack, duckdb in local mode').choices(['athena', 'duckdb']))
  .option('--show-sql', 'print the point-in-time SQL')
  .option('--definitions <module>', 'the definitions module', DEFAULT_DEFINITIONS)
  .option('--stack <name>', 'a deployed Tessera stack (CloudFormation stack name); default: local mode')
  .addOption(new Option('--region <region>', 'AWS region of the stack').env('AWS_REGION'))
  .action(
    async (
      options: {
        labels: string;
        service?: string;
        features?: string;
        asServed?: boolean;
        out: string;
        timestampColumn: string;
        engine?: 'athena' | 'duckdb';
        showSql?: boolean;
        definitions: string;
        stack?: string;
        region?: string;
      },
      command: Command,
    ) => {
      if ((options.service === undefined) === (options.features === undefined)) command.error('error: give either --service or --features');
      if (!OUTPUT_FORMATS.includes(extname(options.out).toLowerCase())) {
        command.error(`error: --out ${options.out}: write a ${OUTPUT_FORMATS.join(' or ')} file (the format follows the extension)`);
      }
      if (!options.labels.startsWith('s3://') && extname(options.labels).toLowerCase() === '.csv') {
        await checkCsvLabels(options.labels, options.timestampColumn);
      }
      // Loaded here: DuckDB is a native module the other commands do without.
      const [{ trainingSetCommand }, { createTrainingSetRunner }, { S3Client }, { AthenaClient }] = await Promise.all([
        import('../lambdas/sdk/training-set-command.js'),
        import('../lambdas/sdk/training-set.js'),
        import('@aws-sdk/client-s3'),
        import('@aws-sdk/client-athena'),
      ]);
      const registry = await loadRegistry(options.definitions);
      let store: { s3: S3Client; bucket: string; database: string; athena?: AthenaClient; workgroup?: string; close: () => void };
      let engine = options.engine;
      if (options.stack) {
        const outputs = await readStackOutputs({ stack: options.stack, ...(options.region ? { region: options.region } : {}) }, process.env);
        engine ??= 'athena';
        const s3 = new S3Client({ region: outputs.region });
        const athena = engine === 'athena' ? new AthenaClient({ region: outputs.region }) : undefined;
        store = {
          s3,
          bucket: outputs.require('BucketName'),
          database: outputs.require('GlueDatabase'),
          ...(athena ? { athena, workgroup: outputs.require('AthenaWorkgroup') } : {}),
          close: () => {
            s3.destroy();
            athena?.destroy();
          },
        };
      } else {
        // Local mode has no Athena: DuckDB runs the same SQL over its offline objects.
        if (engine === 'athena') command.error('error: local mode has no Athena; use --engine duckdb, or --stack NAME for a deployed store');
        engine = 'duckdb';
        const local = readDiscoveryFile();
        const { createClients } = await import('../lambdas/adapters/aws.js');
        const clients = createClients(accessOf(local));
        store = {
          s3: clients.s3,
          bucket: local.bucket,
          database: LOCAL_DATABASE,
          close: () => {
            for (const client of Object.values(clients)) client.destroy();
          },
        };
      }
      try {
        const runner = await createTrainingSetRunner({ engine, ...store });
        await trainingSetCommand(options, { registry, runner, database: store.database, s3: store.s3, stdout: process.stdout, stderr: process.stderr });
      } finally {
        store.close();
      }
    },
  );

program
  .command('advise')
  .description('which streaming features of a service lose nothing when served stale, so that a batch schedule would do')
  .requiredOption('--service <name>', 'a feature service')
  .requiredOption('--labels <file|s3://…>', 'labels: join keys, a time column, optionally a 0/1 outcome (.parquet or .csv)')
  .option('--staleness <durations>', 'the lags to test, comma-separated', '5m,1h,6h,24h')
  .option('--label-column <name>', 'the 0/1 outcome column (without it: judged by how often values change)')
  .option('--timestamp-column <name>', "the labels' time column", 'event_timestamp')
  .option('--tolerance <number>', 'largest acceptable AUC drop (or share of changed values without labels)')
  .option('--write-units <number>', 'DynamoDB write units per online item write', '1')
  .option('--lambda-ms <number>', 'Lambda milliseconds per online item write', '5')
  .option('--html <file>', 'also write the report with its chart as an HTML page')
  .option('--json', 'print the report as JSON')
  .option('--definitions <module>', 'the definitions module', DEFAULT_DEFINITIONS)
  .option('--stack <name>', 'a deployed Tessera stack (CloudFormation stack name); default: local mode')
  .addOption(new Option('--region <region>', 'AWS region of the stack').env('AWS_REGION'))
  .action(async (options: AdviseOptions & OfflineStoreOptions & { definitions: string }) => {
    const [{ adviseCommand, stageLines }, { withOfflineStore }] = await Promise.all([import('../cli/advise.js'), import('../cli/offline-store.js')]);
    const registry = await loadRegistry(options.definitions);
    await withOfflineStore(options, process.env, (store) =>
      adviseCommand(options, { registry, ...store, stdout: process.stdout, onProgress: stageLines(process.stderr) }),
    );
  });

program
  .command('status')
  .description('the last hour per source and view: events/s, event → servable lag, last update, dead letters, failed batches')
  .option('--json', 'print the status as JSON')
  .option('--definitions <module>', 'the definitions module', DEFAULT_DEFINITIONS)
  .option('--stack <name>', 'a deployed Tessera stack (CloudFormation stack name); default: local mode')
  .addOption(new Option('--region <region>', 'AWS region of the stack').env('AWS_REGION'))
  .action(async (options: OfflineStoreOptions & { json?: boolean; definitions: string }) => {
    const [{ statusCommand }, { withOfflineStore }] = await Promise.all([import('../cli/status.js'), import('../cli/offline-store.js')]);
    const registry = await loadRegistry(options.definitions);
    await withOfflineStore(options, process.env, (store) => statusCommand(options, { registry, ...store, stdout: process.stdout }));
  });

program
  .command('drift')
  .description('PSI (and KS for numbers) per feature between a training set and what was served since')
  .requiredOption('--service <name>', 'a feature service')
  .requiredOption('--training <file>', 'a training set of the service (.parquet or .csv), e.g. from tessera training-set')
  .option('--since <duration>', 'how far back to look at what was served', '7d')
  .option('--timestamp-column <name>', "the training set's time column", 'event_timestamp')
  .option('--html <file>', 'also write the report with its charts as an HTML page')
  .option('--json', 'print the report as JSON')
  .option('--definitions <module>', 'the definitions module', DEFAULT_DEFINITIONS)
  .option('--stack <name>', 'a deployed Tessera stack (CloudFormation stack name); default: local mode')
  .addOption(new Option('--region <region>', 'AWS region of the stack').env('AWS_REGION'))
  .action(async (options: DriftOptions & OfflineStoreOptions & { definitions: string }) => {
    const [{ driftCommand }, { withOfflineStore }] = await Promise.all([import('../cli/drift.js'), import('../cli/offline-store.js')]);
    const registry = await loadRegistry(options.definitions);
    await withOfflineStore(options, process.env, (store) => driftCommand(options, { registry, ...store, stdout: process.stdout }));
  });

program.parseAsync().catch((error: unknown) => {
  // Errors a user acts on carry their own text; nothing else needs a stack trace here either.
  if (error instanceof TesseraApiError) console.error(`tessera: the API answered ${error.message}`);
  else console.error(`tessera: ${(error as Error).message}`);
  process.exitCode = 1;
});
