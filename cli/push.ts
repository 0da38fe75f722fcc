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
import type { Command } from 'commander';
import { KinesisEventStream } from '../lambdas/adapters/event-stream.js';
import { NotFoundError } from '../lambdas/core/errors.js';
import { Ingestor, type Rejection } from '../lambdas/core/ingest.js';
import type { Registry } from '../lambdas/core/registry.js';
import { type DefinitionsOptions, withApi, withDefinitions } from './command.js';
import { countOf, loadRegistry } from './definitions.js';
import { type CliTarget, reach, resolveTarget, type TargetOptions } from './target.js';

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
  if (target.aws && !streamName) throw new NotFoundError(`the stack has no stream for source "${sourceName}"`);
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

export function register(program: Command): void {
  withDefinitions(
    withApi(program.command('push'))
      .description('send events from a JSON-lines file to a stream source')
      .requiredOption('--file <path>', 'JSON lines, one event per line')
      .option('--source <name>', 'the stream source', 'transactions'),
  ).action(async (options: TargetOptions & DefinitionsOptions & { file: string; source: string }) => {
    const registry = await loadRegistry(options.definitions);
    const target = await resolveTarget(options, process.env);
    const summary = await reach(target, () => pushFile(options.file, options.source, registry, target, process.stderr.isTTY === true));
    console.log(`${countOf(summary.sent, 'event')} sent to ${options.source} on ${target.description}; ${summary.rejected.length} rejected.`);
    for (const { line, rejection } of summary.rejected.slice(0, 20)) console.log(`  line ${line}: ${rejection.code}: ${rejection.message}`);
    if (summary.rejected.length > 20) console.log(`  … and ${summary.rejected.length - 20} more`);
    if (summary.rejected.length) process.exitCode = 2;
  });
}
