/**
 * The demo definitions repo: card-fraud detection. Users replace this folder with their own
 * definitions; everything else in Tessera is derived from what is exported here.
 */
import * as z from 'zod';
import { batchSource, entity, featureService, featureView, onDemandFeature, select, streamSource } from '../lambdas/core/definitions.js';

export const user = entity({ name: 'user', joinKey: 'user_id', description: 'A card holder' });
export const merchant = entity({ name: 'merchant', joinKey: 'merchant_id', description: 'A card acceptor' });

export const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'CHF'] as const;
/** Fixed demo rates; a real repo would join a rates table. Pure, so every path agrees. */
const USD_PER_UNIT: Record<(typeof CURRENCIES)[number], number> = { USD: 1, EUR: 1.08, GBP: 1.27, JPY: 0.0067, CHF: 1.13 };
const toUsd = (amount: number, currency: (typeof CURRENCIES)[number]) => Math.round(amount * USD_PER_UNIT[currency] * 100) / 100;

export const transactionSchema = z.object({
  event_id: z.string().min(1).max(128),
  user_id: z.string().regex(/^u\d{4,}$/, 'user ids look like u0001'),
  merchant_id: z.string().regex(/^m\d{4,}$/, 'merchant ids look like m0001'),
  amount: z.number().nonnegative().max(1_000_000),
  currency: z.enum(CURRENCIES),
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  /** Event time, epoch milliseconds. */
  ts: z.number().int().positive(),
});
export type Transaction = z.infer<typeof transactionSchema>;

export const transactions = streamSource({
  name: 'transactions',
  schema: transactionSchema,
  eventTimeField: 'ts',
  eventIdField: 'event_id',
  description: 'Card authorisations as the payment switch emits them',
  owner: 'payments-platform',
  /** Checked against every view's transform at plan and synth time. */
  example: {
    event_id: 'evt-example',
    user_id: 'u0001',
    merchant_id: 'm0001',
    amount: 42.5,
    currency: 'EUR',
    lat: 48.85,
    lon: 2.35,
    ts: 1_767_225_600_000,
  },
});

export const userLastTransaction = featureView({
  name: 'user_last_txn',
  entities: [user],
  source: transactions,
  features: { amount_usd: 'float', currency: 'string', merchant_id: 'string', is_foreign: 'bool' },
  transform: (t: Transaction) => ({
    amount_usd: toUsd(t.amount, t.currency),
    currency: t.currency,
    merchant_id: t.merchant_id,
    is_foreign: t.currency !== 'USD',
  }),
  ttl: '30d',
  owner: 'fraud-ml',
  description: "The card holder's most recent transaction",
  version: 1,
});

export const userTransactionStats = featureView({
  name: 'user_txn_stats',
  entities: [user],
  source: transactions,
  features: { amount_usd: 'float', merchant_id: 'string' },
  transform: (t: Transaction) => ({ amount_usd: toUsd(t.amount, t.currency), merchant_id: t.merchant_id }),
  aggregations: [
    { name: 'txn_count_5m', fn: 'count', window: '5m' },
    { name: 'txn_count_1h', fn: 'count', window: '1h' },
    { name: 'amount_sum_1h', fn: 'sum', column: 'amount_usd', window: '1h' },
    { name: 'amount_max_1d', fn: 'max', column: 'amount_usd', window: '1d' },
    { name: 'amount_avg_7d', fn: 'avg', column: 'amount_usd', window: '7d' },
    { name: 'merchants_distinct_7d', fn: 'approx_distinct', column: 'merchant_id', window: '7d' },
    { name: 'recent_merchants_1d', fn: 'last_n', column: 'merchant_id', window: '1d', n: 5 },
    { name: 'txn_count_30d', fn: 'count', window: '30d' },
  ],
  ttl: '30d',
  freshness: '5m',
  owner: 'fraud-ml',
  description: "Sliding-window statistics of the card holder's spending",
});

export const merchantTransactionStats = featureView({
  name: 'merchant_txn_stats',
  entities: [merchant],
  source: transactions,
  features: { amount_usd: 'float', user_id: 'string' },
  transform: (t: Transaction) => ({ amount_usd: toUsd(t.amount, t.currency), user_id: t.user_id }),
  aggregations: [
    { name: 'txn_count_1h', fn: 'count', window: '1h' },
    { name: 'amount_sum_1d', fn: 'sum', column: 'amount_usd', window: '1d' },
    { name: 'users_distinct_1d', fn: 'approx_distinct', column: 'user_id', window: '1d' },
  ],
  ttl: '30d',
  owner: 'fraud-ml',
  description: 'Sliding-window activity at the merchant',
});

export const userLocation = featureView({
  name: 'user_location',
  entities: [user],
  source: transactions,
  features: { lat: 'float', lon: 'float' },
  ttl: '7d',
  owner: 'fraud-ml',
  description: 'Where the card holder last used the card',
  tags: ['pii'],
});

export const merchantLastTransaction = featureView({
  name: 'merchant_last_txn',
  entities: [merchant],
  source: transactions,
  features: { amount_usd: 'float', currency: 'string' },
  transform: (t: Transaction) => ({ amount_usd: toUsd(t.amount, t.currency), currency: t.currency }),
  ttl: '30d',
  owner: 'fraud-ml',
  description: 'The most recent transaction at the merchant',
});

export const userMerchantLastTransaction = featureView({
  name: 'user_merchant_last_txn',
  entities: [user, merchant],
  source: transactions,
  features: { amount_usd: 'float', ts: 'int' },
  transform: (t: Transaction) => ({ amount_usd: toUsd(t.amount, t.currency), ts: t.ts }),
  ttl: '90d',
  owner: 'fraud-ml',
  description: 'The last transaction of this card holder at this merchant',
});

export const CHARGEBACK_REASONS = ['fraud', 'not_received', 'duplicate', 'other'] as const;

export const chargebackSchema = z.object({
  chargeback_id: z.string().min(1).max(128),
  user_id: z.string().regex(/^u\d{4,}$/, 'user ids look like u0001'),
  merchant_id: z.string().regex(/^m\d{4,}$/, 'merchant ids look like m0001'),
  amount_usd: z.number().nonnegative(),
  reason: z.enum(CHARGEBACK_REASONS),
  /** When the card holder disputed the transaction, epoch milliseconds. */
  ts: z.number().int().positive(),
});
export type Chargeback = z.infer<typeof chargebackSchema>;

/**
 * A batch source: the card processor drops a CSV of disputed transactions into the store's
 * bucket under `batch/chargebacks/date=YYYY-MM-DD/`; the batch handler applies the new files
 * every hour (EventBridge deployed, a timer locally). `features/sample-data/chargebacks/` has
 * a month of them: `npx tessera backfill --source chargebacks --location ./features/sample-data/chargebacks …`.
 */
export const chargebacks = batchSource({
  name: 'chargebacks',
  schema: chargebackSchema,
  eventTimeField: 'ts',
  eventIdField: 'chargeback_id',
  location: 'batch/chargebacks/',
  format: 'csv',
  schedule: 'rate(1 hour)',
  description: 'Disputed card transactions, exported by the card processor as CSV',
  owner: 'payments-platform',
});

export const userChargebacks = featureView({
  name: 'user_chargebacks',
  entities: [user],
  source: chargebacks,
  features: { amount_usd: 'float', reason: 'string' },
  aggregations: [
    { name: 'chargeback_count_30d', fn: 'count', window: '30d' },
    { name: 'chargeback_amount_30d', fn: 'sum', column: 'amount_usd', window: '30d' },
  ],
  ttl: '90d',
  owner: 'fraud-ml',
  description: "The card holder's disputes: the last one and 30-day totals",
});

const EARTH_RADIUS_KM = 6371;
const radians = (degrees: number) => (degrees * Math.PI) / 180;
/** Great-circle distance, rounded to metres so every runtime prints the same number. */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const a = Math.sin(radians(lat2 - lat1) / 2) ** 2 + Math.cos(radians(lat1)) * Math.cos(radians(lat2)) * Math.sin(radians(lon2 - lon1) / 2) ** 2;
  return Math.round(2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a))) * 1000) / 1000;
}

export const transactionRisk = onDemandFeature({
  name: 'txn_risk',
  request: z.object({
    amount: z.number().nonnegative(),
    currency: z.enum(CURRENCIES),
    lat: z.number().min(-90).max(90),
    lon: z.number().min(-180).max(180),
  }),
  inputs: ['user_location:lat', 'user_location:lon', 'user_last_txn:amount_usd'],
  features: { km_from_last: 'float', amount_ratio: 'float' },
  compute: ({ request, features }) => {
    const lat = features['user_location:lat'] as number | null;
    const lon = features['user_location:lon'] as number | null;
    const last = features['user_last_txn:amount_usd'] as number | null;
    const amountUsd = toUsd(request.amount as number, request.currency as (typeof CURRENCIES)[number]);
    return {
      km_from_last: lat === null || lon === null ? null : distanceKm(lat, lon, request.lat as number, request.lon as number),
      amount_ratio: last ? Math.round((amountUsd / last) * 1e6) / 1e6 : null,
    };
  },
  owner: 'fraud-ml',
  description: 'How unusual this authorisation is for the card holder',
});

export const fraudV1 = featureService({
  name: 'fraud_v1',
  version: 1,
  features: [
    userLastTransaction,
    select(userTransactionStats, [
      'txn_count_5m',
      'txn_count_1h',
      'amount_sum_1h',
      'amount_max_1d',
      'amount_avg_7d',
      'merchants_distinct_7d',
      'recent_merchants_1d',
      'txn_count_30d',
    ]),
    select(userLocation, ['lat', 'lon']),
  ],
  piiFeatures: ['user_location:lat', 'user_location:lon'],
  owner: 'fraud-ml',
  description: 'Card-holder features of the fraud model, v1: keyed by user_id alone',
});

export const fraudV2 = featureService({
  name: 'fraud_v2',
  version: 2,
  features: [
    userLastTransaction,
    merchantLastTransaction,
    select(merchantTransactionStats, ['txn_count_1h', 'amount_sum_1d', 'users_distinct_1d']),
    select(userMerchantLastTransaction, ['amount_usd']),
    select(userChargebacks, ['chargeback_count_30d', 'chargeback_amount_30d']),
    transactionRisk,
  ],
  // txn_risk reads user_location, so both its outputs are pii (km_from_last gives the card
  // holder's position away to a caller choosing reference points): listed, as fraud_v1 lists
  // lat/lon. A deployment restricts the readers of either with allowedPrincipals.
  piiFeatures: ['txn_risk:km_from_last', 'txn_risk:amount_ratio'],
  owner: 'fraud-ml',
  description: 'The fraud model, v2: card holder, merchant and the authorisation being scored',
});
