import { describe, expect, it } from 'vitest';
import * as demo from '../../features/index.js';
import { feastResponseText, fromFeastRequest, toFeastResponse } from '../../lambdas/core/feast.js';
import { openApiDocument } from '../../lambdas/core/openapi.js';
import { Registry } from '../../lambdas/core/registry.js';
import { assembleResponse, planRequest } from '../../lambdas/core/serving.js';

const registry = Registry.fromModule(demo);
const entities = () => registry.entities.values();
const NOW = Date.UTC(2026, 0, 1);

describe("Feast's request shape", () => {
  it('turns columnar entities and request context into entity rows', () => {
    const { request, options } = fromFeastRequest(
      {
        feature_service: 'fraud_v2',
        entities: { user_id: ['u1', 'u2'], merchant_id: ['m1', 'm2'] },
        request_context: { amount: [10, 20] },
      },
      entities(),
    );
    expect(options).toEqual({ fullNames: false, versionMetadata: false });
    expect(request).toEqual({
      service: 'fraud_v2',
      entities: [
        { user_id: 'u1', merchant_id: 'm1', amount: 10 },
        { user_id: 'u2', merchant_id: 'm2', amount: 20 },
      ],
    });
  });

  it("accepts every field Feast 0.67's SDK sends, and ignores fields it does not know, as Feast's server does", () => {
    const { request, options } = fromFeastRequest(
      { features: ['user_last_txn:currency'], entities: { user_id: ['u1'] }, full_feature_names: true, include_feature_view_version_metadata: true, top_k: 3 },
      entities(),
    );
    expect(options).toEqual({ fullNames: true, versionMetadata: true });
    expect(request).toEqual({ features: ['user_last_txn:currency'], entities: [{ user_id: 'u1' }] });
  });

  it('uses the feature service when features are given too, as Feast does', () => {
    const { request } = fromFeastRequest({ feature_service: 'fraud_v1', features: ['user_last_txn:currency'], entities: { user_id: ['u1'] } }, entities());
    expect(request).toEqual({ service: 'fraud_v1', entities: [{ user_id: 'u1' }] });
  });

  it('reads a number given for a string join key as its text, and leaves request data alone', () => {
    const { request } = fromFeastRequest({ feature_service: 'fraud_v2', entities: { user_id: [1], merchant_id: ['m1'], amount: [5] } }, entities());
    expect(request.entities).toEqual([{ user_id: '1', merchant_id: 'm1', amount: 5 }]);
  });

  it('rejects a request with neither a feature service nor features, and columns of different lengths', () => {
    expect(() => fromFeastRequest({ features: [], entities: { user_id: ['u1'] } }, entities())).toThrow(/feature_service/);
    expect(() => fromFeastRequest({ features: ['a:b'], entities: { user_id: ['u1', 'u2'] }, request_context: { amount: [1] } }, entities())).toThrow(
      /same length/,
    );
  });
});

describe("Feast's response shape", () => {
  const served = (body: unknown, items = new Map()) => {
    const planned = planRequest(registry, body);
    return { response: assembleResponse(planned, items, NOW), planned, items, now: NOW };
  };

  it('answers one result per feature, join keys first, and null + NOT_FOUND for an entity the store has never seen', () => {
    const answer = toFeastResponse(served({ service: 'fraud_v1', entities: [{ user_id: 'u1' }] }), { fullNames: false, versionMetadata: false });
    const names = answer.metadata.feature_names;
    expect(names.slice(0, 3)).toEqual(['user_id', 'amount_usd', 'currency']);
    expect(answer.results[0]).toEqual({ values: ['u1'], statuses: ['PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z'] });
    // The native route answers a count of 0 and an empty list here; Feast's SDK reads neither as "not found".
    for (const name of ['txn_count_1h', 'recent_merchants_1d', 'amount_usd']) {
      expect(answer.results[names.indexOf(name)]).toEqual({ values: [null], statuses: ['NOT_FOUND'], event_timestamps: ['1970-01-01T00:00:00Z'] });
    }
  });

  it('names features by view and feature with full_feature_names, and lists view versions when asked', () => {
    const answer = toFeastResponse(served({ features: ['user_last_txn:currency', 'user_txn_stats:txn_count_1h'], entities: [{ user_id: 'u1' }] }), {
      fullNames: true,
      versionMetadata: true,
    });
    expect(answer.metadata).toEqual({
      feature_names: ['user_id', 'user_last_txn__currency', 'user_txn_stats__txn_count_1h'],
      feature_view_metadata: [
        { name: 'user_last_txn', version: 1 },
        { name: 'user_txn_stats', version: 1 },
      ],
    });
  });

  it('writes float features as JSON floats and every other value as JSON does', () => {
    const s = served({ features: ['user_last_txn:amount_usd', 'user_txn_stats:txn_count_1h'], entities: [{ user_id: 'u1' }, { user_id: 'u2' }] });
    const answer = toFeastResponse(s, { fullNames: false, versionMetadata: false });
    answer.results[1] = { ...(answer.results[1] as (typeof answer.results)[number]), values: [10, 2.5] };
    answer.results[2] = { ...(answer.results[2] as (typeof answer.results)[number]), values: [3, null] };
    const text = feastResponseText(answer, s.planned.plan);
    expect(text).toContain('"values":[10.0,2.5]');
    expect(text).toContain('"values":[3,null]');
    expect(JSON.parse(text)).toEqual(answer);
  });
});

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and documents every route with the error body on every 4xx', () => {
    const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(['/get-online-features', '/v1/catalog', '/v1/features', '/v1/health', '/v1/openapi.json', '/v1/push']);
    const features = doc.paths['/v1/features']?.post?.responses ?? {};
    for (const code of ['400', '403', '404', '413']) {
      expect(features[code]).toMatchObject({ content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
    }
  });
});
