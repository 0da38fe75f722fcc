/**
 * Who may read what, over HTTP: requests signed with SigV4 by the typed client, the caller
 * taken from the access key of the signature the way API Gateway's IAM auth reports it, and
 * the serve handler's rules applied — services read only by the roles they list, pii only
 * through a service that lists it. Local mode maps access keys to principals WITHOUT verifying
 * signatures, so this tests the handler's rules, not IAM's.
 */
import { describe, expect, it } from 'vitest';
import { TesseraApiError } from '../../client/tessera-client.js';
import type { Catalog } from '../../lambdas/core/catalog.js';
import { FeaturesResponse } from '../../lambdas/core/serving.js';
import { signerIdentity } from '../../local/http.js';
import { CALLERS, expectError, PRINCIPALS, SCORER_ROLE, transaction, useServingStore } from './serving-fixture.js';

const S = useServingStore();

/** The API error a call rejects with, or a failure when it succeeds. */
async function rejection(call: Promise<unknown>): Promise<TesseraApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TesseraApiError);
  return error as TesseraApiError;
}

describe('caller identity in local mode (access key → principal; signatures not verified)', () => {
  it('reports the principal configured for the access key of a SigV4 Authorization header', () => {
    // Prepare
    const header = `AWS4-HMAC-SHA256 Credential=${CALLERS.scorer.accessKeyId}/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=00`;

    // Act
    const identity = signerIdentity(header, PRINCIPALS);

    // Assess
    expect(identity).toEqual({
      accessKey: CALLERS.scorer.accessKeyId,
      accountId: '123456789012',
      caller: 'assumed-role/fraud-scorer/SageMaker-1',
      user: 'assumed-role/fraud-scorer/SageMaker-1',
      userArn: CALLERS.scorer.arn,
    });
  });

  it.for([
    ['no Authorization header', undefined],
    [
      'an unknown access key',
      `AWS4-HMAC-SHA256 Credential=${CALLERS.stranger.accessKeyId}/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00`,
    ],
    ['another scheme', 'Bearer abc'],
  ] as const)('leaves the identity empty for %s', ([, header]) => {
    // Act
    const identity = signerIdentity(header, PRINCIPALS);

    // Assess
    expect(identity).toEqual({});
  });
});

describe('feature services scoped to IAM roles', { timeout: 60_000 }, () => {
  it('serves a role-scoped service to a session of the listed role, signed by the typed client', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);
    const event = transaction('u5001', S.startedAt, { amount: 200, currency: 'USD' });
    await s.ingest([event]);

    // Act
    const response = await s.client('scorer').getFeatures({ service: 'fraud_scorer_v1', entities: [{ user_id: 'u5001' }] });

    // Assess
    const [row] = FeaturesResponse.parse(response).results;
    expect(row?.values).toMatchObject({ user_last_txn__amount_usd: 200, user_location__lat: 52.52, user_location__lon: 13.405 });
    expect(row?.status.user_location__lat).toBe('present');
  });

  it.for([
    ['a session of another role', 'marketing', CALLERS.marketing.arn],
    ['a caller whose access key is unknown', 'stranger', 'an anonymous caller'],
    ['an unsigned request', undefined, 'an anonymous caller'],
  ] as const)('denies %s with 403 naming the caller and the service', async ([, caller, who], ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const error = await rejection(s.client(caller).getFeatures({ service: 'fraud_scorer_v1', entities: [{ user_id: 'u5001' }] }));

    // Assess
    expect(error).toMatchObject({ status: 403, code: 'AccessDeniedError', details: { service: 'fraud_scorer_v1' } });
    expect(error.message).toContain(`${who} may not read feature service "fraud_scorer_v1"`);
  });

  it('serves a service that lists no principals to any caller, signed or not', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);
    const request = { service: 'fraud_v2', entities: [{ user_id: 'u5001', merchant_id: 'm0007', amount: 10, currency: 'EUR' as const, lat: 52.5, lon: 13.4 }] };

    // Act
    const answers = await Promise.all([s.client('marketing').getFeatures(request), s.client().getFeatures(request)]);

    // Assess
    for (const answer of answers) expect(answer.service).toBe('fraud_v2');
  });

  it('lets a plain feature list through only when a service the caller may read holds every feature', async (ctx) => {
    // Prepare: user_txn_stats:amount_usd is served by stats_audit alone, for the auditor role
    const s = await S.setUp(ctx);
    await s.ingest([transaction('u5003', S.startedAt, { amount: 30, currency: 'USD' })]);
    const request = { features: ['user_txn_stats:amount_usd'], entities: [{ user_id: 'u5003' }] };

    // Act
    const allowed = await s.client('auditor').getFeatures(request);
    const denied = await rejection(s.client('scorer').getFeatures(request));

    // Assess
    expect(allowed.results[0]?.values).toEqual({ user_txn_stats__amount_usd: 30 });
    expect(denied).toMatchObject({ status: 403, code: 'AccessDeniedError', details: { feature: 'user_txn_stats:amount_usd' } });
    expect(denied.message).toContain(`${CALLERS.scorer.arn} may not read "user_txn_stats:amount_usd" through any feature service`);
  });
});

describe('pii features', { timeout: 60_000 }, () => {
  it('refuses a pii feature in a plain feature list with 403 and the reason, whoever asks', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answers = await Promise.all(
      (['scorer', undefined] as const).map((as) =>
        s.call('POST', '/v1/features', { features: ['user_last_txn:amount_usd', 'user_location:lat'], entities: [{ user_id: 'u5001' }] }, as ? { as } : {}),
      ),
    );

    // Assess
    for (const answer of answers) {
      const error = expectError(answer, 403, 'AccessDeniedError');
      expect(error.message).toBe('"user_location:lat" is tagged pii: request it through a feature service that lists it');
      expect(error.details).toEqual({ feature: 'user_location:lat' });
    }
  });

  it('refuses a pii feature in a plain Feast feature list the same way', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answer = await s.call('POST', '/get-online-features', { features: ['user_location:lon'], entities: { user_id: ['u5001'] } }, { as: 'scorer' });

    // Assess
    expect(expectError(answer, 403, 'AccessDeniedError').message).toContain('tagged pii');
  });

  it('refuses a feature computed from pii (the distance to a chosen point) in plain lists on both routes, naming its pii inputs', async (ctx) => {
    // Prepare: with four chosen reference points, km_from_last gives away the card holder's position
    const s = await S.setUp(ctx);
    await s.ingest([transaction('u5005', S.startedAt)]);
    const context = { amount: 1, currency: 'EUR', lat: 0, lon: 0 };

    // Act
    const answers = await Promise.all([
      s.call('POST', '/v1/features', { features: ['txn_risk:km_from_last'], entities: [{ user_id: 'u5005', ...context }] }, { as: 'scorer' }),
      s.call(
        'POST',
        '/get-online-features',
        { features: ['txn_risk:km_from_last'], entities: { user_id: ['u5005'] }, request_context: { amount: [1], currency: ['EUR'], lat: [0], lon: [0] } },
        { as: 'scorer' },
      ),
    ]);

    // Assess
    for (const answer of answers) {
      expect(expectError(answer, 403, 'AccessDeniedError').message).toBe(
        '"txn_risk:km_from_last" is pii: computed from user_location:lat, user_location:lon: request it through a feature service that lists it',
      );
    }
  });

  it('serves the pii feature through a service that lists it', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);
    await s.ingest([transaction('u5004', S.startedAt)]);

    // Act
    const answer = await s.call('POST', '/v1/features', { service: 'fraud_v1', entities: [{ user_id: 'u5004' }] });

    // Assess
    expect(answer.status).toBe(200);
    const [row] = FeaturesResponse.parse(answer.body).results;
    expect(row?.values).toMatchObject({ user_location__lat: 52.52, user_location__lon: 13.405 });
  });
});

describe('who may push', { timeout: 60_000 }, () => {
  it.for([
    ['a role that may read every demo service but write none', 'marketing', CALLERS.marketing.arn],
    ['an unsigned request', undefined, 'an anonymous caller'],
  ] as const)('refuses a push from %s with 403 naming the source, and writes nothing', async ([, caller, who], ctx) => {
    // Prepare
    const s = await S.setUp(ctx);
    const event = transaction('u5101', S.startedAt);

    // Act
    const answer = await s.call('POST', '/v1/push', { source: 'transactions', events: [event] }, caller ? { as: caller } : {});
    await s.store.poller.drain();

    // Assess
    const error = expectError(answer, 403, 'AccessDeniedError');
    expect(error.message).toBe(`${who} may not push to source "transactions": list its role in the source's allowedWriters`);
    expect(error.details).toEqual({ source: 'transactions' });
    const read = await s.call('POST', '/v1/features', { service: 'fraud_v1', entities: [{ user_id: 'u5101' }] });
    expect(FeaturesResponse.parse(read.body).results[0]?.status.user_last_txn__amount_usd).toBe('missing');
  });

  it('accepts a push from a writer of the deployment and serves it', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const answer = await s.call(
      'POST',
      '/v1/push',
      { source: 'transactions', events: [transaction('u5102', S.startedAt, { amount: 7, currency: 'USD' })] },
      { as: 'operator' },
    );
    await s.store.poller.drain();

    // Assess
    expect(answer).toMatchObject({ status: 202, body: { source: 'transactions', accepted: 1 } });
    const read = await s.call('POST', '/v1/features', { service: 'fraud_v1', entities: [{ user_id: 'u5102' }] });
    expect(FeaturesResponse.parse(read.body).results[0]?.values.user_last_txn__amount_usd).toBe(7);
  });
});

describe('the catalog', { timeout: 60_000 }, () => {
  it('shows the principal ARNs of a service only to callers who may read it', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const [asScorer, asMarketing, unsigned] = await Promise.all([
      s.call('GET', '/v1/catalog', undefined, { as: 'scorer' }),
      s.call('GET', '/v1/catalog', undefined, { as: 'marketing' }),
      s.call('GET', '/v1/catalog'),
    ]);

    // Assess
    const services = (answer: typeof asScorer) => (answer.body as Catalog).featureServices;
    expect(services(asScorer).find((f) => f.name === 'fraud_scorer_v1')?.allowedPrincipals).toEqual([SCORER_ROLE]);
    for (const answer of [asMarketing, unsigned]) {
      expect(answer.status).toBe(200);
      expect(services(answer).find((f) => f.name === 'fraud_scorer_v1')).not.toHaveProperty('allowedPrincipals');
      expect(services(answer).find((f) => f.name === 'fraud_v1')?.allowedPrincipals).toEqual([]);
      expect(JSON.stringify(answer.body)).not.toMatch(/arn:aws/);
    }
  });
});
