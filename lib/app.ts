/**
 * Puts a feature store into a CDK app with the cdk-nag AwsSolutions pack registered as a
 * validation plugin (once per app, however many stacks it holds), so every synth
 * (`cdk synth`, `cdk deploy`, the infra tests) fails on an unacknowledged finding.
 * bin/app.ts and the tests build the app through this one function, and read the
 * deployment choices from CDK context through `propsFromContext`.
 */
import { type App, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { DriftMonitoringSettings } from './constructs/drift-monitoring.js';
import { FeatureStoreStack, type FeatureStoreStackProps } from './feature-store-stack.js';

export interface FeatureStoreAppProps extends FeatureStoreStackProps {
  /** @default 'Tessera' */
  readonly stackId?: string;
}

const checkedApps = new WeakSet<App>();

export function addFeatureStore(app: App, props: FeatureStoreAppProps): FeatureStoreStack {
  const { stackId = 'Tessera', ...stackProps } = props;
  const stack = new FeatureStoreStack(app, stackId, {
    description: 'Tessera: real-time serverless feature store',
    ...stackProps,
  });
  if (!checkedApps.has(app)) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    checkedApps.add(app);
  }
  return stack;
}

/** Every context key the app reads; README "Deploy" documents each with an example. */
export const CONTEXT_KEYS = [
  'tessera:stackName',
  'tessera:invokerRoleArns',
  'tessera:writerRoleArns',
  'tessera:trainingRoleArns',
  'tessera:piiTrainingRoleArns',
  'tessera:backfillReadLocations',
  'tessera:retainData',
  'tessera:existingTableName',
  'tessera:existingBucketName',
  'tessera:existingStreamArns',
  'tessera:apiGatewayCloudWatchRole',
  'tessera:alarmTopicArn',
  'tessera:alarmEmails',
  'tessera:serveReservedConcurrency',
  'tessera:tracing',
  'tessera:logRetentionDays',
  'tessera:psiThresholds',
] as const;

export type ContextKey = (typeof CONTEXT_KEYS)[number];

/**
 * The stack's props from CDK context (`-c key=value` gives strings; cdk.json may give JSON
 * values). A malformed value fails the synth naming its key.
 */
export function propsFromContext(context: (key: ContextKey) => unknown): Omit<FeatureStoreAppProps, 'registry'> {
  const text = (key: ContextKey): string | undefined => {
    const value = context(key);
    return value === undefined || value === null || value === '' ? undefined : String(value);
  };
  const list = (key: ContextKey): string[] => {
    const value = context(key);
    if (Array.isArray(value)) return value.map(String);
    return (text(key) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  };
  const flag = (key: ContextKey): boolean | undefined => {
    const value = text(key);
    if (value === undefined) return undefined;
    if (value !== 'true' && value !== 'false') throw new Error(`${key}: "${value}" is not true or false`);
    return value === 'true';
  };
  const positive = (key: ContextKey): number | undefined => {
    const value = text(key);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${key}: "${value}" is not a positive integer`);
    return n;
  };
  const streamArns = Object.fromEntries(
    list('tessera:existingStreamArns').map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`tessera:existingStreamArns: "${pair}" is not source=arn`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  const concurrency = text('tessera:serveReservedConcurrency');
  const existing = {
    ...(text('tessera:existingTableName') ? { tableName: text('tessera:existingTableName') } : {}),
    ...(text('tessera:existingBucketName') ? { bucketName: text('tessera:existingBucketName') } : {}),
    ...(Object.keys(streamArns).length ? { streamArns } : {}),
  };
  const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return defined({
    stackId: text('tessera:stackName') ?? 'Tessera',
    invokerRoleArns: list('tessera:invokerRoleArns'),
    writerRoleArns: list('tessera:writerRoleArns'),
    trainingRoleArns: list('tessera:trainingRoleArns'),
    piiTrainingRoleArns: list('tessera:piiTrainingRoleArns'),
    backfillReadLocations: list('tessera:backfillReadLocations'),
    retainData: flag('tessera:retainData'),
    existing,
    apiGatewayCloudWatchRole: flag('tessera:apiGatewayCloudWatchRole'),
    alarmTopicArn: text('tessera:alarmTopicArn'),
    alarmEmails: list('tessera:alarmEmails'),
    serveReservedConcurrency: concurrency === 'none' ? false : positive('tessera:serveReservedConcurrency'),
    tracing: flag('tessera:tracing'),
    logRetention: retentionDays(positive('tessera:logRetentionDays')),
    driftMonitoring: psiThresholds(list('tessera:psiThresholds')),
  });
}

/** `0.25,fraud_v1=0.1`: a bare number is every service's PSI threshold, `service=number` one service's. */
function psiThresholds(items: readonly string[]): DriftMonitoringSettings | undefined {
  if (items.length === 0) return undefined;
  const number = (text: string) => {
    const n = Number(text);
    if (text === '' || !Number.isFinite(n) || n <= 0) throw new Error(`tessera:psiThresholds: "${text}" is not a positive number`);
    return n;
  };
  const byService = Object.fromEntries(items.filter((i) => i.includes('=')).map((i) => [i.slice(0, i.indexOf('=')), number(i.slice(i.indexOf('=') + 1))]));
  const bare = items.filter((i) => !i.includes('='));
  if (bare.length > 1) throw new Error(`tessera:psiThresholds: more than one default (${bare.join(', ')})`);
  return {
    ...(bare[0] !== undefined ? { psiThreshold: number(bare[0]) } : {}),
    ...(Object.keys(byService).length ? { psiThresholdByService: byService } : {}),
  };
}

/** A number of days CloudWatch Logs accepts as a retention (1, 3, 5, 7, 14, 30, …). */
function retentionDays(days: number | undefined): logs.RetentionDays | undefined {
  if (days === undefined) return undefined;
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number' && v > 0);
  if (!allowed.includes(days)) throw new Error(`tessera:logRetentionDays: ${days} is not one of ${allowed.sort((a, b) => a - b).join(', ')}`);
  return days as logs.RetentionDays;
}
