/**
 * What the serving suites (serving-*.test.ts, e2e/clients.test.ts) share: a registry with
 * IAM-scoped services on top of the demo definitions, callers with access keys, one local
 * store per test file on the target TESSERA_TARGET names, a clock the tests move, and a
 * checker that validates every response against the OpenAPI document the API serves.
 *
 * Caller identity: local mode maps the access key id of a SigV4 Authorization header to a
 * principal ARN, as API Gateway's IAM auth reports the signer. Signatures are NOT verified
 * locally (see local/http.ts), so these suites test the handler's access rules, not IAM.
 */
import { randomUUID } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { SignatureV4 } from '@smithy/signature-v4';
import ajv2020, { type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { afterAll, expect, type TestContext } from 'vitest';
import { TesseraClient } from '../../client/tessera-client.js';
import type { Transaction } from '../../features/fraud.js';
import * as fraud from '../../features/fraud.js';
import { type AwsClients, createClients } from '../../lambdas/adapters/aws.js';
import { featureService, select } from '../../lambdas/core/definitions.js';
import { Registry } from '../../lambdas/core/registry.js';
import { LOCAL_OPERATOR } from '../../local/discovery.js';
import type { ResourceNames } from '../../local/resources.js';
import { type LocalStore, type LocalStoreOptions, startLocalStore } from '../../local/store.js';
import type { Target } from '../support/target.js';
import { useTarget } from '../support/use-target.js';

export const ACCOUNT = '123456789012';
export const SCORER_ROLE = `arn:aws:iam::${ACCOUNT}:role/fraud-scorer`;
export const AUDITOR_ROLE = `arn:aws:iam::${ACCOUNT}:role/service-role/stats-auditor`;

/** A secret for signing; local mode never checks it. */
export const SECRET = 'local-mode-does-not-verify-signatures';

/** The callers of the suites: access key id and the principal local mode reports for it. */
export const CALLERS: Readonly<
  Record<'scorer' | 'marketing' | 'auditor' | 'stranger' | 'operator', { readonly accessKeyId: string; readonly arn: string | null }>
> = {
  scorer: { accessKeyId: 'AKIAFRAUDSCORER00001', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/fraud-scorer/SageMaker-1` },
  marketing: { accessKeyId: 'AKIAMARKETING0000001', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/marketing/alice` },
  auditor: { accessKeyId: 'AKIASTATSAUDITOR0001', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/stats-auditor/audit-7` },
  /** Signs with a key local mode does not know: anonymous, as an unauthenticated request. */
  stranger: { accessKeyId: 'AKIANOBODYKNOWSME001', arn: null },
  /** Local mode's own operator, which may push to every source (TESSERA_WRITERS). */
  operator: { accessKeyId: LOCAL_OPERATOR.accessKeyId, arn: LOCAL_OPERATOR.arn },
};
export type CallerName = keyof typeof CALLERS;

export const PRINCIPALS: Record<string, string> = Object.fromEntries(
  Object.values(CALLERS)
    .filter((c) => c.arn !== null)
    .map((c) => [c.accessKeyId, c.arn as string]),
);

/** fraud_v1's card-holder features, for the fraud-scorer role only (pii listed, so served). */
export const scorerOnly = featureService({
  name: 'fraud_scorer_v1',
  features: [fraud.userLastTransaction, select(fraud.userLocation, ['lat', 'lon'])],
  piiFeatures: ['user_location:lat', 'user_location:lon'],
  allowedPrincipals: [SCORER_ROLE],
  owner: 'fraud-ml',
  description: 'The card holder features of the fraud model, for its scoring role only',
});

/** The only service with user_txn_stats' row features: an auditor's. */
export const statsAudit = featureService({
  name: 'stats_audit',
  features: [select(fraud.userTransactionStats, ['amount_usd', 'merchant_id'])],
  allowedPrincipals: [AUDITOR_ROLE],
  owner: 'risk-audit',
  description: 'Raw transaction amounts, for audits',
});

/** The demo definitions plus the IAM-scoped services above. */
export const servingRegistry = (): Registry => Registry.fromModule({ ...fraud, scorerOnly, statsAudit });

export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly requestId: string | null;
  readonly ms: number;
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly requestId: string; readonly details?: unknown };
}

export interface CallOptions {
  /** Sign with this caller's access key (SigV4, service execute-api). @default unsigned */
  readonly as?: CallerName;
  /** Sent as it is, not JSON-encoded. */
  readonly rawBody?: string;
}

interface OpenApiOperation {
  readonly requestBody?: { content: { 'application/json': { schema: { $ref: string } } } };
  readonly responses: Record<string, { content?: { 'application/json': { schema: { $ref: string } } } }>;
}
interface OpenApiDocument {
  readonly paths: Record<string, Record<string, OpenApiOperation>>;
  readonly components: { schemas: Record<string, object> };
}

/**
 * The OpenAPI document the API serves, compiled: every response a suite receives is checked
 * against it (its status must be documented for the route, its body must match the schema),
 * so the document and the behaviour cannot drift apart.
 */
export class OpenApiContract {
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly document: OpenApiDocument) {
    // ajv is CommonJS: under NodeNext its default import is the module, the class is `.default`.
    const ajv = new ajv2020.default({ strict: false, allErrors: true });
    ajvFormats.default(ajv);
    for (const [name, schema] of Object.entries(document.components.schemas)) this.validators.set(name, ajv.compile(schema));
  }

  private validator(ref: string): ValidateFunction {
    const validator = this.validators.get(ref.replace('#/components/schemas/', ''));
    if (!validator) throw new Error(`the document refers to ${ref}, which it does not define`);
    return validator;
  }

  /** The document's schema errors for a response, or [] when it conforms. */
  responseProblems(method: string, path: string, status: number, body: unknown): string[] {
    const route = this.document.paths[path];
    const operation = route?.[method.toLowerCase()];
    if (!operation) {
      // As the document's description says: an unknown path answers 404, a method the path
      // does not list 405, each with the Error body.
      const expected = route ? 405 : 404;
      if (status !== expected) return [`${method} ${path} is not documented, and answered ${status}, not ${expected}`];
      return this.problems('#/components/schemas/Error', body);
    }
    const response = operation.responses[String(status)];
    if (!response) return [`${method} ${path} answered ${status}, which the document does not list (${Object.keys(operation.responses).join(', ')})`];
    const ref = response.content?.['application/json'].schema.$ref;
    return ref ? this.problems(ref, body) : [];
  }

  /** The document's schema errors for a request body, or [] when it conforms. */
  requestProblems(method: string, path: string, body: unknown): string[] {
    const ref = this.document.paths[path]?.[method.toLowerCase()]?.requestBody?.content['application/json'].schema.$ref;
    if (!ref) return [`${method} ${path} documents no request body`];
    return this.problems(ref, body);
  }

  private problems(ref: string, body: unknown): string[] {
    const validate = this.validator(ref);
    return validate(body) ? [] : (validate.errors ?? []).map((e) => `${ref.split('/').pop()}${e.instancePath} ${e.message}`);
  }
}

export interface ServingStore {
  readonly store: LocalStore;
  readonly contract: OpenApiContract;
  /** Sets the runtime's clock to the suite's start time plus `shiftMs`. */
  setClock(shiftMs: number): void;
  /** Events into the stream as a producer sends them, then handled by the stream handler. */
  ingest(events: readonly Transaction[]): Promise<void>;
  /** One HTTP request; the response is checked against the OpenAPI document before it is returned. */
  call(method: string, path: string, body?: unknown, options?: CallOptions): Promise<Answer>;
  /** The typed client, signing as `caller` when given. */
  client(caller?: CallerName): TesseraClient;
}

/**
 * One local store per test file, started by the first test that asks (on the target named by
 * TESSERA_TARGET) and stopped after the file. The clock starts at the file's start time.
 */
export function useServingStore(options: Pick<LocalStoreOptions, 'registry'> = {}) {
  const target = useTarget();
  const run = randomUUID().slice(0, 8);
  const startedAt = Date.now();
  let shift = 0;
  let started: ServingStore | undefined;
  let clients: AwsClients | undefined;

  afterAll(async () => {
    await started?.store.stop();
    for (const client of Object.values(clients ?? {})) client.destroy();
  }, 60_000);

  const namesFor = (t: Target): ResourceNames => ({
    table: t.resources?.table ?? `tessera-serving-${run}`,
    bucket: t.resources?.bucket ?? `tessera-serving-${run}`,
    streams: { transactions: t.resources?.stream ?? `tessera-serving-${run}-transactions` },
  });

  async function start(t: Target): Promise<ServingStore> {
    const names = namesFor(t);
    const store = await startLocalStore({
      target: t,
      names,
      port: 0,
      poll: false,
      now: () => startedAt + shift,
      principals: PRINCIPALS,
      registry: options.registry ?? servingRegistry(),
      logLevel: 'ERROR',
      mapping: { retryBackoffMs: 0 },
    });
    clients = createClients(t);
    const document = (await (await fetch(`${store.url}/v1/openapi.json`)).json()) as OpenApiDocument;
    const contract = new OpenApiContract(document);
    const signers = new Map<CallerName, SignatureV4>();
    const signer = (caller: CallerName) => {
      let s = signers.get(caller);
      if (!s) {
        s = new SignatureV4({
          service: 'execute-api',
          region: t.region,
          credentials: { accessKeyId: CALLERS[caller].accessKeyId, secretAccessKey: SECRET },
          sha256: Sha256,
        });
        signers.set(caller, s);
      }
      return s;
    };

    return {
      store,
      contract,
      setClock(shiftMs) {
        shift = shiftMs;
      },
      async ingest(events) {
        const response = await (clients as AwsClients).kinesis.send(
          new PutRecordsCommand({
            StreamName: names.streams.transactions,
            Records: events.map((e) => ({ Data: Buffer.from(JSON.stringify(e)), PartitionKey: e.user_id })),
          }),
        );
        expect(response.FailedRecordCount ?? 0).toBe(0);
        await store.poller.drain();
      },
      async call(method, path, body, callOptions = {}) {
        const url = new URL(path, store.url);
        const payload = callOptions.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
        let headers: Record<string, string> = { host: url.host, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) };
        if (callOptions.as) {
          const signed = await signer(callOptions.as).sign({
            method,
            protocol: url.protocol,
            hostname: url.hostname,
            port: Number(url.port),
            path: url.pathname,
            headers,
            ...(payload !== undefined ? { body: payload } : {}),
          });
          headers = signed.headers as Record<string, string>;
        }
        const { host: _host, ...sendable } = headers;
        const began = performance.now();
        const response = await fetch(url, { method, headers: sendable, ...(payload !== undefined ? { body: payload } : {}) });
        const answer: Answer = {
          status: response.status,
          body: await response.json(),
          requestId: response.headers.get('x-amzn-requestid'),
          ms: performance.now() - began,
        };
        expect(
          contract.responseProblems(method, url.pathname, answer.status, answer.body),
          `${method} ${url.pathname} ${answer.status} against the OpenAPI document`,
        ).toEqual([]);
        return answer;
      },
      client(caller) {
        return new TesseraClient({
          url: store.url,
          ...(caller ? { signing: { region: t.region, credentials: { accessKeyId: CALLERS[caller].accessKeyId, secretAccessKey: SECRET } } } : {}),
        });
      },
    };
  }

  let starting: Promise<ServingStore> | undefined;
  return {
    /** The store of this file, started on first use; skips the test when the target is unavailable. */
    setUp(ctx: TestContext): Promise<ServingStore> {
      const t = target.require(ctx);
      starting ??= start(t).then((s) => {
        started = s;
        return s;
      });
      return starting;
    },
    startedAt,
  };
}

let serial = 0;
/** A valid card transaction of `userId`, a minute before the suite's start unless overridden. */
export function transaction(userId: string, at: number, overrides: Partial<Transaction> = {}): Transaction {
  serial += 1;
  return {
    event_id: `serving-${userId}-${serial}-${randomUUID().slice(0, 6)}`,
    user_id: userId,
    merchant_id: 'm0007',
    amount: 100,
    currency: 'EUR',
    lat: 52.52,
    lon: 13.405,
    ts: at - 60_000,
    ...overrides,
  };
}

/** The answer is the documented error body, with this status and code; returns the error. */
export function expectError(answer: Answer, status: number, code: string): ErrorBody['error'] {
  expect({ status: answer.status, code: (answer.body as ErrorBody).error?.code }).toEqual({ status, code });
  const { error } = answer.body as ErrorBody;
  expect(Object.keys(answer.body as object)).toEqual(['error']);
  expect(error).toMatchObject({ message: expect.stringMatching(/\S/), requestId: answer.requestId });
  return error;
}
