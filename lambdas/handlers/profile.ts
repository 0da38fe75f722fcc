/**
 * The profile handler, run daily by an EventBridge schedule: profiles the day before the
 * event's time (UTC), or the day `{"date": "YYYY-MM-DD"}` names, and reports drift
 * (app/profile-job.ts). Deployed, its SQL runs on Athena; local mode and the tests give it
 * DuckDB. Its settings are the deployment contract's (core/deployment.ts `readProfileConfig`).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import * as definitions from '../../features/index.js';
import { AthenaQueryRunner } from '../adapters/athena-runner.js';
import { createAthenaClient, createS3Client } from '../adapters/aws.js';
import type { PsiRecorder } from '../adapters/ports.js';
import { EmfPsiRecorder, S3ProfileSink } from '../adapters/profile-store.js';
import { type OfflineSql, type ProfileJobReport, previousDay, runProfileJob } from '../app/profile-job.js';
import { readProfileConfig, SERVICE_NAME } from '../core/deployment.js';
import { Registry } from '../core/registry.js';
import { lazyHandler } from './runtime-base.js';

export interface ProfileEvent {
  /** The day to profile. @default the day before `time` */
  readonly date?: string;
  /** EventBridge's schedule time. @default now */
  readonly time?: string;
}

export interface ProfileHandlerParts {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly registry: Registry;
  readonly logger: Pick<Logger, 'info'>;
  readonly now: () => number;
  readonly database: string;
  readonly sql: OfflineSql;
  /** @default EMF through Powertools Metrics */
  readonly metrics?: PsiRecorder;
  /** @default 7 */
  readonly referenceDays?: number;
}

export function createProfileHandler(parts: ProfileHandlerParts): (event?: ProfileEvent) => Promise<ProfileJobReport> {
  const sink = new S3ProfileSink(parts.s3, parts.bucket);
  const deps = { database: parts.database, sql: parts.sql, registry: parts.registry, sink, metrics: parts.metrics ?? new EmfPsiRecorder() };
  return async (event = {}) => {
    const date = event.date ?? previousDay(event.time ? Date.parse(event.time) : parts.now());
    const report = await runProfileJob({ date, ...(parts.referenceDays ? { referenceDays: parts.referenceDays } : {}) }, deps);
    parts.logger.info('daily profiles written', { date, objects: report.objects, features: report.features.length });
    return report;
  };
}

export const handler = lazyHandler(() => {
  const config = readProfileConfig(process.env);
  const athena = new AthenaQueryRunner(createAthenaClient(config.access), { workgroup: config.workgroup, database: config.database });
  return createProfileHandler({
    s3: createS3Client(config.access),
    bucket: config.bucket,
    registry: Registry.fromModule(definitions),
    logger: new Logger({ serviceName: SERVICE_NAME, logLevel: config.logLevel as 'INFO' }),
    now: Date.now,
    database: config.database,
    sql: { run: (sql) => athena.run(sql) },
    referenceDays: config.referenceDays,
  });
});
