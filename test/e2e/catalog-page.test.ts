/**
 * The catalog page in a real browser: Debian's chromium (installed by
 * scripts/ensure-chromium.sh where missing), driven by playwright-core, headless, with a
 * fresh profile. The page served by local mode at GET /catalog and the static site of
 * `tessera catalog --out` both load with no console error and no request beyond the page;
 * search filters; the lineage graph renders; pii features are marked. Screenshots go to
 * .work/artifacts/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BucketObjects } from '../../lambdas/adapters/bucket-objects.js';
import { type LocalStore, startLocalStore } from '../../local/store.js';
import { measureOfflineStats, writeCatalogSite } from '../../tools/catalog-site.js';
import { transactionMaker } from '../support/transactions.js';

const CHROMIUM = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = resolve('.work/artifacts');

let store: LocalStore;
let browser: BrowserContext;
let profile: string;

beforeAll(async () => {
  execFileSync('bash', ['scripts/ensure-chromium.sh'], { stdio: 'inherit' });
  mkdirSync(ARTIFACTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  [store, browser] = await Promise.all([
    startLocalStore({ port: 0, logLevel: 'ERROR', poll: false }),
    chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    }),
  ]);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await store?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
}, 60_000);

/** Opens `url` in a new tab, collecting console errors, page errors and every request made. */
async function open(url: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') errors.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('request', (request) => requests.push(request.url()));
  const response = await page.goto(url, { waitUntil: 'load' });
  expect(response?.status() ?? 200).toBe(200);
  return { page, errors, requests };
}

const visibleCards = (page: Page) =>
  page.$$eval('.card', (cards) =>
    cards
      .filter((c) => !(c as unknown as { hidden: boolean }).hidden && !(c.closest('section') as unknown as { hidden: boolean }).hidden)
      .map((c) => c.querySelector('h3')?.lastChild?.textContent?.trim()),
  );

describe('the catalog page', { timeout: 120_000 }, () => {
  it('served at GET /catalog, loads with no console errors and nothing fetched but itself, and draws the lineage graph', async () => {
    // Act
    const { page, errors, requests } = await open(`${store.url}/catalog`);

    // Assess
    expect(errors).toEqual([]);
    expect(requests).toEqual([`${store.url}/catalog`]);
    expect(await page.title()).toBe('Tessera catalog');
    const registry = store.runtime.registry;
    const nodes = await page.$$eval('#lineage .node', (gs) => gs.map((g) => g.getAttribute('data-id')));
    expect(nodes).toHaveLength(registry.sources.size + registry.views.size + registry.onDemand.size + registry.services.size);
    expect(nodes).toEqual(expect.arrayContaining(['source:transactions', 'view:user_location', 'ondemand:txn_risk', 'service:fraud_v1']));
    const edges = await page.$$eval('#lineage .edge', (paths) => paths.map((p) => `${p.getAttribute('data-from')} → ${p.getAttribute('data-to')}`));
    expect(edges).toEqual(
      expect.arrayContaining([
        'source:transactions → view:user_location',
        'view:user_location → service:fraud_v1',
        'view:user_location → ondemand:txn_risk',
        'ondemand:txn_risk → service:fraud_v2',
      ]),
    );
    // Rendered, not just present: the graph and its boxes have a size on screen.
    const graph = await page.locator('#lineage').boundingBox();
    expect(graph?.width).toBeGreaterThan(600);
    expect(graph?.height).toBeGreaterThan(100);
    const box = await page.locator('#lineage .node[data-id="view:user_location"] rect').boundingBox();
    expect(box?.width).toBeGreaterThan(100);
    await page.screenshot({ path: join(ARTIFACTS, 'catalog-page.png') });
    await page.screenshot({ path: join(ARTIFACTS, 'catalog-page-full.png'), fullPage: true });
    await page.close();
  });

  it('marks pii features, and on-demand features derived from them', async () => {
    // Act
    const { page } = await open(`${store.url}/catalog`);

    // Assess
    const location = page.locator('.card[data-kind="view"]', { has: page.locator('h3', { hasText: 'user_location' }) });
    expect(await location.locator('tr.feature', { hasText: 'lat' }).locator('.pii-badge').textContent()).toBe('PII');
    expect(await location.locator('.tag.pii').count()).toBe(1);
    const lastTxn = page.locator('.card[data-kind="view"]', { has: page.locator('h3', { hasText: 'user_last_txn' }) });
    expect(await lastTxn.locator('.pii-badge').count()).toBe(0);
    const risk = page.locator('.card[data-kind="on-demand"]', { has: page.locator('h3', { hasText: 'txn_risk' }) });
    expect(await risk.locator('tr.feature', { hasText: 'km_from_last' }).locator('.pii-badge.derived').textContent()).toContain('user_location:lat');
    expect(await page.locator('#lineage .node.pii[data-id="view:user_location"]').count()).toBe(1);
    expect(await page.locator('#lineage .node.pii[data-id="view:user_last_txn"]').count()).toBe(0);
    await page.close();
  });

  it('search keeps only the definitions that match every word typed, and says when nothing does', async () => {
    // Prepare
    const { page, errors } = await open(`${store.url}/catalog`);
    const all = await visibleCards(page);

    // Act
    await page.fill('#search', 'location');
    const matching = await visibleCards(page);
    await page.screenshot({ path: join(ARTIFACTS, 'catalog-search.png') });
    await page.fill('#search', 'merchant_txn_stats users_distinct');
    const twoWords = await visibleCards(page);
    await page.fill('#search', 'no-such-feature');
    const none = await visibleCards(page);
    const noMatchShown = await page.locator('#no-match').isVisible();
    await page.fill('#search', '');
    const cleared = await visibleCards(page);

    // Assess
    expect(matching).toEqual(expect.arrayContaining(['user_location', 'txn_risk', 'fraud_v1']));
    expect(matching).not.toContain('user_last_txn');
    expect(matching.length).toBeLessThan(all.length);
    expect(twoWords).toEqual(['merchant_txn_stats', 'fraud_v2']);
    expect(none).toEqual([]);
    expect(noMatchShown).toBe(true);
    expect(cleared).toEqual(all);
    expect(await page.locator('#lineage .node.dim').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('as a static site from `tessera catalog --out`, shows freshness and null rates measured from the offline rows', async () => {
    // Prepare: rows in the offline store.
    const at = Date.UTC(2026, 0, 5, 12, 0, 0);
    const make = transactionMaker('catalog-site', { ts: at });
    const events = [make('u0001'), make('u0002', { ts: at + 60_000 })];
    await store.runtime.events.put(
      store.runtime.config.streams.transactions!,
      events.map((e) => ({ partitionKey: e.user_id, data: Buffer.from(JSON.stringify(e)) })),
    );
    await store.poller.drain();
    const out = mkdtempSync(join(tmpdir(), 'tessera-site-'));

    // Act
    const stats = await measureOfflineStats(store.runtime.registry, new BucketObjects(store.runtime.clients.s3, store.runtime.config.bucket));
    await writeCatalogSite(out, store.runtime.registry, { stats, measuredAt: at + 120_000 });
    const { page, errors } = await open(pathToFileURL(join(out, 'index.html')).href);

    // Assess
    expect(errors).toEqual([]);
    const location = page.locator('.card[data-kind="view"]', { has: page.locator('h3', { hasText: 'user_location' }) });
    expect(await location.locator('.freshness').textContent()).toBe(`latest event ${new Date(at + 60_000).toISOString()}`);
    expect(await location.locator('dd', { hasText: 'offline rows' }).textContent()).toContain('2 offline rows');
    expect(await location.locator('tr.feature', { hasText: 'lat' }).locator('.null-rate').textContent()).toBe('0.0%');
    await page.screenshot({ path: join(ARTIFACTS, 'catalog-site.png') });
    await page.close();
    rmSync(out, { recursive: true, force: true });
  });
});
