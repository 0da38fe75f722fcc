/**
 * The queue that spreads a backfill over parallel workers: one SQS message per chunk (a
 * file of the batch source), consumed by the batch Lambda through an event source mapping.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Chunk, ChunkQueue } from './ports.js';

export class SqsChunkQueue<T = Chunk> implements ChunkQueue<T> {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(chunks: readonly T[]): Promise<void> {
    for (let i = 0; i < chunks.length; i += 10) {
      const batch = chunks.slice(i, i + 10);
      const response = await this.client.send(
        new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: batch.map((chunk, j) => ({ Id: String(j), MessageBody: JSON.stringify(chunk) })) }),
      );
      if (response.Failed?.length) throw new Error(`could not enqueue ${response.Failed.length} chunks: ${response.Failed[0]?.Message ?? ''}`);
    }
  }
}
