/**
 * The generated SQL as text: it parses with a Trino grammar (what Athena engine v3 runs), it
 * prunes partitions by the labels' time range, it uses epoch-millisecond integer arithmetic,
 * and it refuses what it cannot answer with a message a user can act on.
 */
import sqlParser from 'node-sql-parser';
import { describe, expect, it } from 'vitest';
import * as demo from '../../features/index.js';
import { ValidationError } from '../../lambdas/core/errors.js';
import { eventTimeBounds, type PointInTimeQuery, partitionRange, pointInTimeSql } from '../../lambdas/core/point-in-time.js';
import { Registry } from '../../lambdas/core/registry.js';
import { byMerchant, byUser, DATABASE, LABEL_COLUMNS, LABELS_TABLE, plan, TS } from './pit-fixtures.js';

const parser = new sqlParser.Parser();
const trino = (sql: string) => parser.astify(sql, { database: 'trino' });

const T = Date.UTC(2024, 5, 1, 12, 0, 0);
const labels = { table: { database: DATABASE, table: LABELS_TABLE }, columns: LABEL_COLUMNS, timestampColumn: TS };
const query = (more: Partial<PointInTimeQuery> = {}): PointInTimeQuery => ({ plan, labels, database: DATABASE, ...more });

describe('point-in-time SQL text', () => {
  const variants: [string, PointInTimeQuery][] = [
    ['all views, no pruning', query()],
    ['all views, pruned', query({ timeRange: { min: T - 3_600_000, max: T } })],
    ['as served, pruned', query({ asServed: true, timeRange: { min: T, max: T } })],
  ];
  for (const [name, q] of variants) {
    it(`parses with the Trino grammar: ${name}`, () => {
      expect(() => trino(pointInTimeSql(q))).not.toThrow();
    });
  }

  it('parses with the Trino grammar for the demo services without windowed aggregations', () => {
    const registry = Registry.fromModule(demo);
    const refs = ['user_last_txn:amount_usd', 'user_location:lat', 'merchant_last_txn:currency', 'user_merchant_last_txn:amount_usd', 'txn_risk:amount_ratio'];
    const demoPlan = registry.plan(refs);
    const columns = ['user_id', 'merchant_id', 'event_timestamp', 'amount', 'currency', 'lat', 'lon', 'is_fraud'];
    const sql = pointInTimeSql({
      plan: demoPlan,
      labels: { table: { database: 'tessera', table: 'tessera_labels_x' }, columns, timestampColumn: 'event_timestamp' },
      database: 'tessera',
      asServed: true,
      timeRange: { min: T - 86_400_000, max: T },
    });
    expect(() => trino(sql)).not.toThrow();
    // On-demand inputs are read even when not requested themselves; the on-demand feature is computed afterwards.
    expect(sql).toContain('AS "user_location__lon"');
    expect(sql).not.toContain('txn_risk');
  });

  it('the grammar check has teeth: malformed SQL does not parse', () => {
    expect(() => trino(pointInTimeSql(query()).replace('SELECT', 'SELEC'))).toThrow();
  });

  it('compares epoch milliseconds with integer arithmetic: t - ttl as a BIGINT literal', () => {
    for (const sql of [pointInTimeSql(query()), pointInTimeSql(query({ asServed: true }))]) {
      expect(sql).toMatch(/("__event_ts"|"r"\."event_ts") > ("__ts"|"q"\."event_timestamp") - 86400000\b/); // by_merchant, 1d
      expect(sql).toMatch(/("__event_ts"|"r"\."event_ts") > ("__ts"|"q"\."event_timestamp") - 1000\b/); // by_pair, 1s
      expect(sql).not.toMatch(/from_unixtime|to_timestamp|epoch_ms|interval/i);
    }
  });

  it('prunes partitions to (min - ttl, max] of the label times; without a TTL only from above', () => {
    const sql = pointInTimeSql(query({ timeRange: { min: Date.UTC(2024, 5, 1, 0, 30), max: Date.UTC(2024, 5, 3, 7, 15) } }));
    expect(sql).toContain(`"date" <= '2024-06-03'`);
    expect(sql).toContain(`("date" < '2024-06-03' OR "hour" <= '07')`);
    // by_merchant (1d TTL): from 2024-05-31T00:30 + 1 ms
    expect(sql).toContain(`"date" >= '2024-05-31'`);
    expect(sql).toContain(`("date" > '2024-05-31' OR "hour" >= '00')`);
    expect(partitionRange(eventTimeBounds(byUser, { min: T, max: T }))).toEqual({ to: { date: '2024-06-01', hour: '12' } });
    expect(partitionRange(eventTimeBounds(byMerchant, { min: T, max: T }))).toEqual({
      from: { date: '2024-05-31', hour: '12' },
      to: { date: '2024-06-01', hour: '12' },
    });
  });

  it('orders rows by when they were known and due only when as served', () => {
    const knownAt = 'CASE WHEN "ingest_ts" > "event_ts" THEN "ingest_ts" ELSE "event_ts" END AS "__ts"';
    expect(pointInTimeSql(query())).not.toContain(knownAt);
    expect(pointInTimeSql(query({ asServed: true }))).toContain(knownAt);
  });

  it('names output columns <view>__<feature>, after __row and the label columns', () => {
    const sql = pointInTimeSql(query());
    const select = sql.slice(sql.lastIndexOf('\nSELECT'));
    expect(select).toMatch(/^\nSELECT "l"."__row",\n {2}"l"."user_id",/);
    for (const column of ['by_user__x', 'by_user__s', 'by_pair__y', 'by_ints__z', 'by_ints__tags', 'by_merchant__w'])
      expect(select).toContain(`AS "${column}"`);
  });

  it('quotes identifiers, so reserved words and odd names are safe', () => {
    const sql = pointInTimeSql(query({ labels: { ...labels, columns: [...LABEL_COLUMNS, 'select', 'order'] } }));
    expect(sql).toContain('"l"."select"');
    expect(() => trino(sql)).not.toThrow();
  });

  it('refuses labels without a join key, without the time column, or with unportable column names', () => {
    const without = (name: string) => LABEL_COLUMNS.filter((c) => c !== name);
    expect(() => pointInTimeSql(query({ labels: { ...labels, columns: without('merchant_id') } }))).toThrow(/lack the join key\(s\) merchant_id/);
    expect(() => pointInTimeSql(query({ labels: { ...labels, columns: without(TS) } }))).toThrow(/no time column "event_timestamp"/);
    expect(() => pointInTimeSql(query({ labels: { ...labels, columns: [...LABEL_COLUMNS, 'Label'] } }))).toThrow(ValidationError);
    expect(() => pointInTimeSql(query({ labels: { ...labels, columns: [...LABEL_COLUMNS, 'by_user__x'] } }))).toThrow(/name of a feature column/);
  });

  it('computes the demo service, windowed aggregations included, in SQL that parses as Trino', () => {
    const registry = Registry.fromModule(demo);
    const demoPlan = registry.servicePlan('fraud_v1');
    const sql = pointInTimeSql({
      plan: demoPlan,
      labels: { table: { database: 'd', table: 'l' }, columns: [...demoPlan.joinKeys, 'event_timestamp'], timestampColumn: 'event_timestamp' },
      database: 'd',
      asServed: true,
      timeRange: { min: 1_767_225_600_000, max: 1_767_312_000_000 },
    });
    expect(sql).toContain('AS "user_txn_stats__amount_sum_1h"');
    expect(() => trino(sql)).not.toThrow();
  });
});
