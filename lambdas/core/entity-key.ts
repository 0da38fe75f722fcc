/**
 * Entity keys: the values of a view's join keys, encoded into one string that is unambiguous
 * for composite keys — ("1","23") and ("12","3") never meet — and readable in the table.
 */
import type { FeatureView } from './definitions.js';
import { ValidationError } from './errors.js';

export type EntityRow = Readonly<Record<string, unknown>>;

export function encodeEntityId(values: readonly (string | number)[]): string {
  return values.map((value) => encodeURIComponent(String(value))).join('|');
}

/** The entity id of a view for an event or request row, or a ValidationError naming the missing key. */
export function entityIdOf(view: FeatureView, row: EntityRow): string {
  const values = view.entities.map((entity) => {
    const value = row[entity.joinKey];
    const ok = entity.keyType === 'int' ? Number.isSafeInteger(value) : typeof value === 'string' && value.length > 0;
    if (!ok) {
      throw new ValidationError(`"${entity.joinKey}" must be ${entity.keyType === 'int' ? 'an integer' : 'a non-empty string'}`, {
        field: entity.joinKey,
      });
    }
    return value as string | number;
  });
  return encodeEntityId(values);
}

/** The online table's partition key of one (view, entity). */
export const itemKey = (view: string, entityId: string): string => `${view}#${entityId}`;
