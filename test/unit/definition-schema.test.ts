/**
 * Definitions are checked against their schemas before anything runs: an unknown aggregation
 * function, a field a function does not take, a misspelt field or a wrong type is an error
 * naming the definition and what is allowed — at plan, at synth and when local mode loads them.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { definitionsReference, REFERENCE_END, REFERENCE_START } from '../../lambdas/core/definition-reference.js';
import { type Aggregation, type Definition, entity, featureService, featureView, streamSource } from '../../lambdas/core/definitions.js';
import { DefinitionError } from '../../lambdas/core/errors.js';
import { Registry } from '../../lambdas/core/registry.js';

const user = entity({ name: 'user', joinKey: 'user_id' });
const clicks = streamSource({
  name: 'clicks',
  schema: z.object({ id: z.string(), user_id: z.string(), ts: z.number(), dwell_ms: z.number() }),
  eventTimeField: 'ts',
  eventIdField: 'id',
});
const meta = { owner: 'team', description: 'test view' };
const viewWith = (aggregation: Record<string, unknown>) =>
  featureView({
    name: 'dwell',
    entities: [user],
    source: clicks,
    features: { dwell_ms: 'float' },
    aggregations: [aggregation as unknown as Aggregation],
    ...meta,
  });
const build = (...defs: Definition[]) => new Registry([user, clicks, ...defs]);
const problem = (build: () => unknown): string => {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(DefinitionError);
    return (error as Error).message;
  }
  throw new Error('the definitions were accepted');
};

describe('definitions are checked against their schemas', () => {
  it('refuses an unknown aggregation function, naming the view, the aggregation and every function there is', () => {
    const message = problem(() => build(viewWith({ name: 'dwell_median_1h', fn: 'median', column: 'dwell_ms', window: '1h' })));
    expect(message).toBe(
      'feature view "dwell": aggregation "dwell_median_1h": unknown function "median"; the functions are "count", "sum", "avg", "min", "max", "last", "last_n", "approx_distinct"',
    );
  });

  it('refuses a count with a column and an n, listing what a count takes', () => {
    const message = problem(() => build(viewWith({ name: 'clicks_1h', fn: 'count', column: 'dwell_ms', n: 3, window: '1h' })));
    expect(message).toBe('feature view "dwell": aggregation "clicks_1h": unknown fields "column", "n"; count takes "name", "fn", "window"');
  });

  it('refuses a last_n without its n and a sum without its column', () => {
    expect(problem(() => build(viewWith({ name: 'last_dwell', fn: 'last_n', column: 'dwell_ms', window: '1h' })))).toMatch(
      /feature view "dwell": aggregation "last_dwell": n: Invalid input: expected number/,
    );
    expect(problem(() => build(viewWith({ name: 'dwell_sum', fn: 'sum', window: '1h' })))).toMatch(
      /aggregation "dwell_sum": column: Invalid input: expected string/,
    );
  });

  it('refuses a misspelt field of a view, listing the fields a view takes', () => {
    const typo = { ...featureView({ name: 'dwell', entities: [user], source: clicks, features: { dwell_ms: 'float' }, ...meta }), tll: '30d' };
    expect(problem(() => build(typo as unknown as Definition))).toMatch(
      /^feature view "dwell": unknown field "tll"; allowed fields: "name", "entities", "source", "features", "transform", .*"ttl"/,
    );
  });

  it('refuses a feature type that does not exist, listing the types', () => {
    const view = featureView({ name: 'dwell', entities: [user], source: clicks, features: { dwell_ms: 'double' as 'float' }, ...meta });
    expect(problem(() => build(view))).toMatch(/feature view "dwell": features\.dwell_ms: Invalid option: expected one of "int"\|"float"\|"string"\|"bool"/);
  });

  it('refuses a service with a stray field and a source whose schema is not a zod object', () => {
    const view = featureView({ name: 'dwell', entities: [user], source: clicks, features: { dwell_ms: 'float' }, ...meta });
    const service = { ...featureService({ name: 'scores', features: [view], ...meta }), allowedPrincipal: ['arn:aws:iam::123456789012:role/x'] };
    expect(problem(() => build(view, service as unknown as Definition))).toMatch(
      /^feature service "scores": unknown field "allowedPrincipal"; allowed fields: .*"allowedPrincipals"/,
    );
    const loose = { ...clicks, name: 'loose', schema: { id: 'string' } };
    expect(() => new Registry([loose as unknown as Definition])).toThrow(/source "loose": schema: a zod object schema/);
  });
});

describe('the definitions reference', () => {
  it('in the README is the one generated from the schemas (npm run docs:definitions rewrites it)', () => {
    const readme = readFileSync('README.md', 'utf8');
    const start = readme.indexOf(REFERENCE_START);
    const end = readme.indexOf(REFERENCE_END);
    expect(start).toBeGreaterThan(0);
    expect(readme.slice(start, end + REFERENCE_END.length)).toBe(definitionsReference());
  });
});
