/**
 * The audit trail of feature reads: who (principal) read which features (pii marked) of how
 * many entities through which service, with what outcome, in which request. One entry per
 * read request on either read route, allowed or refused. Entity keys are NOT recorded: the
 * trail answers "who read user_location" without becoming personal data itself (and without
 * surviving an erasure).
 *
 * An entry travels as one structured log line `{"message":"feature read","audit":{…}}`:
 * deployed, a CloudWatch Logs subscription hands those lines to Firehose, which writes them as
 * JSON lines under `audit/date=YYYY-MM-DD/` (a Glue table over them answers Athena); local
 * mode writes the same lines there itself. `auditQuerySql` is the one query both engines run.
 */
import { parseDuration } from './duration.js';
import { ValidationError } from './errors.js';

export const AUDIT_PREFIX = 'audit/';
/** The log message of an audit line; the subscription filter selects lines by it. */
export const AUDIT_LOG_MESSAGE = 'feature read';
/** The Glue table over the audit rows, in the store's Glue database. */
export const AUDIT_TABLE = 'audit_log';

export interface AuditEntry {
  /** Epoch milliseconds. */
  readonly ts: number;
  readonly request_id: string;
  /** The caller's IAM principal ARN; null when the request was not signed (local mode). */
  readonly principal: string | null;
  /** The route read: `/v1/features` or `/get-online-features`. */
  readonly route: string;
  /** The feature service asked for; null for a plain feature list or an unparseable request. */
  readonly service: string | null;
  /** Every feature requested (`view:feature`); empty when the request could not be planned. */
  readonly features: readonly string[];
  /** The pii features among them. */
  readonly pii_features: readonly string[];
  readonly entity_count: number;
  /** The HTTP status answered: 200, or the refusal (400, 403, 404, 413, 503…). */
  readonly status: number;
}

/** What one audit line (and one JSON-lines row) holds; extra keys a logger adds are ignored by every reader. */
export interface AuditLine {
  readonly message: typeof AUDIT_LOG_MESSAGE;
  readonly audit: AuditEntry;
}

export const auditLine = (entry: AuditEntry): AuditLine => ({ message: AUDIT_LOG_MESSAGE, audit: entry });

export const auditDate = (ts: number): string => new Date(ts).toISOString().slice(0, 10);

/** Where a batch of audit lines first recorded at `ts` is written (local mode; Firehose names its own objects). */
export const auditObjectKey = (ts: number, name: string): string => `${AUDIT_PREFIX}date=${auditDate(ts)}/${name}.jsonl`;

/** The Glue columns of an audit row (Hive DDL types); `date` is the partition. */
export const AUDIT_COLUMNS: readonly { name: string; type: string }[] = [
  { name: 'message', type: 'string' },
  {
    name: 'audit',
    type: 'struct<ts:bigint,request_id:string,principal:string,route:string,service:string,features:array<string>,pii_features:array<string>,entity_count:int,status:int>',
  },
];

export interface AuditQuery {
  /** Reads of any of these features (`view:feature`). @default any feature */
  readonly features?: readonly string[];
  readonly principal?: string;
  readonly service?: string;
  /** Only reads since this time (epoch ms). */
  readonly since: number;
  /** @default 1000 */
  readonly limit?: number;
}

const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/**
 * The reads matching `query`, newest first, as portable SQL (Athena/Trino and DuckDB alike):
 * struct fields by dot, `contains` over the features array, the partition pruned by date.
 */
export function auditQuerySql(table: string, query: AuditQuery): string {
  const where = [`"date" >= ${literal(auditDate(query.since))}`, `audit.ts >= ${Math.floor(query.since)}`, `message = ${literal(AUDIT_LOG_MESSAGE)}`];
  if (query.features?.length) where.push(`(${query.features.map((f) => `contains(audit.features, ${literal(f)})`).join(' OR ')})`);
  if (query.principal !== undefined) where.push(`audit.principal = ${literal(query.principal)}`);
  if (query.service !== undefined) where.push(`audit.service = ${literal(query.service)}`);
  return [
    'SELECT audit.ts AS ts, audit.request_id AS request_id, audit.principal AS principal, audit.route AS route, audit.service AS service,',
    '  audit.features AS features, audit.pii_features AS pii_features, audit.entity_count AS entity_count, audit.status AS status',
    `FROM ${table}`,
    `WHERE ${where.join('\n  AND ')}`,
    `ORDER BY audit.ts DESC, audit.request_id`,
    `LIMIT ${query.limit ?? 1000}`,
  ].join('\n');
}

/** `7d`, `12h`, `30m` before `now`, or an ISO-8601 time / epoch ms: the start of an audit query. */
export function sinceOf(text: string, now: number): number {
  if (/^\d+$/.test(text)) return Number(text);
  const duration = parseDuration(text);
  if (duration !== undefined) return now - duration;
  const at = Date.parse(text);
  if (Number.isNaN(at)) throw new ValidationError(`--since: "${text}" is neither a duration (7d, 12h) nor a time`);
  return at;
}

/** What a read request got as far as: planned (its service, features and entity rows), or not even that. */
export interface PlannedRead {
  readonly service: string | null;
  readonly features: readonly { readonly ref: string; readonly pii: boolean }[];
  readonly entityCount: number;
}

export interface ReadOutcome {
  readonly ts: number;
  readonly requestId: string;
  readonly principal: string | null;
  readonly route: string;
  readonly status: number;
  /** Absent when the request was refused before it could be planned (bad JSON, unknown service). */
  readonly planned?: PlannedRead;
}

export function readAuditEntry(read: ReadOutcome): AuditEntry {
  const features = read.planned?.features ?? [];
  return {
    ts: read.ts,
    request_id: read.requestId,
    principal: read.principal,
    route: read.route,
    service: read.planned?.service ?? null,
    features: features.map((f) => f.ref),
    pii_features: features.filter((f) => f.pii).map((f) => f.ref),
    entity_count: read.planned?.entityCount ?? 0,
    status: read.status,
  };
}
