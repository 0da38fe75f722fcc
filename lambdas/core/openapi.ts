/**
 * The OpenAPI 3.1 document of the serving API, generated from the zod schemas the handler
 * validates with, so the document cannot drift from the code. Served at GET /v1/openapi.json.
 * The integration suite validates every response it receives against this document.
 */
import * as z from 'zod';
import { FeastRequest, FeastResponse } from './feast.js';
import { ErrorBody, FeaturesRequest, FeaturesResponse, Health, MAX_BODY_BYTES, MAX_ENTITIES, MAX_PUSH_EVENTS, PushRequest, PushResponse } from './serving.js';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });

const json = (ref: string) => ({ content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });
const errors = (...codes: number[]) => Object.fromEntries(codes.map((code) => [String(code), { description: ERROR_TEXT[code] ?? 'Error', ...json('Error') }]));
const ERROR_TEXT: Record<number, string> = {
  400: 'The request is malformed or does not match the schema',
  403: 'The caller may not read these features',
  404: 'Unknown feature service, feature, source or route',
  413: `More than ${MAX_ENTITIES} entity rows or ${MAX_PUSH_EVENTS} events, or a body over ${MAX_BODY_BYTES / 1024} KiB`,
  500: 'Internal error',
  503: 'The store did not answer in time',
};

export function openApiDocument(serverUrl?: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tessera serving API',
      version: '1',
      description:
        'Online features for inference. Every call is signed with SigV4 (service execute-api); callers are allowed per feature service. ' +
        'Every error answers with the Error schema; a method a path does not list answers 405, an unknown path 404.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    security: [{ sigv4: [] }],
    paths: {
      '/v1/features': {
        post: {
          summary: 'Feature vectors for entity rows, by feature service or feature list',
          requestBody: { required: true, ...json('FeaturesRequest') },
          responses: {
            '200': { description: 'Values, status and event time per feature', ...json('FeaturesResponse') },
            ...errors(400, 403, 404, 413, 500, 503),
          },
        },
      },
      '/get-online-features': {
        post: {
          summary: "Feast's online-serving request and response shape",
          requestBody: { required: true, ...json('FeastRequest') },
          responses: { '200': { description: 'Feast-shaped results', ...json('FeastResponse') }, ...errors(400, 403, 404, 413, 500, 503) },
        },
      },
      '/v1/push': {
        post: {
          summary:
            "Write events to a stream source, validated like the stream; only roles the source lists in allowedWriters (and the deployment's writers) may push",
          requestBody: { required: true, ...json('PushRequest') },
          responses: { '202': { description: 'Accepted', ...json('PushResponse') }, ...errors(400, 403, 404, 413, 500) },
        },
      },
      '/v1/catalog': { get: { summary: 'The published catalog with lineage', responses: { '200': { description: 'The catalog' }, ...errors(500) } } },
      '/v1/health': { get: { summary: 'Liveness', responses: { '200': { description: 'OK', ...json('Health') } } } },
      '/v1/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
    components: {
      securitySchemes: { sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'AWS Signature Version 4, service execute-api' } },
      schemas: {
        FeaturesRequest: schema(FeaturesRequest),
        FeaturesResponse: schema(FeaturesResponse),
        FeastRequest: schema(FeastRequest),
        FeastResponse: schema(FeastResponse),
        PushRequest: schema(PushRequest),
        PushResponse: schema(PushResponse),
        Health: schema(Health),
        Error: schema(ErrorBody),
      },
    },
  };
}
