/**
 * The audit trail's pieces without a store: the structured log line (always written, at any
 * log level), the entry of a refused read, the audit query as Trino parses it, `--since`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import pkg from 'node-sql-parser';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogAuditTrail } from '../../lambdas/adapters/audit-trail.js';
import { AUDIT_TABLE, auditQuerySql, readAuditEntry, sinceOf } from '../../lambdas/core/audit.js';

const parser = new pkg.Parser();
const trino = (sql: string) => parser.astify(sql, { database: 'trino' });

afterEach(() => vi.restoreAllMocks());

describe('audit entries', () => {
  it('are one structured log line "feature read" even when the handler logs only errors', () => {
    // Prepare
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    const trail = new LogAuditTrail(new Logger({ serviceName: 'tessera', logLevel: 'ERROR' }));
    const entry = readAuditEntry({
      ts: 1_767_225_600_000,
      requestId: 'req-1',
      principal: 'arn:aws:sts::123456789012:assumed-role/fraud-scorer/s1',
      route: '/v1/features',
      status: 200,
      planned: {
        service: 'fraud_v1',
        features: [
          { ref: 'user_location:lat', pii: true },
          { ref: 'user_last_txn:amount_usd', pii: false },
        ],
        entityCount: 3,
      },
    });

    // Act
    trail.record(entry);

    // Assess
    const lines = written.join('').trim().split('\n');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] ?? '');
    expect(line).toMatchObject({ level: 'INFO', message: 'feature read', service: 'tessera' });
    expect(line.audit).toEqual({
      ts: 1_767_225_600_000,
      request_id: 'req-1',
      principal: 'arn:aws:sts::123456789012:assumed-role/fraud-scorer/s1',
      route: '/v1/features',
      service: 'fraud_v1',
      features: ['user_location:lat', 'user_last_txn:amount_usd'],
      pii_features: ['user_location:lat'],
      entity_count: 3,
      status: 200,
    });
  });

  it('of a read refused before planning name no features and no entities, and keep the status', () => {
    expect(readAuditEntry({ ts: 1, requestId: 'r', principal: null, route: '/get-online-features', status: 400 })).toEqual({
      ts: 1,
      request_id: 'r',
      principal: null,
      route: '/get-online-features',
      service: null,
      features: [],
      pii_features: [],
      entity_count: 0,
      status: 400,
    });
  });
});

describe('the audit query', () => {
  it('parses with the Trino grammar (Athena engine v3) and prunes partitions by date', () => {
    const sql = auditQuerySql(AUDIT_TABLE, {
      since: Date.UTC(2026, 11, 1, 12),
      features: ['user_location:lat', "o'brien:x"],
      principal: 'arn:aws:iam::1:role/r',
      service: 'fraud_v1',
    });
    expect(() => trino(sql)).not.toThrow();
    expect(sql).toContain(`"date" >= '2026-12-01'`);
    expect(sql).toContain(`contains(audit.features, 'o''brien:x')`);
  });

  it('reads --since as a duration back from now, an ISO time or epoch ms, and refuses anything else', () => {
    const now = Date.UTC(2026, 11, 8);
    expect(sinceOf('7d', now)).toBe(Date.UTC(2026, 11, 1));
    expect(sinceOf('2026-12-01T00:00:00Z', now)).toBe(Date.UTC(2026, 11, 1));
    expect(sinceOf(String(Date.UTC(2026, 11, 1)), now)).toBe(Date.UTC(2026, 11, 1));
    expect(() => sinceOf('last week', now)).toThrow(/--since/);
  });
});
