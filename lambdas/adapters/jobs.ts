/**
 * Progress of batch runs and backfills, one item per job in the online table (`job#<id>`):
 * how many chunks there are, how many are done, rows written and records rejected. Workers
 * add to the counters atomically; `tessera backfill` polls the item.
 */
import { type DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { JobProgress, JobStore } from './ports.js';

const JOB_TTL_S = 30 * 86_400;
const key = (id: string) => ({ pk: { S: `job#${id}` } });

export class DynamoJobStore implements JobStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async create(job: Omit<JobProgress, 'done' | 'failed' | 'rows' | 'rejected'>): Promise<void> {
    const item = { pk: `job#${job.id}`, ...job, done: 0, failed: 0, rows: 0, rejected: 0, ttl: Math.floor(job.createdAt / 1000) + JOB_TTL_S };
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: marshall(item), ConditionExpression: 'attribute_not_exists(pk)' }));
  }

  async record(id: string, delta: { done?: number; failed?: number; rows?: number; rejected?: number }): Promise<void> {
    const entries = Object.entries(delta).filter(([, n]) => n);
    if (!entries.length) return;
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key(id),
        UpdateExpression: `ADD ${entries.map(([name]) => `#${name} :${name}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(entries.map(([name]) => [`#${name}`, name])),
        ExpressionAttributeValues: Object.fromEntries(entries.map(([name, n]) => [`:${name}`, { N: String(n) }])),
      }),
    );
  }

  async get(id: string): Promise<JobProgress | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: key(id), ConsistentRead: true }));
    if (!Item) return undefined;
    const { pk: _pk, ttl: _ttl, ...job } = unmarshall(Item);
    return job as JobProgress;
  }
}
