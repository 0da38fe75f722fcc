/**
 * The serving API's contract over HTTP, against local mode: every answer — 200s and every
 * error — is validated against the OpenAPI document the API itself serves (the fixture's
 * `call` does it on each response), so the document and the behaviour cannot drift. Bad
 * input gets a 4xx with the documented error body; Feast's shape and on-demand features are
 * checked end to end, from events in the stream to values in the response.
 */
import { describe, expect, it } from 'vitest';
import { distanceKm } from '../../features/fraud.js';
import { FeastResponse } from '../../lambdas/core/feast.js';
import { FeaturesResponse, MAX_BODY_BYTES } from '../../lambdas/core/serving.js';
import { expectError, transaction, useServingStore } from './serving-fixture.js';

const S = useServingStore();

const PARIS = { lat: 48.8566, lon: 2.3522 };

describe('the OpenAPI document', { timeout: 60_000 }, () => {
  it('is served as OpenAPI 3.1 and every schema in it compiles as JSON Schema 2020-12', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answer = await s.call('GET', '/v1/openapi.json');

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      openapi: '3.1.0',
      components: { schemas: expect.objectContaining({ FeaturesRequest: expect.any(Object), Error: expect.any(Object) }) },
    });
    expect(Object.keys(s.contract.document.components.schemas).sort()).toEqual(
      ['Error', 'FeastRequest', 'FeastResponse', 'FeaturesRequest', 'FeaturesResponse', 'Health', 'PushRequest', 'PushResponse'].sort(),
    );
  });

  it('describes the requests the API accepts: each body answered 2xx here conforms to its documented schema', (ctx) => {
    // Prepare
    const accepted: [string, unknown][] = [
      ['/v1/features', { service: 'fraud_v1', entities: [{ user_id: 'u6001' }] }],
      ['/v1/features', { features: ['user_last_txn:amount_usd', 'user_txn_stats:txn_count_1h'], entities: [{ user_id: 'u6001' }] }],
      [
        '/get-online-features',
        { feature_service: 'fraud_v2', entities: { user_id: ['u6001'], merchant_id: ['m0007'] }, request_context: { amount: [1] }, full_feature_names: true },
      ],
      ['/v1/push', { source: 'transactions', events: [transaction('u6001', S.startedAt)] }],
    ];

    // Act
    const problems = accepted.map(([path, body]) => S.setUp(ctx).then((s) => s.contract.requestProblems('POST', path, body)));

    // Assess
    return Promise.all(problems).then((all) => expect(all).toEqual(accepted.map(() => [])));
  });

  it('answers health and the catalog as documented', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const [health, catalog] = await Promise.all([s.call('GET', '/v1/health'), s.call('GET', '/v1/catalog')]);

    // Assess
    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(catalog.status).toBe(200);
    expect((catalog.body as { featureServices: { name: string }[] }).featureServices.map((f) => f.name)).toEqual(
      expect.arrayContaining(['fraud_v1', 'fraud_v2', 'fraud_scorer_v1', 'stats_audit']),
    );
  });
});

describe('bad input gets a 4xx with the documented error body', { timeout: 60_000 }, () => {
  it('answers malformed JSON with 400 ValidationError', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answer = await s.call('POST', '/v1/features', undefined, { rawBody: '{"service": "fraud_v1", "entities": [{"user_id": ' });

    // Assess
    expect(expectError(answer, 400, 'ValidationError').message).toMatch(/^the body is not valid JSON/);
  });

  it('answers an empty body with 400 ValidationError', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answer = await s.call('POST', '/v1/features');

    // Assess
    expect(expectError(answer, 400, 'ValidationError').message).toBe('the request needs a JSON body');
  });

  it.for([
    ['entities that are not a list', { service: 'fraud_v1', entities: { user_id: 'u0001' } }, ['entities']],
    ['a service name that is not a string', { service: 7, entities: [{ user_id: 'u0001' }] }, ['service']],
    ['a key value that is an object', { service: 'fraud_v1', entities: [{ user_id: { id: 'u0001' } }] }, ['entities', 0, 'user_id']],
    ['an unknown top-level field', { service: 'fraud_v1', entities: [{ user_id: 'u0001' }], include_everything: true }, []],
  ] as const)('answers %s with 400, the issue located in details, and the documented schema rejects it too', async ([, body, path], ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answer = await s.call('POST', '/v1/features', body);

    // Assess
    const error = expectError(answer, 400, 'ValidationError');
    expect((error.details as { issues: { path: unknown[] }[] }).issues).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    expect(s.contract.requestProblems('POST', '/v1/features', body)).not.toEqual([]);
  });

  it('answers both a service and a feature list, or neither, with 400', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const both = await s.call('POST', '/v1/features', { service: 'fraud_v1', features: ['user_last_txn:amount_usd'], entities: [{ user_id: 'u0001' }] });
    const neither = await s.call('POST', '/v1/features', { entities: [{ user_id: 'u0001' }] });

    // Assess
    for (const answer of [both, neither]) expect(expectError(answer, 400, 'ValidationError').message).toContain('give either "service" or "features"');
  });

  it('answers an entity row without its join key with 400 naming the row and the key', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answer = await s.call('POST', '/v1/features', { service: 'fraud_v1', entities: [{ user_id: 'u0001' }, { merchant_id: 'm0001' }] });

    // Assess
    const error = expectError(answer, 400, 'ValidationError');
    expect(error.message).toBe('entities[1]: "user_id" must be a non-empty string');
    expect(error.details).toEqual({ index: 1 });
  });

  it('answers 101 entity rows with 413 and the limit', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);
    const entities = Array.from({ length: 101 }, (_, i) => ({ user_id: `u${String(i + 1).padStart(4, '0')}` }));

    // Act
    const answer = await s.call('POST', '/v1/features', { service: 'fraud_v1', entities });

    // Assess
    expect(expectError(answer, 413, 'PayloadTooLargeError').details).toEqual({ limit: 100 });
  });

  it('answers a body over the handler limit with 413 before parsing it', async (ctx) => {
    // Prepare: valid JSON, 1 entity row, padded past 256 KiB
    const s = await S.setUp(ctx);
    const body = { service: 'fraud_v1', entities: [{ user_id: 'u0001', note: 'x'.repeat(MAX_BODY_BYTES) }] };

    // Act
    const answer = await s.call('POST', '/v1/features', body);

    // Assess
    expect(expectError(answer, 413, 'PayloadTooLargeError').details).toEqual({ limit: MAX_BODY_BYTES });
  });

  it('answers more than 500 pushed events with 413 and writes none', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);
    const events = Array.from({ length: 501 }, (_, i) => transaction(`u${6100 + i}`, S.startedAt));

    // Act
    const answer = await s.call('POST', '/v1/push', { source: 'transactions', events }, { as: 'operator' });
    await s.store.poller.drain();

    // Assess
    expect(expectError(answer, 413, 'PayloadTooLargeError').details).toEqual({ limit: 500 });
    const read = await s.call('POST', '/v1/features', { service: 'fraud_v1', entities: [{ user_id: 'u6100' }] });
    expect(FeaturesResponse.parse(read.body).results[0]?.status.user_last_txn__amount_usd).toBe('missing');
  });

  it('answers pushed events stamped too far ahead, at 2^53−1 or with a join key too long to store with 400 naming each, and writes none', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);
    const events = [
      transaction('u6201', S.startedAt, { ts: S.startedAt + 10 * 60_000 }),
      transaction('u6202', S.startedAt, { ts: Number.MAX_SAFE_INTEGER }),
      transaction(`u${'6'.repeat(3000)}`, S.startedAt, { merchant_id: 'm6203', event_id: `long-key-${S.startedAt}` }),
      transaction('u6204', S.startedAt),
    ];

    // Act
    const answer = await s.call('POST', '/v1/push', { source: 'transactions', events }, { as: 'operator' });
    await s.store.poller.drain();

    // Assess
    const error = expectError(answer, 400, 'ValidationError');
    expect(error.message).toBe('3 of 4 events are invalid; none was written');
    expect((error.details as { rejected: unknown[] }).rejected).toEqual([
      { index: 0, code: 'EventTimeOutOfRange', message: expect.stringContaining('more than maxFutureSkew 5m ahead') },
      { index: 1, code: 'EventTimeOutOfRange', message: expect.stringContaining('outside the storable range') },
      { index: 2, code: 'KeyTooLong', view: 'user_last_txn', message: expect.stringContaining('make an online key of 3022 bytes') },
    ]);
    const read = await s.call('POST', '/v1/features', {
      service: 'fraud_v2',
      entities: [{ user_id: 'u6204', merchant_id: 'm6203', amount: 1, currency: 'EUR', ...PARIS }],
    });
    const [row] = FeaturesResponse.parse(read.body).results;
    expect([row?.status.user_last_txn__amount_usd, row?.status.merchant_last_txn__amount_usd]).toEqual(['missing', 'missing']);
  });

  it('answers a read with a join key too long to store with 400 naming the row, on both routes', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);
    const long = `u${'1'.repeat(2100)}`;

    // Act
    const answers = await Promise.all([
      s.call('POST', '/v1/features', { service: 'fraud_v1', entities: [{ user_id: 'u0001' }, { user_id: long }] }),
      s.call('POST', '/get-online-features', { feature_service: 'fraud_v1', entities: { user_id: ['u0001', long] } }),
    ]);

    // Assess
    for (const answer of answers) {
      const error = expectError(answer, 400, 'ValidationError');
      expect(error.message).toMatch(/^entities\[1\]: the join key values of feature view "user_last_txn" make an online key of 2122 bytes; at most 2016 fit/);
      expect(error.details).toEqual({ index: 1, limitBytes: 2016 });
    }
  });

  it.for([
    [
      'an unknown service',
      '/v1/features',
      { service: 'fraud_v9', entities: [{ user_id: 'u0001' }] },
      'unknown feature service "fraud_v9"',
      { service: 'fraud_v9' },
    ],
    [
      'an unknown feature',
      '/v1/features',
      { features: ['user_last_txn:nope'], entities: [{ user_id: 'u0001' }] },
      'unknown feature "user_last_txn:nope"',
      { feature: 'user_last_txn:nope' },
    ],
    [
      'an unknown Feast feature service',
      '/get-online-features',
      { feature_service: 'nope', entities: { user_id: ['u0001'] } },
      'unknown feature service "nope"',
      { service: 'nope' },
    ],
    ['an unknown push source', '/v1/push', { source: 'nope', events: [{}] }, 'unknown stream source "nope"', undefined],
  ] as const)('answers %s with 404 naming it', async ([, path, body, message, details], ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answer = await s.call('POST', path, body);

    // Assess
    const error = expectError(answer, 404, 'NotFoundError');
    expect(error.message).toBe(message);
    expect(error.details).toEqual(details);
  });

  it('answers an unknown route with 404 and a known route with the wrong method with 405', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const unknown = await s.call('GET', '/v1/nothing-here');
    const wrongMethod = await s.call('GET', '/v1/features');

    // Assess
    expectError(unknown, 404, 'NotFoundError');
    expect(expectError(wrongMethod, 405, 'MethodNotAllowed').message).toBe('GET is not allowed on /v1/features');
  });
});

describe('on-demand features', { timeout: 60_000 }, () => {
  it('computes fraud_v2 risk features from the request context and the stored features', async (ctx) => {
    // Prepare: the card holder last paid 100 EUR (108 USD) in Berlin
    const s = await S.setUp(ctx);
    await s.ingest([transaction('u6201', S.startedAt, { amount: 100, currency: 'EUR', merchant_id: 'm0201' })]);

    // Act: an authorisation of 250 USD in Paris is scored
    const answer = await s.call('POST', '/v1/features', {
      service: 'fraud_v2',
      entities: [{ user_id: 'u6201', merchant_id: 'm0201', amount: 250, currency: 'USD', ...PARIS }],
    });

    // Assess
    expect(answer.status).toBe(200);
    const [row] = FeaturesResponse.parse(answer.body).results;
    expect(row?.values).toMatchObject({
      txn_risk__km_from_last: distanceKm(52.52, 13.405, PARIS.lat, PARIS.lon),
      txn_risk__amount_ratio: Math.round((250 / 108) * 1e6) / 1e6,
      user_last_txn__amount_usd: 108,
      merchant_last_txn__amount_usd: 108,
      user_merchant_last_txn__amount_usd: 108,
      merchant_txn_stats__txn_count_1h: 1,
    });
    expect(row?.status).toMatchObject({ txn_risk__km_from_last: 'present', txn_risk__amount_ratio: 'present' });
    expect(row?.eventTimestamps.txn_risk__km_from_last).toBeNull();
  });

  it('answers an on-demand feature whose inputs are missing with status missing', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answer = await s.call('POST', '/v1/features', {
      service: 'fraud_v2',
      entities: [{ user_id: 'u6999', merchant_id: 'm6999', amount: 5, currency: 'GBP', ...PARIS }],
    });

    // Assess
    const [row] = FeaturesResponse.parse(answer.body).results;
    expect(row).toMatchObject({ values: { txn_risk__km_from_last: null }, status: { txn_risk__km_from_last: 'missing' } });
  });

  it('answers a row without the request context with 400 naming the row and the on-demand feature', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answer = await s.call('POST', '/v1/features', { service: 'fraud_v2', entities: [{ user_id: 'u6201', merchant_id: 'm0201', amount: 250 }] });

    // Assess
    const error = expectError(answer, 400, 'ValidationError');
    expect(error.message).toMatch(/^entities\[0\]: request context for "txn_risk": .*currency/);
  });
});

describe("Feast's online-serving shape", { timeout: 60_000 }, () => {
  it('answers a Feast request end to end: join keys first, one result per feature, Feast statuses and ISO times', async (ctx) => {
    // Prepare: one card holder with data, one without
    const s = await S.setUp(ctx);
    const event = transaction('u6301', S.startedAt, { amount: 10, currency: 'USD', merchant_id: 'm0301' });
    await s.ingest([event]);

    // Act
    const answer = await s.call('POST', '/get-online-features', {
      feature_service: 'fraud_v2',
      entities: { user_id: ['u6301', 'u6399'], merchant_id: ['m0301', 'm0399'] },
      request_context: { amount: [20, 30], currency: ['USD', 'USD'], lat: [PARIS.lat, PARIS.lat], lon: [PARIS.lon, PARIS.lon] },
      full_feature_names: true,
    });

    // Assess
    expect(answer.status).toBe(200);
    const body = FeastResponse.parse(answer.body);
    const names = body.metadata.feature_names;
    expect(names.slice(0, 2)).toEqual(['user_id', 'merchant_id']);
    expect(names).toEqual(expect.arrayContaining(['user_last_txn__amount_usd', 'txn_risk__amount_ratio']));
    expect(body.results).toHaveLength(names.length);
    const column = (name: string) => body.results[names.indexOf(name)];
    expect(column('user_id')).toEqual({
      values: ['u6301', 'u6399'],
      statuses: ['PRESENT', 'PRESENT'],
      event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'],
    });
    expect(column('user_last_txn__amount_usd')).toEqual({
      values: [10, null],
      statuses: ['PRESENT', 'NOT_FOUND'],
      event_timestamps: [new Date(event.ts).toISOString(), '1970-01-01T00:00:00Z'],
    });
    expect(column('txn_risk__amount_ratio')?.values).toEqual([2, null]);
  });

  it('names features without their view unless full_feature_names is set, as Feast does', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answer = await s.call('POST', '/get-online-features', {
      features: ['user_last_txn:currency', 'user_last_txn:is_foreign'],
      entities: { user_id: ['u6301'] },
    });

    // Assess
    expect(FeastResponse.parse(answer.body).metadata.feature_names).toEqual(['user_id', 'currency', 'is_foreign']);
  });

  it('answers columns of different lengths with 400', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answer = await s.call('POST', '/get-online-features', {
      feature_service: 'fraud_v1',
      entities: { user_id: ['u1', 'u2'] },
      request_context: { amount: [1] },
    });

    // Assess
    expect(expectError(answer, 400, 'ValidationError').message).toBe('every entities and request_context column must have the same length');
  });
});
