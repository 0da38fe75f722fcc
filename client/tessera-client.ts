/**
 * A typed client of the Tessera serving API. Against a deployed stack it signs every request
 * with SigV4 (service `execute-api`) from the caller's AWS credentials; against local mode it
 * sends plain requests. Errors come back as `TesseraApiError` with the API's stable code.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { Catalog } from '../lambdas/core/catalog.js';
import type { FeaturesRequest, FeaturesResponse } from '../lambdas/core/serving.js';

export interface TesseraClientOptions {
  /** The API's base URL, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod or http://127.0.0.1:4000 */
  readonly url: string;
  /** Sign with SigV4; leave out for local mode. */
  readonly signing?: { readonly region: string; readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider };
  /** @default 5000 */
  readonly timeoutMs?: number;
}

export class TesseraApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = 'TesseraApiError';
  }
}

export class TesseraClient {
  private readonly base: URL;
  private readonly signer?: SignatureV4;

  constructor(private readonly options: TesseraClientOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    if (options.signing) {
      this.signer = new SignatureV4({ service: 'execute-api', region: options.signing.region, credentials: options.signing.credentials, sha256: Sha256 });
    }
  }

  getFeatures(request: FeaturesRequest): Promise<FeaturesResponse> {
    return this.call('POST', 'v1/features', request);
  }

  push(source: string, events: readonly Record<string, unknown>[]): Promise<{ source: string; accepted: number }> {
    return this.call('POST', 'v1/push', { source, events });
  }

  catalog(): Promise<Catalog> {
    return this.call('GET', 'v1/catalog');
  }

  health(): Promise<{ status: string }> {
    return this.call('GET', 'v1/health');
  }

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let headers: Record<string, string> = { host: url.host, ...(payload ? { 'content-type': 'application/json' } : {}) };
    if (this.signer) {
      const signed = await this.signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        ...(payload ? { body: payload } : {}),
      });
      headers = signed.headers as Record<string, string>;
    }
    const { host: _host, ...sendable } = headers;
    const response = await fetch(url, {
      method,
      headers: sendable,
      ...(payload ? { body: payload } : {}),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new TesseraApiError(response.status, 'InvalidResponse', text.slice(0, 200));
    }
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string; details?: unknown }; message?: string } | undefined) ?? {};
      throw new TesseraApiError(
        response.status,
        error.error?.code ?? 'HttpError',
        error.error?.message ?? error.message ?? response.statusText,
        error.error?.details,
      );
    }
    return json as T;
  }
}
