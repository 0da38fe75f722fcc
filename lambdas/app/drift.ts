/**
 * Drift of a service's features between a training set and what was served since a time.
 *
 * "What was served" is rebuilt from the offline store exactly: the served events of the
 * service's entities since `since` become label rows (keys, event time; up to `maxRows`,
 * evenly spaced), joined point-in-time *as served* (ingest_ts <= t) — each row holds what the
 * API answered at that moment, windowed aggregates included. Both sides are then profiled per
 * day by the same portable SQL (core/drift.ts profileSql) and compared: PSI, and KS for numbers.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbQueryRunner, sqlString } from '../adapters/duckdb-runner.js';
import type { TrainingSetRunner } from '../adapters/query-runner.js';
import type { FeatureType } from '../core/definitions.js';
import {
  type Comparison,
  compareProfiles,
  isoDay,
  mergeProfiles,
  moments,
  type Profile,
  profileSql,
  profilesFromRows,
  psi,
  quantile,
  topValues,
} from '../core/drift.js';
import { ValidationError } from '../core/errors.js';
import { EVENT_TS, partitionOf } from '../core/offline.js';
import { DEFAULT_TIMESTAMP_COLUMN, ident } from '../core/point-in-time.js';
import type { Registry } from '../core/registry.js';
import { runOfflineQuery } from './offline-query.js';
import { buildTrainingSet } from './training-set.js';

export interface DriftRequest {
  readonly service: string;
  /** A training set of the service (a local .parquet or .csv), e.g. from `tessera training-set`. */
  readonly training: string;
  readonly since: number;
  readonly now: number;
  /** The training set's time column (epoch ms or a timestamp). @default event_timestamp */
  readonly timestampColumn?: string;
  /** Served rows sampled at most. @default 20 000 */
  readonly maxRows?: number;
}

export interface DriftDeps {
  readonly registry: Registry;
  readonly runner: TrainingSetRunner;
  readonly database: string;
  readonly tmpDir?: string;
}

export interface FeatureDrift {
  readonly column: string;
  readonly type: FeatureType;
  readonly comparison: Comparison;
  /** PSI of each served day (UTC, ISO date) against the training set. */
  readonly daily: readonly { readonly day: string; readonly rows: number; readonly psi: number }[];
  readonly training: string;
  readonly served: string;
}

export interface DriftReport {
  readonly service: string;
  readonly since: string;
  readonly trainingRows: number;
  readonly servedRows: number;
  readonly features: readonly FeatureDrift[];
}

const isNumeric = (type: FeatureType) => type === 'int' || type === 'float';

export async function driftReport(request: DriftRequest, deps: DriftDeps): Promise<DriftReport> {
  const plan = deps.registry.servicePlan(request.service);
  const features = plan.features.filter((f) => f.kind !== 'onDemand' && !f.type.endsWith('[]'));
  const keyed = plan.views.find(({ view }) => plan.joinKeys.every((k) => view.entities.some((e) => e.joinKey === k)))?.view;
  if (!keyed)
    throw new ValidationError(`service ${request.service}: no view carries all of its join keys (${plan.joinKeys.join(', ')}) to sample served rows from`);
  const workDir = await mkdtemp(join(deps.tmpDir ?? tmpdir(), 'tessera-drift-'));
  const db = await DuckDbQueryRunner.open();
  try {
    // The served side: what the API answered at each served event since `since`.
    const from = partitionOf(request.since);
    const keys = plan.joinKeys.map(ident);
    const events = await runOfflineQuery(
      deps.runner,
      {
        database: deps.database,
        views: [{ view: keyed, from: `${from.date}/${from.hour}` }],
        sql: `SELECT ${keys.join(', ')}, ${ident(EVENT_TS)} AS "t" FROM ${ident(deps.database)}.${ident(keyed.name)} WHERE ${ident(EVENT_TS)} >= ${request.since} AND ${ident(EVENT_TS)} <= ${request.now}`,
      },
      workDir,
    );
    if (events.length === 0) throw new ValidationError(`nothing was served for ${request.service} since ${new Date(request.since).toISOString()}`);
    const step = Math.max(1, events.length / (request.maxRows ?? 20_000));
    const sampled = Array.from({ length: Math.floor(events.length / step) }, (_, i) => events[Math.floor(i * step)] as Record<string, unknown>);
    const labels = join(workDir, 'served-labels.csv');
    const csv = (v: unknown) => `"${String(v).replaceAll('"', '""')}"`;
    await writeFile(
      labels,
      [[...plan.joinKeys, DEFAULT_TIMESTAMP_COLUMN].join(','), ...sampled.map((r) => [...plan.joinKeys.map((k) => csv(r[k])), r.t].join(','))].join('\n'),
    );
    const served = join(workDir, 'served.parquet');
    await buildTrainingSet(
      { labels, features: features.map((f) => f.ref), out: served, asServed: true },
      { registry: deps.registry, runner: deps.runner, database: deps.database, tmpDir: workDir },
    );

    const time = request.timestampColumn ?? DEFAULT_TIMESTAMP_COLUMN;
    const reader = (file: string) => (/\.csv$/i.test(file) ? `read_csv(${sqlString(file)}, header = true)` : `read_parquet(${sqlString(file)})`);
    await db.exec(`CREATE TABLE "training_raw" AS SELECT * FROM ${reader(request.training)}`).catch((error: Error) => {
      throw new ValidationError(`training set ${request.training} cannot be read: ${error.message}`);
    });
    const described = new Map((await db.run(`DESCRIBE "training_raw"`)).map((c) => [String(c.column_name), String(c.column_type)]));
    const missing = features.filter((f) => !described.has(f.column)).map((f) => f.column);
    if (!described.has(time)) throw new ValidationError(`training set ${request.training} has no time column ${time}`);
    if (missing.length === features.length) throw new ValidationError(`training set ${request.training} has none of ${request.service}'s feature columns`);
    const epoch = /^TIMESTAMP|^DATE/i.test(described.get(time) ?? '') ? `epoch_ms(CAST(${ident(time)} AS TIMESTAMP))` : `CAST(${ident(time)} AS BIGINT)`;
    await db.exec(`CREATE TABLE "training" AS SELECT *, ${epoch} AS "__t" FROM "training_raw"`);
    await db.exec(`CREATE TABLE "served" AS SELECT *, CAST(${ident(DEFAULT_TIMESTAMP_COLUMN)} AS BIGINT) AS "__t" FROM read_parquet(${sqlString(served)})`);
    const count = async (table: string) => Number((await db.run(`SELECT count(*) AS "n" FROM "${table}"`))[0]?.n ?? 0);

    const drifts: FeatureDrift[] = [];
    for (const feature of features.filter((f) => described.has(f.column))) {
      const numeric = isNumeric(feature.type);
      const profiles = async (table: string) => profilesFromRows(await db.run(profileSql(`"${table}"`, ident(feature.column), '"__t"', numeric)), numeric);
      const trainingDays = await profiles('training');
      const servedDays = await profiles('served');
      const total = (days: Map<number, Profile>) => [...days.values()].reduce((a, b) => mergeProfiles(a, b));
      if (trainingDays.size === 0 || servedDays.size === 0) continue;
      const trainingProfile = total(trainingDays);
      const servedProfile = total(servedDays);
      const comparison = compareProfiles(trainingProfile, servedProfile);
      const daily = [...servedDays]
        .sort((a, b) => a[0] - b[0])
        .map(([day, profile]) => {
          const c = compareProfiles(trainingProfile, profile);
          return { day: isoDay(day), rows: profile.count, psi: psi(c.expected, c.actual) };
        });
      drifts.push({ column: feature.column, type: feature.type, comparison, daily, training: summary(trainingProfile), served: summary(servedProfile) });
    }
    return {
      service: request.service,
      since: new Date(request.since).toISOString(),
      trainingRows: await count('training'),
      servedRows: await count('served'),
      features: drifts,
    };
  } finally {
    db.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** A one-line description of a profile: nulls, mean ± sd and quartiles, or the top values. */
function summary(p: Profile): string {
  const nulls = `${Math.round((p.nulls / Math.max(1, p.count)) * 100)}% null`;
  if (p.kind === 'numeric') {
    const { mean, stddev } = moments(p);
    const q = (x: number) => Number(quantile(p, x).toPrecision(3));
    return `mean ${Number(mean.toPrecision(4))} ± ${Number(stddev.toPrecision(3))}, p25/p50/p75 ${q(0.25)}/${q(0.5)}/${q(0.75)}, ${nulls}`;
  }
  return `${topValues(p, 3)
    .map((t) => `${t.value} ${Math.round(t.share * 100)}%`)
    .join(', ')}, ${nulls}`;
}
