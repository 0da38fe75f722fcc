/**
 * HTTP glue for API Gateway (REST, Lambda proxy): JSON bodies in and out, and the one place
 * where error types become status codes. Every error response has the same body:
 * `{"error": {"code", "message", "details"?, "requestId"}}`.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { type ErrorCode, PayloadTooLargeError, TesseraError, ValidationError } from '../core/errors.js';
import { MAX_BODY_BYTES } from '../core/serving.js';

const STATUS: Record<ErrorCode | 'MethodNotAllowed' | 'InternalError' | 'ServiceUnavailable', number> = {
  ValidationError: 400,
  DefinitionError: 500,
  AccessDeniedError: 403,
  NotFoundError: 404,
  MethodNotAllowed: 405,
  PayloadTooLargeError: 413,
  InternalError: 500,
  ServiceUnavailable: 503,
};

export type ErrorBodyCode = keyof typeof STATUS;

export { MAX_BODY_BYTES };

const HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

export function json(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: HEADERS, body: JSON.stringify(body) };
}

export function errorResponse(code: ErrorBodyCode, message: string, requestId: string, details?: unknown): APIGatewayProxyResult {
  return json(STATUS[code], { error: { code, message, ...(details !== undefined ? { details } : {}), requestId } });
}

/** Maps anything thrown to a response; unknown errors become a 500 without internals. */
export function toErrorResponse(error: unknown, requestId: string): APIGatewayProxyResult {
  if (error instanceof TesseraError) return errorResponse(error.code, error.message, requestId, error.details);
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
    throw new ValidationError(`the body is not valid JSON: ${(error as Error).message}`);
  }
}
