/**
 * Monitoring: one dashboard and the few alarms an operator acts on — the stream handler
 * failing or falling behind (features go stale), the serving path failing or slowing down
 * (inference callers feel it), and the background jobs failing: batch runs and backfill
 * chunks (files not applied) and compaction (the offline store fills with small files).
 */
import { Duration } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface MonitoringProps {
  readonly streamHandler: lambda.IFunction;
  readonly serveHandler: lambda.IFunction;
  /** The streams by source name. */
  readonly streams: ReadonlyMap<string, kinesis.IStream>;
  readonly api: apigateway.RestApi;
  /** @default no batch alarms */
  readonly batchHandler?: lambda.IFunction;
  /** Where backfill chunks go after their last failed attempt. @default no alarm */
  readonly backfillDeadLetterQueue?: sqs.IQueue;
  /** @default no compaction alarm */
  readonly compactionHandler?: lambda.IFunction;
  /** Where compaction runs go after their last failed attempt. @default no alarm */
  readonly compactionDeadLetterQueue?: sqs.IQueue;
  /** Where erasure chunks go after their last failed attempt. @default no alarm */
  readonly erasureDeadLetterQueue?: sqs.IQueue;
  /** The raw archive's Firehose delivery stream names, by source. @default no archive alarms */
  readonly rawArchiveStreams?: ReadonlyMap<string, string>;
  /** Age of the oldest record not yet archived that raises the alarm. @default Duration.minutes(30) */
  readonly maxArchiveFreshness?: Duration;
  /** Where alarms notify, e.g. an SNS topic action. @default none: alarms show on the dashboard only */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];
  /** Oldest unread record that raises the alarm. @default Duration.minutes(5) */
  readonly maxIteratorAge?: Duration;
  /** Share of API requests answered 5XX that raises the alarm. @default 0.01 (1 %) */
  readonly max5xxRate?: number;
  /** API p99 latency that raises the alarm. @default Duration.millis(500) */
  readonly maxP99Latency?: Duration;
  /** Freshness objectives by view (`freshness` in the definitions): an alarm each on the p99 event → servable lag. @default none */
  readonly freshnessObjectives?: ReadonlyMap<string, Duration>;
}

export class Monitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    const alarm = (alarmId: string, metric: cloudwatch.Metric, threshold: number, description: string, evaluationPeriods = 1) => {
      const created = metric.createAlarm(this, alarmId, {
        threshold,
        evaluationPeriods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        // No traffic is not a failure.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      for (const action of props.alarmActions ?? []) created.addAlarmAction(action);
      this.alarms.push(created);
      return created;
    };

    const streamErrors = props.streamHandler.metricErrors({ period, statistic: cloudwatch.Stats.SUM });
    alarm(
      'StreamHandlerErrors',
      streamErrors,
      0,
      'The stream handler failed whole batches: they are retried, then kept under aws/lambda/ in the offline bucket.',
    );

    const maxAge = props.maxIteratorAge ?? Duration.minutes(5);
    const iteratorAges = [...props.streams].map(([source, stream]) => {
      const metric = stream.metricGetRecordsIteratorAgeMilliseconds({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM });
      alarm(
        `IteratorAge-${source}`,
        metric,
        maxAge.toMilliseconds(),
        `Records of ${source} wait more than ${maxAge.toHumanString()} to be read: online features are going stale.`,
        5,
      );
      return metric.with({ label: source });
    });

    // EMF from the pipeline (lambdas/adapters/freshness-metrics.ts): Powertools adds the service dimension.
    for (const [view, objective] of props.freshnessObjectives ?? []) {
      const lag = new cloudwatch.Metric({
        namespace: 'Tessera',
        metricName: 'EventToServableLagP99',
        dimensionsMap: { service: 'tessera', view },
        period,
        statistic: cloudwatch.Stats.MAXIMUM,
      });
      alarm(
        `Freshness-${view}`,
        lag,
        objective.toMilliseconds(),
        `Events of ${view} take longer than its freshness objective (${objective.toHumanString()}) to be servable.`,
      );
    }

    const serveErrors = props.serveHandler.metricErrors({ period, statistic: cloudwatch.Stats.SUM });
    alarm('ServeHandlerErrors', serveErrors, 0, 'The serve handler crashed on requests (answered 5XX).');

    // The 5XXError metric is 0 or 1 per request, so its average is the error rate.
    const api5xxRate = props.api.metricServerError({ period, statistic: cloudwatch.Stats.AVERAGE });
    alarm('Api5xxRate', api5xxRate, props.max5xxRate ?? 0.01, 'More than the allowed share of API requests failed with 5XX.');

    const maxLatency = props.maxP99Latency ?? Duration.millis(500);
    const apiP99 = props.api.metricLatency({ period, statistic: cloudwatch.Stats.p(99) });
    alarm('ApiP99Latency', apiP99, maxLatency.toMilliseconds(), `API p99 latency is above ${maxLatency.toHumanString()}.`, 3);

    const jobWidgets: cloudwatch.IWidget[] = [];
    if (props.batchHandler) {
      const batchErrors = props.batchHandler.metricErrors({ period, statistic: cloudwatch.Stats.SUM });
      alarm(
        'BatchHandlerErrors',
        batchErrors,
        0,
        'The batch handler failed a scheduled run or a backfill invocation (chunks it fails are retried from the backfill queue).',
      );
      jobWidgets.push(new cloudwatch.GraphWidget({ title: 'Batch handler errors', left: [batchErrors], width: 8 }));
    }
    if (props.backfillDeadLetterQueue) {
      const deadLetters = props.backfillDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM });
      alarm(
        'BackfillDeadLetters',
        deadLetters,
        0,
        'Backfill chunks (files) failed every attempt and wait in the dead-letter queue: their rows are not in the stores. Fix the cause, then redrive the queue.',
      );
      jobWidgets.push(new cloudwatch.GraphWidget({ title: 'Backfill chunks in the dead-letter queue', left: [deadLetters], width: 8 }));
    }
    if (props.compactionHandler) {
      // Compaction runs hourly: an hour-long period keeps a failed run in alarm until the next one.
      const compactionErrors = props.compactionHandler.metricErrors({ period: Duration.hours(1), statistic: cloudwatch.Stats.SUM });
      alarm('CompactionErrors', compactionErrors, 0, 'Offline compaction failed; small Parquet objects pile up and training-set queries slow down.');
      jobWidgets.push(new cloudwatch.GraphWidget({ title: 'Compaction errors', left: [compactionErrors], width: 8 }));
    }
    if (props.compactionDeadLetterQueue) {
      alarm(
        'CompactionDeadLetters',
        props.compactionDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM }),
        0,
        'A compaction run failed every attempt and waits in its dead-letter queue; the next hourly run retries the same partitions.',
      );
    }
    if (props.erasureDeadLetterQueue) {
      alarm(
        'ErasureDeadLetters',
        props.erasureDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM }),
        0,
        'An erasure chunk failed every attempt: part of an erasure request is not done. Fix the cause, then run tessera erase again (a re-run only removes what is left).',
      );
    }
    const maxFreshness = props.maxArchiveFreshness ?? Duration.minutes(30);
    for (const [source, deliveryStreamName] of props.rawArchiveStreams ?? []) {
      alarm(
        `RawArchiveFreshness-${source}`,
        new cloudwatch.Metric({
          namespace: 'AWS/Firehose',
          metricName: 'DeliveryToS3.DataFreshness',
          dimensionsMap: { DeliveryStreamName: deliveryStreamName },
          period,
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        maxFreshness.toSeconds(),
        `Events of ${source} wait more than ${maxFreshness.toHumanString()} to reach raw/${source}/: the raw archive (what backfills replay) is falling behind or failing.`,
      );
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new cloudwatch.GraphWidget({ title: 'Stream handler errors', left: [streamErrors], width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Kinesis iterator age (ms)', left: iteratorAges, width: 8 }),
          new cloudwatch.GraphWidget({
            title: 'Stream handler duration (ms)',
            left: [props.streamHandler.metricDuration({ period, statistic: cloudwatch.Stats.p(99) })],
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'API requests', left: [props.api.metricCount({ period, statistic: cloudwatch.Stats.SUM })], width: 8 }),
          new cloudwatch.GraphWidget({ title: 'API 5XX rate', left: [api5xxRate], right: [serveErrors], width: 8 }),
          new cloudwatch.GraphWidget({ title: 'API p99 latency (ms)', left: [apiP99], width: 8 }),
        ],
        ...(jobWidgets.length ? [jobWidgets] : []),
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 })],
      ],
    });
  }
}
