/**
 * Builds and synthesizes the feature store app the way `cdk synth` does — cdk.json's
 * feature flags, the cdk-nag plugin, real esbuild bundling — for a small registry of two
 * stream sources and two scheduled batch sources (one in another bucket, one in the store's
 * own). Synthesis bundles every handler, so each test file synthesizes once (in `beforeAll`)
 * and every test reads the same template.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { z } from 'zod';
import { batchSource, entity, featureView, streamSource } from '../../lambdas/core/definitions.js';
import { Registry } from '../../lambdas/core/registry.js';
import { addFeatureStore, type FeatureStoreAppProps } from '../../lib/app.js';
import type { FeatureStoreStack } from '../../lib/feature-store-stack.js';

export const ACCOUNT = '123456789012';
export const INVOKER_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/service-role/SageMakerExecutionRole`;
export const TRAINING_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/DataScientist`;

const user = entity({ name: 'user', joinKey: 'user_id' });
const schema = z.object({ event_id: z.string(), user_id: z.string(), amount: z.number(), ts: z.number() });
const source = (name: string, streamName?: string) =>
  streamSource({ name, schema, eventTimeField: 'ts', eventIdField: 'event_id', ...(streamName ? { streamName } : {}) });
export const clicks = source('clicks');
export const cardPayments = source('card_payments', 'acme-card-payments');
/** Files in another account's bucket, every six hours. */
export const paymentExports = batchSource({
  name: 'payment_exports',
  schema,
  eventTimeField: 'ts',
  eventIdField: 'event_id',
  location: 's3://acme-exports/payments/',
  format: 'parquet',
  schedule: 'rate(6 hours)',
});
/** Files dropped into the store's own bucket, nightly. */
export const manualImports = batchSource({
  name: 'manual_imports',
  schema,
  eventTimeField: 'ts',
  eventIdField: 'event_id',
  location: 'imports/manual/',
  format: 'csv',
  schedule: 'cron(0 3 * * ? *)',
});
const view = (name: string, from: ReturnType<typeof source> | typeof paymentExports) =>
  featureView({ name, entities: [user], source: from, features: { amount: 'float' }, ttl: '7d', owner: 'infra-tests', description: name });

export const testRegistry = (): Registry =>
  new Registry([
    user,
    clicks,
    cardPayments,
    paymentExports,
    manualImports,
    view('user_clicks', clicks),
    view('user_payments', cardPayments),
    view('user_exports', paymentExports),
    view('user_imports', manualImports),
  ]);

/** cdk.json's context: the feature flags `cdk synth` runs with. */
export const cdkJsonContext = (): Record<string, unknown> => JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;

export interface Built {
  readonly app: App;
  readonly stack: FeatureStoreStack;
  /** The cloud assembly directory. */
  readonly outdir: string;
  /** Removes the cloud assembly directory. */
  readonly cleanup: () => void;
}

export interface Synthesized extends Built {
  readonly template: Template;
}

/** Context that skips esbuild: assets become empty placeholders. */
export const WITHOUT_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

export interface BuildOptions {
  readonly props?: Partial<FeatureStoreAppProps>;
  /** Run esbuild as `cdk synth` does. Tests that only read templates turn it off. @default true */
  readonly bundle?: boolean;
  /**
   * aws-cdk-lib's built-in CloudFormation template validation (a WASM engine, ~3 s to start).
   * It runs at every `cdk synth`; one test file keeping it on is enough. @default true
   */
  readonly cloudFormationValidation?: boolean;
}

/** The app as bin/app.ts builds it, not yet synthesized, in a temporary output directory. */
export function buildApp(options: BuildOptions = {}): Built {
  const outdir = mkdtempSync(join(tmpdir(), 'tessera-infra-'));
  const app = new App({
    outdir,
    context: { ...cdkJsonContext(), ...(options.bundle === false ? WITHOUT_BUNDLING : {}) },
    builtinCloudFormationValidation: options.cloudFormationValidation ?? true,
  });
  const cleanup = () => rmSync(outdir, { recursive: true, force: true });
  try {
    const stack = addFeatureStore(app, {
      registry: testRegistry(),
      invokerRoleArns: [INVOKER_ROLE_ARN],
      trainingRoleArns: [TRAINING_ROLE_ARN],
      env: { account: ACCOUNT, region: 'eu-west-1' },
      ...options.props,
    });
    return { app, stack, outdir, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

/** Builds and synthesizes the app; throws if cdk-nag reports an unacknowledged finding. */
export function synthesize(options: BuildOptions = {}): Synthesized {
  const built = buildApp(options);
  try {
    built.app.synth();
  } catch (error) {
    built.cleanup();
    throw error;
  }
  return { ...built, template: Template.fromStack(built.stack) };
}

/** The logical id of the one resource of `type` whose logical id starts with `prefix`. */
export function logicalId(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one ${type} with logical id ${prefix}*, found ${ids.join(', ') || 'none'}`);
  return ids[0] as string;
}
