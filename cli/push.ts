/**
 * `tessera push`: events from a JSON-lines file to a stream source. Every line is validated
 * and transformed locally first (the same core as the stream handler), so rejected records
 * are counted and explained before anything is sent; valid ones go to the API's /v1/push
 * (local mode) or straight to the Kinesis stream (a deployed stack).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { Presets, SingleBar } from 'cli-progress';
import { KinesisEventStream } from '../lambdas/adapters/event-stream.js';
import { NotFoundError } from '../lambdas/core/errors.js';
import { Ingestor, type Rejection } from '../lambdas/core/ingest.js';
import type { Registry } from '../lambdas/core/registry.js';
import type { CliTarget } from './target.js';

export interface PushSummary {
  readonly sent: number;
  readonly rejected: readonly { line: number; rejection: Rejection }[];
}

const CHUNK = 500;

export async function pushFile(file: string, sourceName: string, registry: Registry, target: CliTarget, progress: boolean): Promise<PushSummary> {
  const source = registry.sources.get(sourceName);
  if (source?.kind !== 'stream') {
    const streams = registry.streamSources().map((s) => s.name);
    const what = source ? `"${sourceName}" is a batch source (apply its files with tessera backfill)` : `unknown stream source "${sourceName}"`;
    throw new NotFoundError(`${what}; the stream sources are ${streams.join(', ') || 'none'}`);
  }
  const ingestor = new Ingestor(registry);
  const stream = target.aws ? new KinesisEventStream(new KinesisClient({ region: target.aws.region })) : undefined;
  const streamName = target.aws?.streams[sourceName];
  if (target.aws && !streamName) throw new Error(`the stack has no stream for source "${sourceName}"`);
  const bar = progress ? new SingleBar({ format: 'push {bar} {value} events | {rejected} rejected', hideCursor: true }, Presets.shades_classic) : undefined;
  bar?.start(0, 0, { rejected: 0 });
  const rejected: { line: number; rejection: Rejection }[] = [];
  let sent = 0;
  let chunk: Record<string, unknown>[] = [];
  const flush = async () => {
    if (!chunk.length) return;
    if (stream && streamName) {
      const records = chunk.map((e) => ({ partitionKey: String(e[source.eventIdField]), data: Buffer.from(JSON.stringify(e)) }));
      const { failed } = await stream.put(streamName, records);
      if (failed) throw new Error(`${failed} records could not be written to ${streamName}`);
    } else {
      await (target.writer ?? target.client).push(sourceName, chunk);
    }
    sent += chunk.length;
    chunk = [];
  };
  let line = 0;
  for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    if (!text.trim()) continue;
    const outcome = ingestor.ingest(source, text, Date.now());
    if (!outcome.ok) {
      rejected.push({ line, rejection: outcome.rejection });
    } else {
      chunk.push(JSON.parse(text));
      if (chunk.length === CHUNK) await flush();
    }
    bar?.setTotal(line);
    bar?.update(line, { rejected: rejected.length });
  }
  await flush();
  bar?.stop();
  return { sent, rejected };
}
