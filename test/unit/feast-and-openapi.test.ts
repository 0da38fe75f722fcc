import { describe, expect, it } from 'vitest';
import { fromFeastRequest, toFeastResponse } from '../../lambdas/core/feast.js';
import { openApiDocument } from '../../lambdas/core/openapi.js';
import type { FeaturesResponse } from '../../lambdas/core/serving.js';

describe("Feast's request shape", () => {
  it('turns columnar entities and request context into entity rows', () => {
    const { request, fullNames } = fromFeastRequest({
      feature_service: 'fraud_v2',
      entities: { user_id: ['u1', 'u2'], merchant_id: ['m1', 'm2'] },
      request_context: { amount: [10, 20] },
    });
    expect(fullNames).toBe(false);
    expect(request).toEqual({
      service: 'fraud_v2',
      entities: [
        { user_id: 'u1', merchant_id: 'm1', amount: 10 },
        { user_id: 'u2', merchant_id: 'm2', amount: 20 },
      ],
    });
  });

  it('rejects columns of different lengths', () => {
    expect(() => fromFeastRequest({ features: ['a:b'], entities: { user_id: ['u1', 'u2'] }, request_context: { amount: [1] } })).toThrow(/same length/);
  });

  it('answers one result per feature, join keys first, with Feast status names', () => {
    const native: FeaturesResponse = {
      service: 'fraud_v1',
      features: ['user_last_txn__currency'],
      results: [
        {
          entity: { user_id: 'u1' },
          values: { user_last_txn__currency: 'EUR' },
          status: { user_last_txn__currency: 'present' },
          eventTimestamps: { user_last_txn__currency: 0 },
        },
        {
          entity: { user_id: 'u2' },
          values: { user_last_txn__currency: null },
          status: { user_last_txn__currency: 'expired' },
          eventTimestamps: { user_last_txn__currency: 1_000 },
        },
      ],
    };
    const feast = toFeastResponse(native, ['user_id'], false);
    expect(feast.metadata.feature_names).toEqual(['user_id', 'currency']);
    expect(feast.results[0]?.values).toEqual(['u1', 'u2']);
    expect(feast.results[1]).toEqual({
      values: ['EUR', null],
      statuses: ['PRESENT', 'OUTSIDE_MAX_AGE'],
      event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:01.000Z'],
    });
    expect(toFeastResponse(native, ['user_id'], true).metadata.feature_names).toEqual(['user_id', 'user_last_txn__currency']);
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
