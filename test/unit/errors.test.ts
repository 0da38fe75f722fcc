import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { QueryError } from '../../lambdas/adapters/query-runner.js';
import { ConfigError } from '../../lambdas/core/deployment.js';
import { AccessDeniedError, NotFoundError, PayloadTooLargeError, TesseraError, ValidationError } from '../../lambdas/core/errors.js';
import { parseBody, toErrorResponse } from '../../lambdas/handlers/http.js';

const bodyOf = (response: { body: string }) => JSON.parse(response.body) as { error: { code: string; message: string; requestId: string } };

describe('errors: one hierarchy, one table of API codes', () => {
  it("answers a caller's mistakes with the status of their code and the stable error body", () => {
    const cases = [
      [new ValidationError('bad'), 400],
      [new AccessDeniedError('no'), 403],
      [new NotFoundError('none'), 404],
      [new PayloadTooLargeError('big'), 413],
    ] as const;
    for (const [error, status] of cases) {
      const response = toErrorResponse(error, 'req-1');
      expect(response.statusCode).toBe(status);
      expect(bodyOf(response)).toEqual({ error: { code: error.code, message: error.message, requestId: 'req-1' } });
    }
  });

  it('answers an error of the machinery as a 500 InternalError, without its message (no SQL, no settings)', () => {
    for (const error of [new QueryError('duckdb', 'Binder Error', 'SELECT secret FROM t'), new ConfigError('TESSERA_TABLE is not set')]) {
      expect(error).toBeInstanceOf(TesseraError);
      const response = toErrorResponse(error, 'req-2');
      expect(response.statusCode).toBe(500);
      expect(bodyOf(response).error.code).toBe('InternalError');
      expect(response.body).not.toContain(error.message);
    }
  });

  it('keeps the error it wraps as cause: a body that is not JSON carries the parser error', () => {
    const event = { body: '{"service":', isBase64Encoded: false } as APIGatewayProxyEvent;
    let thrown: unknown;
    try {
      parseBody(event);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    expect((thrown as Error).cause).toBeInstanceOf(SyntaxError);
  });
});
