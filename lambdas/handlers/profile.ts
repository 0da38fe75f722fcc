/**
 * The profile handler, run daily by an EventBridge schedule: profiles the day before the
 * event's time (UTC), or the day `{"date": "YYYY-MM-DD"}` names, and reports drift
 * (app/profile-job.ts). Deployed, its SQL runs on Athena; local mode and the tests give it
 * DuckDB. Settings (environment, read once): TESSERA_BUCKET, TESSERA_GLUE_DATABASE,
 * TESSERA_ATHENA_WORKGROUP, TESSERA_PROFILE_REFERENCE_DAYS (default 7).
 */
import { AthenaQueryRunner } from '../adapters/athena-runner.js';
import { EmfPsiRecorder, S3ProfileSink } from '../adapters/profile-store.js';
import { type OfflineSql, type ProfileJobReport, type PsiRecorder, previousDay, runProfileJob } from '../app/profile-job.js';
import { createRuntime, lazyHandler, type Runtime, readConfig } from './runtime.js';

export interface ProfileEvent {
  /** The day to profile. @default the day before `time` */
  readonly date?: string;
  /** EventBridge's schedule time. @default now */
  readonly time?: string;
}

export interface ProfileHandlerOptions {
  readonly database: string;
  readonly sql: OfflineSql;
  /** @default EMF through Powertools Metrics */
  readonly metrics?: PsiRecorder;
  /** @default 7 */
  readonly referenceDays?: number;
}

export function createProfileHandler(runtime: Runtime, options: ProfileHandlerOptions): (event?: ProfileEvent) => Promise<ProfileJobReport> {
  const sink = new S3ProfileSink(runtime.clients.s3, runtime.config.bucket);
  const deps = { ...options, registry: runtime.registry, sink, metrics: options.metrics ?? new EmfPsiRecorder() };
  return async (event = {}) => {
    const date = event.date ?? previousDay(event.time ? Date.parse(event.time) : runtime.now());
    const report = await runProfileJob({ date, ...(options.referenceDays ? { referenceDays: options.referenceDays } : {}) }, deps);
    runtime.logger.info('daily profiles written', { date, objects: report.objects, features: report.features.length });
    return report;
  };
}

export const handler = lazyHandler(() => {
  // The job reads through Athena and writes to the bucket; readConfig insists on a table name it never uses here.
  const runtime = createRuntime(readConfig({ TESSERA_TABLE: 'unused-by-profiles', ...process.env }));
  const database = process.env.TESSERA_GLUE_DATABASE as string;
  const athena = new AthenaQueryRunner(runtime.clients.athena, { workgroup: process.env.TESSERA_ATHENA_WORKGROUP as string, database });
  const referenceDays = Number(process.env.TESSERA_PROFILE_REFERENCE_DAYS ?? 7);
  return createProfileHandler(runtime, { database, sql: { run: (sql) => athena.run(sql) }, referenceDays });
});
