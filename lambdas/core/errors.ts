/**
 * Every error Tessera throws on purpose is a `TesseraError`: a stable `code` to branch on (the
 * class's name), a message a user can act on, optional `details`, and the error it wraps as
 * `cause`. The codes the API answers with are one table, API_ERROR_STATUS, with their HTTP
 * status: the serving API maps errors by it (handlers/http.ts), the error body's schema
 * (core/serving.ts, and so the OpenAPI document) lists its codes, and the pipelines write the
 * code and message into dead-letter records. Any other code (a setting missing at cold start,
 * a query an engine refused, local mode not running…) answers as an InternalError.
 */

/** The `code` of the API's error body `{"error":{"code","message","details"?,"requestId"}}`, and its HTTP status. */
export const API_ERROR_STATUS = {
  ValidationError: 400,
  NotFoundError: 404,
  AccessDeniedError: 403,
  PayloadTooLargeError: 413,
  MethodNotAllowed: 405,
  DefinitionError: 500,
  InternalError: 500,
  ServiceUnavailable: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

export const API_ERROR_CODES = Object.keys(API_ERROR_STATUS) as [ApiErrorCode, ...ApiErrorCode[]];

export const isApiErrorCode = (code: string): code is ApiErrorCode => Object.hasOwn(API_ERROR_STATUS, code);

export class TesseraError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = code;
  }
}

/** A definitions repo that cannot be published: names the definition at fault. */
export class DefinitionError extends TesseraError {
  constructor(
    readonly definition: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('DefinitionError', `${definition}: ${message}`, undefined, options);
  }
}

/** Input (an event, a request, a command's option) that does not match its schema. */
export class ValidationError extends TesseraError {
  constructor(message: string, details?: unknown, options?: ErrorOptions) {
    super('ValidationError', message, details, options);
  }
}

export class NotFoundError extends TesseraError {
  constructor(message: string, details?: unknown, options?: ErrorOptions) {
    super('NotFoundError', message, details, options);
  }
}

export class AccessDeniedError extends TesseraError {
  constructor(message: string, details?: unknown, options?: ErrorOptions) {
    super('AccessDeniedError', message, details, options);
  }
}

export class PayloadTooLargeError extends TesseraError {
  constructor(message: string, details?: unknown, options?: ErrorOptions) {
    super('PayloadTooLargeError', message, details, options);
  }
}
