/**
 * The serve handler behind API Gateway: feature vectors for inference, events pushed over
 * HTTP, the catalog. Glue only: parse, call core/serving, shape the response.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { buildCatalog } from '../core/catalog.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { assembleResponse, planRequest } from '../core/serving.js';
import { errorResponse, json, parseBody, toErrorResponse } from './http.js';
import { createRuntime, lazyHandler, readConfig, type Runtime } from './runtime.js';
import { PushRequest, pushEvents } from './push.js';

type Route = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export function createServeHandler(runtime: Runtime): Route {
  const { registry, online, logger } = runtime;
  const catalog = JSON.stringify(buildCatalog(registry));
  const routes: Record<string, Partial<Record<string, Route>>> = {
    '/v1/health': { GET: async () => json(200, { status: 'ok' }) },
    '/v1/catalog': { GET: async () => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: catalog }) },
    '/v1/features': {
      POST: async (event) => {
        const planned = planRequest(registry, parseBody(event));
        const stored = planned.plan.views.flatMap((v) => v.features);
        const rowFeatures = [...new Set(stored.filter((f) => f.kind === 'row').map((f) => f.feature))];
        const items = await online.read(planned.pks, rowFeatures, stored.some((f) => f.kind === 'aggregation'));
        return json(200, assembleResponse(planned, items, runtime.now()));
      },
    },
    '/v1/push': {
      POST: async (event) => {
        const parsed = PushRequest.safeParse(parseBody(event));
        if (!parsed.success) throw new ValidationError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
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
    try {
      return await method(event);
    } catch (error) {
      const response = toErrorResponse(error, requestId);
      if (response.statusCode >= 500) logger.error('request failed', { path, requestId, error: error as Error });
      return response;
    }
  };
}

export const handler = lazyHandler(() => createServeHandler(createRuntime(readConfig(process.env))));
