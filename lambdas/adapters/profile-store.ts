/**
 * Where the daily profile job keeps its output: JSON lines in the store's bucket
 * (app/profile-job.ts names the keys), and its PSIs as CloudWatch EMF through Powertools
 * Metrics — `FeaturePsi` per (featureService, feature) and `MaxFeaturePsi` per featureService,
 * namespace `Tessera`; the stack alarms on the latter (lib/constructs/drift-monitoring.ts).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DRIFT_METRICS, DRIFT_NAMESPACE } from '../core/drift.js';
import type { ProfileSink, PsiRecorder } from './ports.js';

export class S3ProfileSink implements ProfileSink {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async write(key: string, lines: readonly string[]): Promise<void> {
    const body = lines.length ? `${lines.join('\n')}\n` : '';
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/x-ndjson' }));
  }
}

export class EmfPsiRecorder implements PsiRecorder {
  constructor(private readonly metrics: Metrics = new Metrics({ namespace: DRIFT_NAMESPACE, serviceName: 'tessera' })) {}

  record(service: string, psiByFeature: ReadonlyMap<string, number>): void {
    if (psiByFeature.size === 0) return;
    // One EMF document per metric and dimension set: publishing clears the dimensions for the next.
    for (const [feature, psi] of psiByFeature) {
      this.metrics.addDimensions({ featureService: service, feature });
      this.metrics.addMetric(DRIFT_METRICS.featurePsi, MetricUnit.NoUnit, psi);
      this.metrics.publishStoredMetrics();
    }
    this.metrics.addDimension('featureService', service);
    this.metrics.addMetric(DRIFT_METRICS.maxFeaturePsi, MetricUnit.NoUnit, Math.max(...psiByFeature.values()));
    this.metrics.publishStoredMetrics();
  }
}
