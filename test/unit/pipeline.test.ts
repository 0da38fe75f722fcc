/**
 * The write path's order of steps (lambdas/app/pipeline.ts) with in-memory adapters: which
 * records are retried, which rows reach the offline store, and what the claims are told. The
 * integration suites run the same pipeline through the deployed handlers on the emulators.
 */
import { describe, expect, it } from 'vitest';
import * as demo from '../../features/index.js';
import type { Claim, ClaimOutcome, DeadLetter, EventClaims } from '../../lambdas/adapters/ports.js';
import { type PipelineRecord, runPipeline } from '../../lambdas/app/pipeline.js';
import type { FeatureView } from '../../lambdas/core/definitions.js';
import { decodePayload, Ingestor, type ViewRow } from '../../lambdas/core/ingest.js';
import type { OnlineGroup, PositionedRow } from '../../lambdas/core/online.js';
import { Registry } from '../../lambdas/core/registry.js';
import type { Runtime } from '../../lambdas/handlers/runtime.js';
import { MemoryOnlineStore } from '../support/memory-online-store.js';

const registry = Registry.fromModule(demo);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1, 12);
const NOW = T0 + 60_000;

/** An online store whose writes of some users' items fail, as a throttled or conflicting write does. */
class FlakyOnlineStore extends MemoryOnlineStore {
  constructor(private readonly failingUsers: ReadonlySet<string> = new Set()) {
    super();
  }
  override async apply(group: OnlineGroup, rowsByEntity: ReadonlyMap<string, readonly PositionedRow[]>, now: number): Promise<string[]> {
    const failed: string[] = [];
    for (const [entityId, rows] of rowsByEntity) {
      if (rows.some((r) => this.failingUsers.has(String(r.row.keys.user_id)))) failed.push(entityId);
      else this.applyEntity(group, entityId, rows, now);
    }
    return failed;
  }
}

/** Claims in memory: the first position of an event id owns it; `failing` positions cannot be written. */
class MemoryClaims implements EventClaims {
  readonly owners = new Map<string, string>();
  readonly calls: { now: number; expiresAt: number }[] = [];
  constructor(private readonly failing: ReadonlySet<string> = new Set()) {}
  async claim(source: string, claims: readonly Claim[], now: number, expiresAt: number): Promise<ClaimOutcome> {
    this.calls.push({ now, expiresAt });
    const duplicates = new Set<string>();
    const failed = new Set<string>();
    for (const { eventId, position } of claims) {
      const key = `${source}#${eventId}`;
      if (this.failing.has(position)) failed.add(position);
      else if ((this.owners.get(key) ?? position) !== position) duplicates.add(position);
      else this.owners.set(key, position);
    }
    // The DynamoDB adapter claims concurrently: its failures come in no particular order.
    return { duplicates, failed: new Set([...failed].reverse()) };
  }
}

function harness(options: { failingUsers?: string[]; failingClaims?: string[] } = {}) {
  const offline: { view: string; rows: readonly ViewRow[]; batch: readonly string[] }[] = [];
  const letters: DeadLetter[] = [];
  const online = new FlakyOnlineStore(new Set(options.failingUsers));
  const claims = new MemoryClaims(new Set(options.failingClaims));
  const runtime = {
    registry,
    ingestor: new Ingestor(registry),
    online,
    claims,
    deadLetters: { write: async (batch: readonly DeadLetter[]) => void letters.push(...batch) },
    offline: { write: async (view: FeatureView, rows: readonly ViewRow[], batch: readonly string[]) => void offline.push({ view: view.name, rows, batch }) },
  } as unknown as Runtime;
  const run = (records: PipelineRecord[], batch = ['shard-1', 'b']) => runPipeline(runtime, demo.transactions, records, NOW, batch);
  /** Event ids stored offline for a view. */
  const offlineIds = (view: string) => offline.filter((w) => w.view === view).flatMap((w) => w.rows.map((r) => r.eventId));
  return { run, online, claims, letters, offline, offlineIds };
}

const record = (position: string, over: Partial<demo.Transaction> = {}): PipelineRecord => {
  const text = JSON.stringify({ ...demo.transactions.example, ts: T0, ...over });
  return { position, arrivedAt: NOW, payloadBase64: Buffer.from(text).toString('base64'), event: decodePayload(text) };
};
const txn = (position: string, eventId: string, userId: string, over: Partial<demo.Transaction> = {}) =>
  record(position, { event_id: eventId, user_id: userId, ...over });

describe('the write path', () => {
  it("retries a record whose claim failed and every later record of its shard, but not the shard's earlier records or other shards", async () => {
    // Prepare
    const { run, offlineIds } = harness({ failingClaims: ['shard-1/20'] });
    const records = [
      txn('shard-1/3', 'e1', 'u0001'),
      txn('shard-1/20', 'e2', 'u0002'),
      txn('shard-1/100', 'e3', 'u0003'), // after /20 by number, though before it as text
      txn('shard-2/50', 'e4', 'u0004'),
    ];

    // Act
    const result = await run(records);

    // Assess
    expect([...result.failed].sort()).toEqual(['shard-1/100', 'shard-1/20']);
    expect(offlineIds('user_last_txn').sort()).toEqual(['e1', 'e4']);
  });

  it('holds a shard back from its earliest failed claim when several fail', async () => {
    const { run, offlineIds } = harness({ failingClaims: ['shard-1/9', 'shard-1/7'] });
    const result = await run([
      txn('shard-1/5', 'e1', 'u0001'),
      txn('shard-1/7', 'e2', 'u0002'),
      txn('shard-1/8', 'e3', 'u0003'),
      txn('shard-1/9', 'e4', 'u0004'),
    ]);
    expect([...result.failed].sort()).toEqual(['shard-1/7', 'shard-1/8', 'shard-1/9']);
    expect(offlineIds('user_last_txn')).toEqual(['e1']);
  });

  it('keeps the rows of an item whose online write failed out of the offline store and retries its records, and only those', async () => {
    // Prepare
    const { run, offlineIds } = harness({ failingUsers: ['u0002'] });

    // Act
    const result = await run([
      txn('shard-1/1', 'e1', 'u0001'),
      txn('shard-1/2', 'e2', 'u0002'),
      txn('shard-1/3', 'e3', 'u0002'),
      txn('shard-1/4', 'e4', 'u0003'),
    ]);

    // Assess: every view of u2 is left out (its user item failed); the merchant's item did not fail, so its rows of e2, e3 are written.
    expect([...result.failed].sort()).toEqual(['shard-1/2', 'shard-1/3']);
    expect(offlineIds('user_last_txn').sort()).toEqual(['e1', 'e4']);
    expect(offlineIds('user_txn_stats').sort()).toEqual(['e1', 'e4']);
    expect(offlineIds('merchant_txn_stats').sort()).toEqual(['e1', 'e2', 'e3', 'e4']);
    expect(result.rows).toBe(4 * registry.viewsOfSource('transactions').length);
  });

  it('drops a producer duplicate at another position on every view, online and offline, and counts it', async () => {
    const { run, offlineIds, online } = harness();
    const first = await run([txn('shard-1/1', 'e1', 'u0001', { amount: 10 })]);
    const copy = await run([txn('shard-2/7', 'e1', 'u0001', { amount: 10 })], ['shard-2', 'c']);
    expect(first).toMatchObject({ duplicates: 0, failed: [] });
    expect(copy).toMatchObject({ duplicates: 1, failed: [], rows: 0 });
    expect(offlineIds('user_last_txn')).toEqual(['e1']);
    expect(offlineIds('user_txn_stats')).toEqual(['e1']);
    expect([...online.items.keys()].length).toBeGreaterThan(0);
  });

  it('dead-letters records that are not JSON or fail the schema, keeps their payloads, and stores the rest of the batch', async () => {
    const { run, letters, offlineIds } = harness();
    const bad: PipelineRecord = {
      position: 'shard-1/2',
      arrivedAt: NOW,
      payloadBase64: Buffer.from('{oops').toString('base64'),
      event: decodePayload('{oops'),
    };
    const result = await run([txn('shard-1/1', 'e1', 'u0001'), bad, record('shard-1/3', { event_id: 'e3', amount: 'ten' as unknown as number })]);
    expect(result).toMatchObject({ deadLettered: 2, failed: [], duplicates: 0 });
    expect(letters.map((l) => [l.position, l.rejection.code, l.source])).toEqual([
      ['shard-1/2', 'MalformedPayload', 'transactions'],
      ['shard-1/3', 'SchemaMismatch', 'transactions'],
    ]);
    expect(letters[0]?.payloadBase64).toBe(bad.payloadBase64);
    expect(letters[0]?.arrivedAt).toBe(NOW);
    expect(offlineIds('user_last_txn')).toEqual(['e1']);
  });

  it("claims event ids at the batch's ingest time until the source's dedupe horizon: its longest window (30 days) plus an hour", async () => {
    const { run, claims } = harness();
    await run([txn('shard-1/1', 'e1', 'u0001')]);
    expect(claims.calls).toEqual([{ now: NOW, expiresAt: NOW + 30 * DAY + HOUR }]);
  });

  it('names the offline objects by the batch, and writes nothing offline for a batch with no good record', async () => {
    const { run, offline } = harness();
    await run([txn('shard-1/1', 'e1', 'u0001')], ['shard-1', '1', '1']);
    expect(new Set(offline.map((w) => w.batch.join('/')))).toEqual(new Set(['shard-1/1/1']));
    offline.length = 0;
    await run([record('shard-1/2', { event_id: 'e2', amount: 'x' as unknown as number })]);
    expect(offline).toEqual([]);
  });
});
