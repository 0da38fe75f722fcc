/**
 * The SQL the monitoring commands send to the offline store parses with a Trino grammar (what
 * Athena runs) as well as running on DuckDB in the integration tests: the drift profiles and
 * the advisor's write counts use only arithmetic, casts and aggregates both engines share.
 */

import sqlParser from 'node-sql-parser';
import { describe, expect, it } from 'vitest';
import * as definitions from '../../features/index.js';
import { profileSql } from '../../lambdas/core/drift.js';
import { Registry } from '../../lambdas/core/registry.js';
import { writeCountSql } from '../../tools/staleness-advisor.js';

const parser = new sqlParser.Parser();
const trino = (sql: string) => parser.astify(sql, { database: 'trino' });
const registry = Registry.fromModule(definitions);

describe('the monitoring SQL', () => {
  it('parses with the Trino grammar: daily profiles of numbers and of text', () => {
    expect(() => trino(profileSql('"tessera"."user_txn_stats"', '"amount_usd"', '"event_ts"', true))).not.toThrow();
    expect(() => trino(profileSql('"tessera"."user_last_txn"', '"currency"', '"event_ts"', false))).not.toThrow();
  });

  it('parses with the Trino grammar: the advisor’s count of batch writes per lag', () => {
    const view = registry.views.get('user_merchant_last_txn');
    if (!view) throw new Error('the demo has a two-key view');
    expect(() => trino(writeCountSql('tessera', view, [300_000, 3_600_000], { min: 1, max: 2 }))).not.toThrow();
  });
});
