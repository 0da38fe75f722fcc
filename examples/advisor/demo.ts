/**
 * The staleness advisor on the demo, reproducibly: with local mode running (`npm start`),
 * `npx tsx examples/advisor/demo.ts` pushes 36 hours of synthetic card traffic (the demo's
 * generator on a simulated clock ending now, 0.15 events/s) through `POST /v1/push`, waits
 * until the stream handler has applied it, and writes `.work/advisor-labels.csv`: every
 * transaction of the last 12 hours, scored at its own time, labelled by a stated synthetic
 * rule — fraud is likelier away from the card holder's home currency and for large amounts:
 *
 *     P(is_fraud) = 0.05 + 0.5 · [currency ≠ the holder's home currency] + 0.3 · [amount_usd > 2 × the holder's median]
 *
 * Then: `npx tessera advise --service fraud_v1 --labels .work/advisor-labels.csv --label-column is_fraud --html advice.html`.
 */
import { writeFile } from 'node:fs/promises';
import type { Transaction } from '../../features/fraud.js';
import { mulberry32, TransactionGenerator } from '../../features/generator.js';
import { readDiscoveryFile } from '../../local/discovery.js';

const HOUR = 3_600_000;
/** Where the labels go (the project's ignored work folder). */
const LABELS = '.work/advisor-labels.csv';
const USD_PER_UNIT = { USD: 1, EUR: 1.08, GBP: 1.27, JPY: 0.0067, CHF: 1.13 } as const;

async function main(): Promise<void> {
  const { url } = readDiscoveryFile();
  // `--end <epoch ms>` regenerates the events of an earlier run (the generator is seeded) and only relabels them.
  const endArg = process.argv.indexOf('--end');
  const relabel = endArg > 0;
  const end = relabel ? Number(process.argv[endArg + 1]) : Date.now() - 10 * 60_000;
  const start = end - 36 * HOUR;
  const generator = new TransactionGenerator({ seed: 17, users: 200, merchants: 50, startTs: start, ratePerSecond: 0.15 });
  const events: Transaction[] = [];
  for (let e = generator.next(); e.ts < end; e = generator.next()) events.push(e);
  console.log(`${events.length} events from ${new Date(start).toISOString()} to ${new Date(end).toISOString()} (--end ${end})`);
  if (!relabel) await pushAndWait(url, generator, events);
  await writeLabels(generator, events, end);
}

async function pushAndWait(url: string, generator: TransactionGenerator, events: readonly Transaction[]): Promise<void> {
  for (let from = 0; from < events.length; from += 500) {
    const response = await fetch(`${url}/v1/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'transactions', events: events.slice(from, from + 500) }),
    });
    if (!response.ok) throw new Error(`push answered ${response.status}: ${await response.text()}`);
  }
  // Applied when the 30-day counts of all card holders add up to at least what was pushed.
  const holders = generator.users.map((u) => ({ user_id: u.userId }));
  for (let waited = 0; ; waited += 2) {
    let counted = 0;
    for (let from = 0; from < holders.length; from += 100) {
      const response = await fetch(`${url}/v1/features`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ service: 'fraud_v1', entities: holders.slice(from, from + 100) }),
      });
      const body = (await response.json()) as { results: { values: Record<string, number | null> }[] };
      for (const result of body.results) counted += result.values.user_txn_stats__txn_count_30d ?? 0;
    }
    if (counted >= events.length) break;
    if (waited > 900) throw new Error(`the stream handler applied ${counted} of ${events.length} events in 15 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function writeLabels(generator: TransactionGenerator, events: readonly Transaction[], end: number): Promise<void> {
  const next = mulberry32(29);
  const lines = events
    .filter((e) => e.ts > end - 12 * HOUR)
    .map((e) => {
      const holder = generator.user(e.user_id);
      const usd = e.amount * USD_PER_UNIT[e.currency];
      const p = 0.05 + (e.currency !== holder.currency ? 0.5 : 0) + (usd > 2 * holder.medianUsd ? 0.3 : 0);
      return `${e.user_id},${e.ts},${next() < p ? 1 : 0}`;
    });
  await writeFile(LABELS, ['user_id,event_timestamp,is_fraud', ...lines].join('\n'));
  console.log(`${LABELS}: ${lines.length} rows, ${lines.filter((l) => l.endsWith(',1')).length} fraud`);
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exitCode = 1;
});
