/**
 * The compaction handler, run hourly by an EventBridge schedule: merges each offline
 * partition's small objects and drops copies of events (adapters/compaction.ts). Safe to run
 * twice, or while the stream handler writes. Work left when the time budget runs out is
 * picked up by the next run.
 *
 * Settings (environment, read once): TESSERA_COMPACTION_MIN_AGE_MINUTES (objects younger
 * than this are left alone; at least the stream mapping's maximum record age, default 120)
 * and TESSERA_COMPACTION_BUDGET_SECONDS (default 600, below the function's timeout).
 */
import type { ScheduledEvent } from 'aws-lambda';
import { type CompactionReport, OfflineCompactor } from '../adapters/compaction.js';
import { createRuntime, lazyHandler, type Runtime, readConfig } from './runtime.js';

export interface CompactHandlerOptions {
  /** @default 2 hours */
  readonly minAgeMs?: number;
  /** @default 10 minutes */
  readonly budgetMs?: number;
}

export function createCompactHandler(runtime: Runtime, options: CompactHandlerOptions = {}): (event?: ScheduledEvent) => Promise<CompactionReport> {
  const compactor = new OfflineCompactor(runtime.clients.s3, runtime.config.bucket, runtime.registry, {
    ...(options.minAgeMs !== undefined ? { minAgeMs: options.minAgeMs } : {}),
  });
  return async () => {
    const now = runtime.now();
    const report = await compactor.run(now, now + (options.budgetMs ?? 600_000), runtime.now);
    runtime.logger.info('offline compaction finished', { ...report });
    return report;
  };
}

const minutes = (value: string | undefined, fallback: number) => (value ? Number(value) * 60_000 : fallback);

export const handler = lazyHandler(() =>
  // Compaction touches the bucket only; readConfig insists on a table name it never uses here.
  createCompactHandler(createRuntime(readConfig({ TESSERA_TABLE: 'unused-by-compaction', ...process.env })), {
    minAgeMs: minutes(process.env.TESSERA_COMPACTION_MIN_AGE_MINUTES, 2 * 3_600_000),
    budgetMs: Number(process.env.TESSERA_COMPACTION_BUDGET_SECONDS ?? 600) * 1000,
  }),
);
