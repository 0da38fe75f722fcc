/**
 * The batch handler (app/backfill.ts does the work). Three kinds of event: a run (EventBridge
 * schedule, `tessera backfill`), an SQS batch of chunks from the backfill queue — Powertools'
 * BatchProcessor reports the failed ones back (ReportBatchItemFailures) — and a chunk applied
 * directly (`{chunk}`, what an SQS record carries).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import * as definitions from '../../features/index.js';
import { S3BatchFiles } from '../adapters/batch-files.js';
import { SqsChunkQueue } from '../adapters/chunk-queue.js';
import { EmfFreshnessRecorder } from '../adapters/freshness-metrics.js';
import { DynamoJobStore } from '../adapters/jobs.js';
import type { Chunk } from '../adapters/ports.js';
import { type BatchDependencies, createBackfill, RunRequest, type RunResult } from '../app/backfill.js';
import { ValidationError } from '../core/errors.js';
import { Registry } from '../core/registry.js';
import { createRuntime, lazyHandler, type Runtime, readConfig } from './runtime.js';

type BatchEvent = RunRequest | SQSEvent | { chunk: Chunk };

export function createBatchHandler(runtime: Runtime, deps: BatchDependencies) {
  const { logger } = runtime;
  const backfill = createBackfill(runtime, deps, runtime.config.backfillMaxReceives);
  const deliver = async (record: SQSRecord) => {
    const chunk = JSON.parse(record.body) as Chunk;
    await backfill.deliverChunk(chunk, Number(record.attributes?.ApproximateReceiveCount ?? 1)).catch((error) => {
      logger.error('chunk failed', { chunk, error: error as Error });
      throw error;
    });
  };

  return async (event: BatchEvent): Promise<RunResult | SQSBatchResponse | { rows: number; rejected: number }> => {
    if ('Records' in event)
      return processPartialResponse(event, deliver, new BatchProcessor(EventType.SQS), { processInParallel: false, throwOnFullBatchFailure: false });
    if ('chunk' in event) return backfill.applyChunk(event.chunk);
    const parsed = RunRequest.safeParse(event);
    if (!parsed.success) throw new ValidationError(z.prettifyError(parsed.error));
    const result = await backfill.run(parsed.data);
    if (result.queued) logger.info('backfill queued', { jobId: result.jobId, chunks: result.chunks });
    return result;
  };
}

export function batchDependencies(runtime: Runtime): BatchDependencies {
  const queueUrl = runtime.config.backfillQueueUrl;
  return {
    files: new S3BatchFiles(runtime.clients.s3),
    jobs: new DynamoJobStore(runtime.clients.dynamodb, runtime.config.tableName),
    ...(queueUrl ? { queue: new SqsChunkQueue(runtime.clients.sqs, queueUrl) } : {}),
  };
}

export const handler = lazyHandler(() => {
  const runtime = createRuntime(readConfig(process.env), { registry: Registry.fromModule(definitions), freshness: new EmfFreshnessRecorder() });
  return createBatchHandler(runtime, batchDependencies(runtime));
});
