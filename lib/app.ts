/**
 * Puts a feature store into a CDK app with the cdk-nag AwsSolutions pack registered as a
 * validation plugin, so every synth (`cdk synth`, `cdk deploy`, the infra tests) fails on an
 * unacknowledged finding. bin/app.ts and the tests build the app through this one function.
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FeatureStoreStack, type FeatureStoreStackProps } from './feature-store-stack.js';

export interface FeatureStoreAppProps extends FeatureStoreStackProps {
  /** @default 'Tessera' */
  readonly stackId?: string;
}

export function addFeatureStore(app: App, props: FeatureStoreAppProps): FeatureStoreStack {
  const { stackId = 'Tessera', ...stackProps } = props;
  const stack = new FeatureStoreStack(app, stackId, {
    description: 'Tessera: real-time serverless feature store',
    ...stackProps,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
