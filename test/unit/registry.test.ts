import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { describeCatalog } from '../../cli/plan.js';
import * as demo from '../../features/index.js';
import { buildCatalog } from '../../lambdas/core/catalog.js';
import { batchSource, type Definition, entity, featureService, featureView, onDemandFeature, select, streamSource } from '../../lambdas/core/definitions.js';
import { DefinitionError, NotFoundError } from '../../lambdas/core/errors.js';
import { Registry } from '../../lambdas/core/registry.js';

const user = entity({ name: 'user', joinKey: 'user_id' });
const clicks = streamSource({
  name: 'clicks',
  schema: z.object({ id: z.string(), user_id: z.string(), ts: z.number(), page: z.string(), dwell_ms: z.number() }),
  eventTimeField: 'ts',
  eventIdField: 'id',
});
const meta = { owner: 'team', description: 'test view' };
const lastPage = featureView({ name: 'last_page', entities: [user], source: clicks, features: { page: 'string' }, ...meta });

const build = (...defs: Definition[]) => new Registry(defs);

describe('the registry validates a definitions repo', () => {
  it('accepts the demo repo and exposes its services', () => {
    const registry = Registry.fromModule(demo);
    expect([...registry.services.keys()]).toEqual(['fraud_v1', 'fraud_v2']);
    expect(registry.servicePlan('fraud_v1').joinKeys).toEqual(['user_id']);
  });

  it('rejects a view whose entity is not registered, naming the view and the entity', () => {
    expect(() => build(clicks, lastPage)).toThrow(/feature view "last_page": unknown entity "user"/);
  });

  it('rejects two definitions with the same name', () => {
    const twin = featureView({ name: 'last_page', entities: [user], source: clicks, features: { dwell_ms: 'float' }, ...meta });
    expect(() => build(user, clicks, lastPage, twin)).toThrow(/feature view "last_page": the name is defined twice/);
  });

  it('rejects a bad TTL with an example of a good one', () => {
    const bad = featureView({ name: 'v', entities: [user], source: clicks, features: { page: 'string' }, ttl: '30 days' as '30d', ...meta });
    expect(() => build(user, clicks, bad)).toThrow(/feature view "v": bad ttl "30 days".*"30d"/);
  });

  it('rejects a transform whose output does not match the declared types', () => {
    const example = { id: 'e1', user_id: 'u1', ts: 1, page: '/home', dwell_ms: 12 };
    const source = Object.assign(streamSource({ ...clicks, name: 'clicks2' }), { example });
    const wrong = featureView({
      name: 'dwell',
      entities: [user],
      source,
      features: { dwell_s: 'int' },
      transform: (e) => ({ dwell_s: String(e.dwell_ms / 1000) }),
      ...meta,
    });
    expect(() => build(user, source, wrong)).toThrow(DefinitionError);
    expect(() => build(user, source, wrong)).toThrow(/feature view "dwell": .*feature "dwell_s" should be int, got "0.012"/);
  });

  it('rejects a join key the source does not carry', () => {
    const merchant = entity({ name: 'merchant', joinKey: 'merchant_id' });
    const view = featureView({ name: 'v', entities: [merchant], source: clicks, features: { page: 'string' }, ...meta });
    expect(() => build(merchant, clicks, view)).toThrow(/has no field "merchant_id" for entity "merchant"/);
  });

  it('rejects a service that selects a feature the view does not have', () => {
    const service = featureService({ name: 's', features: [select(lastPage, ['nope'])], ...meta });
    expect(() => build(user, clicks, lastPage, service)).toThrow(/feature service "s": "last_page" has no feature "nope"/);
  });

  it('rejects an aggregation window that is not a multiple of its tile', () => {
    const view = featureView({
      name: 'v',
      entities: [user],
      source: clicks,
      features: { dwell_ms: 'float' },
      aggregations: [{ name: 'dwell_sum', fn: 'sum', column: 'dwell_ms', window: '61m' }],
      ...meta,
    });
    expect(() => build(user, clicks, view)).toThrow(/window 61m: .*multiple of its tile size \(5 min\)/);
  });

  describe('aggregations', () => {
    const stats = (features: Record<string, string>, aggregations: object[]) =>
      featureView({ name: 'v', entities: [user], source: clicks, features: features as never, aggregations: aggregations as never, ...meta });
    const refused = (features: Record<string, string>, aggregation: object) => () => build(user, clicks, stats(features, [aggregation]));

    it('refuses a column the view does not have, a sum or average of text, a list column, and last_n without 1 ≤ n ≤ 100', () => {
      expect(refused({ page: 'string' }, { name: 'a', fn: 'max', column: 'dwell_ms', window: '1h' })).toThrow(
        /reads column "dwell_ms", which is not a feature of the view/,
      );
      expect(refused({ page: 'string' }, { name: 'a', fn: 'sum', column: 'page', window: '1h' })).toThrow(/sum needs a numeric column/);
      expect(refused({ page: 'string' }, { name: 'a', fn: 'avg', column: 'page', window: '1h' })).toThrow(/avg needs a numeric column/);
      expect(refused({ page: 'string[]' }, { name: 'a', fn: 'last', column: 'page', window: '1h' })).toThrow(/list columns cannot be aggregated/);
      // The definition schema refuses these before the aggregation table's own check.
      for (const n of [0, 101, 2.5, undefined])
        expect(refused({ page: 'string' }, { name: 'a', fn: 'last_n', column: 'page', window: '1h', ...(n === undefined ? {} : { n }) })).toThrow(
          /aggregation "a": .*\bn\b/,
        );
      for (const n of [1, 100]) expect(refused({ page: 'string' }, { name: 'a', fn: 'last_n', column: 'page', window: '1h', n })).not.toThrow();
    });

    it('types each aggregation by its function and column', () => {
      const registry = build(
        user,
        clicks,
        stats({ page: 'string', dwell_ms: 'int', score: 'float' }, [
          { name: 'n', fn: 'count', window: '1h' },
          { name: 'sum_int', fn: 'sum', column: 'dwell_ms', window: '1h' },
          { name: 'sum_float', fn: 'sum', column: 'score', window: '1h' },
          { name: 'avg_int', fn: 'avg', column: 'dwell_ms', window: '1h' },
          { name: 'min_int', fn: 'min', column: 'dwell_ms', window: '1h' },
          { name: 'max_float', fn: 'max', column: 'score', window: '1h' },
          { name: 'last_page', fn: 'last', column: 'page', window: '1h' },
          { name: 'pages', fn: 'last_n', column: 'page', window: '1h', n: 3 },
          { name: 'distinct_pages', fn: 'approx_distinct', column: 'page', window: '1h' },
        ]),
      );
      const typeOf = (name: string) => registry.feature(`v:${name}`).type;
      expect(
        Object.fromEntries(['n', 'sum_int', 'sum_float', 'avg_int', 'min_int', 'max_float', 'last_page', 'pages', 'distinct_pages'].map((n) => [n, typeOf(n)])),
      ).toEqual({
        n: 'int',
        sum_int: 'int',
        sum_float: 'float',
        avg_int: 'float',
        min_int: 'int',
        max_float: 'float',
        last_page: 'string',
        pages: 'string[]',
        distinct_pages: 'int',
      });
    });
  });

  it('rejects an on-demand feature reading an unknown input', () => {
    const odfv = onDemandFeature({ name: 'o', request: z.object({}), inputs: ['last_page:nope'], features: { x: 'int' }, compute: () => ({ x: 1 }), ...meta });
    expect(() => build(user, clicks, lastPage, odfv)).toThrow(/on-demand feature "o": unknown input "last_page:nope"/);
  });

  it('rejects a batch source whose schedule EventBridge could not run', () => {
    const nightly = batchSource({
      name: 'nightly',
      schema: clicks.schema,
      eventTimeField: 'ts',
      eventIdField: 'id',
      location: 'batch/nightly/',
      format: 'csv',
      schedule: 'every night',
    });
    expect(() => build(nightly)).toThrow(/batch source "nightly": schedule "every night" is neither rate/);
  });

  it('rejects a writer that is not an IAM role ARN, which could never match a caller', () => {
    const writers = (allowedWriters: string[]) => build(streamSource({ ...clicks, allowedWriters }));
    expect(() => writers(['arn:aws:iam::123456789012:user/alice'])).toThrow(
      'source "clicks": allowedWriters lists "arn:aws:iam::123456789012:user/alice", which is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)',
    );
    expect(() => writers(['payment-switch'])).toThrow(/allowedWriters lists "payment-switch"/);
    expect(() => writers(['arn:aws:iam::123456789012:role/ingest/payment-switch'])).not.toThrow();
  });

  it('answers unknown features and services with NotFoundError', () => {
    const registry = build(user, clicks, lastPage);
    expect(() => registry.servicePlan('nope')).toThrow(NotFoundError);
    expect(() => registry.plan(['last_page:nope'])).toThrow(/unknown feature "last_page:nope"/);
  });

  it('plans the inputs of on-demand features even when the service does not return them', () => {
    const registry = Registry.fromModule(demo);
    const plan = registry.servicePlan('fraud_v2');
    expect(plan.views.map((v) => v.view.name)).toContain('user_location');
    expect(plan.features.map((f) => f.column)).not.toContain('user_location__lat');
    expect(plan.joinKeys).toEqual(['user_id', 'merchant_id']);
  });
});

describe('pii through lineage', () => {
  const location = featureView({
    name: 'last_location',
    entities: [user],
    source: clicks,
    features: { page: 'string', dwell_ms: 'float' },
    tags: ['pii'],
    ...meta,
  });
  const distance = onDemandFeature({
    name: 'dwell_delta',
    request: z.object({ dwell_ms: z.number() }),
    inputs: ['last_location:dwell_ms', 'last_page:page'],
    features: { delta: 'float' },
    compute: ({ request, features }) => ({ delta: (request.dwell_ms as number) - ((features['last_location:dwell_ms'] as number) ?? 0) }),
    ...meta,
  });
  const pageLength = onDemandFeature({
    name: 'page_length',
    request: z.object({}),
    inputs: ['last_page:page'],
    features: { chars: 'int' },
    compute: ({ features }) => ({ chars: ((features['last_page:page'] as string | null) ?? '').length }),
    ...meta,
  });
  const base = [user, clicks, lastPage, location, distance, pageLength] as const;

  it('makes an on-demand feature computed from a pii feature pii, naming what it is computed from, and leaves others alone', () => {
    const registry = build(...base);
    expect(registry.feature('dwell_delta:delta')).toMatchObject({ pii: true, piiFrom: ['last_location:dwell_ms'] });
    expect(registry.feature('page_length:chars')).toMatchObject({ pii: false, piiFrom: [] });
  });

  it('carries pii through every on-demand step, back to the tagged features', () => {
    const twice = onDemandFeature({
      name: 'delta_doubled',
      request: z.object({}),
      inputs: ['dwell_delta:delta', 'page_length:chars'],
      features: { value: 'float' },
      compute: ({ features }) => ({ value: ((features['dwell_delta:delta'] as number) ?? 0) * 2 }),
      ...meta,
    });
    expect(build(...base, twice).feature('delta_doubled:value')).toMatchObject({ pii: true, piiFrom: ['last_location:dwell_ms'] });
  });

  it('refuses a service that serves a derived-pii feature it does not list, naming the feature and its pii inputs', () => {
    const service = featureService({ name: 'dwell', features: [distance], ...meta });
    expect(() => build(...base, service)).toThrow(
      new DefinitionError(
        'feature service "dwell"',
        'it serves "dwell_delta:delta", which is pii: computed from last_location:dwell_ms: list it in piiFeatures to serve it',
      ),
    );
    expect(() => build(...base, featureService({ name: 'dwell', features: [distance], piiFeatures: ['dwell_delta:delta'], ...meta }))).not.toThrow();
  });

  it("lists the demo's distance from the card holder's last location as pii, in the catalog and in fraud_v2", () => {
    const registry = Registry.fromModule(demo);
    const catalog = buildCatalog(registry);
    const risk = catalog.onDemandFeatures.find((o) => o.name === 'txn_risk');
    expect(risk?.features.find((f) => f.name === 'km_from_last')).toEqual({
      name: 'km_from_last',
      type: 'float',
      pii: true,
      piiFrom: ['user_location:lat', 'user_location:lon'],
    });
    expect(catalog.featureViews.find((v) => v.name === 'user_location')?.features.every((f) => f.pii)).toBe(true);
    expect(catalog.featureServices.find((s) => s.name === 'fraud_v2')?.piiFeatures).toContain('txn_risk:km_from_last');
    expect(describeCatalog(catalog)).toContain('  txn_risk:km_from_last  float  pii (computed from user_location:lat, user_location:lon)');
  });
});
