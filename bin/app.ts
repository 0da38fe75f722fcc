/**
 * The CDK app: the composition root of `cdk synth` / `cdk deploy`. It loads the definitions
 * repo (features/), validates it into a registry — a bad definition fails the synth with
 * the definition's name — and reads deployment choices from CDK context once
 * (lib/app.ts `propsFromContext`; README "Deploy" lists every key), e.g.
 *
 *   -c tessera:stackName=TesseraB
 *   -c tessera:invokerRoleArns=arn:aws:iam::123456789012:role/SageMakerExecution,...
 *   -c tessera:alarmEmails=oncall@example.com
 */
import { App } from 'aws-cdk-lib';
import { Registry } from '../lambdas/core/registry.js';
import { addFeatureStore, propsFromContext } from '../lib/app.js';

const app = new App();
addFeatureStore(app, {
  registry: Registry.fromModule(await import('../features/index.js')),
  ...propsFromContext((key) => app.node.tryGetContext(key)),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});

app.synth();
