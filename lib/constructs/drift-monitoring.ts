/**
 * Drift monitoring: the daily profile job (lambdas/handlers/profile.ts) on an EventBridge
 * schedule — by default at 00:30 UTC, for the day that just ended — and one alarm per feature
 * service on the largest PSI of its features against the seven days before (EMF metric
 * `Tessera/MaxFeaturePsi`), plus one on the job failing. The function may run read-only
 * Athena queries over the services' views and write objects under `profiles/`, nothing else.
 */

import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DEFAULT_PSI_THRESHOLD } from '../../lambdas/app/profile-job.js';
import { BUCKET_PREFIX, environmentFor } from '../../lambdas/core/deployment.js';
import { DRIFT_METRICS, DRIFT_NAMESPACE } from '../../lambdas/core/drift.js';
import type { Registry } from '../../lambdas/core/registry.js';
import { type FunctionSettings, HandlerFunction, handlerEntry } from './handler-function.js';
import { acknowledgeObjectPrefixes } from './offline-store.js';
import type { Training } from './training.js';

/** The settings a stack passes through (FeatureStoreStackProps.driftMonitoring). */
export interface DriftMonitoringSettings {
  /** @default every day at 00:30 UTC */
  readonly schedule?: events.Schedule;
  /** PSI of a feature above which its service's alarm fires. @default 0.2 */
  readonly psiThreshold?: number;
  /** Thresholds of particular services, by service name. @default psiThreshold for every service */
  readonly psiThresholdByService?: Readonly<Record<string, number>>;
  /** Days before the profiled day merged into its reference. @default 7 */
  readonly referenceDays?: number;
}

export interface DriftMonitoringProps extends DriftMonitoringSettings {
  readonly registry: Registry;
  /** The offline store's bucket: profiles go under `profiles/`. */
  readonly bucket: s3.IBucket;
  /** The Glue database and Athena workgroup the job queries in. */
  readonly training: Training;
  /** Where the alarms notify. @default none */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];
  /** @default Duration.minutes(15) */
  readonly timeout?: Duration;
  /** Tracing and log retention. @default HandlerFunction's defaults */
  readonly functionSettings?: FunctionSettings;
}

export class DriftMonitoring extends Construct {
  readonly handler: NodejsFunction;
  readonly rule: events.Rule;
  /** One per feature service, by service name. */
  readonly psiAlarms = new Map<string, cloudwatch.Alarm>();
  readonly errorAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: DriftMonitoringProps) {
    super(scope, id);
    const unknown = Object.keys(props.psiThresholdByService ?? {}).filter((s) => !props.registry.services.has(s));
    if (unknown.length) throw new Error(`psiThresholdByService: no feature service named ${unknown.join(', ')}`);
    this.handler = new HandlerFunction(this, 'Handler', {
      ...props.functionSettings,
      entry: handlerEntry('profile'),
      description: "Tessera: daily profiles of each feature service's features and their drift (PSI)",
      timeout: props.timeout ?? Duration.minutes(15),
      environment: environmentFor({
        bucket: props.bucket.bucketName,
        glueDatabase: props.training.databaseName,
        athenaWorkgroup: props.training.workgroupName,
        profileReferenceDays: props.referenceDays ?? 7,
      }),
    }).function;

    const views = [...new Set([...props.registry.services.keys()].flatMap((s) => props.registry.servicePlan(s).views.map(({ view }) => view.name)))];
    props.training.grantSelect(this.handler, views);
    iam.Grant.addToPrincipal({ grantee: this.handler, actions: ['s3:PutObject'], resourceArns: [props.bucket.arnForObjects(`${BUCKET_PREFIX.profiles}*`)] });
    acknowledgeObjectPrefixes(
      this.handler,
      props.bucket,
      [BUCKET_PREFIX.profiles],
      () => 'The job writes one object per service and day under profiles/: a key prefix is the narrowest scope S3 offers.',
    );

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Tessera: daily feature profiles and drift',
      schedule: props.schedule ?? events.Schedule.cron({ minute: '30', hour: '0' }),
      // A run that failed is retried once; a later one can redo any day with {"date": "YYYY-MM-DD"}.
      targets: [new targets.LambdaFunction(this.handler, { retryAttempts: 1, maxEventAge: Duration.hours(6) })],
    });

    const period = Duration.days(1);
    const alarm = (alarmId: string, metric: cloudwatch.Metric, threshold: number, description: string) => {
      const created = metric.createAlarm(this, alarmId, {
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        // A day without a reading (no traffic, no reference yet) is not drift.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      for (const action of props.alarmActions ?? []) created.addAlarmAction(action);
      return created;
    };
    for (const service of props.registry.services.keys()) {
      const threshold = props.psiThresholdByService?.[service] ?? props.psiThreshold ?? DEFAULT_PSI_THRESHOLD;
      const metric = new cloudwatch.Metric({
        namespace: DRIFT_NAMESPACE,
        metricName: DRIFT_METRICS.maxFeaturePsi,
        dimensionsMap: { service: 'tessera', featureService: service },
        period,
        statistic: cloudwatch.Stats.MAXIMUM,
      });
      const description = `A feature of ${service} drifted: its PSI against the ${props.referenceDays ?? 7} days before passed ${threshold}. FeaturePsi (by feature) says which; the day's profiles are under ${BUCKET_PREFIX.profiles}${service}/.`;
      this.psiAlarms.set(service, alarm(`Psi-${service}`, metric, threshold, description));
    }
    this.errorAlarm = alarm(
      'ProfileJobErrors',
      this.handler.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
      0,
      'The daily profile job failed: no profiles and no drift reading for the day. Redo it with {"date": "YYYY-MM-DD"} once fixed.',
    );
  }
}
