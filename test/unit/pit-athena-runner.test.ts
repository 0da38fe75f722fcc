/**
 * The Athena runner's protocol, against a scripted Athena and an in-memory S3 (no emulator
 * has Athena here; ministack covers the wire in `npm run test:conformance`): it polls with
 * backoff, reports bytes scanned and cost, surfaces Athena's reason with the SQL as a typed
 * error, parses typed results, and runs a training set as labels table + UNLOAD + download,
 * cleaning up after itself even when the query fails.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AthenaQueryRunner, AthenaTrainingRunner, athenaCostUsd } from '../../lambdas/adapters/athena-runner.js';
import { QueryError, type TrainingQuery } from '../../lambdas/adapters/query-runner.js';
import { byUser } from './pit-fixtures.js';

type Command = { constructor: { name: string }; input: Record<string, unknown> };

interface ScriptedQuery {
  states: string[];
  error?: string;
  bytes?: number;
  pages?: { columns: [string, string][]; rows: (string | undefined)[][]; next?: string }[];
  /** Objects the query writes (UNLOAD). */
  writes?: Record<string, string>;
}

/** A scripted Athena: each StartQueryExecution takes the next script; S3 writes happen on success. */
function fakeAthena(scripts: ScriptedQuery[], s3: FakeS3) {
  const started: string[] = [];
  const polls: string[] = [];
  const client = {
    async send(command: Command) {
      const input = command.input;
      switch (command.constructor.name) {
        case 'StartQueryExecutionCommand': {
          started.push(input.QueryString as string);
          expect(input.WorkGroup).toBe('tessera-wg');
          return { QueryExecutionId: `q${started.length}` };
        }
        case 'GetQueryExecutionCommand': {
          const id = input.QueryExecutionId as string;
          polls.push(id);
          const script = scripts[Number(id.slice(1)) - 1] as ScriptedQuery;
          const state = script.states.length > 1 ? (script.states.shift() as string) : (script.states[0] as string);
          if (state === 'SUCCEEDED') for (const [key, body] of Object.entries(script.writes ?? {})) s3.objects.set(key, Buffer.from(body));
          return {
            QueryExecution: {
              Status: { State: state, ...(state === 'FAILED' ? { StateChangeReason: 'generic', AthenaError: { ErrorMessage: script.error } } : {}) },
              Statistics: { DataScannedInBytes: script.bytes ?? 0 },
            },
          };
        }
        case 'GetQueryResultsCommand': {
          const script = scripts[Number((input.QueryExecutionId as string).slice(1)) - 1] as ScriptedQuery;
          const page = script.pages?.[input.NextToken ? Number(input.NextToken) : 0];
          return {
            ResultSet: {
              ResultSetMetadata: { ColumnInfo: page?.columns.map(([Name, Type]) => ({ Name, Type })) },
              Rows: page?.rows.map((r) => ({ Data: r.map((v) => (v === undefined ? {} : { VarCharValue: v })) })),
            },
            NextToken: page?.next,
          };
        }
        default:
          throw new Error(`unexpected ${command.constructor.name}`);
      }
    },
  };
  return { client: client as unknown as AthenaClient, started, polls };
}

class FakeS3 {
  readonly objects = new Map<string, Buffer>();
  readonly client = {
    send: async (command: Command) => {
      const input = command.input;
      switch (command.constructor.name) {
        case 'PutObjectCommand':
          this.objects.set(input.Key as string, Buffer.from(input.Body as Buffer));
          return {};
        case 'ListObjectsV2Command':
          return { Contents: [...this.objects.keys()].filter((k) => k.startsWith(input.Prefix as string)).map((Key) => ({ Key })) };
        case 'GetObjectCommand': {
          const body = this.objects.get(input.Key as string) as Buffer;
          return { Body: { transformToByteArray: async () => new Uint8Array(body) } };
        }
        case 'DeleteObjectCommand':
          this.objects.delete(input.Key as string);
          return {};
        default:
          throw new Error(`unexpected ${command.constructor.name}`);
      }
    },
  } as unknown as S3Client;
}

const noSleep = { sleep: async () => {} };

describe('the Athena query runner', () => {
  it('polls with backoff until the query succeeds, and returns typed rows across pages', async () => {
    const s3 = new FakeS3();
    const delays: number[] = [];
    const athena = fakeAthena(
      [
        {
          states: ['QUEUED', 'RUNNING', 'RUNNING', 'SUCCEEDED'],
          pages: [
            {
              columns: [
                ['n', 'bigint'],
                ['x', 'double'],
                ['ok', 'boolean'],
                ['s', 'varchar'],
              ],
              rows: [
                ['n', 'x', 'ok', 's'],
                ['1', '2.5', 'true', 'a'],
              ],
              next: '1',
            },
            {
              columns: [
                ['n', 'bigint'],
                ['x', 'double'],
                ['ok', 'boolean'],
                ['s', 'varchar'],
              ],
              rows: [['9007199254740993', undefined, 'false', 'n']],
            },
          ],
        },
      ],
      s3,
    );
    const runner = new AthenaQueryRunner(athena.client, { workgroup: 'tessera-wg', pollMs: 100, sleep: async (ms) => void delays.push(ms) });

    const rows = await runner.run('SELECT 1');

    expect(rows).toEqual([
      { n: 1, x: 2.5, ok: true, s: 'a' },
      { n: '9007199254740993', x: null, ok: false, s: 'n' },
    ]);
    expect(delays).toEqual([100, 200, 400]);
  });

  it("fails with Athena's own reason and the SQL, as a QueryError", async () => {
    const athena = fakeAthena([{ states: ['RUNNING', 'FAILED'], error: "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved" }], new FakeS3());
    const runner = new AthenaQueryRunner(athena.client, { workgroup: 'tessera-wg', ...noSleep });

    const failure = await runner.run('SELECT nope').catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(QueryError);
    expect(failure).toMatchObject({ engine: 'athena', reason: expect.stringContaining("Column 'nope' cannot be resolved"), sql: 'SELECT nope', queryId: 'q1' });
  });

  it('gives up after its timeout, naming the state', async () => {
    const athena = fakeAthena([{ states: ['RUNNING'] }], new FakeS3());
    const runner = new AthenaQueryRunner(athena.client, { workgroup: 'tessera-wg', pollMs: 1_000, maxPollMs: 1_000, timeoutMs: 3_000, ...noSleep });
    await expect(runner.run('SELECT 1')).rejects.toThrow(/still RUNNING after 3 s/);
  });

  it('prices a query at $5 per TB scanned, 10 MB minimum', () => {
    expect(athenaCostUsd(0)).toBeCloseTo((10 / 1024 / 1024) * 5, 10);
    expect(athenaCostUsd(1024 ** 4)).toBe(5);
  });
});

describe('the Athena training-set runner', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-athena-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const job = async (): Promise<TrainingQuery> => {
    await writeFile(join(dir, 'labels.parquet'), 'labels-bytes');
    return {
      sql: 'WITH "__labels" AS (SELECT 1) SELECT * FROM "__labels"',
      database: 'tessera',
      labelsTable: 'tessera_labels_r1',
      labelsFile: join(dir, 'labels.parquet'),
      labelColumns: [
        { name: 'user_id', hiveType: 'string' },
        { name: 'event_timestamp', hiveType: 'bigint' },
      ],
      views: [{ view: byUser }],
      workDir: dir,
      runId: 'r1',
    };
  };

  it('uploads the labels, declares them as a table, UNLOADs the SQL unchanged, downloads the result and cleans up', async () => {
    const s3 = new FakeS3();
    const athena = fakeAthena(
      [
        { states: ['SUCCEEDED'] },
        { states: ['RUNNING', 'SUCCEEDED'], bytes: 5 * 1024 ** 3, writes: { 'athena-results/training/r1/result/part-0.parquet': 'rows' } },
        { states: ['SUCCEEDED'] },
      ],
      s3,
    );
    const runner = new AthenaTrainingRunner({ athena: athena.client, s3: s3.client, bucket: 'store', workgroup: 'tessera-wg', ...noSleep });
    const query = await job();

    const result = await runner.run(query);

    expect(athena.started[0]).toBe(
      "CREATE EXTERNAL TABLE `tessera`.`tessera_labels_r1` (`__row` bigint, `user_id` string, `event_timestamp` bigint) STORED AS PARQUET LOCATION 's3://store/athena-results/training/r1/labels/'",
    );
    expect(athena.started[1]).toBe(
      `UNLOAD (${query.sql}) TO 's3://store/athena-results/training/r1/result/' WITH (format = 'PARQUET', compression = 'SNAPPY')`,
    );
    expect(athena.started[2]).toBe('DROP TABLE IF EXISTS `tessera`.`tessera_labels_r1`');
    expect(result).toMatchObject({ engine: 'athena', queryId: 'q2', bytesScanned: 5 * 1024 ** 3, costUsd: (5 / 1024) * 5 });
    expect(await readFile(result.files[0] as string, 'utf8')).toBe('rows');
    expect([...s3.objects.keys()]).toEqual([]);
  });

  it('reports a failed join with the point-in-time SQL, and still drops the labels table and its objects', async () => {
    const s3 = new FakeS3();
    const athena = fakeAthena(
      [{ states: ['SUCCEEDED'] }, { states: ['FAILED'], error: 'Query exhausted resources at this scale factor' }, { states: ['SUCCEEDED'] }],
      s3,
    );
    const runner = new AthenaTrainingRunner({ athena: athena.client, s3: s3.client, bucket: 'store', workgroup: 'tessera-wg', ...noSleep });
    const query = await job();

    const failure = await runner.run(query).catch((error: unknown) => error);

    expect(failure).toMatchObject({ name: 'QueryError', reason: 'Query exhausted resources at this scale factor', sql: query.sql });
    expect(athena.started[2]).toMatch(/^DROP TABLE IF EXISTS/);
    expect([...s3.objects.keys()]).toEqual([]);
  });
});
