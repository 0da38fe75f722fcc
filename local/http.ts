/**
 * API Gateway, in-process: a node:http server on loopback that turns each request into the
 * REST API's Lambda proxy event (`APIGatewayProxyEvent`) for the serve handler — the deployed
 * one, unchanged — and writes its result back. Bodies above the limit are refused with 413
 * as soon as the size is known, without buffering them.
 *
 * Caller identity: API Gateway with IAM auth verifies a request's SigV4 signature and fills
 * `requestContext.identity` with the signer. Here a configured map from access key id to
 * principal ARN stands in for IAM: the access key is read from the `Credential=` of the
 * Authorization header and its principal reported. THE SIGNATURE IS NOT VERIFIED — anyone on
 * this machine can claim any configured key. This is for testing the handler's access rules,
 * not a security boundary; local mode listens on loopback only.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayEventIdentity, APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { PayloadTooLargeError } from '../lambdas/core/errors.js';
import { LOCAL_ACCOUNT } from './event-source-mapping.js';

export type ProxyHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export interface HttpAdapterOptions {
  /** 0 picks a free port. @default 4000 */
  readonly port?: number;
  /** @default '127.0.0.1' — local mode is for this machine only */
  readonly host?: string;
  /** @default 1 MiB */
  readonly maxBodyBytes?: number;
  /** The stage in the request context. @default 'local' */
  readonly stage?: string;
  /** Fields of the caller identity reported for every request (under those from `principals`). */
  readonly identity?: Partial<APIGatewayEventIdentity>;
  /**
   * Access key id → principal ARN (e.g. `arn:aws:sts::123456789012:assumed-role/fraud-scorer/s1`):
   * a request whose SigV4 Authorization header names a listed key is reported as that principal,
   * as API Gateway's IAM auth would. The signature is not verified. A request with no
   * Authorization header, or an unlisted key, has an empty identity.
   * @default {} — every request is anonymous
   */
  readonly principals?: Readonly<Record<string, string>>;
  /** @default randomUUID */
  readonly requestId?: () => string;
}

export interface HttpAdapter {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export async function startHttpAdapter(handler: ProxyHandler, options: HttpAdapterOptions = {}): Promise<HttpAdapter> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const newRequestId = options.requestId ?? randomUUID;

  const server = createServer((req, res) => {
    const requestId = newRequestId();
    const received = Date.now();
    readBody(req, maxBodyBytes)
      .then(async (body) => {
        const identity = { ...options.identity, ...signerIdentity(req.headers.authorization, options.principals ?? {}) };
        const event = toProxyEvent(req, body, { requestId, received, stage: options.stage ?? 'local', identity });
        let result: APIGatewayProxyResult;
        try {
          result = await handler(event);
        } catch (error) {
          // Lambda answers an unhandled error with 502 from API Gateway; the handler should not throw.
          console.error('serve handler threw', error);
          result = errorResult(502, 'InternalError', 'the serve handler failed', requestId);
        }
        writeResult(res, result, requestId);
      })
      .catch((error) => {
        if (error instanceof PayloadTooLargeError) {
          // Answer now and close the connection; the rest of the body is never read.
          res.setHeader('connection', 'close');
          writeResult(res, errorResult(413, error.code, error.message, requestId), requestId);
          res.on('finish', () => req.socket.destroySoon?.());
          return;
        }
        writeResult(res, errorResult(400, 'ValidationError', 'the request body could not be read', requestId), requestId);
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4000, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Idle keep-alive connections would hold close() open until they time out.
        server.closeIdleConnections();
      }),
  };
}

/** The body as a Buffer; rejects with a PayloadTooLargeError as soon as it exceeds the limit. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.pause();
      reject(new PayloadTooLargeError(`request bodies are limited to ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new PayloadTooLargeError(`request bodies are limited to ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/**
 * The identity fields API Gateway's IAM auth fills in for the signer of a request, looked up by
 * the access key id in its SigV4 `Authorization` header (`AWS4-HMAC-SHA256 Credential=AKID/date/
 * region/service/aws4_request, SignedHeaders=..., Signature=...`). Only the key id is read: the
 * signature is NOT verified. No header, another scheme or an unlisted key: no identity.
 */
export function signerIdentity(authorization: string | undefined, principals: Readonly<Record<string, string>>): Partial<APIGatewayEventIdentity> {
  const accessKey = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\//.exec(authorization ?? '')?.[1];
  const arn = accessKey !== undefined && Object.hasOwn(principals, accessKey) ? principals[accessKey] : undefined;
  if (accessKey === undefined || arn === undefined) return {};
  const accountId = /^arn:[^:]+:(?:sts|iam)::(\d{12}):/.exec(arn)?.[1] ?? null;
  // API Gateway reports the principal's id (`AROA…:session` for a role session); an id is
  // not known here, so the ARN's resource part stands in for it.
  const caller = arn.slice(arn.indexOf(':', arn.indexOf('::') + 2) + 1);
  return { accessKey, accountId, caller, user: caller, userArn: arn };
}

interface EventContext {
  readonly requestId: string;
  readonly received: number;
  readonly stage: string;
  readonly identity: Partial<APIGatewayEventIdentity> | undefined;
}

/** The REST API's Lambda proxy event for one request, as API Gateway builds it. */
export function toProxyEvent(req: IncomingMessage, body: Buffer, context: EventContext): APIGatewayProxyEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    const value = req.rawHeaders[i + 1] as string;
    headers[name] = value;
    multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
  }
  const query: Record<string, string> = {};
  const multiValueQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    multiValueQuery[name] = [...(multiValueQuery[name] ?? []), value];
  }
  // Text bodies pass as they are; anything that is not valid UTF-8 arrives base64-encoded.
  const text = body.length === 0 ? null : utf8(body);
  const httpMethod = req.method ?? 'GET';
  const path = decodePath(url.pathname);
  return {
    resource: path,
    path,
    httpMethod,
    headers,
    multiValueHeaders,
    queryStringParameters: url.searchParams.size ? query : null,
    multiValueQueryStringParameters: url.searchParams.size ? multiValueQuery : null,
    pathParameters: null,
    stageVariables: null,
    body: body.length === 0 ? null : (text ?? body.toString('base64')),
    isBase64Encoded: body.length > 0 && text === undefined,
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${req.httpVersion}`,
      httpMethod,
      path: `/${context.stage}${path}`,
      stage: context.stage,
      requestId: context.requestId,
      extendedRequestId: context.requestId,
      requestTime: formatRequestTime(new Date(context.received)),
      requestTimeEpoch: context.received,
      resourceId: 'local',
      resourcePath: path,
      domainName: req.headers.host ?? 'localhost',
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        user: null,
        userAgent: req.headers['user-agent'] ?? null,
        userArn: null,
        ...context.identity,
      },
    },
  };
}

function writeResult(res: ServerResponse, result: APIGatewayProxyResult, requestId: string): void {
  if (res.headersSent) return;
  res.statusCode = result.statusCode;
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, String(value));
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) res.setHeader(name, values.map(String));
  res.setHeader('x-amzn-requestid', requestId);
  const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body ?? '');
  res.setHeader('content-length', body.length);
  res.end(body);
}

function errorResult(statusCode: number, code: string, message: string, requestId: string): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: { code, message, requestId } }),
  };
}

function decodePath(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return pathname;
  }
}

function utf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** API Gateway's `requestTime` format: `09/Apr/2015:12:34:56 +0000`. */
function formatRequestTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}
