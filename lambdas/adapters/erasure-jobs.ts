/**
 * Progress of erasure jobs: one item per job in the online table (`erasure#<id>`), counters
 * per part that workers add to atomically, and the receipt key set once by the worker that
 * finished the last chunk. The in-memory store runs the same job in one process (local mode).
 */
import { type DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { ERASURE_PARTS, type ErasureCounts, type ErasureJob, type ErasurePart, noErasures } from '../core/erasure.js';

export interface ErasureJobStore {
  create(job: ErasureJob): Promise<void>;
  /** Counts one chunk of `part` done (or failed) with what it removed; resolves to the job after. */
  record(id: string, outcome: { part: ErasurePart; removed: ErasureCounts } | 'failed'): Promise<ErasureJob>;
  /** Sets the receipt key unless one is set; false when another worker did. */
  finish(id: string, receiptKey: string): Promise<boolean>;
  get(id: string): Promise<ErasureJob | undefined>;
}

const JOB_TTL_S = 30 * 86_400;
const key = (id: string) => ({ pk: { S: `erasure#${id}` } });

/** Flat attributes (`chunks_offline`, `done_offline`, `removed_offlineRows`): each a counter ADD can add to. */
function toItem(job: ErasureJob): Record<string, unknown> {
  const { chunks, done, removed, ...rest } = job;
  return {
    ...rest,
    ...Object.fromEntries(
      ERASURE_PARTS.flatMap((p) => [
        [`chunks_${p}`, chunks[p]],
        [`done_${p}`, done[p]],
      ]),
    ),
    ...Object.fromEntries(Object.entries(removed).map(([name, n]) => [`removed_${name}`, n])),
  };
}

function fromItem(item: Record<string, unknown>): ErasureJob {
  const pick = (prefix: string) =>
    Object.fromEntries(Object.entries(item).flatMap(([name, n]) => (name.startsWith(prefix) ? [[name.slice(prefix.length), Number(n)]] : [])));
  const { id, subject, erasedBy, reason, createdAt, failed, receiptKey } = item as unknown as ErasureJob;
  return {
    id,
    subject,
    erasedBy,
    reason: reason ?? null,
    createdAt: Number(createdAt),
    chunks: pick('chunks_') as Record<ErasurePart, number>,
    done: pick('done_') as Record<ErasurePart, number>,
    failed: Number(failed ?? 0),
    removed: { ...noErasures(), ...pick('removed_') },
    ...(receiptKey ? { receiptKey } : {}),
  };
}

const deltaOf = (outcome: Parameters<ErasureJobStore['record']>[1]): Record<string, number> =>
  outcome === 'failed'
    ? { failed: 1 }
    : { [`done_${outcome.part}`]: 1, ...Object.fromEntries(Object.entries(outcome.removed).map(([name, n]) => [`removed_${name}`, n])) };

export class DynamoErasureJobStore implements ErasureJobStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async create(job: ErasureJob): Promise<void> {
    const item = { pk: `erasure#${job.id}`, ...toItem(job), ttl: Math.floor(job.createdAt / 1000) + JOB_TTL_S };
    await this.client.send(
      new PutItemCommand({ TableName: this.tableName, Item: marshall(item, { removeUndefinedValues: true }), ConditionExpression: 'attribute_not_exists(pk)' }),
    );
  }

  async record(id: string, outcome: Parameters<ErasureJobStore['record']>[1]): Promise<ErasureJob> {
    const entries = Object.entries(deltaOf(outcome));
    const { Attributes } = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key(id),
        UpdateExpression: `ADD ${entries.map((_, i) => `#a${i} :a${i}`).join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: Object.fromEntries(entries.map(([name], i) => [`#a${i}`, name])),
        ExpressionAttributeValues: Object.fromEntries(entries.map(([, n], i) => [`:a${i}`, { N: String(n) }])),
        ReturnValues: 'ALL_NEW',
      }),
    );
    return fromItem(unmarshall(Attributes ?? {}));
  }

  async finish(id: string, receiptKey: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(id),
          UpdateExpression: 'SET receiptKey = :r',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(receiptKey)',
          ExpressionAttributeValues: { ':r': { S: receiptKey } },
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  async get(id: string): Promise<ErasureJob | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: key(id), ConsistentRead: true }));
    return Item ? fromItem(unmarshall(Item)) : undefined;
  }
}

/** The same job in one process: nothing is written to the table. */
export class MemoryErasureJobStore implements ErasureJobStore {
  private readonly jobs = new Map<string, Record<string, unknown>>();

  async create(job: ErasureJob): Promise<void> {
    this.jobs.set(job.id, toItem(job));
  }

  async record(id: string, outcome: Parameters<ErasureJobStore['record']>[1]): Promise<ErasureJob> {
    const item = this.jobs.get(id);
    if (!item) throw new Error(`no erasure job ${id}`);
    for (const [name, n] of Object.entries(deltaOf(outcome))) item[name] = Number(item[name] ?? 0) + n;
    return fromItem(item);
  }

  async finish(id: string, receiptKey: string): Promise<boolean> {
    const item = this.jobs.get(id);
    if (!item || item.receiptKey) return false;
    item.receiptKey = receiptKey;
    return true;
  }

  async get(id: string): Promise<ErasureJob | undefined> {
    const item = this.jobs.get(id);
    return item ? fromItem(item) : undefined;
  }
}
