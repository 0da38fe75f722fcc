import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import * as demo from '../../features/index.js';
import { type Source, streamSource } from '../../lambdas/core/definitions.js';
import { encodeEntityId, itemKeyProblem, MAX_ITEM_KEY_BYTES } from '../../lambdas/core/entity-key.js';
import { Ingestor, type ViewRow } from '../../lambdas/core/ingest.js';
import { dedupeHorizonMs, readFeatures } from '../../lambdas/core/online.js';
import { Registry } from '../../lambdas/core/registry.js';
import { planRequest } from '../../lambdas/core/serving.js';
import { MemoryOnlineStore } from '../support/memory-online-store.js';

const registry = Registry.fromModule(demo);
const ingestor = new Ingestor(registry);
const source = demo.transactions;
const view = registry.views.get('user_last_txn')!;
const DAY = 86_400_000;
const T0 = 1_767_225_600_000;

const txn = (over: Partial<demo.Transaction> = {}): demo.Transaction => ({ ...source.example!, ...over });

function rowsOf(event: demo.Transaction, ingestTs = event.ts): ViewRow[] {
  const outcome = ingestor.ingestEvent(source, event, ingestTs);
  if (!outcome.ok) throw new Error(outcome.rejection.message);
  return outcome.rows.filter((r) => r.view === 'user_last_txn') as ViewRow[];
}

let offset = 0;
/** Applies rows to the store, each batch at a new position of one shard (or `at`, for a redelivery). */
function apply(store: MemoryOnlineStore, rows: ViewRow[], at?: number): MemoryOnlineStore {
  const position = at ?? ++offset;
  store.applyRows(
    registry.views,
    rows.map((r) => ({ ...r, offset: position })),
    T0 + 60_000,
  );
  return store;
}
const features = registry.plan(['user_last_txn:amount_usd']).views[0]!.features;
const amount = (store: MemoryOnlineStore) => readFeatures(view, store.tiersOf(registry.views, 'user_last_txn', 'u0001'), features, T0 + 60_000)[0]?.value;
const fresh = () => new MemoryOnlineStore();

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

describe('the event times a source accepts', () => {
  const MINUTE = 60_000;
  const rejectionOf = (event: unknown, ingestTs: number, using = ingestor, from: Source = source) => {
    const outcome = using.ingestEvent(from, event, ingestTs);
    return outcome.ok ? undefined : outcome.rejection;
  };

  it('accepts an event up to 5 minutes ahead of its ingest time and rejects one further ahead as EventTimeOutOfRange', () => {
    expect(rejectionOf(txn({ ts: T0 + 5 * MINUTE }), T0)).toBeUndefined();
    expect(rejectionOf(txn({ ts: T0 + 5 * MINUTE + 1 }), T0)).toEqual({
      code: 'EventTimeOutOfRange',
      message: '"ts": event time 2026-01-01T00:05:00.001Z is more than maxFutureSkew 5m ahead of the ingest time 2026-01-01T00:00:00.000Z',
    });
  });

  it('rejects times no store can hold — 2^53−1, before 1970, after 9999 — naming the storable range', () => {
    const isoSource = streamSource({ ...source, example: undefined, name: 'iso_events', schema: source.schema.extend({ ts: z.string() }) });
    const isoIngestor = new Ingestor(new Registry([isoSource]));
    const far = Number.MAX_SAFE_INTEGER;
    for (const rejection of [
      rejectionOf(txn({ ts: far }), far),
      rejectionOf({ ...txn(), ts: '1969-12-31T23:59:59.999Z' }, T0, isoIngestor, isoSource),
      rejectionOf({ ...txn(), ts: '+010000-01-01T00:00:00.000Z' }, Date.parse('+010000-01-01T00:00:00.000Z'), isoIngestor, isoSource),
    ]) {
      expect(rejection).toMatchObject({
        code: 'EventTimeOutOfRange',
        message: expect.stringContaining('outside the storable range 1970-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z'),
      });
    }
  });

  it("holds every path to the source's own maxFutureSkew and maxAge", () => {
    // Prepare
    const strict = streamSource({ ...source, name: 'strict', maxFutureSkew: '30s', maxAge: '1d' });
    const strictIngestor = new Ingestor(new Registry([strict]));

    // Act, Assess
    expect(rejectionOf(txn({ ts: T0 + 31_000 }), T0, strictIngestor, strict)).toMatchObject({
      code: 'EventTimeOutOfRange',
      message: expect.stringContaining('maxFutureSkew 30s'),
    });
    expect(rejectionOf(txn({ ts: T0 - DAY - 1 }), T0, strictIngestor, strict)).toMatchObject({
      code: 'EventTimeOutOfRange',
      message: expect.stringContaining('maxAge 1d behind'),
    });
    expect(rejectionOf(txn({ ts: T0 - DAY }), T0, strictIngestor, strict)).toBeUndefined();
  });

  it('refuses a source whose maxFutureSkew or maxAge is not a duration, naming the source', () => {
    expect(() => new Registry([{ ...source, maxFutureSkew: '5 minutes' } as unknown as Source])).toThrow(
      'source "transactions": bad maxFutureSkew "5 minutes": write a positive whole number of s, m, h or d, e.g. "5m"',
    );
    expect(() => new Registry([{ ...source, maxAge: '0d' } as Source])).toThrow(/source "transactions": bad maxAge "0d"/);
  });
});

describe('join keys too long for the online table', () => {
  it(`rejects an event whose key makes an online key over ${MAX_ITEM_KEY_BYTES} bytes as KeyTooLong, with no row for any view`, () => {
    // Prepare: user_id fits the schema (u and digits) but not DynamoDB's key
    const longest = `u${'1'.repeat(MAX_ITEM_KEY_BYTES - 'transactions:user_id+merchant_id#'.length - '|m0001'.length - 1)}`;
    const tooLong = `${longest}1`;

    // Act
    const fits = ingestor.ingestEvent(source, txn({ user_id: longest }), T0);
    const refused = ingestor.ingestEvent(source, txn({ user_id: tooLong }), T0);

    // Assess: the merchant views would fit; the event is refused whole
    expect(fits.ok).toBe(true);
    expect(refused).toEqual({
      ok: false,
      rejection: {
        code: 'KeyTooLong',
        view: 'user_merchant_last_txn',
        message: `feature view "user_merchant_last_txn": the join key values of feature view "user_merchant_last_txn" make an online key of ${MAX_ITEM_KEY_BYTES + 1} bytes; at most ${MAX_ITEM_KEY_BYTES} fit (DynamoDB allows 2048 bytes a partition key)`,
      },
    });
  });

  it('counts UTF-8 bytes of the encoded key, not characters', () => {
    expect(itemKeyProblem(view, 'é'.repeat(990))).toBeUndefined(); // "transactions:user_id#" + 1 980 bytes
    expect(itemKeyProblem(view, encodeEntityId(['é'.repeat(400)]))).toMatch(/online key of 2421 bytes/);
  });

  it('answers a read with such a key with a ValidationError naming the row', () => {
    expect(() => planRequest(registry, { service: 'fraud_v1', entities: [{ user_id: 'u0001' }, { user_id: `u${'1'.repeat(3000)}` }] })).toThrow(
      /^entities\[1\]: the join key values of feature view "user_last_txn" make an online key of 3022 bytes/,
    );
  });
});

describe('the online value of an entity', () => {
  it('is the newest event by event time, whatever the arrival order', () => {
    const newer = rowsOf(txn({ event_id: 'b', ts: T0 + 1000, amount: 2, currency: 'USD' }));
    const older = rowsOf(txn({ event_id: 'a', ts: T0, amount: 1, currency: 'USD' }), T0 + 2000);
    expect(amount(apply(apply(fresh(), newer), older))).toBe(2);
    expect(amount(apply(apply(fresh(), older), newer))).toBe(2);
  });

  it('does not change when a record is redelivered at its position, even with a later ingest time', () => {
    const store = fresh();
    const a = rowsOf(txn({ event_id: 'a', ts: T0 + 5, amount: 1, currency: 'USD' }), T0 + 5);
    apply(store, a, 1);
    apply(store, rowsOf(txn({ event_id: 'b', amount: 2, currency: 'USD' }), T0 + 10), 2);
    const before = JSON.stringify([...store.items]);
    expect(
      store.applyRows(
        registry.views,
        rowsOf(txn({ event_id: 'a', ts: T0 + 5, amount: 1, currency: 'USD' }), T0 + 20).map((r) => ({ ...r, offset: 1 })),
        T0 + 60_000,
      ),
    ).toBe(0);
    expect(JSON.stringify([...store.items])).toBe(before);
    expect(amount(store)).toBe(1);
  });

  it('breaks event-time ties by the later ingest time, then the larger event id', () => {
    const early = rowsOf(txn({ event_id: 'z', amount: 1, currency: 'USD' }), T0);
    const late = rowsOf(txn({ event_id: 'a', amount: 2, currency: 'USD' }), T0 + 1);
    expect(amount(apply(apply(fresh(), late), early))).toBe(2);
    const x = rowsOf(txn({ event_id: 'x', amount: 3, currency: 'USD' }), T0);
    const y = rowsOf(txn({ event_id: 'y', amount: 4, currency: 'USD' }), T0);
    expect(amount(apply(apply(fresh(), y), x))).toBe(4);
  });

  it('breaks ties between ids by code point, as the SQL engines do (U+1F600 sorts after U+FF5E)', () => {
    const emoji = rowsOf(txn({ event_id: '\u{1f600}', amount: 5, currency: 'USD' }), T0);
    const fullWidth = rowsOf(txn({ event_id: '\uff5e', amount: 6, currency: 'USD' }), T0);
    expect(amount(apply(apply(fresh(), emoji), fullWidth))).toBe(5);
    expect(amount(apply(apply(fresh(), fullWidth), emoji))).toBe(5);
  });

  it('never serves a row stamped after the request time, and serves it once that time comes', () => {
    const store = fresh();
    apply(store, rowsOf(txn({ event_id: 'now', ts: T0, amount: 1, currency: 'USD' }), T0));
    apply(store, rowsOf(txn({ event_id: 'ahead', ts: T0 + 120_000, amount: 9, currency: 'USD' }), T0 + 60_000));
    const tiers = store.tiersOf(registry.views, 'user_last_txn', 'u0001');
    expect(readFeatures(view, tiers, features, T0 + 60_000)[0]?.value).toBe(1);
    expect(readFeatures(view, tiers, features, T0 + 119_999)[0]?.value).toBe(1);
    expect(readFeatures(view, tiers, features, T0 + 120_000)[0]?.value).toBe(9);
  });

  it('is expired once event_ts <= now - ttl, and the item outlives it only as long as its windows and marks need', () => {
    const store = apply(fresh(), rowsOf(txn({ ts: T0 })));
    const tiers = store.tiersOf(registry.views, 'user_last_txn', 'u0001');
    const features = registry.servicePlan('fraud_v1').views.find((v) => v.view.name === 'user_last_txn')!.features;
    expect(readFeatures(view, tiers, features, T0 + 30 * DAY - 1)[0]?.status).toBe('present');
    expect(readFeatures(view, tiers, features, T0 + 30 * DAY)[0]).toEqual({ value: null, status: 'expired', eventTs: T0 });
    // The item also holds user_txn_stats (30-day windows) and the positions applied, kept over the
    // source's dedupe horizon from the write: DynamoDB may delete it once the last of them has passed.
    expect(tiers[0]?.expiresAt).toBe((T0 + 60_000 + dedupeHorizonMs(30 * DAY)) / 1000);
  });

  it('is missing when the entity has no item', () => {
    const features = registry.plan(['user_last_txn:currency']).views[0]!.features;
    expect(readFeatures(view, [undefined], features, T0)).toEqual([{ value: null, status: 'missing', eventTs: null }]);
  });
});
