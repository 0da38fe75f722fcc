/** Feature types: checking a value against its declared type, and the type an aggregation yields. */
import type { FeatureType, OnDemandFeature, RequestContext, Row } from './definitions.js';

export const FEATURE_TYPES: readonly FeatureType[] = ['int', 'float', 'string', 'bool', 'int[]', 'float[]', 'string[]'];

function scalarMatches(type: string, value: unknown): boolean {
  switch (type) {
    case 'int':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'float':
      return typeof value === 'number' && Number.isFinite(value);
    case 'string':
      return typeof value === 'string';
    case 'bool':
      return typeof value === 'boolean';
    default:
      return false;
  }
}

/** null is a valid value of every type (a feature the event did not carry). */
export function valueMatches(type: FeatureType, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (type.endsWith('[]')) {
    const element = type.slice(0, -2);
    return Array.isArray(value) && value.every((item) => scalarMatches(element, item));
  }
  return scalarMatches(type, value);
}

/**
 * The outputs of an on-demand feature for one context — the one evaluator the serve handler
 * and the training-set builder share. An output that is not a value of its declared type
 * (Infinity or NaN for a number, a string for a float) is null: served as `missing`, null in
 * a training set — never a `null` reported as present.
 */
export function computeOnDemand(odfv: OnDemandFeature, context: RequestContext): Row {
  const computed = odfv.compute(context);
  return Object.fromEntries(
    Object.entries(odfv.features).map(([name, type]) => {
      const value = computed[name] ?? null;
      return [name, valueMatches(type, value) ? value : null];
    }),
  );
}
