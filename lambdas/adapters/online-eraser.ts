/**
 * Erasure in the online table: one segment of a parallel Scan reads the items whose keys can
 * belong to the subject (filtered server-side by key prefix), deletes the subject's own and
 * rewrites other entities' items that name it — each rewrite conditional on the version read,
 * re-read and retried when a writer got there first, so no concurrent update is lost.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import type { TierItem } from '../core/online.js';
import { fromAttributes, toAttributes } from './online-store.js';

export interface OnlineErasureTargets {
  /** Key prefixes of every item either rule may concern: the scan's filter. */
  readonly prefixes: readonly string[];
  /** Whether the item is the subject's own (deleted). */
  owns(pk: string): boolean;
  /** The item with the subject's values nulled, or undefined when it names none. */
  scrub(item: TierItem): { item: TierItem; scrubbed: number } | undefined;
}

export interface OnlineEraser {
  eraseSegment(segment: number, segments: number, targets: OnlineErasureTargets): Promise<{ deleted: number; scrubbed: number }>;
}

const REWRITE_ATTEMPTS = 5;

export class DynamoOnlineEraser implements OnlineEraser {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async eraseSegment(segment: number, segments: number, targets: OnlineErasureTargets): Promise<{ deleted: number; scrubbed: number }> {
    const counts = { deleted: 0, scrubbed: 0 };
    if (!targets.prefixes.length) return counts;
    const values: Record<string, AttributeValue> = Object.fromEntries(targets.prefixes.map((p, i) => [`:p${i}`, { S: p }]));
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          Segment: segment,
          TotalSegments: segments,
          FilterExpression: targets.prefixes.map((_, i) => `begins_with(pk, :p${i})`).join(' OR '),
          ExpressionAttributeValues: values,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const attributes of page.Items ?? []) {
        const pk = attributes.pk?.S;
        if (pk === undefined) continue;
        if (targets.owns(pk)) {
          await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { pk: { S: pk } } }));
          counts.deleted += 1;
        } else if (await this.rewrite(attributes, targets)) {
          counts.scrubbed += 1;
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return counts;
  }

  /** Writes the scrubbed item over the version read; on a conflict re-reads and scrubs again. */
  private async rewrite(attributes: Record<string, AttributeValue>, targets: OnlineErasureTargets): Promise<boolean> {
    let current: Record<string, AttributeValue> | undefined = attributes;
    for (let attempt = 0; current && attempt < REWRITE_ATTEMPTS; attempt++) {
      const before = fromAttributes(current);
      const after = targets.scrub(before);
      if (!after) return false;
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: toAttributes(after.item),
            ConditionExpression: '#v = :v',
            ExpressionAttributeNames: { '#v': 'v' },
            ExpressionAttributeValues: { ':v': { N: String(before.version) } },
          }),
        );
        return true;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        ({ Item: current } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: before.pk } }, ConsistentRead: true })));
      }
    }
    if (current) throw new Error(`could not rewrite ${fromAttributes(current).pk}: ${REWRITE_ATTEMPTS} concurrent writes won; the chunk will be retried`);
    return false;
  }
}
