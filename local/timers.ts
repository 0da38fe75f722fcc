/**
 * Local mode's stand-in for EventBridge schedules: the compaction handler every hour, the
 * profile handler every day (profiles of the day before, on DuckDB instead of Athena), and
 * the batch handler for every batch source with a `rate(...)` schedule, given the same
 * `{source, lookback}` event the stack's rule sends (core/schedule.ts). The handlers are
 * the deployed code; locally the batch handler has no queue, so each run applies its files
 * in place. As with EventBridge the first run comes one period after the start, and a run
 * still going when the next is due is not overlapped (that one is skipped).
 */

import { LOCAL_DATABASE } from '../cli/offline-store.js';
import { S3OfflineObjects } from '../lambdas/adapters/offline-objects.js';
import { duckDbOfflineSql } from '../lambdas/app/offline-query.js';
import { DEFAULT_PSI_THRESHOLD } from '../lambdas/app/profile-job.js';
import { ratePeriodMs, scheduledRun } from '../lambdas/core/schedule.js';
import { batchDependencies, createBatchHandler } from '../lambdas/handlers/batch.js';
import { createCompactHandler } from '../lambdas/handlers/compact.js';
import { createProfileHandler } from '../lambdas/handlers/profile.js';
import type { Runtime } from '../lambdas/handlers/runtime.js';

export interface TimerJob {
  /** Shown in log lines, e.g. `compaction`, `batch transactions_daily`. */
  readonly name: string;
  readonly everyMs: number;
  readonly run: () => Promise<unknown>;
}

export interface TimerLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface ScheduledJobsOptions {
  /** @default 1 hour, as the stack's compaction rule */
  readonly compactionEveryMs?: number;
  /** @default 1 day, as the stack's profile schedule */
  readonly profilesEveryMs?: number;
  /** Told about schedules local mode cannot run (cron expressions). */
  readonly log?: TimerLog;
}

/** The jobs EventBridge would run for the runtime's registry: compaction, the daily profiles and each scheduled batch source. */
export function scheduledJobs(runtime: Runtime, options: ScheduledJobsOptions = {}): TimerJob[] {
  const compact = createCompactHandler({ ...runtime, objects: new S3OfflineObjects(runtime.clients.s3, runtime.config.bucket) });
  const profile = createProfileHandler({
    ...runtime,
    s3: runtime.clients.s3,
    bucket: runtime.config.bucket,
    database: LOCAL_DATABASE,
    sql: duckDbOfflineSql(runtime.clients.s3, runtime.config.bucket, LOCAL_DATABASE),
  });
  const jobs: TimerJob[] = [
    { name: 'compaction', everyMs: options.compactionEveryMs ?? 3_600_000, run: () => compact() },
    {
      name: 'profiles',
      everyMs: options.profilesEveryMs ?? 86_400_000,
      run: async () => {
        const report = await profile();
        return {
          date: report.date,
          objects: report.objects,
          drifted: report.features.filter((f) => (f.psi ?? 0) > DEFAULT_PSI_THRESHOLD).map((f) => f.feature),
        };
      },
    },
  ];
  let batch: ReturnType<typeof createBatchHandler> | undefined;
  for (const source of runtime.registry.sources.values()) {
    if (source.kind !== 'batch' || source.schedule === undefined) continue;
    const run = scheduledRun(source);
    const everyMs = ratePeriodMs(source.schedule);
    if (!run) continue;
    if (everyMs === undefined) {
      options.log?.warn(`batch source ${source.name}: local mode runs rate(...) schedules only; run "${source.schedule}" with \`tessera backfill\``);
      continue;
    }
    batch ??= createBatchHandler(runtime, batchDependencies(runtime));
    const handler = batch;
    jobs.push({ name: `batch ${source.name}`, everyMs, run: () => handler(run) });
  }
  return jobs;
}

export interface Timers {
  readonly jobs: readonly TimerJob[];
  /** Stops the schedules and waits for the runs in progress. */
  stop(): Promise<void>;
}

/** Runs each job every `everyMs`; a failed run is logged, and the next one comes as scheduled. */
export function startTimers(jobs: readonly TimerJob[], log: TimerLog): Timers {
  const running = new Map<TimerJob, Promise<void>>();
  const tick = (job: TimerJob) => {
    if (running.has(job)) {
      log.warn(`${job.name}: the previous run is still going; skipping this one`);
      return;
    }
    const started = Date.now();
    const run = job
      .run()
      .then(
        (result) => log.info(`${job.name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s ${summary(result)}`),
        (error: unknown) => log.warn(`${job.name}: failed: ${(error as Error).message}`),
      )
      .finally(() => running.delete(job));
    running.set(job, run);
  };
  // Unreferenced: the HTTP server is what keeps local mode alive, not its timers.
  const intervals = jobs.map((job) => setInterval(() => tick(job), job.everyMs).unref());
  let stopped: Promise<void> | undefined;
  return {
    jobs,
    stop() {
      stopped ??= (async () => {
        for (const interval of intervals) clearInterval(interval);
        await Promise.allSettled(running.values());
      })();
      return stopped;
    },
  };
}

function summary(result: unknown): string {
  if (!result || typeof result !== 'object') return '';
  return JSON.stringify(result);
}
