/**
 * The daily profile job: for one day (by default yesterday, UTC) and each feature service,
 * profiles every stored row feature of the service from the offline store — the values
 * written that day, which are what serving answered from then on — with the SQL `tessera
 * drift` uses (core/drift.ts profileSql), in one query per feature over the day and the
 * `referenceDays` days before it. It writes the day's profiles as JSON lines under
 * `profiles/<service>/date=<day>/profiles.jsonl` (rewritten by a re-run: idempotent; one
 * object per day, so history accumulates), compares each feature's day with the merged
 * profile of the reference days (PSI, KS for numbers), and reports the PSIs to `metrics`
 * (EMF deployed: an alarm per service watches the largest).
 *
 * Left out: pii features (their top values would copy personal data into the profiles),
 * list features, windowed aggregates and on-demand features (not columns of the offline
 * rows; `tessera drift` profiles them from an as-served training set).
 */

import type { ProfileSink, PsiRecorder } from '../adapters/ports.js';
import type { ViewScan } from '../adapters/query-runner.js';
import type { FeatureType, Row } from '../core/definitions.js';
import { BUCKET_PREFIX } from '../core/deployment.js';
import {
  type Comparison,
  DRIFT_METRICS,
  DRIFT_NAMESPACE,
  dayDrift,
  dayNumber,
  isoDay,
  type Profile,
  profileSql,
  profilesFromRows,
  profileToJson,
} from '../core/drift.js';
import { ValidationError } from '../core/errors.js';
import { EVENT_ID, EVENT_TS, INGEST_TS } from '../core/offline.js';
import { ident } from '../core/point-in-time.js';
import type { Registry } from '../core/registry.js';

/** The EMF metrics of the job (namespace and names); the stack's alarm watches `MaxFeaturePsi` per `featureService`. */

/** The PSI above which a feature counts as drifted, unless a service says otherwise (the usual reading: above 0.2, a shift worth a look). */
export const DEFAULT_PSI_THRESHOLD = 0.2;

/** The object holding a service's profiles of a day. */
export const profilesKey = (service: string, date: string): string => `${BUCKET_PREFIX.profiles}${service}/date=${date}/profiles.jsonl`;

/** Read-only SQL over the offline views (`<database>.<view>`, with `date`/`hour` partition columns). */
export interface OfflineSql {
  run(sql: string, views: readonly ViewScan[]): Promise<Row[]>;
}

export interface ProfileJobDeps {
  readonly registry: Registry;
  /** The Glue (Athena) or DuckDB database of the offline views. */
  readonly database: string;
  readonly sql: OfflineSql;
  readonly sink: ProfileSink;
  readonly metrics: PsiRecorder;
}

export interface ProfileJobRequest {
  /** The UTC day profiled, `YYYY-MM-DD`. */
  readonly date: string;
  /** @default 7 */
  readonly referenceDays?: number;
  /** @default every feature service of the registry */
  readonly services?: readonly string[];
}

export interface FeatureDayProfile {
  readonly service: string;
  readonly date: string;
  readonly feature: string;
  readonly type: FeatureType;
  /** Rows of the day (nulls included). */
  readonly rows: number;
  /** Rows of the reference days. */
  readonly referenceRows: number;
  /** Absent when the day or the reference has no rows. */
  readonly psi?: number;
  readonly ks?: number;
}

export interface ProfileJobReport {
  readonly date: string;
  /** Reference days, inclusive. */
  readonly reference: { readonly from: string; readonly to: string };
  readonly objects: readonly string[];
  readonly features: readonly FeatureDayProfile[];
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The UTC day before the one `now` falls in: what a run after midnight profiles. */
export const previousDay = (now: number): string => isoDay(Math.floor(now / 86_400_000) - 1);

export async function runProfileJob(request: ProfileJobRequest, deps: ProfileJobDeps): Promise<ProfileJobReport> {
  if (!DATE.test(request.date) || Number.isNaN(dayNumber(request.date))) throw new ValidationError(`date ${request.date} is not a day like 2026-07-04`);
  const referenceDays = request.referenceDays ?? 7;
  const day = dayNumber(request.date);
  const from = isoDay(day - referenceDays);
  const services = request.services ?? [...deps.registry.services.keys()];
  // A feature in several services is profiled once.
  const profiled = new Map<string, Promise<Map<number, Profile>>>();
  const objects: string[] = [];
  const features: FeatureDayProfile[] = [];
  for (const service of services) {
    const plan = deps.registry.servicePlan(service);
    const lines: string[] = [];
    const psiByFeature = new Map<string, number>();
    for (const { view, features: viewFeatures } of plan.views) {
      for (const feature of viewFeatures.filter((f) => f.kind === 'row' && !f.pii && !f.type.endsWith('[]'))) {
        const numeric = feature.type === 'int' || feature.type === 'float';
        let days = profiled.get(feature.column);
        if (!days) {
          // One row per event: copies of an event (a retried batch) count once, as compaction keeps them.
          const latest = `(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY ${[...view.entities.map((e) => e.joinKey), EVENT_ID, EVENT_TS].map(ident).join(', ')} ORDER BY ${ident(INGEST_TS)}) AS "__copy" FROM ${ident(deps.database)}.${ident(view.name)} WHERE "date" BETWEEN '${from}' AND '${request.date}') AS "d" WHERE "__copy" = 1)`;
          const sql = profileSql(`${latest} AS "rows"`, ident(feature.feature), ident(EVENT_TS), numeric);
          days = deps.sql.run(sql, [{ view, from: `${from}/00`, to: `${request.date}/23` }]).then((rows) => profilesFromRows(rows, numeric));
          profiled.set(feature.column, days);
        }
        const drift = dayDrift(await days, day, referenceDays);
        const psi = drift.comparison?.psi;
        if (psi !== undefined) psiByFeature.set(feature.column, psi);
        const summary: FeatureDayProfile = {
          service,
          date: request.date,
          feature: feature.column,
          type: feature.type,
          rows: drift.profile?.count ?? 0,
          referenceRows: drift.reference?.count ?? 0,
          ...(psi !== undefined ? { psi } : {}),
          ...(drift.comparison?.ks !== undefined ? { ks: drift.comparison.ks } : {}),
        };
        features.push(summary);
        lines.push(
          JSON.stringify({
            ...summary,
            reference: { from, to: isoDay(day - 1) },
            ...bins(drift.comparison),
            profile: drift.profile ? profileToJson(drift.profile) : null,
          }),
        );
      }
    }
    const key = profilesKey(service, request.date);
    await deps.sink.write(key, lines);
    objects.push(key);
    deps.metrics.record(service, psiByFeature);
  }
  return { date: request.date, reference: { from, to: isoDay(day - 1) }, objects, features };
}

const bins = (c: Comparison | undefined) => (c ? { bins: c.bins, referenceShares: c.expected, shares: c.actual } : {});
