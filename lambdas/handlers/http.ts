/**
 * HTTP glue for API Gateway (REST, Lambda proxy): JSON bodies in and out, and the one place
 * where errors become responses, with the statuses of core/errors.ts (API_ERROR_STATUS).
 * Every error response has the same body: `{"error": {"code", "message", "details"?, "requestId"}}`.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { API_ERROR_STATUS, type ApiErrorCode, isApiErrorCode, PayloadTooLargeError, TesseraError, ValidationError } from '../core/errors.js';
import { MAX_BODY_BYTES } from '../core/serving.js';

export { MAX_BODY_BYTES };

const HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

export function json(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: HEADERS, body: JSON.stringify(body) };
}

export function errorResponse(code: ApiErrorCode, message: string, requestId: string, details?: unknown): APIGatewayProxyResult {
  return json(API_ERROR_STATUS[code], { error: { code, message, ...(details !== undefined ? { details } : {}), requestId } });
}

/** Maps anything thrown to a response; unknown errors become a 500 without internals. */
export function toErrorResponse(error: unknown, requestId: string): APIGatewayProxyResult {
  if (error instanceof TesseraError && isApiErrorCode(error.code)) return errorResponse(error.code, error.message, requestId, error.details);
  return errorResponse('InternalError', 'internal error; the request id is in the logs', requestId);
}

/** The request's JSON body; malformed or oversize bodies are ValidationErrors. */
export function parseBody(event: APIGatewayProxyEvent): unknown {
  if (!event.body) throw new ValidationError('the request needs a JSON body');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new PayloadTooLargeError(`bodies are limited to ${MAX_BODY_BYTES} bytes`, { limit: MAX_BODY_BYTES });
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`the body is not valid JSON: ${(error as Error).message}`, undefined, { cause: error });
  }
}
