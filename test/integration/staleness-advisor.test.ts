/**
 * `tessera advise` on generated data whose answer is known: card holders make purchases now
 * and then, and sometimes a burst of four within two minutes; a label row is fraud exactly
 * when the holder made three or more purchases in the two minutes before it. So:
 * - `txn_count_5m` is sensitive: it is what the label follows, and five minutes later it has moved on;
 * - `segment` (gold holders burst six times as often) is predictive but never changes: insensitive;
 * - `home_city` never changes and predicts nothing: insensitive.
 * The events go through the real stream handler into the offline store on the target (the
 * emulators by default); the advisor runs the point-in-time SQL on DuckDB over them.
 */

import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { adviseCommand } from '../../cli/advise.js';
import { mulberry32 } from '../../features/generator.js';
import { DuckDbTrainingRunner } from '../../lambdas/adapters/duckdb-runner.js';
import { entity, featureService, featureView, streamSource } from '../../lambdas/core/definitions.js';
import { Registry } from '../../lambdas/core/registry.js';
import { streamEvents } from '../support/stream-events.js';
import { useTarget } from '../support/use-target.js';

const T = useTarget();
const run = randomUUID().slice(0, 8);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 4, 1);

const holder = entity({ name: 'holder', joinKey: 'user_id' });
const purchases = streamSource({
  name: 'purchases',
  schema: z.object({ id: z.string(), ts: z.number(), user_id: z.string(), segment: z.string(), home_city: z.string() }),
  eventTimeField: 'ts',
  eventIdField: 'id',
});
const activity = featureView({
  name: 'holder_activity',
  entities: [holder],
  source: purchases,
  features: { segment: 'string', home_city: 'string' },
  aggregations: [{ name: 'txn_count_5m', fn: 'count', window: '5m' }],
  ttl: '30d',
  owner: 'tests',
  description: 'generated',
});
const registry = new Registry([
  holder,
  purchases,
  activity,
  featureService({ name: 'risk_v1', features: [activity], owner: 'tests', description: 'generated' }),
]);

interface Purchase {
  id: string;
  ts: number;
  user_id: string;
  segment: string;
  home_city: string;
}

/** Three days of purchases by 60 holders, and label rows over the last two days. */
function generate(): { events: Purchase[]; labels: string } {
  const next = mulberry32(7);
  const events: Purchase[] = [];
  const labelTimes: { user: string; t: number }[] = [];
  for (let u = 1; u <= 60; u++) {
    const user = `u${String(u).padStart(4, '0')}`;
    const segment = u % 3 === 0 ? 'gold' : 'basic';
    const home_city = ['Paris', 'Tokyo', 'Austin'][u % 3 === 0 ? Math.floor(next() * 3) : u % 3] as string;
    const add = (ts: number) => events.push({ id: `${run}-${events.length}`, ts: Math.floor(ts), user_id: user, segment, home_city });
    for (let t = T0 + next() * 2 * HOUR; t < T0 + 3 * DAY; t += 10 * MINUTE + next() * 4 * HOUR) add(t);
    const burstGap = segment === 'gold' ? 4 * HOUR : 24 * HOUR;
    for (let t = T0 + next() * burstGap; t < T0 + 3 * DAY; t += burstGap * (0.5 + next())) {
      for (let k = 0; k < 4; k++) add(t + k * 30_000);
      if (t > T0 + DAY) labelTimes.push({ user, t: Math.floor(t + 3 * 30_000) });
    }
    for (let k = 0; k < 18; k++) labelTimes.push({ user, t: Math.floor(T0 + DAY + next() * 2 * DAY) });
  }
  const byUser = new Map<string, Purchase[]>();
  for (const e of events) byUser.set(e.user_id, [...(byUser.get(e.user_id) ?? []), e]);
  const lines = labelTimes.map(({ user, t }) => {
    const recent = (byUser.get(user) ?? []).filter((e) => e.ts <= t && e.ts > t - 2 * MINUTE).length;
    return `${user},${t},${recent >= 3 ? 1 : 0}`;
  });
  return { events, labels: ['user_id,event_timestamp,is_fraud', ...lines].join('\n') };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-advise-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tessera advise', { timeout: 300_000 }, () => {
  it('classifies a fast-moving predictive feature as needing streaming and slow-moving ones as fine in batch', async (ctx) => {
    const target = T.require(ctx);
    const names = {
      table: target.resources?.table ?? `tessera-advise-${run}`,
      bucket: target.resources?.bucket ?? `tessera-advise-${run}`,
      streams: { purchases: `tessera-advise-${run}` },
    };
    const { events, labels } = generate();
    const clients = await streamEvents(target, names, registry, events, { batchSize: 500, ingestedAt: () => T0 + 3 * DAY });
    await writeFile(join(dir, 'labels.csv'), labels);
    let printed = '';

    const report = await adviseCommand(
      { service: 'risk_v1', labels: join(dir, 'labels.csv'), labelColumn: 'is_fraud', html: join(dir, 'advice.html') },
      {
        registry,
        runner: new DuckDbTrainingRunner({ s3: clients.s3, bucket: names.bucket }),
        database: 'tessera',
        s3: clients.s3,
        stdout: { write: (text: string) => (printed += text) },
      },
    );
    for (const client of Object.values(clients)) client.destroy();

    const verdicts = Object.fromEntries(report.features.map((f) => [f.column, f.batchEveryMs]));
    expect(verdicts).toEqual({ holder_activity__segment: DAY, holder_activity__home_city: DAY, holder_activity__txn_count_5m: undefined });
    const count = report.features.find((f) => f.column === 'holder_activity__txn_count_5m');
    expect(count?.aloneAuc).toBeGreaterThan(0.8);
    expect(count?.effects[0]?.loss).toBeGreaterThan(0.1);
    // A segment never changes: only label rows so early that the holder had no purchase a day before see a difference.
    expect(report.features.find((f) => f.column === 'holder_activity__segment')?.effects.map((e) => e.changeShare)).toEqual([0, 0, 0, expect.any(Number)]);
    expect(printed).toMatch(/holder_activity__txn_count_5m\s.*needs streaming/);
    expect(printed).toMatch(/holder_activity__segment\s.*batch every 1d is enough/);
    expect(printed).toContain('holder_activity: keeps streaming (holder_activity__txn_count_5m needs it)');
    const [saving] = report.savings[0]?.savings ?? [];
    expect(saving?.streamWritesPerDay).toBeGreaterThan(saving?.batchWritesPerDay ?? Infinity);
    const html = await readFile(join(dir, 'advice.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html.match(/<figure>/g)).toHaveLength(3);
    expect(html).toContain('needs streaming');
  });
});
