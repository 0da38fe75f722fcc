/**
 * The online store on DynamoDB: one item per (feature view, entity). Reads are BatchGetItem
 * (100 keys a call, chunks in parallel, UnprocessedKeys retried within a deadline); writes
 * are read-modify-write of whole items, conditional on the version read, so concurrent
 * writers and retried batches never lose or double-apply an update.
 */
import { type AttributeValue, BatchGetItemCommand, ConditionalCheckFailedException, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { FeatureView } from '../core/definitions.js';
import type { ViewRow } from '../core/ingest.js';
import { applyRows, type OnlineItem } from '../core/online.js';

export interface OnlineStore {
  /**
   * Items by partition key; keys with no item are absent. `features` narrows the row values
   * read, `withTiles` adds the aggregation tiles; without `features` the whole item is read.
   */
  read(pks: readonly string[], features?: readonly string[], withTiles?: boolean): Promise<Map<string, OnlineItem>>;
  /** Applies rows of one view, grouped by item, at time `now`; resolves to the keys whose write failed. */
  apply(view: FeatureView, rowsByPk: ReadonlyMap<string, readonly ViewRow[]>, now: number): Promise<string[]>;
}

export class ReadDeadlineExceeded extends Error {
  override readonly name = 'ReadDeadlineExceeded';
}

const BATCH_GET_LIMIT = 100;
const WRITE_ATTEMPTS = 5;
const WRITE_READ_DEADLINE_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function toAttributes(item: OnlineItem): Record<string, AttributeValue> {
  const latest = item.latest;
  return marshall(
    {
      pk: item.pk,
      v: item.version,
      ...(latest ? { ets: latest.eventTs, its: latest.ingestTs, eid: latest.eventId, ids: latest.idsAtEventTs, f: latest.values } : {}),
      ...(item.aggregates ? { agg: JSON.stringify(item.aggregates.tiles), seen: JSON.stringify(item.aggregates.seen) } : {}),
      ...(item.expiresAt !== undefined ? { ttl: item.expiresAt } : {}),
    },
    { removeUndefinedValues: true },
  );
}

export function fromAttributes(attributes: Record<string, AttributeValue>): OnlineItem {
  const raw = unmarshall(attributes);
  return {
    pk: raw.pk,
    version: raw.v ?? 0,
    ...(raw.ets !== undefined
      ? { latest: { eventTs: raw.ets, ingestTs: raw.its ?? 0, eventId: raw.eid ?? '', values: raw.f ?? {}, idsAtEventTs: raw.ids ?? [] } }
      : {}),
    // Tiles are one JSON string: one attribute to read, and far smaller than nested maps.
    ...(raw.agg !== undefined ? { aggregates: { tiles: JSON.parse(raw.agg), seen: raw.seen ? JSON.parse(raw.seen) : {} } } : {}),
    ...(raw.ttl !== undefined ? { expiresAt: raw.ttl } : {}),
  };
}

export interface DynamoOnlineStoreOptions {
  /** How long a read may keep retrying unprocessed keys. @default 1000 ms */
  readonly readDeadlineMs?: number;
}

type Projection = { ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> };

export class DynamoOnlineStore implements OnlineStore {
  private readonly readDeadlineMs: number;
  /** Projections by the feature list they were built for: serving asks with the same list per service. */
  private readonly projections = new WeakMap<readonly string[], { plain?: Projection; withTiles?: Projection }>();

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: DynamoOnlineStoreOptions = {},
  ) {
    this.readDeadlineMs = options.readDeadlineMs ?? 1_000;
  }

  async read(pks: readonly string[], features?: readonly string[], withTiles = false): Promise<Map<string, OnlineItem>> {
    return this.readWithin(pks, this.cachedProjection(features, withTiles), this.readDeadlineMs);
  }

  private async readWithin(pks: readonly string[], projection: Projection, deadlineMs: number): Promise<Map<string, OnlineItem>> {
    const chunks: string[][] = [];
    for (let i = 0; i < pks.length; i += BATCH_GET_LIMIT) chunks.push(pks.slice(i, i + BATCH_GET_LIMIT));
    const found = new Map<string, OnlineItem>();
    const deadline = Date.now() + deadlineMs;
    await Promise.all(
      chunks.map(async (chunk) => {
        let keys: Record<string, AttributeValue>[] = chunk.map((pk) => ({ pk: { S: pk } }));
        for (let attempt = 0; keys.length > 0; attempt++) {
          if (attempt > 0) {
            const wait = Math.min(2 ** attempt * 10, 200) * (0.5 + Math.random() / 2);
            if (Date.now() + wait > deadline) throw new ReadDeadlineExceeded(`${keys.length} keys still unprocessed after ${attempt} attempts`);
            await sleep(wait);
          }
          const response = await this.client.send(new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: keys, ...projection } } }));
          for (const attributes of response.Responses?.[this.tableName] ?? []) {
            const item = fromAttributes(attributes);
            found.set(item.pk, item);
          }
          keys = response.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
        }
      }),
    );
    return found;
  }

  private cachedProjection(features: readonly string[] | undefined, withTiles: boolean): Projection {
    if (!features) return {};
    const cached = this.projections.get(features) ?? {};
    this.projections.set(features, cached);
    const key = withTiles ? 'withTiles' : 'plain';
    cached[key] ??= this.projection(features, withTiles);
    return cached[key];
  }

  /** Reads only what serving needs: the requested values, and the tiles when asked (not the dedupe set). */
  private projection(features?: readonly string[], withTiles = false): Projection {
    if (!features) return {};
    // DynamoDB refuses a name the expression does not use: `#f` only when a row feature is read.
    const names: Record<string, string> = { '#pk': 'pk', '#v': 'v', '#ets': 'ets', '#its': 'its', '#eid': 'eid', ...(features.length ? { '#f': 'f' } : {}) };
    const paths = ['#pk', '#v', '#ets', '#its', '#eid'];
    if (withTiles) {
      names['#agg'] = 'agg';
      paths.push('#agg');
    }
    features.forEach((feature, i) => {
      names[`#a${i}`] = feature;
      paths.push(`#f.#a${i}`);
    });
    return { ProjectionExpression: paths.join(', '), ExpressionAttributeNames: names };
  }

  async apply(view: FeatureView, rowsByPk: ReadonlyMap<string, readonly ViewRow[]>, now: number): Promise<string[]> {
    const pks = [...rowsByPk.keys()];
    // Writers are not on a request's clock: they wait out unprocessed keys far longer than serving does.
    let current = await this.readWithin(pks, {}, WRITE_READ_DEADLINE_MS);
    let pending = pks;
    const failed: string[] = [];
    for (let attempt = 0; pending.length > 0; attempt++) {
      const conflicts: string[] = [];
      await Promise.all(
        pending.map(async (pk) => {
          const before = current.get(pk);
          const after = applyRows(view, pk, before, rowsByPk.get(pk) ?? [], now);
          if (!after) return;
          try {
            await this.client.send(
              new PutItemCommand({
                TableName: this.tableName,
                Item: toAttributes(after),
                ...(before
                  ? {
                      ConditionExpression: '#v = :v',
                      ExpressionAttributeNames: { '#v': 'v' },
                      ExpressionAttributeValues: { ':v': { N: String(before.version) } },
                    }
                  : { ConditionExpression: 'attribute_not_exists(pk)' }),
              }),
            );
          } catch (error) {
            if (error instanceof ConditionalCheckFailedException && attempt < WRITE_ATTEMPTS - 1) conflicts.push(pk);
            else failed.push(pk);
          }
        }),
      );
      pending = conflicts;
      if (pending.length > 0) {
        // Another writer (a concurrent shard) won the race: back off with jitter before re-reading.
        await sleep((5 + Math.random() * 20) * 2 ** attempt);
        current = await this.readWithin(pending, {}, WRITE_READ_DEADLINE_MS);
      }
    }
    return failed;
  }
}
