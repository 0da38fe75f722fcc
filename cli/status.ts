/**
 * `tessera status [--stack NAME] [--json]`: the last hour of the store, per source and view —
 * events per second, event → servable lag (p50/p99, from the offline rows' ingest_ts −
 * event_ts, the same summary the pipeline emits as metrics), the last update, dead letters —
 * and the failed batches kept in the bucket. Read from the offline store (DuckDB locally,
 * Athena deployed) and the bucket's dead-letter and failed-batch prefixes.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import type { TrainingSetRunner } from '../lambdas/adapters/query-runner.js';
import { BUCKET_PREFIX } from '../lambdas/core/deployment.js';
import { formatDuration } from '../lambdas/core/duration.js';
import { freshnessByView, type ViewFreshness } from '../lambdas/core/freshness.js';
import { EVENT_TS, INGEST_TS, partitionOf } from '../lambdas/core/offline.js';
import { ident } from '../lambdas/core/point-in-time.js';
import type { Registry } from '../lambdas/core/registry.js';
import { type DefinitionsOptions, type Output, withDefinitions, withStack } from './command.js';
import { type OfflineStoreOptions, offlineStoreAction } from './offline-store.js';

const HOUR = 3_600_000;
/** How late an event may arrive and still be counted: partitions are by event time. */
const LATE_EVENTS_MS = 24 * HOUR;
const DEAD_LETTER_PREFIX = BUCKET_PREFIX.deadLetter;
/** Tessera's own failed batches (local poller, replays) and Lambda's S3 on-failure destination. */
const FAILED_BATCH_PREFIXES = [BUCKET_PREFIX.failedBatches, BUCKET_PREFIX.lambdaFailedBatches];

export interface StatusDeps {
  readonly registry: Registry;
  readonly runner: TrainingSetRunner;
  readonly database: string;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly description: string;
  readonly stdout: Output;
  /** @default Date.now */
  readonly clock?: () => number;
}

export interface ViewStatus extends Omit<ViewFreshness, 'newestEventTs' | 'lastIngestTs'> {
  readonly source: string;
  readonly eventsPerSecond: number;
  /** The last write in the hour; null when none. */
  readonly lastUpdate: string | null;
  readonly freshnessObjectiveMs: number | null;
  /** Whether the p99 lag is within the objective; null without an objective or events. */
  readonly withinObjective: boolean | null;
}

export interface SourceStatus {
  readonly source: string;
  readonly eventsPerSecond: number;
  readonly deadLetters: number;
}

export interface StoreStatus {
  readonly store: string;
  readonly from: string;
  readonly to: string;
  readonly sources: readonly SourceStatus[];
  readonly views: readonly ViewStatus[];
  readonly failedBatches: number;
}

export async function storeStatus(deps: StatusDeps): Promise<StoreStatus> {
  // Loaded here, not at the top: DuckDB is a native module the other commands do without.
  const [{ sqlString }, { runOfflineQuery }] = await Promise.all([import('../lambdas/adapters/duckdb-runner.js'), import('../lambdas/app/offline-query.js')]);
  const now = (deps.clock ?? Date.now)();
  const since = now - HOUR;
  const views = [...deps.registry.views.values()];
  const from = partitionOf(since - LATE_EVENTS_MS);
  const rows = views.length
    ? await runOfflineQuery(deps.runner, {
        database: deps.database,
        views: views.map((view) => ({ view, from: `${from.date}/${from.hour}` })),
        sql: views
          .map(
            (view) =>
              `SELECT ${sqlString(view.name)} AS "view", ${ident(EVENT_TS)} AS "event_ts", ${ident(INGEST_TS)} AS "ingest_ts" FROM ${ident(deps.database)}.${ident(view.name)} WHERE ${ident(INGEST_TS)} > ${since} AND ${ident(INGEST_TS)} <= ${now}`,
          )
          .join('\nUNION ALL\n'),
      })
    : [];
  const stats = new Map(
    freshnessByView(rows.map((r) => ({ view: String(r.view), eventTs: Number(r.event_ts), ingestTs: Number(r.ingest_ts) }))).map((s) => [s.view, s]),
  );
  const viewStatus = views.map((view): ViewStatus => {
    const s = stats.get(view.name);
    const objective = deps.registry.freshnessMs.get(view.name) ?? null;
    return {
      view: view.name,
      source: view.source.name,
      events: s?.events ?? 0,
      eventsPerSecond: (s?.events ?? 0) / (HOUR / 1000),
      lagP50Ms: s?.lagP50Ms ?? 0,
      lagP99Ms: s?.lagP99Ms ?? 0,
      lastUpdate: s ? new Date(s.lastIngestTs).toISOString() : null,
      freshnessObjectiveMs: objective,
      withinObjective: objective === null || !s ? null : s.lagP99Ms <= objective,
    };
  });
  const sources: SourceStatus[] = [];
  for (const source of deps.registry.sources.values()) {
    const ofSource = viewStatus.filter((v) => v.source === source.name);
    const days = [...new Set([since, now].map((t) => new Date(t).toISOString().slice(0, 10)))];
    let deadLetters = 0;
    for (const day of days) deadLetters += await countSince(deps.s3, deps.bucket, `${DEAD_LETTER_PREFIX}${source.name}/date=${day}/`, since);
    sources.push({ source: source.name, eventsPerSecond: Math.max(0, ...ofSource.map((v) => v.eventsPerSecond)), deadLetters });
  }
  let failedBatches = 0;
  for (const prefix of FAILED_BATCH_PREFIXES) failedBatches += await countSince(deps.s3, deps.bucket, prefix, since);
  return { store: deps.description, from: new Date(since).toISOString(), to: new Date(now).toISOString(), sources, views: viewStatus, failedBatches };
}

/** Objects under `prefix` written after `since`. */
async function countSince(s3: S3Client, bucket: string, prefix: string, since: number): Promise<number> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  let count = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    count += (page.Contents ?? []).filter((o) => (o.LastModified?.getTime() ?? 0) > since).length;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return count;
}

const seconds = (ms: number) =>
  ms < 1000
    ? `${Math.round(ms)} ms`
    : ms < 120_000
      ? `${(ms / 1000).toFixed(1)} s`
      : ms < 2 * HOUR
        ? `${(ms / 60_000).toFixed(1)} min`
        : `${(ms / HOUR).toFixed(1)} h`;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

export function describeStatus(status: StoreStatus, now: number): string {
  const ago = (iso: string | null) => (iso ? `${seconds(now - Date.parse(iso))} ago` : '—');
  const lines = [`${status.store}: the last hour, ${status.from} → ${status.to}`, ''];
  lines.push(
    ...table(
      ['source', 'events/s', 'dead letters'],
      status.sources.map((s) => [s.source, s.eventsPerSecond.toFixed(2), String(s.deadLetters)]),
    ),
    '',
  );
  lines.push(
    ...table(
      ['view', 'events/s', 'lag p50', 'lag p99', 'last update', 'freshness objective'],
      status.views.map((v) => [
        v.view,
        v.eventsPerSecond.toFixed(2),
        v.events ? seconds(v.lagP50Ms) : '—',
        v.events ? seconds(v.lagP99Ms) : '—',
        ago(v.lastUpdate),
        v.freshnessObjectiveMs === null
          ? '—'
          : `${formatDuration(v.freshnessObjectiveMs)} ${v.withinObjective === null ? '(no events)' : v.withinObjective ? 'met' : 'MISSED'}`,
      ]),
    ),
    '',
    `failed batches kept in the last hour: ${status.failedBatches}`,
  );
  return `${lines.join('\n')}\n`;
}

export async function statusCommand(options: { json?: boolean }, deps: StatusDeps): Promise<StoreStatus> {
  const now = (deps.clock ?? Date.now)();
  const status = await storeStatus({ ...deps, clock: () => now });
  deps.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : describeStatus(status, now));
  return status;
}

export function register(program: Command): void {
  withStack(
    withDefinitions(
      program
        .command('status')
        .description('the last hour per source and view: events/s, event → servable lag, last update, dead letters, failed batches')
        .option('--json', 'print the status as JSON'),
    ),
  ).action(
    offlineStoreAction((options: OfflineStoreOptions & DefinitionsOptions & { json?: boolean }, deps) =>
      statusCommand(options, { ...deps, stdout: process.stdout }),
    ),
  );
}
