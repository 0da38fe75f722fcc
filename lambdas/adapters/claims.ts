/**
 * Claims: one small record per event id in the online table, so a producer's duplicate (the
 * same event id sent again, at another position of the stream or in another file) is applied
 * once. A claim holds the position that owns the event; a redelivery of that same record finds
 * its own claim and goes on (the hot items' marks make its re-application a no-op), any other
 * copy is a duplicate and is dropped. This is the shape of Powertools' idempotency utility: a
 * conditional put with a TTL over the dedupe horizon (online.ts `dedupeHorizonMs`).
 *
 * A copy that arrives after its claim expired is applied again; by then the event is older
 * than every window of its source, so it changes no aggregate, and as the latest row it
 * carries the same values (the README says what that means offline).
 */

import { ConditionalCheckFailedException, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { forEachInFlight } from './in-flight.js';
import type { CapacityMeter } from './online-store.js';
import type { Claim, ClaimOutcome, EventClaims } from './ports.js';

/** The partition key of an event's claim. */
export const claimKey = (source: string, eventId: string): string => `claim#${source}#${eventId}`;

const IN_FLIGHT = 32;
/** Attempts of one claim before its record is reported failed (throttling passes quickly). */
const ATTEMPTS = 4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class DynamoEventClaims implements EventClaims {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly capacity?: CapacityMeter,
  ) {}

  async claim(source: string, claims: readonly Claim[], now: number, expiresAt: number): Promise<ClaimOutcome> {
    const duplicates = new Set<string>();
    const failed = new Set<string>();
    await forEachInFlight(claims, IN_FLIGHT, async ({ eventId, position }) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const response = await this.client.send(
            new PutItemCommand({
              TableName: this.tableName,
              Item: { pk: { S: claimKey(source, eventId) }, p: { S: position }, ttl: { N: String(Math.ceil(expiresAt / 1000)) } },
              // Free, ours already (a redelivery), or expired but not yet deleted by DynamoDB's TTL sweep.
              ConditionExpression: 'attribute_not_exists(pk) OR p = :p OR #ttl < :now',
              ExpressionAttributeNames: { '#ttl': 'ttl' },
              ExpressionAttributeValues: { ':p': { S: position }, ':now': { N: String(Math.floor(now / 1000)) } },
              ...(this.capacity ? { ReturnConsumedCapacity: 'TOTAL' } : {}),
            }),
          );
          if (this.capacity) this.capacity.write(response.ConsumedCapacity?.CapacityUnits ?? 0);
          break;
        } catch (error) {
          if (error instanceof ConditionalCheckFailedException) duplicates.add(position);
          else if (attempt < ATTEMPTS) {
            await sleep(10 * 2 ** attempt * (0.5 + Math.random() / 2));
            continue;
          } else failed.add(position);
          break;
        }
      }
    });
    return { duplicates, failed };
  }
}
