/**
 * The compaction handler, run hourly by an EventBridge schedule (app/compaction.ts does the
 * work). Safe to run twice, or while the stream handler writes; work left when the time budget
 * runs out is picked up by the next run. Its settings are the deployment contract's
 * (core/deployment.ts `readCompactionConfig`): the bucket, the minimum object age, the budget.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { ScheduledEvent } from 'aws-lambda';
import * as definitions from '../../features/index.js';
import { createS3Client } from '../adapters/aws.js';
import { S3OfflineObjects } from '../adapters/offline-objects.js';
import type { OfflineObjects } from '../adapters/ports.js';
import { type CompactionReport, OfflineCompactor } from '../app/compaction.js';
import { COMPACTION_DEFAULTS, readCompactionConfig, SERVICE_NAME } from '../core/deployment.js';
import { Registry } from '../core/registry.js';
import { lazyHandler } from './runtime-base.js';

export interface CompactHandlerParts {
  readonly objects: OfflineObjects;
  readonly registry: Registry;
  readonly logger: Pick<Logger, 'info'>;
  readonly now: () => number;
  /** @default 2 hours */
  readonly minAgeMs?: number;
  /** @default 10 minutes */
  readonly budgetMs?: number;
}

export function createCompactHandler(parts: CompactHandlerParts): (event?: ScheduledEvent) => Promise<CompactionReport> {
  const compactor = new OfflineCompactor(parts.objects, parts.registry, { minAgeMs: parts.minAgeMs ?? COMPACTION_DEFAULTS.minAgeMs });
  return async () => {
    const now = parts.now();
    const report = await compactor.run(now, now + (parts.budgetMs ?? COMPACTION_DEFAULTS.budgetMs), parts.now);
    parts.logger.info('offline compaction finished', { ...report });
    return report;
  };
}

export const handler = lazyHandler(() => {
  const config = readCompactionConfig(process.env);
  const objects = new S3OfflineObjects(createS3Client(config.access), config.bucket);
  const logger = new Logger({ serviceName: SERVICE_NAME, logLevel: config.logLevel as 'INFO' });
  return createCompactHandler({ objects, registry: Registry.fromModule(definitions), logger, now: Date.now, ...config });
});
