/**
 * A Tessera handler as a Lambda function: the TypeScript entry under `lambdas/handlers/`
 * bundled by the local esbuild (never Docker) into one minified file, with its own log group.
 * Every handler is built the same way so that what runs in Lambda is what the tests ran.
 */

import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV, SERVICE_NAME } from '../../lambdas/core/deployment.js';
import { LAZY_CREDENTIAL_PROVIDERS } from './bundling.js';

/** The repository root: bundling resolves entries and node_modules from here. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const HANDLER_TSCONFIG = fileURLToPath(new URL('../handler.tsconfig.json', import.meta.url));

/** A handler entry file, e.g. `handlerEntry('stream')` → `<root>/lambdas/handlers/stream.ts`. */
export const handlerEntry = (name: string): string => fileURLToPath(new URL(`../../lambdas/handlers/${name}.ts`, import.meta.url));

export interface HandlerFunctionProps {
  /** Absolute path of the TypeScript entry; it exports `handler`. */
  readonly entry: string;
  /** Shown in the Lambda console next to the generated function name. */
  readonly description: string;
  /** @default 1024 MB */
  readonly memorySize?: number;
  readonly timeout: Duration;
  /** The handler's configuration, read once at cold start; service name and source maps are added. */
  readonly environment: Readonly<Record<string, string>>;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Active X-Ray tracing. @default false */
  readonly tracing?: boolean;
  /** Concurrency reserved for (and capping) this function. @default none: the account's unreserved pool */
  readonly reservedConcurrentExecutions?: number;
  /** Where asynchronous invocations go after their last failed attempt. @default none */
  readonly deadLetterQueue?: sqs.IQueue;
}

/** What the stack sets alike on every function. */
export type FunctionSettings = Pick<HandlerFunctionProps, 'tracing' | 'logRetention'>;

export class HandlerFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: logs.LogGroup;
  /** The function's role: its own log group and what the constructs grant it, nothing else. */
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      // Log lines are operational, not records of truth; they go with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Instead of AWSLambdaBasicExecutionRole (logs on every log group of the account): the
    // function writes to its own log group, which exists before it runs, and to no other.
    this.role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }));
    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      environment: {
        [ENV.serviceName]: SERVICE_NAME,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      role: this.role,
      ...(props.tracing ? { tracing: lambda.Tracing.ACTIVE } : {}),
      ...(props.reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions } : {}),
      ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue } : {}),
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      bundling: {
        forceDockerBundling: false,
        // parquetjs-lite's generated Thrift code assigns undeclared globals (`Statistics = ...`),
        // which throws at load time in strict mode. An ES module is strict throughout, and so is
        // a CommonJS bundle that starts with "use strict", which esbuild writes when tsconfig
        // says alwaysStrict (implied by strict). So: CommonJS, with a tsconfig that turns it off.
        format: OutputFormat.CJS,
        tsconfig: HANDLER_TSCONFIG,
        target: 'node22',
        minify: true,
        sourceMap: true,
        // Stack traces need file and line only; embedded sources would double the asset.
        sourcesContent: false,
        // Pin the SDK we test with instead of whatever version the runtime ships.
        bundleAwsSDK: true,
        // On-demand credential providers stay out of the bundle (see bundling.ts).
        externalModules: [...LAZY_CREDENTIAL_PROVIDERS],
        mainFields: ['module', 'main'],
      },
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to nodejs22.x, the runtime the bundles target (esbuild target node22) and the handlers are tested on; runtime and target move together.',
    });
    if (props.tracing) {
      Validations.of(this.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords have no resource-level permissions, so IAM only accepts "*".',
      });
    }
  }
}
