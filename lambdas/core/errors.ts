/**
 * Errors a user can act on. Each has a stable `code`; the serving API maps codes to HTTP
 * statuses in one place (handlers/http.ts) and the pipelines write the code and message
 * into dead-letter records.
 */
export type ErrorCode = 'DefinitionError' | 'ValidationError' | 'NotFoundError' | 'AccessDeniedError' | 'PayloadTooLargeError';

export class TesseraError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = code;
  }
}

/** A definitions repo that cannot be published: names the definition at fault. */
export class DefinitionError extends TesseraError {
  constructor(
    readonly definition: string,
    message: string,
  ) {
    super('DefinitionError', `${definition}: ${message}`);
  }
}

/** Input (an event, a request) that does not match its schema. */
export class ValidationError extends TesseraError {
  constructor(message: string, details?: unknown) {
    super('ValidationError', message, details);
  }
}

export class NotFoundError extends TesseraError {
  constructor(message: string, details?: unknown) {
    super('NotFoundError', message, details);
  }
}

export class AccessDeniedError extends TesseraError {
  constructor(message: string, details?: unknown) {
    super('AccessDeniedError', message, details);
  }
}

export class PayloadTooLargeError extends TesseraError {
  constructor(message: string, details?: unknown) {
    super('PayloadTooLargeError', message, details);
  }
}
