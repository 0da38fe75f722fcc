/**
 * The pipeline's freshness metrics, as CloudWatch embedded metric format (EMF) through
 * Powertools Metrics: per view and applied batch, `EventToServableLagP50` / `…P99`
 * (milliseconds) and `LastUpdateAge` (milliseconds from the newest event applied to the
 * write), with the dimension `view`, namespace `Tessera`. An alarm per declared freshness
 * objective watches the p99 (lib/constructs/monitoring.ts).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { freshnessByView, type TimedRow } from '../core/freshness.js';
import type { FreshnessRecorder } from './ports.js';

export const FRESHNESS_NAMESPACE = 'Tessera';
export const FRESHNESS_METRICS = { lagP50: 'EventToServableLagP50', lagP99: 'EventToServableLagP99', lastUpdateAge: 'LastUpdateAge' } as const;

export class EmfFreshnessRecorder implements FreshnessRecorder {
  constructor(private readonly metrics: Metrics = new Metrics({ namespace: FRESHNESS_NAMESPACE, serviceName: 'tessera' })) {}

  record(rows: readonly TimedRow[]): void {
    for (const stats of freshnessByView(rows)) {
      // One EMF document per view: publishing clears the view dimension for the next.
      this.metrics.addDimension('view', stats.view);
      this.metrics.addMetric(FRESHNESS_METRICS.lagP50, MetricUnit.Milliseconds, stats.lagP50Ms);
      this.metrics.addMetric(FRESHNESS_METRICS.lagP99, MetricUnit.Milliseconds, stats.lagP99Ms);
      this.metrics.addMetric(FRESHNESS_METRICS.lastUpdateAge, MetricUnit.Milliseconds, Math.max(0, stats.lastIngestTs - stats.newestEventTs));
      this.metrics.publishStoredMetrics();
    }
  }
}
