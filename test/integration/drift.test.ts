/**
 * `tessera drift` on generated data whose answer is known: purchases go through the real
 * stream handler (each batch ingested a second after its last event, as live traffic is);
 * the training set saw amounts around 100, and for the last two days amounts run around 150
 * while the countries keep their mix. The amount must read as shifted, the country as stable.
 */

import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driftCommand } from '../../cli/drift.js';
import { mulberry32 } from '../../features/generator.js';
import { DuckDbTrainingRunner } from '../../lambdas/adapters/duckdb-runner.js';
import { shopRegistry } from '../support/shop-orders.js';
import { streamEvents } from '../support/stream-events.js';
import { useTarget } from '../support/use-target.js';

const T = useTarget();
const run = randomUUID().slice(0, 8);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 6, 1);
const NOW = T0 + 5 * DAY;

const registry = shopRegistry();

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-drift-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tessera drift', { timeout: 300_000 }, () => {
  it('reads a shifted numeric feature as shifted (PSI, KS) and a stable categorical one as stable', async (ctx) => {
    const target = T.require(ctx);
    const names = {
      table: target.resources?.table ?? `tessera-drift-${run}`,
      bucket: target.resources?.bucket ?? `tessera-drift-${run}`,
      streams: { orders: `tessera-drift-${run}` },
    };
    const next = mulberry32(3);
    const gaussian = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    const countries = ['FR', 'FR', 'DE', 'JP'];
    // Day 3 to 5: 40 buyers, one order every ~20 minutes in all; amounts shift on day 4.
    const events = Array.from({ length: 600 }, (_, i) => {
      const ts = T0 + 2 * DAY + Math.floor((i + next()) * ((3 * DAY) / 600));
      const mean = ts >= T0 + 3 * DAY ? 150 : 100;
      return {
        id: `${run}-${i}`,
        ts,
        user_id: `u${1000 + Math.floor(next() * 40)}`,
        amount: Math.round((mean + 10 * gaussian()) * 100) / 100,
        country: countries[Math.floor(next() * 4)] as string,
      };
    });
    // Each batch ingested a second after its last event, as live traffic is.
    const clients = await streamEvents(target, names, registry, events, { batchSize: 25, ingestedAt: (batch) => (batch.at(-1)?.ts ?? 0) + 1000 });
    // The training set: 400 rows from before the shift (as `tessera training-set` writes them).
    const training = Array.from(
      { length: 400 },
      () => `${T0 + Math.floor(next() * 2 * DAY)},${Math.round((100 + 10 * gaussian()) * 100) / 100},${countries[Math.floor(next() * 4)]}`,
    );
    await writeFile(join(dir, 'train.csv'), ['event_timestamp,last_order__amount,last_order__country', ...training].join('\n'));
    let printed = '';

    const report = await driftCommand(
      { service: 'shop_v1', training: join(dir, 'train.csv'), since: '2d', html: join(dir, 'drift.html') },
      {
        registry,
        runner: new DuckDbTrainingRunner({ s3: clients.s3, bucket: names.bucket }),
        database: 'tessera',
        stdout: { write: (text: string) => (printed += text) },
        clock: () => NOW,
      },
    );
    for (const client of Object.values(clients)) client.destroy();

    const amount = report.features.find((f) => f.column === 'last_order__amount');
    const country = report.features.find((f) => f.column === 'last_order__country');
    expect(report.servedRows).toBeGreaterThan(350);
    expect(amount?.comparison.psi).toBeGreaterThan(1);
    expect(amount?.comparison.ks).toBeGreaterThan(0.8);
    expect(country?.comparison.psi).toBeLessThan(0.1);
    // Each served day against the training set: the first day served is half before the shift.
    expect(amount?.daily.map((d) => d.day)).toEqual(['2026-07-04', '2026-07-05']);
    expect(printed).toMatch(/last_order__amount\s+\d+\.\d{3}\s+0\.\d{3}\s+SHIFTED/);
    expect(printed).toMatch(/last_order__country\s+0\.0\d\d\s+—\s+stable/);
    const html = await readFile(join(dir, 'drift.html'), 'utf8');
    expect(html.match(/<figure>/g)).toHaveLength(2);
  });
});
