/**
 * Shared fixtures of the point-in-time tests: a small registry whose views cover the cases
 * that matter (string, int and composite keys, TTL none / tiny / hours / a day, list
 * features), and helpers that put offline rows and labels into the engine of the target
 * (pit-engine.ts) — on DuckDB as real Parquet files in date/hour folders, so pruning is
 * exercised too.
 */
import * as z from 'zod';
import { entity, type FeatureView, featureService, featureView, type Row, streamSource } from '../../lambdas/core/definitions.js';
import { encodeEntityId } from '../../lambdas/core/entity-key.js';
import type { ViewRow } from '../../lambdas/core/ingest.js';
import { ROW_COLUMN } from '../../lambdas/core/point-in-time.js';
import { Registry } from '../../lambdas/core/registry.js';
import type { PitEngine } from './pit-engine.js';

export const user = entity({ name: 'user', joinKey: 'user_id' });
export const merchant = entity({ name: 'merchant', joinKey: 'merchant_id' });
export const shop = entity({ name: 'shop', joinKey: 'a', keyType: 'int' });
export const till = entity({ name: 'till', joinKey: 'b', keyType: 'int' });

export const events = streamSource({
  name: 'events',
  schema: z.object({ id: z.string(), ts: z.number(), user_id: z.string(), merchant_id: z.string(), a: z.number(), b: z.number() }),
  eventTimeField: 'ts',
  eventIdField: 'id',
});

const common = { source: events, owner: 'tests', description: 'fixture' };
/** No TTL: any row at or before t matches. */
export const byUser = featureView({ ...common, name: 'by_user', entities: [user], features: { x: 'int', s: 'string' } });
/** Two string keys whose concatenations collide: ("1","23") and ("12","3"); a tiny TTL. */
export const byPair = featureView({ ...common, name: 'by_pair', entities: [user, merchant], features: { y: 'float' }, ttl: '1s' });
/** Two int keys, collisions as above; lists and booleans. */
export const byInts = featureView({ ...common, name: 'by_ints', entities: [shop, till], features: { z: 'bool', tags: 'string[]' }, ttl: '1h' });
export const byMerchant = featureView({ ...common, name: 'by_merchant', entities: [merchant], features: { w: 'int' }, ttl: '1d' });

export const VIEWS = [byUser, byPair, byInts, byMerchant] as const;

export const registry = new Registry([
  user,
  merchant,
  shop,
  till,
  events,
  ...VIEWS,
  featureService({ name: 'everything', features: [...VIEWS], owner: 'tests', description: 'all fixture views' }),
]);
export const plan = registry.servicePlan('everything');

export const DATABASE = 'tessera_test';
export const LABELS_TABLE = 'labels';
export const TS = 'event_timestamp';
/** The label columns every test labels table has, in order. */
export const LABEL_COLUMNS = ['user_id', 'merchant_id', 'a', 'b', TS, 'label'] as const;

export interface RowSpec {
  readonly keys: Record<string, string | number>;
  readonly eventTs: number;
  readonly ingestTs?: number;
  readonly eventId: string;
  readonly values: Row;
}

export function viewRow(view: FeatureView, spec: RowSpec): ViewRow {
  return {
    view: view.name,
    entityId: encodeEntityId(view.entities.map((e) => spec.keys[e.joinKey] as string | number)),
    keys: Object.fromEntries(view.entities.map((e) => [e.joinKey, spec.keys[e.joinKey] as string | number])),
    eventTs: spec.eventTs,
    ingestTs: spec.ingestTs ?? spec.eventTs,
    eventId: spec.eventId,
    values: spec.values,
  };
}

/** Each fixture view's rows as its table (views without rows are empty tables). */
export function loadOfflineRows(engine: PitEngine, rows: ReadonlyMap<string, readonly ViewRow[]>): Promise<void> {
  return engine.loadViews(DATABASE, VIEWS, rows);
}

/** The labels table, `__row` in label order, with the columns of LABEL_COLUMNS. */
export function loadLabels(engine: PitEngine, labels: readonly Row[]): Promise<void> {
  const columns = [ROW_COLUMN, ...LABEL_COLUMNS].map((name) => ({ name, type: ['user_id', 'merchant_id'].includes(name) ? 'string' : 'int' }) as const);
  return engine.loadTable(
    DATABASE,
    LABELS_TABLE,
    columns,
    labels.map((l, i) => ({ ...l, [ROW_COLUMN]: i })),
  );
}

/** Result rows without `__row`, in label order. */
export function withoutRow(rows: readonly Row[]): Row[] {
  return [...rows].sort((x, y) => (x[ROW_COLUMN] as number) - (y[ROW_COLUMN] as number)).map(({ [ROW_COLUMN]: _, ...rest }) => rest);
}
