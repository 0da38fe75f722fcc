/**
 * The online state of one entity is bounded by the definitions (windows, tiles, aggregations),
 * never by how many events the entity has: the same card holder's items, driven through the
 * demo's views at ten times the rate over the same days, end no larger — at any batch size and
 * number of distinct merchants (up to 2 000, so that both runs' windows hold the same distinct
 * values: what a sketch keeps grows with distinct values, up to a bound set by its precision
 * and the window's tiles, not with events). What grows is only the digits of counts and sums.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as demo from '../../features/index.js';
import { Ingestor, type ViewRow } from '../../lambdas/core/ingest.js';
import { type OnlineGroup, onlineGroups, tierKeys } from '../../lambdas/core/online.js';
import { Registry } from '../../lambdas/core/registry.js';
import { MemoryOnlineStore } from '../support/memory-online-store.js';

const registry = Registry.fromModule(demo);
const ingestor = new Ingestor(registry);
const group = onlineGroups(registry.views).get('user_txn_stats') as OnlineGroup;
const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const SPAN = 9 * DAY; // past the longest window but the 30-day count, whose tiles are daily

/** The largest item (JSON characters of its state) of u0001's group while `events` arrive over SPAN. */
function largestState(events: number, batchSize: number, merchants: number): number {
  const store = new MemoryOnlineStore();
  let largest = 0;
  for (let first = 0; first < events; first += batchSize) {
    const rows: (ViewRow & { offset: number })[] = [];
    let now = 0;
    for (let i = first; i < Math.min(events, first + batchSize); i++) {
      const ts = T0 + Math.floor((i * SPAN) / events);
      now = ts + 1_000;
      const outcome = ingestor.ingestEvent(
        demo.transactions,
        {
          ...demo.transactions.example,
          event_id: `e-${i}`,
          user_id: 'u0001',
          merchant_id: `m${String((i * 7919) % merchants).padStart(4, '0')}`,
          amount: (i % 997) + 0.5,
          ts,
        },
        now,
      );
      if (!outcome.ok) throw new Error(outcome.rejection.message);
      for (const row of outcome.rows) if (group.views.some((v) => v.name === row.view)) rows.push({ ...row, offset: i + 1 });
    }
    store.applyRows(registry.views, rows, now, 'shardId-000000000000');
    for (const key of tierKeys(group, 'u0001')) largest = Math.max(largest, JSON.stringify(store.items.get(key) ?? {}).length);
  }
  return largest;
}

describe('the online state of one entity', () => {
  it('stays the same size at ten times the events, whatever the batch size and merchant count', { timeout: 240_000 }, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 2_000 }), (batchSize, merchants) => {
        const few = largestState(4_000, batchSize, merchants);
        const many = largestState(40_000, batchSize, merchants);
        // Saturated windows: more events fill no more tiles, sketch registers or top-n slots.
        expect(many).toBeLessThanOrEqual(few * 1.2);
        expect(many).toBeLessThan(64 * 1024);
      }),
      { numRuns: 3, seed: 20261206 },
    );
  });
});
