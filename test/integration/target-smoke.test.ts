/**
 * Smoke test of the conformance targets: the real AWS SDK v3 clients from `createClients`
 * against whatever TESSERA_TARGET names (test/support/target.ts). It proves each target is
 * reachable and speaks the wire protocols Tessera uses; the behaviour suites live beside it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetQueryExecutionCommand, GetQueryResultsCommand, type QueryExecutionState, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteQueueCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { type AwsClients, createClients } from '../../lambdas/adapters/aws.js';
import { useTarget } from '../support/use-target.js';

const T = useTarget();
const run = randomUUID().slice(0, 8);
const TIMEOUT = 60_000;

let clients: AwsClients | undefined;
function clientsFor(target: Parameters<typeof createClients>[0]): AwsClients {
  clients ??= createClients(target);
  return clients;
}
afterAll(() => {
  if (clients) for (const client of Object.values(clients)) client.destroy();
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function createTable(c: AwsClients, table: string): Promise<void> {
  await c.dynamodb.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  await waitUntilTableExists({ client: c.dynamodb, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { TableName: table });
}

describe('conformance target smoke', () => {
  it('DynamoDB: create a table, put and get an item', { timeout: TIMEOUT }, async (ctx) => {
    const c = clientsFor(T.require(ctx));
    const table = `smoke-${run}-items`;
    await createTable(c, table);
    const item = { pk: { S: 'user#1' }, sk: { S: 'view#fraud' }, n: { N: '42' }, seq: { S: '00000000000000000000049654' } };
    await c.dynamodb.send(new PutItemCommand({ TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
    const got = await c.dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: item.pk, sk: item.sk }, ConsistentRead: true }));
    expect(got.Item).toEqual(item);
    await expect(c.dynamodb.send(new PutItemCommand({ TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }))).rejects.toMatchObject({
      name: 'ConditionalCheckFailedException',
    });
    await c.dynamodb.send(new DeleteTableCommand({ TableName: table }));
  });

  it('DynamoDB: transactions', { timeout: TIMEOUT }, async (ctx) => {
    const c = clientsFor(T.require(ctx, 'transactions'));
    const table = `smoke-${run}-tx`;
    await createTable(c, table);
    await c.dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { pk: { S: 'a' }, sk: { S: '1' }, v: { N: '1' } } } },
          { Put: { TableName: table, Item: { pk: { S: 'b' }, sk: { S: '1' }, v: { N: '2' } } } },
        ],
      }),
    );
    const got = await c.dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'b' }, sk: { S: '1' } } }));
    expect(got.Item?.v).toEqual({ N: '2' });
    await c.dynamodb.send(new DeleteTableCommand({ TableName: table }));
  });

  it('DynamoDB: time to live', { timeout: TIMEOUT }, async (ctx) => {
    const c = clientsFor(T.require(ctx, 'ttlDeletion'));
    const table = `smoke-${run}-ttl`;
    await createTable(c, table);
    const ttl = await c.dynamodb.send(
      new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true } }),
    );
    expect(ttl.TimeToLiveSpecification?.Enabled).toBe(true);
    const described = await c.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: table }));
    expect(described.TimeToLiveDescription?.AttributeName).toBe('expires_at');
    expect(['ENABLED', 'ENABLING']).toContain(described.TimeToLiveDescription?.TimeToLiveStatus);
    await c.dynamodb.send(new DeleteTableCommand({ TableName: table }));
  });

  it('Kinesis: create a stream, put and get a record', { timeout: TIMEOUT }, async (ctx) => {
    const c = clientsFor(T.require(ctx));
    const stream = `smoke-${run}-events`;
    await c.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    let shardId: string | undefined;
    for (let i = 0; i < 120 && shardId === undefined; i++) {
      const d = await c.kinesis.send(new DescribeStreamCommand({ StreamName: stream }));
      if (d.StreamDescription?.StreamStatus === 'ACTIVE') shardId = d.StreamDescription.Shards?.[0]?.ShardId;
      else await sleep(250);
    }
    expect(shardId).toBeDefined();
    const data = Buffer.from(JSON.stringify({ event_id: run, user_id: 'u1', amount: 12.5 }));
    const put = await c.kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'u1', Data: data }));
    // Sequence numbers exceed 2^53: they stay strings.
    expect(typeof put.SequenceNumber).toBe('string');
    const it0 = await c.kinesis.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
    let iterator = it0.ShardIterator;
    const records: Uint8Array[] = [];
    for (let i = 0; i < 20 && records.length === 0 && iterator; i++) {
      const r = await c.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
      for (const rec of r.Records ?? []) if (rec.Data) records.push(rec.Data);
      iterator = r.NextShardIterator;
      if (records.length === 0) await sleep(200);
    }
    expect(records.map((r) => Buffer.from(r).toString())).toEqual([data.toString()]);
    await c.kinesis.send(new DeleteStreamCommand({ StreamName: stream }));
  });

  it('S3: put and get objects byte-identical (Buffer and stream uploads)', { timeout: TIMEOUT }, async (ctx) => {
    const c = clientsFor(T.require(ctx));
    const bucket = `smoke-${run}-offline`;
    await c.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const bytes = randomBytes(300 * 1024);
    await c.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'offline/a/buffer.bin', Body: bytes }));
    await c.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'offline/a/stream.bin',
        Body: Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]),
        ContentLength: bytes.length,
      }),
    );
    for (const key of ['offline/a/buffer.bin', 'offline/a/stream.bin']) {
      const got = await c.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const body = await got.Body?.transformToByteArray();
      expect(body?.length, key).toBe(bytes.length);
      expect(sha256(body ?? new Uint8Array()), key).toBe(sha256(bytes));
    }
  });

  it('SQS: send and receive a message', { timeout: TIMEOUT }, async (ctx) => {
    const c = clientsFor(T.require(ctx, 'sqs'));
    const queue = await c.sqs.send(new CreateQueueCommand({ QueueName: `smoke-${run}-dlq` }));
    const url = queue.QueueUrl;
    expect(url).toBeDefined();
    await c.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `hello ${run}` }));
    const got = await c.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 2, MaxNumberOfMessages: 1 }));
    expect(got.Messages?.[0]?.Body).toBe(`hello ${run}`);
    await c.sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
  });

  it('Athena: start, poll and read a query; a bad query fails with a reason', { timeout: TIMEOUT }, async (ctx) => {
    const c = clientsFor(T.require(ctx, 'athena'));
    const bucket = `smoke-${run}-athena`;
    await c.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const runQuery = async (sql: string) => {
      const start = await c.athena.send(
        new StartQueryExecutionCommand({ QueryString: sql, ResultConfiguration: { OutputLocation: `s3://${bucket}/results/` } }),
      );
      const id = start.QueryExecutionId;
      expect(id).toBeDefined();
      let state: QueryExecutionState | undefined;
      let reason: string | undefined;
      for (let i = 0; i < 200; i++) {
        const q = await c.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
        state = q.QueryExecution?.Status?.State;
        reason = q.QueryExecution?.Status?.StateChangeReason;
        if (state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED') break;
        await sleep(100);
      }
      return { id, state, reason };
    };
    // 1 + 1 = 2 proves a real engine (ministack's mock engine answers 1).
    const ok = await runQuery('SELECT 1 + 1 AS two, CAST(1700000000000 AS BIGINT) AS event_ts');
    expect(ok.state).toBe('SUCCEEDED');
    const results = await c.athena.send(new GetQueryResultsCommand({ QueryExecutionId: ok.id }));
    const rows = (results.ResultSet?.Rows ?? []).map((r) => (r.Data ?? []).map((d) => d.VarCharValue));
    expect(rows).toEqual([
      ['two', 'event_ts'],
      ['2', '1700000000000'],
    ]);
    const bad = await runQuery('SELECT no_such_column FROM no_such_table_anywhere');
    expect(bad.state).toBe('FAILED');
    expect(bad.reason ?? '').not.toBe('');
  });
});
