/**
 * Offline compaction: merges the small objects of each (view, hour) partition into one and
 * drops copies of events. Safe to run twice and beside writers and other compactions:
 * - the merged object is named by its inputs (core/offline.ts `planCompaction`), so runs that
 *   saw the same objects write the same object, and a partition already compacted is left be;
 * - the merged object is written before any input is deleted, so a reader sees every row
 *   at every moment (perhaps twice for a moment: the query drops copies);
 * - objects newer than `minAgeMs` are skipped, and inputs are read and deleted only while
 *   their ETag is the one listed (adapters/offline-objects.ts), so a batch rewriting its
 *   object is never lost.
 */
import type { OfflineObjects } from '../adapters/ports.js';
import type { FeatureView } from '../core/definitions.js';
import { COMPACTION_DEFAULTS } from '../core/deployment.js';
import { type CompactionOptions, type CompactionTask, compactRows, planCompaction } from '../core/offline.js';
import type { Registry } from '../core/registry.js';

export interface CompactionReport {
  readonly partitions: number;
  readonly objectsRead: number;
  readonly rowsRead: number;
  readonly rowsWritten: number;
  /** Partitions left for the next run: the deadline came, or an input changed under us. */
  readonly skipped: number;
}

export class OfflineCompactor {
  private readonly options: CompactionOptions;

  constructor(
    private readonly objects: OfflineObjects,
    private readonly registry: Registry,
    options: Partial<CompactionOptions> = {},
  ) {
    this.options = { minAgeMs: COMPACTION_DEFAULTS.minAgeMs, maxInputs: COMPACTION_DEFAULTS.maxInputs, ...options };
  }

  /** Compacts what is due at `now`, stopping before `deadline` (epoch ms) when given. */
  async run(now: number, deadline?: number, clock: () => number = () => now): Promise<CompactionReport> {
    const tasks = planCompaction(await this.objects.list(), new Set(this.registry.views.keys()), now, this.options);
    let partitions = 0;
    let objectsRead = 0;
    let rowsRead = 0;
    let rowsWritten = 0;
    let skipped = 0;
    for (const task of tasks) {
      if (deadline !== undefined && clock() >= deadline) {
        skipped++;
        continue;
      }
      const done = await this.compact(this.registry.views.get(task.view) as FeatureView, task);
      if (!done) {
        skipped++;
        continue;
      }
      partitions++;
      objectsRead += task.inputs.length;
      rowsRead += done.rowsRead;
      rowsWritten += done.rowsWritten;
    }
    return { partitions, objectsRead, rowsRead, rowsWritten, skipped };
  }

  /** One partition; undefined when an input changed since it was listed (left for the next run). */
  private async compact(view: FeatureView, task: CompactionTask): Promise<{ rowsRead: number; rowsWritten: number } | undefined> {
    const read = await Promise.all(task.inputs.map((input) => this.objects.read(view, input)));
    if (read.some((rows) => rows === undefined)) return undefined;
    const rows = read.flat() as NonNullable<(typeof read)[number]>;
    const merged = compactRows(rows);
    await this.objects.write(view, task.output, merged);
    for (const input of task.inputs) {
      if (input.key !== task.output) await this.objects.deleteIfUnchanged(input);
    }
    return { rowsRead: rows.length, rowsWritten: merged.length };
  }
}
