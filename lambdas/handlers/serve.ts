/**
 * The serve handler behind API Gateway: feature vectors for inference (native and Feast
 * shapes), events pushed over HTTP, the catalog and the OpenAPI document. Glue only: parse,
 * authorize, call core/serving, shape the response. Everything per-service (read plans, the
 * catalog, the document, the access index) is computed once per cold start, so a request
 * costs what its own features and entities cost, never the size of the registry.
 *
 * It runs on the base runtime (runtime-base.ts): DynamoDB and Kinesis clients only, which
 * keeps the bundle, and the cold start, small.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ReadDeadlineExceeded } from '../adapters/online-store.js';
import { authorize, type Caller } from '../core/access.js';
import { type PlannedRead, readAuditEntry } from '../core/audit.js';
import { buildCatalog } from '../core/catalog.js';
import { CATALOG_PAGE_HEADERS, catalogPage } from '../core/catalog-page.js';
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../core/errors.js';
import { fromFeastRequest, toFeastResponse } from '../core/feast.js';
import { openApiDocument } from '../core/openapi.js';
import type { ReadPlan } from '../core/registry.js';
import { assembleResponse, type FeaturesResponse, MAX_PUSH_EVENTS, PushRequest, planRequest } from '../core/serving.js';
import { errorResponse, json, parseBody, toErrorResponse } from './http.js';
import { pushEvents } from './push.js';
import { type BaseRuntime, createBaseRuntime, lazyHandler, readConfig } from './runtime-base.js';

/** What a read request got as far as, for its audit entry. */
interface ReadRecord {
  planned?: PlannedRead;
}

type Route = (event: APIGatewayProxyEvent, caller: Caller, read: ReadRecord) => Promise<APIGatewayProxyResult>;

/** The routes that read features: every request to them is audited, allowed or refused. */
const READ_ROUTES = new Set(['/v1/features', '/get-online-features']);

const raw = (body: string): APIGatewayProxyResult => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body });

/** What the online store is asked for on behalf of a plan: the row values read, and whether tiles are. */
interface StoreRead {
  readonly rowFeatures: readonly string[];
  readonly withTiles: boolean;
}

function storeReadOf(plan: ReadPlan): StoreRead {
  const stored = plan.views.flatMap((v) => v.features);
  return { rowFeatures: [...new Set(stored.filter((f) => f.kind === 'row').map((f) => f.feature))], withTiles: stored.some((f) => f.kind === 'aggregation') };
}

export function createServeHandler(runtime: BaseRuntime): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  const { registry, online, logger } = runtime;
  const catalog = JSON.stringify(buildCatalog(registry));
  const openApi = JSON.stringify(openApiDocument());
  const catalogHtml = catalogPage(buildCatalog(registry));
  // Service plans are built with the registry; their store reads are derived once here.
  // A plain feature list gets a new plan per request, and its read is derived from it.
  const serviceReads = new Map([...registry.services.keys()].map((name) => [registry.servicePlan(name), storeReadOf(registry.servicePlan(name))]));

  async function features(body: unknown, caller: Caller, read: ReadRecord): Promise<{ response: FeaturesResponse; joinKeys: readonly string[] }> {
    const planned = planRequest(registry, body);
    read.planned = { service: planned.service, features: planned.plan.features, entityCount: planned.rows.length };
    authorize(registry, caller, planned);
    const { rowFeatures, withTiles } = serviceReads.get(planned.plan) ?? storeReadOf(planned.plan);
    const items = await online.read(planned.pks, rowFeatures, withTiles);
    return { response: assembleResponse(planned, items, runtime.now()), joinKeys: planned.plan.joinKeys };
  }

  const routes: Record<string, Partial<Record<string, Route>>> = {
    '/v1/health': { GET: async () => json(200, { status: 'ok' }) },
    '/v1/catalog': { GET: async () => raw(catalog) },
    '/v1/openapi.json': { GET: async () => raw(openApi) },
    '/catalog': { GET: async () => ({ statusCode: 200, headers: CATALOG_PAGE_HEADERS, body: catalogHtml }) },
    '/v1/features': { POST: async (event, caller, read) => json(200, (await features(parseBody(event), caller, read)).response) },
    '/get-online-features': {
      POST: async (event, caller, read) => {
        const { request, fullNames } = fromFeastRequest(parseBody(event));
        const { response, joinKeys } = await features(request, caller, read);
        return json(200, toFeastResponse(response, joinKeys, fullNames));
      },
    },
    '/v1/push': {
      POST: async (event) => {
        const body = parseBody(event);
        const events = (body as { events?: unknown })?.events;
        // Too many events is a size limit, as too many entity rows is: 413, not a schema error.
        if (Array.isArray(events) && events.length > MAX_PUSH_EVENTS) {
          throw new PayloadTooLargeError(`at most ${MAX_PUSH_EVENTS} events per request`, { limit: MAX_PUSH_EVENTS });
        }
        const parsed = PushRequest.safeParse(body);
        if (!parsed.success)
          throw new ValidationError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), { issues: parsed.error.issues });
        return json(202, await pushEvents(runtime, parsed.data));
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

export const handler = lazyHandler(() => createServeHandler(createBaseRuntime(readConfig(process.env))));
