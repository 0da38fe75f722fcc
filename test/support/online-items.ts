/**
 * Reading the online store the way tests need to: the item keys of a view's entity, and the
 * latest row of a view as stored.
 */
import type { OnlineStore } from '../../lambdas/adapters/ports.js';
import { encodeEntityId } from '../../lambdas/core/entity-key.js';
import { groupKey, type LatestRow, type OnlineGroup, onlineGroups, type TierItem, tierKeys } from '../../lambdas/core/online.js';
import type { Registry } from '../../lambdas/core/registry.js';

const groupOf = (registry: Registry, view: string): OnlineGroup => {
  const group = onlineGroups(registry.views).get(view);
  if (!group) throw new Error(`no view ${view}`);
  return group;
};

/** The key of the hot item holding `view` for the entity with these join key values. */
export const hotKey = (registry: Registry, view: string, ...keys: (string | number)[]): string => groupKey(groupOf(registry, view), encodeEntityId(keys));

/** The tiers of `view`'s group for an entity, as stored (undefined where no item). */
export async function tiersOf(online: OnlineStore, registry: Registry, view: string, ...keys: (string | number)[]): Promise<(TierItem | undefined)[]> {
  const pks = tierKeys(groupOf(registry, view), encodeEntityId(keys));
  const items = await online.read(pks);
  return pks.map((pk) => items.get(pk));
}

/** The latest row of a view stored for an entity. */
export async function latestOf(online: OnlineStore, registry: Registry, view: string, ...keys: (string | number)[]): Promise<LatestRow | undefined> {
  const [hot] = await tiersOf(online, registry, view, ...keys);
  return hot?.latest?.[view];
}
