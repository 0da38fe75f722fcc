/**
 * The online store's rules without DynamoDB: items in a Map, each group write applied as the
 * DynamoDB adapter applies it (every tier it returns, in order). For unit tests of the rules
 * and for benchmarks' baselines; the adapter itself is tested against the emulators.
 */
import type { OnlineStore } from '../../lambdas/adapters/ports.js';
import type { FeatureView } from '../../lambdas/core/definitions.js';
import type { ViewRow } from '../../lambdas/core/ingest.js';
import { applyToGroup, groupKey, type OnlineGroup, onlineGroups, type PositionedRow, type TierItem, tierKeys } from '../../lambdas/core/online.js';

export class MemoryOnlineStore implements OnlineStore {
  readonly items = new Map<string, TierItem>();

  async read(pks: readonly string[]): Promise<Map<string, TierItem>> {
    return new Map(pks.flatMap((pk) => (this.items.has(pk) ? [[pk, this.items.get(pk) as TierItem] as const] : [])));
  }

  async apply(group: OnlineGroup, rowsByEntity: ReadonlyMap<string, readonly PositionedRow[]>, now: number): Promise<string[]> {
    for (const [entityId, rows] of rowsByEntity) this.applyEntity(group, entityId, rows, now);
    return [];
  }

  /** Applies rows of one entity of a group; returns how many were new. */
  applyEntity(group: OnlineGroup, entityId: string, rows: readonly PositionedRow[], now: number): number {
    const keys = tierKeys(group, entityId);
    const write = applyToGroup(
      group,
      groupKey(group, entityId),
      keys.map((k) => this.items.get(k)),
      rows,
      now,
    );
    for (const item of write.tiers) if (item) this.items.set(item.pk, item);
    return write.applied;
  }

  /** Applies view rows (of any groups) at `now`, each at its own position in partition `partition`. */
  applyRows(views: ReadonlyMap<string, FeatureView>, rows: readonly (ViewRow & { offset?: number })[], now: number, partition = 'p'): number {
    const groups = onlineGroups(views);
    const byItem = new Map<string, { group: OnlineGroup; entityId: string; rows: PositionedRow[] }>();
    rows.forEach((row, i) => {
      const group = groups.get(row.view) as OnlineGroup;
      const key = groupKey(group, row.entityId);
      const entry = byItem.get(key) ?? { group, entityId: row.entityId, rows: [] };
      byItem.set(key, entry);
      entry.rows.push({ row, partition, offset: String(row.offset ?? i + 1) });
    });
    let applied = 0;
    for (const { group, entityId, rows: r } of byItem.values()) applied += this.applyEntity(group, entityId, r, now);
    return applied;
  }

  /** The tiers of one view's group for an entity, as a read would return them. */
  tiersOf(views: ReadonlyMap<string, FeatureView>, view: string, entityId: string): (TierItem | undefined)[] {
    return tierKeys(onlineGroups(views).get(view) as OnlineGroup, entityId).map((k) => this.items.get(k));
  }
}
