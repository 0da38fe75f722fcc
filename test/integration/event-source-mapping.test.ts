/**
 * The local event source mapping behaves as Lambda's does for Kinesis, with the settings the
 * stack deploys: bisect on error, bounded retries, maximum record age, the on-failure
 * destination, iterators re-read from the checkpoint. The function is the real stream
 * handler; failures come from faults injected into real SDK clients (named so) or from the
 * mapping's clock parameter — no mocks.
 */
import { randomUUID } from 'node:crypto';
import { ProvisionedThroughputExceededException, type PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { ExpiredIteratorException, type GetShardIteratorCommandInput, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command, type PutObjectCommandInput, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it, onTestFinished, type TestContext } from 'vitest';
import type { Transaction } from '../../features/fraud.js';
import * as definitions from '../../features/index.js';
import { type AwsClients, createClients } from '../../lambdas/adapters/aws.js';
import { Registry } from '../../lambdas/core/registry.js';
import { createRuntime, type Runtime, readConfig } from '../../lambdas/handlers/runtime.js';
import { createStreamHandler } from '../../lambdas/handlers/stream.js';
import { EventSourceMapping, type EventSourceMappingOptions, FAILED_BATCH_PREFIX, type Invocation } from '../../local/event-source-mapping.js';
import { ensureResources, type ResourceNames } from '../../local/resources.js';
import { handlerEnvironment } from '../../local/store.js';
import { hotKey, latestOf } from '../support/online-items.js';
import type { Target } from '../support/target.js';
import { transactionMaker } from '../support/transactions.js';
import { useTarget } from '../support/use-target.js';

const T = useTarget();
const run = randomUUID().slice(0, 8);
const NOW = Date.now();

let clients: AwsClients | undefined;
afterAll(() => {
  for (const client of Object.values(clients ?? {})) client.destroy();
});

interface Harness {
  readonly runtime: Runtime;
  readonly mapping: EventSourceMapping;
  readonly stream: string;
  readonly bucket: string;
  /** The test's own clients (never the handler's nor the mapping's). */
  readonly clients: AwsClients;
  /** The mapping's clients, for injecting faults into what the mapping calls. */
  readonly mappingClients: AwsClients;
  readonly invocations: Invocation[];
}

let streams = 0;
/** A stream of its own for each test, the real stream handler, and a mapping over the stream. */
async function harness(ctx: TestContext, options: Partial<EventSourceMappingOptions> = {}, shardCount = 2): Promise<Harness> {
  const target: Target = T.require(ctx);
  clients ??= createClients(target);
  streams += 1;
  const names: ResourceNames = {
    table: target.resources?.table ?? `tessera-esm-${run}`,
    bucket: target.resources?.bucket ?? `tessera-esm-${run}`,
    streams: { transactions: `tessera-esm-${run}-${streams}` },
  };
  await ensureResources(clients, names, { region: target.region, shardCount });
  const runtime = createRuntime(readConfig(handlerEnvironment(target, names, 'ERROR')), { registry: Registry.fromModule(definitions) });
  const mappingClients = createClients(target);
  const invocations: Invocation[] = [];
  const mapping = new EventSourceMapping({
    kinesis: mappingClients.kinesis,
    s3: mappingClients.s3,
    bucket: names.bucket,
    region: target.region,
    streams: [names.streams.transactions as string],
    handler: createStreamHandler(runtime),
    retryBackoffMs: 0,
    logger: { info() {}, warn() {}, error() {} },
    onInvocation: (invocation) => invocations.push(invocation),
    ...options,
  });
  onTestFinished(async () => {
    await mapping.stop();
    for (const client of [...Object.values(runtime.clients), ...Object.values(mappingClients)]) client.destroy();
  });
  return { runtime, mapping, stream: names.streams.transactions as string, bucket: names.bucket, clients, mappingClients, invocations };
}

/** A valid transaction with an event id no other test uses. */
const txn = transactionMaker(`esm-${run}`, { ts: NOW - 60_000 });

interface Put {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly bytes: Buffer;
}

async function put(h: Harness, payloads: readonly (string | Transaction)[], partitionKey = 'one-shard'): Promise<Put[]> {
  const bytes = payloads.map((p) => Buffer.from(typeof p === 'string' ? p : JSON.stringify(p)));
  const response = await h.clients.kinesis.send(
    new PutRecordsCommand({ StreamName: h.stream, Records: bytes.map((data) => ({ Data: data, PartitionKey: partitionKey })) }),
  );
  expect(response.FailedRecordCount ?? 0).toBe(0);
  return (response.Records ?? []).map((r, i) => ({ shardId: r.ShardId as string, sequenceNumber: r.SequenceNumber as string, bytes: bytes[i] as Buffer }));
}

async function stored(h: Harness, userId: string): Promise<boolean> {
  return (await latestOf(h.runtime.online, h.runtime.registry, 'user_last_txn', userId)) !== undefined;
}

/** What the failure destination keeps: Lambda's invocation record, with the event as payload. */
interface FailedBatch {
  readonly key: string;
  readonly requestContext: { readonly condition: string; readonly approximateInvokeCount: number };
  readonly KinesisBatchInfo: Record<string, unknown>;
  readonly payload: string;
}

async function failedBatches(h: Harness): Promise<FailedBatch[]> {
  const listed = await h.clients.s3.send(new ListObjectsV2Command({ Bucket: h.bucket, Prefix: `${FAILED_BATCH_PREFIX}${h.stream}/` }));
  return Promise.all(
    (listed.Contents ?? []).map(async ({ Key }) => {
      const object = await h.clients.s3.send(new GetObjectCommand({ Bucket: h.bucket, Key }));
      return { key: Key, ...JSON.parse(await (object.Body as { transformToString(): Promise<string> }).transformToString()) };
    }),
  );
}

/** The records of a failure-destination object, decoded back to their bytes. */
const payloadRecords = (failed: FailedBatch): Buffer[] =>
  JSON.parse(failed.payload).Records.map((r: { kinesis: { data: string } }) => Buffer.from(r.kinesis.data, 'base64'));

const trace = (h: Harness) => h.invocations.map((i) => `${i.sequenceNumbers.length}:${i.outcome.kind}@${i.attempt}`);

describe('the local Kinesis event source mapping', { timeout: 60_000 }, () => {
  it('splits a batch whose call throws until the failing record is alone, retries it, keeps it under failed-batches/ and moves on', async (ctx) => {
    // Prepare: INJECTED FAULT — the handler's S3 client refuses, every time, the dead letter of
    // one malformed record, so every call whose batch holds that record throws
    const h = await harness(ctx, { maxRetryAttempts: 2 });
    const good = ['u2001', 'u2002', 'u2003', 'u2004', 'u2005', 'u2006'].map((u) => txn(u));
    const poison = '{"event_id": "poison", ';
    const records = await put(h, [good[0], good[1], good[2], poison, good[3], good[4], good[5]] as (string | Transaction)[]);
    const poisonRecord = records[3] as Put;
    const name = 'injected-fault-dead-letter-refused';
    h.runtime.clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const key = (args.input as PutObjectCommandInput).Key ?? '';
        if (context.commandName === 'PutObjectCommand' && key.startsWith('dead-letter/') && key.endsWith(`-${poisonRecord.sequenceNumber}.json`)) {
          throw new S3ServiceException({ name: 'ServiceUnavailable', $fault: 'server', $metadata: {}, message: 'injected fault: dead letter refused' });
        }
        return next(args);
      },
      { step: 'initialize', name },
    );

    // Act
    await h.mapping.drain();

    // Assess
    expect(trace(h)).toEqual(['7:error@0', '4:error@0', '2:ok@0', '2:error@0', '1:ok@0', '1:error@0', '1:error@1', '1:error@2', '3:ok@0']);
    const failed = await failedBatches(h);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      KinesisBatchInfo: {
        shardId: poisonRecord.shardId,
        startSequenceNumber: poisonRecord.sequenceNumber,
        endSequenceNumber: poisonRecord.sequenceNumber,
        batchSize: 1,
        streamArn: expect.stringMatching(new RegExp(`:stream/${h.stream}$`)),
      },
    });
    expect(payloadRecords(failed[0] as FailedBatch)).toEqual([poisonRecord.bytes]);
    for (const event of good) expect(await stored(h, event.user_id)).toBe(true);
    expect(h.mapping.checkpoints().get(`${h.stream}/${poisonRecord.shardId}`)).toBe(records.at(-1)?.sequenceNumber);
  });

  it('keeps records still reported failed after the last retry under failed-batches/ and moves on', async (ctx) => {
    // Prepare: INJECTED FAULT — the handler's DynamoDB client throttles every write of one item
    const h = await harness(ctx, { maxRetryAttempts: 1 });
    const throttled = hotKey(h.runtime.registry, 'user_last_txn', 'u2102');
    const name = 'injected-fault-item-always-throttled';
    h.runtime.clients.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutItemCommand' && (args.input as PutItemCommandInput).Item?.pk?.S === throttled) {
          throw new ProvisionedThroughputExceededException({ message: 'injected fault: write throttled', $metadata: {} });
        }
        return next(args);
      },
      { step: 'initialize', name },
    );
    const records = await put(h, [txn('u2101'), txn('u2102'), txn('u2103')]);

    // Act
    await h.mapping.drain();

    // Assess
    expect(trace(h)).toEqual(['3:partial@0', '2:partial@1']);
    const failed = await failedBatches(h);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 },
      KinesisBatchInfo: { startSequenceNumber: records[1]?.sequenceNumber, endSequenceNumber: records[2]?.sequenceNumber, batchSize: 2 },
    });
    expect(await stored(h, 'u2101')).toBe(true);
    expect(await stored(h, 'u2102')).toBe(false);
    expect(await stored(h, 'u2103')).toBe(true);
  });

  it('sends records older than the maximum record age to failed-batches/ without calling the function', async (ctx) => {
    // Prepare: the mapping's clock two hours ahead of the records' arrival
    const h = await harness(ctx, { maxRecordAgeMs: 3_600_000, now: () => Date.now() + 2 * 3_600_000 });
    const records = await put(h, [txn('u2201'), txn('u2202')]);

    // Act
    await h.mapping.drain();

    // Assess
    expect(h.invocations).toEqual([]);
    const failed = await failedBatches(h);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ requestContext: { condition: 'RecordAgeExceeded' }, KinesisBatchInfo: { batchSize: 2 } });
    expect(payloadRecords(failed[0] as FailedBatch)).toEqual(records.map((r) => r.bytes));
    expect(await stored(h, 'u2201')).toBe(false);
  });

  it('replaces an expired shard iterator with one from the checkpoint and delivers every record once', async (ctx) => {
    // Prepare: INJECTED FAULT — the mapping's Kinesis client answers one GetRecords with
    // ExpiredIteratorException (the iterator outlived its five minutes); one shard, so it is
    // the iterator of the shard the records are on
    const h = await harness(ctx, {}, 1);
    const before = await put(h, [txn('u2301'), txn('u2302')]);
    await h.mapping.drain();
    const after = await put(h, [txn('u2303'), txn('u2304')]);
    let expire = true;
    const iteratorRequests: GetShardIteratorCommandInput[] = [];
    h.mappingClients.kinesis.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetShardIteratorCommand') iteratorRequests.push(args.input as GetShardIteratorCommandInput);
        if (context.commandName === 'GetRecordsCommand' && expire) {
          expire = false;
          throw new ExpiredIteratorException({ message: 'injected fault: iterator expired', $metadata: {} });
        }
        return next(args);
      },
      { step: 'initialize', name: 'injected-fault-iterator-expired' },
    );

    // Act
    await h.mapping.drain();

    // Assess
    expect(expire).toBe(false);
    expect(iteratorRequests).toEqual([
      expect.objectContaining({ ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: before[1]?.sequenceNumber }),
    ]);
    expect(h.invocations.map((i) => i.sequenceNumbers)).toEqual([before.map((r) => r.sequenceNumber), after.map((r) => r.sequenceNumber)]);
    for (const user of ['u2301', 'u2302', 'u2303', 'u2304']) expect(await stored(h, user)).toBe(true);
  });

  it('resumes after the checkpoints an earlier mapping saved, as a restarted local mode does, and re-reads nothing', async (ctx) => {
    // Prepare: a mapping that saves its checkpoints, run to the end of the stream and stopped
    let saved: Readonly<Record<string, string>> = {};
    const checkpointStore = {
      load: () => saved,
      save(checkpoints: Readonly<Record<string, string>>) {
        saved = checkpoints;
      },
    };
    const h = await harness(ctx, { checkpointStore }, 1);
    const before = await put(h, [txn('u2401'), txn('u2402')]);
    await h.mapping.drain();
    await h.mapping.stop();
    const after = await put(h, [txn('u2403')]);

    // Act: a new mapping over the same stream and checkpoint store
    const invocations: Invocation[] = [];
    const restarted = new EventSourceMapping({
      kinesis: h.mappingClients.kinesis,
      s3: h.mappingClients.s3,
      bucket: h.bucket,
      region: h.runtime.config.access.region,
      streams: [h.stream],
      handler: createStreamHandler(h.runtime),
      logger: { info() {}, warn() {}, error() {} },
      onInvocation: (invocation) => invocations.push(invocation),
      checkpointStore,
    });
    onTestFinished(() => restarted.stop());
    await restarted.drain();

    // Assess
    expect(Object.values(saved)).toEqual([after[0]?.sequenceNumber]);
    expect(h.invocations.map((i) => i.sequenceNumbers)).toEqual([before.map((r) => r.sequenceNumber)]);
    expect(invocations.map((i) => i.sequenceNumbers)).toEqual([after.map((r) => r.sequenceNumber)]);
    expect(await stored(h, 'u2403')).toBe(true);
  });

  it('reads every shard, each in order, up to its end before drain() resolves', async (ctx) => {
    // Prepare: records spread over the shards by partition key
    const h = await harness(ctx);
    const events = Array.from({ length: 24 }, (_, i) => txn(`u24${String(i).padStart(2, '0')}`));
    const records = (await Promise.all(events.map((event) => put(h, [event], event.user_id)))).flat();
    const shards = [...new Set(records.map((r) => r.shardId))];

    // Act
    await h.mapping.drain();

    // Assess
    expect(shards.length).toBeGreaterThan(1);
    for (const shard of shards) {
      const delivered = h.invocations.filter((i) => i.shardId === shard).flatMap((i) => i.sequenceNumbers);
      const sorted = [...delivered].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
      expect(delivered).toEqual(sorted);
      expect(h.mapping.checkpoints().get(`${h.stream}/${shard}`)).toBe(sorted.at(-1));
      expect(new Set(delivered)).toEqual(new Set(records.filter((r) => r.shardId === shard).map((r) => r.sequenceNumber)));
    }
    for (const event of events) expect(await stored(h, event.user_id)).toBe(true);
  });
});
