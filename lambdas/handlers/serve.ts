/**
 * The serve handler behind API Gateway: feature vectors for inference (native and Feast
 * shapes), events pushed over HTTP, the catalog and the OpenAPI document. Glue only: route,
 * parse, call app/serving.ts or app/push.ts, audit reads, shape the response.
 *
 * It runs on the base runtime (runtime-base.ts): DynamoDB and Kinesis clients only, which
 * keeps the bundle, and the cold start, small.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import * as definitions from '../../features/index.js';
import { ReadDeadlineExceeded } from '../adapters/online-store.js';
import { pushEvents } from '../app/push.js';
import { createFeatureReads, type ReadRecord } from '../app/serving.js';
import type { Caller } from '../core/access.js';
import { readAuditEntry } from '../core/audit.js';
import { CATALOG_PAGE_HEADERS, catalogPage } from '../core/catalog-page.js';
import { readServeConfig } from '../core/deployment.js';
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../core/errors.js';
import { feastResponseText, fromFeastRequest, toFeastResponse } from '../core/feast.js';
import { openApiDocument } from '../core/openapi.js';
import { Registry } from '../core/registry.js';
import { MAX_PUSH_EVENTS, PushRequest } from '../core/serving.js';
import { errorResponse, json, parseBody, toErrorResponse } from './http.js';
import { type BaseRuntime, createBaseRuntime, lazyHandler } from './runtime-base.js';

type Route = (event: APIGatewayProxyEvent, caller: Caller, read: ReadRecord) => Promise<APIGatewayProxyResult>;

/** The routes that read features: every request to them is audited, allowed or refused. */
const READ_ROUTES = new Set(['/v1/features', '/get-online-features']);

const raw = (body: string): APIGatewayProxyResult => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body });

export function createServeHandler(runtime: BaseRuntime): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  const { registry, logger } = runtime;
  const reads = createFeatureReads(registry, runtime.online, runtime.now);
  const openApi = JSON.stringify(openApiDocument());
  const catalogHtml = catalogPage(reads.catalog);

  const routes: Record<string, Partial<Record<string, Route>>> = {
    '/v1/health': { GET: async () => json(200, { status: 'ok' }) },
    '/v1/catalog': { GET: async (_event, caller) => raw(reads.catalogJsonFor(caller)) },
    '/v1/openapi.json': { GET: async () => raw(openApi) },
    '/catalog': { GET: async () => ({ statusCode: 200, headers: CATALOG_PAGE_HEADERS, body: catalogHtml }) },
    '/v1/features': { POST: async (event, caller, read) => json(200, (await reads.read(parseBody(event), caller, read)).response) },
    '/get-online-features': {
      POST: async (event, caller, read) => {
        const { request, options } = fromFeastRequest(parseBody(event), registry.entities.values());
        const served = await reads.read(request, caller, read);
        return raw(feastResponseText(toFeastResponse(served, options), served.planned.plan));
      },
    },
    '/v1/push': {
      POST: async (event, caller) => {
        const body = parseBody(event);
        const events = (body as { events?: unknown })?.events;
        // Too many events is a size limit, as too many entity rows is: 413, not a schema error.
        if (Array.isArray(events) && events.length > MAX_PUSH_EVENTS) {
          throw new PayloadTooLargeError(`at most ${MAX_PUSH_EVENTS} events per request`, { limit: MAX_PUSH_EVENTS });
        }
        const parsed = PushRequest.safeParse(body);
        if (!parsed.success)
          throw new ValidationError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), { issues: parsed.error.issues });
        return json(202, await pushEvents(runtime, parsed.data, caller));
      },
    },
  };

  return async (event) => {
    const requestId = event.requestContext?.requestId ?? 'local';
    const path = (event.path ?? '/').replace(/\/+$/, '') || '/';
    const route = routes[path];
    if (!route) return toErrorResponse(new NotFoundError(`no route ${path}`), requestId);
    const method = route[event.httpMethod];
    if (!method) return errorResponse('MethodNotAllowed', `${event.httpMethod} is not allowed on ${path}`, requestId);
    const caller: Caller = { arn: event.requestContext?.identity?.userArn ?? null };
    if (!READ_ROUTES.has(path)) return respond(method, event, caller, {}, path, requestId);
    const read: ReadRecord = {};
    const response = await respond(method, event, caller, read, path, requestId);
    const outcome = { ts: runtime.now(), requestId, principal: caller.arn, route: path, status: response.statusCode };
    runtime.audit.record(readAuditEntry(read.planned ? { ...outcome, planned: read.planned } : outcome));
    return response;
  };

  async function respond(method: Route, event: APIGatewayProxyEvent, caller: Caller, read: ReadRecord, path: string, requestId: string) {
    try {
      return await method(event, caller, read);
    } catch (error) {
      if (error instanceof ReadDeadlineExceeded) {
        logger.warn('online read deadline exceeded', { path, requestId, error: error.message });
        return errorResponse('ServiceUnavailable', 'the online store did not answer in time; retry', requestId);
      }
      const response = toErrorResponse(error, requestId);
      if (response.statusCode === 403) logger.warn('access denied', { path, requestId, caller: caller.arn, reason: (error as Error).message });
      if (response.statusCode >= 500) logger.error('request failed', { path, requestId, error: error as Error });
      return response;
    }
  }
}

export const handler = lazyHandler(() => createServeHandler(createBaseRuntime(readServeConfig(process.env), { registry: Registry.fromModule(definitions) })));
