/**
 * `tessera training-set`: builds a training set (lambdas/app/training-set.ts) on the offline
 * store of local mode or of `--stack`, with a progress display on stderr, then prints the row
 * count, the null rate of every feature, the cost (Athena) and where the result is.
 */
import { extname } from 'node:path';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import type { Progress } from '../lambdas/adapters/query-runner.js';
import type { TrainingSetDeps, TrainingSetSummary } from '../lambdas/app/training-set.js';
import { type DefinitionsOptions, type Output, withDefinitions, withStack } from './command.js';
import { loadRegistry } from './definitions.js';
import { checkCsvLabels } from './labels.js';
import { type OfflineStoreOptions, withOfflineStore } from './offline-store.js';

/** What `--out` writes. */
const OUTPUT_FORMATS = ['.parquet', '.csv'];

export interface TrainingSetCommandOptions {
  readonly labels: string;
  readonly service?: string;
  /** Comma-separated `view:feature` references, instead of `service`. */
  readonly features?: string;
  readonly asServed?: boolean;
  readonly out: string;
  readonly timestampColumn?: string;
  /** Print the point-in-time SQL too. */
  readonly showSql?: boolean;
}

export interface TrainingSetCommandDeps extends Omit<TrainingSetDeps, 'onProgress'> {
  readonly stdout: Output;
  /** Progress goes here: a live bar on a terminal, one line per stage otherwise. */
  readonly stderr: Output;
}

const STAGE_LABEL: Record<Progress['stage'], string> = {
  labels: 'labels',
  fetch: 'fetch',
  upload: 'upload',
  query: 'query',
  download: 'download',
  'on-demand': 'on-demand',
  write: 'write',
};

export async function trainingSetCommand(options: TrainingSetCommandOptions, deps: TrainingSetCommandDeps): Promise<TrainingSetSummary> {
  // Loaded here, not at the top: DuckDB is a native module the other commands do without.
  const { buildTrainingSet } = await import('../lambdas/app/training-set.js');
  const display = progressDisplay(deps.stderr);
  let summary: TrainingSetSummary;
  try {
    summary = await buildTrainingSet(
      {
        labels: options.labels,
        out: options.out,
        asServed: options.asServed ?? false,
        ...(options.service ? { service: options.service } : {}),
        ...(options.features
          ? {
              features: options.features
                .split(',')
                .map((f) => f.trim())
                .filter(Boolean),
            }
          : {}),
        ...(options.timestampColumn ? { timestampColumn: options.timestampColumn } : {}),
      },
      { ...deps, onProgress: display.update },
    );
  } finally {
    display.stop();
  }
  deps.stdout.write(describeSummary(summary, options.showSql ?? false));
  return summary;
}

/** The report printed after a build. */
export function describeSummary(summary: TrainingSetSummary, showSql = false): string {
  const lines = [
    `${summary.rows.toLocaleString('en-US')} rows, ${summary.features.length} features, built on ${summary.engine} in ${(summary.elapsedMs / 1000).toFixed(1)} s`,
  ];
  if (summary.bytesScanned !== undefined) {
    lines.push(
      `scanned ${formatBytes(summary.bytesScanned)} (about $${(summary.costUsd ?? 0).toFixed(4)})${summary.queryId ? `, query ${summary.queryId}` : ''}`,
    );
  }
  const width = Math.max(7, ...summary.features.map((f) => f.length));
  lines.push('', `  ${'feature'.padEnd(width)}  null rate`);
  for (const feature of summary.features) {
    lines.push(`  ${feature.padEnd(width)}  ${((summary.nullRates[feature] ?? 0) * 100).toFixed(1).padStart(8)}%`);
  }
  lines.push('', `written to ${summary.location}`);
  if (showSql) lines.push('', summary.sql);
  return `${lines.join('\n')}\n`;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

/** A cli-progress bar per stage on a terminal; plain lines (one per stage) elsewhere, e.g. in CI logs. */
function progressDisplay(stream: Output): { update: (p: Progress) => void; stop: () => void } {
  let stage: Progress['stage'] | undefined;
  if (!stream.isTTY) {
    return {
      update(p) {
        if (p.stage === stage) return;
        stage = p.stage;
        stream.write(`${STAGE_LABEL[p.stage]}: ${p.message}\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream: stream as NodeJS.WritableStream, format: '{stage} |{bar}| {value}/{total} {message}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let running = false;
  return {
    update(p) {
      const total = p.total ?? 1;
      const value = p.done ?? 0;
      if (p.stage !== stage) {
        if (running) bar.stop();
        stage = p.stage;
        bar.start(total, value, { stage: STAGE_LABEL[p.stage].padEnd(9), message: p.message });
        running = true;
      } else {
        bar.setTotal(total);
        bar.update(value, { message: p.message });
      }
    },
    stop() {
      if (running) bar.stop();
    },
  };
}

export function register(program: Command): void {
  withStack(
    withDefinitions(
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
        .option('--show-sql', 'print the point-in-time SQL'),
    ),
  ).action(async (options: TrainingSetCommandOptions & OfflineStoreOptions & DefinitionsOptions & { timestampColumn: string }, command: Command) => {
    if ((options.service === undefined) === (options.features === undefined)) command.error('error: give either --service or --features');
    if (!OUTPUT_FORMATS.includes(extname(options.out).toLowerCase())) {
      command.error(`error: --out ${options.out}: write a ${OUTPUT_FORMATS.join(' or ')} file (the format follows the extension)`);
    }
    if (!options.labels.startsWith('s3://') && extname(options.labels).toLowerCase() === '.csv') await checkCsvLabels(options.labels, options.timestampColumn);
    const registry = await loadRegistry(options.definitions);
    // Local mode has no Athena: DuckDB runs the same SQL over its offline objects.
    await withOfflineStore(options, process.env, (store) =>
      trainingSetCommand(options, { registry, runner: store.runner, database: store.database, s3: store.s3, stdout: process.stdout, stderr: process.stderr }),
    );
  });
}
