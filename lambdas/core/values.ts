/** Feature types: checking a value against its declared type. */
import type { FeatureType } from './definitions.js';

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
