/**
 * The online store on DynamoDB: each entity of a group (online.ts) is a hot item and, for
 * aggregating groups, two tier items below it. Reads are BatchGetItem (100 keys a call, chunks
 * in parallel, UnprocessedKeys retried within a deadline); writes are read-modify-write of
 * whole items, each conditional on the version read, so concurrent writers and retried batches
 * never lose or double-apply an update.
 */

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  type AttributeValue,
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  type ConsumedCapacity,
  type DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { TesseraError } from '../core/errors.js';
import { applyToGroup, groupKey, type OnlineGroup, type PositionedRow, type TierItem, tierKeys } from '../core/online.js';
import { forEachInFlight } from './in-flight.js';
import type { OnlineStore } from './ports.js';

/** The online store did not answer a read before its deadline (the API answers 503). */
export class ReadDeadlineExceeded extends TesseraError {
  constructor(message: string, options?: ErrorOptions) {
    super('ReadDeadlineExceeded', message, undefined, options);
  }
}

/** Adds up the capacity DynamoDB reports (ReturnConsumedCapacity: TOTAL), for benchmarks. */
export interface CapacityMeter {
  read(units: number): void;
  write(units: number): void;
}

const BATCH_GET_LIMIT = 100;
const WRITE_ATTEMPTS = 5;
/** Entities written at once by one apply (each up to three PutItems in turn). */
const WRITES_IN_FLIGHT = 32;
const WRITE_READ_DEADLINE_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * An item as stored: the key, the version and the TTL as attributes (conditions and DynamoDB's
 * TTL need them), everything else as one JSON document compressed with DEFLATE into a binary
 * attribute — one attribute to read, and about 2.5× fewer bytes billed than the JSON text
 * (DynamoDB bills writes per KB; its guidance for large values is to compress them). Items
 * written before compression (`d` as a string) are still read.
 */
export function toAttributes(item: TierItem): Record<string, AttributeValue> {
  const { pk, version, expiresAt, ...body } = item;
  return {
    pk: { S: pk },
    v: { N: String(version) },
    d: { B: deflateRawSync(JSON.stringify(body)) },
    ...(expiresAt !== undefined ? { ttl: { N: String(expiresAt) } } : {}),
  };
}

export function fromAttributes(attributes: Record<string, AttributeValue>): TierItem {
  const stored = attributes.d;
  const body = JSON.parse(stored?.B ? inflateRawSync(stored.B).toString('utf8') : (stored?.S ?? '{}'));
  return {
    epoch: 1,
    absorbed: 0,
    ...body,
    pk: attributes.pk?.S as string,
    version: Number(attributes.v?.N ?? 0),
    ...(attributes.ttl?.N !== undefined ? { expiresAt: Number(attributes.ttl.N) } : {}),
  };
}

/** The size DynamoDB bills an item by: attribute names plus values, in bytes. */
export function itemBytes(attributes: Record<string, AttributeValue>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(attributes)) {
    bytes += Buffer.byteLength(name);
    if (value.S !== undefined) bytes += Buffer.byteLength(value.S);
    else if (value.B !== undefined) bytes += value.B.byteLength;
    else if (value.N !== undefined) bytes += Math.ceil(value.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
  }
  return bytes;
}

export interface DynamoOnlineStoreOptions {
  /** How long a read may keep retrying unprocessed keys. @default 1000 ms */
  readonly readDeadlineMs?: number;
  /** Receives the capacity every call consumed. @default none (not requested) */
  readonly capacity?: CapacityMeter;
}

export class DynamoOnlineStore implements OnlineStore {
  private readonly readDeadlineMs: number;
  private readonly capacity: CapacityMeter | undefined;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: DynamoOnlineStoreOptions = {},
  ) {
    this.readDeadlineMs = options.readDeadlineMs ?? 1_000;
    this.capacity = options.capacity;
  }

  read(pks: readonly string[]): Promise<Map<string, TierItem>> {
    return this.readWithin(pks, this.readDeadlineMs, false);
  }

  private async readWithin(pks: readonly string[], deadlineMs: number, consistent: boolean): Promise<Map<string, TierItem>> {
    const chunks: string[][] = [];
    for (let i = 0; i < pks.length; i += BATCH_GET_LIMIT) chunks.push(pks.slice(i, i + BATCH_GET_LIMIT));
    const found = new Map<string, TierItem>();
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
          const response = await this.client.send(
            new BatchGetItemCommand({
              RequestItems: { [this.tableName]: { Keys: keys, ...(consistent ? { ConsistentRead: true } : {}) } },
              ...(this.capacity ? { ReturnConsumedCapacity: 'TOTAL' } : {}),
            }),
          );
          this.meter(response.ConsumedCapacity, 'read');
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

  private meter(consumed: ConsumedCapacity | ConsumedCapacity[] | undefined, kind: 'read' | 'write'): void {
    if (!this.capacity || !consumed) return;
    for (const c of Array.isArray(consumed) ? consumed : [consumed]) {
      const units = kind === 'read' ? (c.ReadCapacityUnits ?? c.CapacityUnits ?? 0) : (c.WriteCapacityUnits ?? c.CapacityUnits ?? 0);
      this.capacity[kind](units);
    }
  }

  /** Writes one tier item over the version read; false when another writer got there first. */
  private async put(item: TierItem, before: TierItem | undefined): Promise<boolean> {
    try {
      const response = await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toAttributes(item),
          ...(before
            ? { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':v': { N: String(before.version) } } }
            : { ConditionExpression: 'attribute_not_exists(pk)' }),
          ...(this.capacity ? { ReturnConsumedCapacity: 'TOTAL' } : {}),
        }),
      );
      this.meter(response.ConsumedCapacity, 'write');
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async apply(group: OnlineGroup, rowsByEntity: ReadonlyMap<string, readonly PositionedRow[]>, now: number): Promise<string[]> {
    const keysOf = (entityId: string) => tierKeys(group, entityId);
    // Writers are not on a request's clock: they wait out unprocessed keys far longer than serving does.
    let current = await this.readWithin([...rowsByEntity.keys()].flatMap(keysOf), WRITE_READ_DEADLINE_MS, true);
    let pending = [...rowsByEntity.keys()];
    const failed: string[] = [];
    for (let attempt = 0; pending.length > 0; attempt++) {
      const conflicts: string[] = [];
      await forEachInFlight(pending, WRITES_IN_FLIGHT, async (entityId) => {
        const keys = keysOf(entityId);
        const before = keys.map((key) => current.get(key));
        const write = applyToGroup(group, groupKey(group, entityId), before, rowsByEntity.get(entityId) ?? [], now);
        for (const [i, item] of write.tiers.entries()) {
          if (!item) continue;
          let written: boolean;
          try {
            written = await this.put(item, before[i]);
          } catch {
            // The rows live in the hot item: only its failure fails them. A later tier's
            // step (absorbing deltas) is left to the next write, which redoes it.
            if (i === 0) failed.push(entityId);
            return;
          }
          if (written) continue;
          if (i === 0) {
            // Another writer (a concurrent shard) won the race: back off, re-read, re-apply.
            if (attempt < WRITE_ATTEMPTS - 1) conflicts.push(entityId);
            else failed.push(entityId);
          }
          return;
        }
      });
      pending = conflicts;
      if (pending.length > 0) {
        await sleep((5 + Math.random() * 20) * 2 ** attempt);
        current = await this.readWithin(pending.flatMap(keysOf), WRITE_READ_DEADLINE_MS, true);
      }
    }
    return failed;
  }
}
