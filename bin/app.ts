/**
 * The CDK app: the composition root of `cdk synth` / `cdk deploy`. It loads the definitions
 * repo (features/), validates it into a registry — a bad definition fails the synth with
 * the definition's name — and reads deployment choices from CDK context once:
 *
 *   -c tessera:stackName=Tessera
 *   -c tessera:invokerRoleArns=arn:aws:iam::123456789012:role/SageMakerExecution,...
 *   -c tessera:trainingRoleArns=arn:aws:iam::123456789012:role/DataScientist,...
 *   -c tessera:backfillReadLocations=s3://landing-bucket/exports/,...
 */
import { App } from 'aws-cdk-lib';
import { Registry } from '../lambdas/core/registry.js';
import { addFeatureStore } from '../lib/app.js';

/** A context list: a JSON array in cdk.json, or a comma-separated string from `-c`. */
function list(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string') return [];
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

const app = new App();
addFeatureStore(app, {
  registry: Registry.fromModule(await import('../features/index.js')),
  stackId: (app.node.tryGetContext('tessera:stackName') as string | undefined) ?? 'Tessera',
  invokerRoleArns: list(app.node.tryGetContext('tessera:invokerRoleArns')),
  trainingRoleArns: list(app.node.tryGetContext('tessera:trainingRoleArns')),
  backfillReadLocations: list(app.node.tryGetContext('tessera:backfillReadLocations')),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});

app.synth();
