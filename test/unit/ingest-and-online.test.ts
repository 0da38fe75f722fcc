import { describe, expect, it } from 'vitest';
import * as demo from '../../features/index.js';
import { itemKey } from '../../lambdas/core/entity-key.js';
import { Ingestor, type ViewRow } from '../../lambdas/core/ingest.js';
import { applyRows, type OnlineItem, readFeatures } from '../../lambdas/core/online.js';
import { Registry } from '../../lambdas/core/registry.js';

const registry = Registry.fromModule(demo);
const ingestor = new Ingestor(registry);
const source = demo.transactions;
const view = registry.views.get('user_last_txn')!;
const DAY = 86_400_000;
const T0 = 1_767_225_600_000;

const txn = (over: Partial<demo.Transaction> = {}): demo.Transaction => ({ ...source.example, ...over });

function rowsOf(event: demo.Transaction, ingestTs = event.ts): ViewRow[] {
  const outcome = ingestor.ingestEvent(source, event, ingestTs);
  if (!outcome.ok) throw new Error(outcome.rejection.message);
  return outcome.rows.filter((r) => r.view === 'user_last_txn') as ViewRow[];
}

const pk = itemKey('user_last_txn', 'u0001');
const apply = (item: OnlineItem | undefined, rows: ViewRow[]) => applyRows(view, pk, item, rows, T0) ?? item;
const amount = (item: OnlineItem | undefined) => item?.latest?.values.amount_usd;

describe('ingesting a record', () => {
  it('yields one row per view of the source, with keys and event time', () => {
    const outcome = ingestor.ingest(source, JSON.stringify(txn()), T0 + 5);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.rows.map((r) => r.view).sort()).toEqual([
      'merchant_last_txn',
      'merchant_txn_stats',
      'user_last_txn',
      'user_location',
      'user_merchant_last_txn',
      'user_txn_stats',
    ]);
    const pair = outcome.rows.find((r) => r.view === 'user_merchant_last_txn')!;
    expect(pair).toMatchObject({
      entityId: 'u0001|m0001',
      keys: { user_id: 'u0001', merchant_id: 'm0001' },
      eventTs: T0,
      ingestTs: T0 + 5,
      eventId: 'evt-example',
    });
  });

  it('rejects a payload that is not JSON as MalformedPayload', () => {
    const outcome = ingestor.ingest(source, Buffer.from('{"event_id": '), T0);
    expect(outcome).toMatchObject({ ok: false, rejection: { code: 'MalformedPayload' } });
  });

  it('rejects a missing field and a wrong type as SchemaMismatch, naming the field', () => {
    const { amount: _, ...missing } = txn();
    expect(ingestor.ingestEvent(source, missing, T0)).toMatchObject({
      ok: false,
      rejection: { code: 'SchemaMismatch', message: expect.stringContaining('amount') },
    });
    expect(ingestor.ingestEvent(source, { ...txn(), lat: 'north' }, T0)).toMatchObject({
      ok: false,
      rejection: { code: 'SchemaMismatch', message: expect.stringContaining('lat') },
    });
  });
});

describe('the online value of an entity', () => {
  it('is the newest event by event time, whatever the arrival order', () => {
    const newer = rowsOf(txn({ event_id: 'b', ts: T0 + 1000, amount: 2, currency: 'USD' }));
    const older = rowsOf(txn({ event_id: 'a', ts: T0, amount: 1, currency: 'USD' }), T0 + 2000);
    expect(amount(apply(apply(undefined, newer), older))).toBe(2);
    expect(amount(apply(apply(undefined, older), newer))).toBe(2);
  });

  it('does not change when the same event is applied again, even with a later ingest time', () => {
    const a = rowsOf(txn({ event_id: 'a', amount: 1, currency: 'USD' }), T0);
    const b = rowsOf(txn({ event_id: 'b', amount: 2, currency: 'USD' }), T0 + 10);
    const once = apply(apply(undefined, a), b);
    const redelivered = rowsOf(txn({ event_id: 'a', amount: 1, currency: 'USD' }), T0 + 20);
    expect(applyRows(view, pk, once, redelivered, T0)).toBeUndefined();
    expect(amount(once)).toBe(2);
  });

  it('breaks event-time ties by the later ingest time, then the larger event id', () => {
    const early = rowsOf(txn({ event_id: 'z', amount: 1, currency: 'USD' }), T0);
    const late = rowsOf(txn({ event_id: 'a', amount: 2, currency: 'USD' }), T0 + 1);
    expect(amount(apply(apply(undefined, late), early))).toBe(2);
    const x = rowsOf(txn({ event_id: 'x', amount: 3, currency: 'USD' }), T0);
    const y = rowsOf(txn({ event_id: 'y', amount: 4, currency: 'USD' }), T0);
    expect(amount(apply(apply(undefined, y), x))).toBe(4);
  });

  it('is expired once event_ts <= now - ttl, and sets the DynamoDB TTL to the same instant', () => {
    const item = apply(undefined, rowsOf(txn({ ts: T0 })));
    const features = registry.servicePlan('fraud_v1').views.find((v) => v.view.name === 'user_last_txn')!.features;
    expect(readFeatures(view, item, features, T0 + 30 * DAY - 1)[0]?.status).toBe('present');
    expect(readFeatures(view, item, features, T0 + 30 * DAY)[0]).toEqual({ value: null, status: 'expired', eventTs: T0 });
    expect(item?.expiresAt).toBe((T0 + 30 * DAY) / 1000);
  });

  it('is missing when the entity has no item', () => {
    const features = registry.plan(['user_last_txn:currency']).views[0]!.features;
    expect(readFeatures(view, undefined, features, T0)).toEqual([{ value: null, status: 'missing', eventTs: null }]);
  });
});
