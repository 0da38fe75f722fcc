import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import * as demo from '../../features/index.js';
import { onDemandFeature } from '../../lambdas/core/definitions.js';
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../../lambdas/core/errors.js';
import { Ingestor } from '../../lambdas/core/ingest.js';
import type { TierItem } from '../../lambdas/core/online.js';
import { Registry } from '../../lambdas/core/registry.js';
import { assembleResponse, planRequest } from '../../lambdas/core/serving.js';
import { onDemandValues } from '../../lambdas/core/training-set.js';
import { MemoryOnlineStore } from '../support/memory-online-store.js';

const registry = Registry.fromModule(demo);
const T0 = 1_767_225_600_000;

function storeOf(...events: demo.Transaction[]): Map<string, TierItem> {
  const store = new MemoryOnlineStore();
  const ingestor = new Ingestor(registry);
  events.forEach((event, i) => {
    const outcome = ingestor.ingestEvent(demo.transactions, event, event.ts);
    if (!outcome.ok) throw new Error(outcome.rejection.message);
    store.applyRows(
      registry.views,
      outcome.rows.map((r) => ({ ...r, offset: i + 1 })),
      event.ts,
    );
  });
  return store.items;
}

describe('planning a feature request', () => {
  it("reads each entity's items once, however many rows and views name them: one group of views per source and entity", () => {
    const planned = planRequest(registry, { service: 'fraud_v1', entities: [{ user_id: 'u0001' }, { user_id: 'u0001' }, { user_id: 'u0002' }] });
    // user_last_txn, user_txn_stats and user_location are one group; the aggregations need its warm and cold tiers.
    expect([...planned.pks].sort()).toEqual([
      'transactions:user_id#u0001',
      'transactions:user_id#u0001#1',
      'transactions:user_id#u0001#2',
      'transactions:user_id#u0002',
      'transactions:user_id#u0002#1',
      'transactions:user_id#u0002#2',
    ]);
    const rowsOnly = planRequest(registry, { features: ['user_last_txn:currency', 'user_location:lat'], entities: [{ user_id: 'u0001' }] });
    expect(rowsOnly.pks).toEqual(['transactions:user_id#u0001']);
  });

  it('rejects a row without a join key, naming the row and the key', () => {
    expect(() => planRequest(registry, { service: 'fraud_v1', entities: [{ user_id: 'u1' }, { merchant_id: 'm1' }] })).toThrow(
      'entities[1]: "user_id" must be a non-empty string',
    );
  });

  it('rejects unknown fields, both service and features, and no entities', () => {
    expect(() => planRequest(registry, { service: 'fraud_v1', entities: [{ user_id: 'u1' }], extra: 1 })).toThrow(ValidationError);
    expect(() => planRequest(registry, { service: 'fraud_v1', features: ['user_last_txn:currency'], entities: [{ user_id: 'u1' }] })).toThrow(
      /either "service" or "features"/,
    );
    expect(() => planRequest(registry, { service: 'fraud_v1', entities: [] })).toThrow(ValidationError);
  });

  it('answers more than 100 entity rows with PayloadTooLarge', () => {
    const entities = Array.from({ length: 101 }, (_, i) => ({ user_id: `u${i}` }));
    expect(() => planRequest(registry, { service: 'fraud_v1', entities })).toThrow(PayloadTooLargeError);
  });

  it('answers an unknown service or feature with NotFound', () => {
    expect(() => planRequest(registry, { service: 'nope', entities: [{ user_id: 'u1' }] })).toThrow(NotFoundError);
    expect(() => planRequest(registry, { features: ['user_last_txn:nope'], entities: [{ user_id: 'u1' }] })).toThrow(NotFoundError);
  });
});

describe('assembling a response', () => {
  const event = { ...demo.transactions.example!, ts: T0, amount: 100, currency: 'USD' as const, lat: 0, lon: 0 };

  it('returns values, status and event time per feature, in the order of the feature list', () => {
    const planned = planRequest(registry, { service: 'fraud_v1', entities: [{ user_id: 'u0001' }, { user_id: 'u0404' }] });
    const response = assembleResponse(planned, storeOf(event), T0 + 1);
    expect(response.features).toEqual([
      'user_last_txn__amount_usd',
      'user_last_txn__currency',
      'user_last_txn__merchant_id',
      'user_last_txn__is_foreign',
      'user_txn_stats__txn_count_5m',
      'user_txn_stats__txn_count_1h',
      'user_txn_stats__amount_sum_1h',
      'user_txn_stats__amount_max_1d',
      'user_txn_stats__amount_avg_7d',
      'user_txn_stats__merchants_distinct_7d',
      'user_txn_stats__recent_merchants_1d',
      'user_txn_stats__txn_count_30d',
      'user_location__lat',
      'user_location__lon',
    ]);
    expect(response.results[0]).toMatchObject({
      entity: { user_id: 'u0001' },
      values: {
        user_last_txn__amount_usd: 100,
        user_last_txn__is_foreign: false,
        user_location__lat: 0,
        user_txn_stats__txn_count_5m: 1,
        user_txn_stats__amount_sum_1h: 100,
        user_txn_stats__recent_merchants_1d: ['m0001'],
      },
      status: { user_last_txn__amount_usd: 'present' },
      eventTimestamps: { user_last_txn__currency: T0 },
    });
    const unknown = response.results[1]!;
    expect(unknown.status.user_last_txn__amount_usd).toBe('missing');
    expect(unknown.status.user_location__lon).toBe('missing');
    // An entity with no events in a window has a count of 0, which is a value, and no average.
    expect(unknown.values).toMatchObject({ user_txn_stats__txn_count_1h: 0, user_txn_stats__amount_avg_7d: null, user_txn_stats__recent_merchants_1d: [] });
    expect(unknown.status.user_txn_stats__amount_avg_7d).toBe('missing');
  });

  it('computes on-demand features from the request context and the stored inputs', () => {
    const planned = planRequest(registry, {
      service: 'fraud_v2',
      entities: [{ user_id: 'u0001', merchant_id: 'm0001', amount: 300, currency: 'USD', lat: 0, lon: 1 }],
    });
    const { values } = assembleResponse(planned, storeOf(event), T0 + 1).results[0]!;
    expect(values.txn_risk__amount_ratio).toBe(3);
    expect(values.txn_risk__km_from_last).toBe(demo.distanceKm(0, 0, 0, 1));
  });

  it('rejects a request context that does not match the on-demand feature', () => {
    const planned = planRequest(registry, { service: 'fraud_v2', entities: [{ user_id: 'u0001', merchant_id: 'm0001', amount: -1 }] });
    expect(() => assembleResponse(planned, new Map(), T0)).toThrow(/entities\[0\]: request context for "txn_risk"/);
  });

  it('answers an on-demand value that is not a finite number as missing, served and in training sets alike', () => {
    // Prepare: a ratio over a stored amount of 0 divides by zero
    const ratio = onDemandFeature({
      name: 'amount_over_last',
      request: z.object({ amount: z.number() }),
      inputs: ['user_last_txn:amount_usd'],
      features: { ratio: 'float', scaled: 'int' },
      compute: ({ request, features }) => {
        const last = features['user_last_txn:amount_usd'] as number;
        return { ratio: (request.amount as number) / last, scaled: Math.round(((request.amount as number) - 1) / last) };
      },
      owner: 't',
      description: 'divides by the last amount',
    });
    const withRatio = Registry.fromModule({ ...demo, ratio });
    const zero = { ...event, event_id: 'zero', amount: 0 };
    const store = new Map([...storeOf(zero)]);
    const requests = [1, 0].map((amount) => ({ features: ['amount_over_last:ratio', 'amount_over_last:scaled'], entities: [{ user_id: 'u0001', amount }] }));

    // Act
    const served = requests.map((request) => assembleResponse(planRequest(withRatio, request), store, T0 + 1).results[0]!);
    const trained = [1, 0].map((amount) => onDemandValues(withRatio.plan(['amount_over_last:ratio']), { amount }, { user_last_txn__amount_usd: 0 }, 0));

    // Assess: 1/0 is Infinity, 0/0 is NaN; (1-1)/0 is NaN and (0-1)/0 is -Infinity
    for (const row of served) {
      expect(row.values).toEqual({ amount_over_last__ratio: null, amount_over_last__scaled: null });
      expect(row.status).toEqual({ amount_over_last__ratio: 'missing', amount_over_last__scaled: 'missing' });
    }
    expect(trained).toEqual([
      { amount_over_last__ratio: null, amount_over_last__scaled: null },
      { amount_over_last__ratio: null, amount_over_last__scaled: null },
    ]);
  });
});
