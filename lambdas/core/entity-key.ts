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

/** The name of a view's online group: its source and join keys (online.ts stores a group's views together). */
export const groupName = (view: FeatureView): string => `${view.source.name}:${view.entities.map((e) => e.joinKey).join('+')}`;

/** The partition key of the hot item holding `view` for an entity; the tiers below it append `#1`, `#2`. */
export const itemKey = (view: FeatureView, entityId: string): string => `${groupName(view)}#${entityId}`;

/** DynamoDB's limit on a partition key, in UTF-8 bytes. */
export const PARTITION_KEY_MAX_BYTES = 2048;
/** What the online item layout may append to `itemKey` (a suffix of at most this many bytes). */
export const ITEM_KEY_SUFFIX_MAX_BYTES = 32;
/** The longest `itemKey(view, entityId)` accepted, in UTF-8 bytes: every item of it, suffix included, fits DynamoDB's key. */
export const MAX_ITEM_KEY_BYTES = PARTITION_KEY_MAX_BYTES - ITEM_KEY_SUFFIX_MAX_BYTES;

const utf8 = new TextEncoder();

/** Why the item key of (view, entity) cannot be stored, or undefined when it can. Join keys are URI-encoded into it, so non-ASCII counts up to 9 bytes a character. */
export function itemKeyProblem(view: FeatureView, entityId: string): string | undefined {
  const bytes = utf8.encode(itemKey(view, entityId)).length;
  if (bytes <= MAX_ITEM_KEY_BYTES) return undefined;
  return `the join key values of feature view "${view.name}" make an online key of ${bytes} bytes; at most ${MAX_ITEM_KEY_BYTES} fit (DynamoDB allows ${PARTITION_KEY_MAX_BYTES} bytes a partition key)`;
}
