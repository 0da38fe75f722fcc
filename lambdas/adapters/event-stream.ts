/**
 * Writing events to a Kinesis stream: PutRecords in chunks of 500 records / 5 MiB, retrying
 * the records a response reports as failed (FailedRecordCount) with backoff, within a deadline.
 */
import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import type { EventStream, StreamRecord } from './ports.js';

const MAX_RECORDS = 500;
const MAX_BYTES = 5 * 1024 * 1024;

export class KinesisEventStream implements EventStream {
  constructor(
    private readonly client: KinesisClient,
    private readonly options: { deadlineMs?: number } = {},
  ) {}

  async put(streamName: string, records: readonly StreamRecord[]): Promise<{ failed: number }> {
    let failed = 0;
    for (const chunk of chunks(records)) failed += await this.putChunk(streamName, chunk);
    return { failed };
  }

  private async putChunk(streamName: string, chunk: PutRecordsRequestEntry[]): Promise<number> {
    const deadline = Date.now() + (this.options.deadlineMs ?? 10_000);
    let pending = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        const wait = Math.min(2 ** attempt * 25, 1_000);
        if (Date.now() + wait > deadline) return pending.length;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
      const response = await this.client.send(new PutRecordsCommand({ StreamName: streamName, Records: pending }));
      if (!response.FailedRecordCount) return 0;
      pending = pending.filter((_, i) => response.Records?.[i]?.ErrorCode);
    }
    return 0;
  }
}

function* chunks(records: readonly StreamRecord[]): Generator<PutRecordsRequestEntry[]> {
  let chunk: PutRecordsRequestEntry[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = record.data.byteLength + Buffer.byteLength(record.partitionKey);
    if (chunk.length === MAX_RECORDS || bytes + size > MAX_BYTES) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push({ PartitionKey: record.partitionKey, Data: record.data });
    bytes += size;
  }
  if (chunk.length) yield chunk;
}
