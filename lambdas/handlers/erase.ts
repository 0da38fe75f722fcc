/**
 * The erase handler: `{erase: {entity, erasedBy, reason?}}` (`tessera erase --stack`) starts
 * the job (app/erasure.ts) and queues its chunks; an SQS batch of chunks is applied, failures
 * reported back and, on their last delivery, counted failed so the job ends.
 */
import { randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as definitions from '../../features/index.js';
import { BucketObjects } from '../adapters/bucket-objects.js';
import { SqsChunkQueue } from '../adapters/chunk-queue.js';
import { DynamoErasureJobStore } from '../adapters/erasure-jobs.js';
import { DynamoOnlineEraser } from '../adapters/online-eraser.js';
import { applyErasureChunk, type ErasureMessage, type ErasurePorts, type ErasureRequest, failErasureChunk, startErasure } from '../app/erasure.js';
import { ERASURE_MAX_RECEIVES } from '../core/erasure.js';
import { Registry } from '../core/registry.js';
import { createRuntime, lazyHandler, type Runtime, readConfig } from './runtime.js';

export function erasurePorts(runtime: Runtime): ErasurePorts {
  const { clients, config } = runtime;
  return {
    registry: runtime.registry,
    objects: new BucketObjects(clients.s3, config.bucket),
    online: new DynamoOnlineEraser(clients.dynamodb, config.tableName),
    jobs: new DynamoErasureJobStore(clients.dynamodb, config.tableName),
    ...(config.erasureQueueUrl ? { queue: new SqsChunkQueue<ErasureMessage>(clients.sqs, config.erasureQueueUrl) } : {}),
    now: runtime.now,
    newId: () => randomUUID().slice(0, 8),
  };
}

export function createEraseHandler(runtime: Runtime, ports: ErasurePorts) {
  return async (event: { erase: ErasureRequest } | SQSEvent): Promise<{ jobId: string; chunks: number } | SQSBatchResponse> => {
    if ('erase' in event) return startErasure(event.erase, ports).then(({ job, messages }) => ({ jobId: job.id, chunks: messages.length }));
    const failures: { itemIdentifier: string }[] = [];
    for (const record of event.Records) {
      const message = JSON.parse(record.body) as ErasureMessage;
      try {
        await applyErasureChunk(message, ports);
      } catch (error) {
        runtime.logger.error('erasure chunk failed', { jobId: message.jobId, part: message.chunk.part, error: error as Error });
        failures.push({ itemIdentifier: record.messageId });
        if (Number(record.attributes?.ApproximateReceiveCount ?? 1) >= ERASURE_MAX_RECEIVES) await failErasureChunk(message, ports);
      }
    }
    return { batchItemFailures: failures };
  };
}

export const handler = lazyHandler(() => {
  const runtime = createRuntime(readConfig(process.env), { registry: Registry.fromModule(definitions) });
  return createEraseHandler(runtime, erasurePorts(runtime));
});
