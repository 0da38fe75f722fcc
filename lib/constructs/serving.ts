/**
 * Serving: the serve handler behind a REST API. Every route requires IAM (SigV4) auth, and
 * reading and writing are granted apart, per method and path: readers get the read routes
 * through `grantInvoke` (the handler then checks each caller against the feature service it
 * asks for), writers get `POST /v1/push` through `grantPush` (the handler then checks the
 * caller against the source's writers). Stage access logs record the caller's ARN.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { environmentFor } from '../../lambdas/core/deployment.js';
import { type FunctionSettings, HandlerFunction, handlerEntry } from './handler-function.js';
import type { Ingestion } from './ingestion.js';
import type { OnlineStore } from './online-store.js';

/** The API's routes, each a read or a write; the serve handler routes on the same method and path. */
export const ROUTES = [
  { method: 'POST', path: '/v1/features', access: 'read' },
  { method: 'POST', path: '/v1/push', access: 'write' },
  { method: 'GET', path: '/v1/catalog', access: 'read' },
  // The catalog as a web page (core/catalog-page.ts), behind the same IAM auth.
  { method: 'GET', path: '/catalog', access: 'read' },
  { method: 'GET', path: '/v1/health', access: 'read' },
  { method: 'GET', path: '/v1/openapi.json', access: 'read' },
  // Feast's HTTP feature server route, so Feast clients can call Tessera unchanged.
  { method: 'POST', path: '/get-online-features', access: 'read' },
] as const;

export type RouteAccess = (typeof ROUTES)[number]['access'];

/** The serve handler reads items in one BatchGetItem per request (lambdas/adapters/online-store.ts). */
export const SERVE_TABLE_ACTIONS = ['BatchGetItem'] as const;

export interface ServingProps {
  readonly ingestion: Ingestion;
  readonly onlineStore: OnlineStore;
  /** @default `lambdas/handlers/serve.ts` */
  readonly entry?: string;
  /** The stage, the first path segment of the API URL. @default 'prod' */
  readonly stageName?: string;
  /** Steady-state requests per second across the stage. @default 1000 */
  readonly throttlingRateLimit?: number;
  /** Requests admitted in a burst above the rate. @default 2000 */
  readonly throttlingBurstLimit?: number;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly accessLogRetention?: logs.RetentionDays;
  /**
   * Create the account-wide role API Gateway needs to write logs, and register it in the
   * account's API Gateway settings (replacing the one registered there; it is kept when the
   * stack goes). Only for an account that has none: a stage with logging cannot be created
   * in such an account.
   * @default false: the account's registered role is used
   */
  readonly cloudWatchRole?: boolean;
  /**
   * Concurrency reserved for the serve handler: serving keeps this much however busy the
   * background jobs are, and never takes more. `false` reserves none. Lambda keeps 100 of
   * the account's concurrency unreserved, so the account limit must exceed this by 100.
   * @default 100
   */
  readonly reservedConcurrency?: number | false;
  /** What happens to the access logs (the audit trail) when they leave the stack. @default RemovalPolicy.RETAIN */
  readonly accessLogsRemovalPolicy?: RemovalPolicy;
  /** Tracing and log retention of the handler. @default HandlerFunction's defaults */
  readonly functionSettings?: FunctionSettings;
}

export class Serving extends Construct {
  readonly api: apigateway.RestApi;
  readonly serveHandler: NodejsFunction;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ServingProps) {
    super(scope, id);
    const { ingestion, onlineStore } = props;

    this.serveHandler = new HandlerFunction(this, 'ServeHandler', {
      ...props.functionSettings,
      ...(props.reservedConcurrency === false ? {} : { reservedConcurrentExecutions: props.reservedConcurrency ?? 100 }),
      entry: props.entry ?? handlerEntry('serve'),
      description: 'Tessera: serves feature vectors and accepts pushed events',
      timeout: Duration.seconds(10),
      // The serve handler reads the table and the streams only (core/deployment.ts `readServeConfig`).
      environment: environmentFor({ tableName: onlineStore.table.tableName, streams: ingestion.streamNamesJson() }),
    }).function;
    onlineStore.grant(this.serveHandler, ...SERVE_TABLE_ACTIONS);
    ingestion.grantPutRecords(this.serveHandler);

    // Access logs are the audit trail of who read which features: kept when the stack goes.
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: props.accessLogsRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    const cloudWatchRole = props.cloudWatchRole ?? false;
    this.api = new apigateway.RestApi(this, 'Api', {
      // API Gateway metrics are keyed by API name: unique per stack, so two stores never share alarms.
      restApiName: `${Stack.of(this).stackName}-serving`,
      description: 'Tessera feature store: online features, push, catalog',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      cloudWatchRole,
      defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
      deployOptions: {
        stageName: props.stageName ?? 'prod',
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigateway.AccessLogField.contextRequestId(),
            requestTime: apigateway.AccessLogField.contextRequestTimeEpoch(),
            httpMethod: apigateway.AccessLogField.contextHttpMethod(),
            resourcePath: apigateway.AccessLogField.contextResourcePath(),
            status: apigateway.AccessLogField.contextStatus(),
            protocol: apigateway.AccessLogField.contextProtocol(),
            responseLength: apigateway.AccessLogField.contextResponseLength(),
            responseLatency: apigateway.AccessLogField.contextResponseLatency(),
            integrationLatency: apigateway.AccessLogField.contextIntegrationLatency(),
            sourceIp: apigateway.AccessLogField.contextIdentitySourceIp(),
            caller: apigateway.AccessLogField.contextIdentityCaller(),
            userArn: apigateway.AccessLogField.contextIdentityUserArn(),
            error: apigateway.AccessLogField.contextErrorMessage(),
          }),
        ),
        throttlingRateLimit: props.throttlingRateLimit ?? 1000,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 2000,
        metricsEnabled: true,
        tracingEnabled: true,
        // Errors only, and never request bodies: entity keys and features may be personal data.
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
      },
    });

    // The stack outputs the URL as ApiUrl; RestApi's own generated output would duplicate it.
    this.api.node.tryRemoveChild('Endpoint');

    // The handler validates bodies against the definitions' own schemas (one source of
    // truth); the gateway validator rejects requests missing declared parameters early.
    const requestValidator = this.api.addRequestValidator('RequestValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const integration = new apigateway.LambdaIntegration(this.serveHandler, {
      // One permission for the whole API instead of two per route.
      scopePermissionToMethod: false,
    });
    for (const route of ROUTES) {
      this.api.root.resourceForPath(route.path).addMethod(route.method, integration, {
        authorizationType: apigateway.AuthorizationType.IAM,
        requestValidator,
      });
    }

    Validations.of(this.api).acknowledge(
      {
        id: 'AwsSolutions-COG4',
        reason: 'Callers are IAM principals (SageMaker roles, services) signing with SigV4; every method uses AWS_IAM authorization.',
      },
      {
        id: 'AwsSolutions-APIG3',
        reason:
          'IAM-authorized API for service callers: unsigned requests are rejected before they cost anything; stage throttling bounds the rest. Associate a WAF web ACL where the account policy requires one.',
      },
    );
    if (cloudWatchRole) {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: 'The account-level API Gateway logging role uses the AWS managed policy AWS documents for it; it only writes CloudWatch Logs.',
      });
    }
  }

  /** The base URL of the stage, e.g. `https://<id>.execute-api.<region>.amazonaws.com/prod/`. */
  get url(): string {
    return this.api.url;
  }

  /** Lets `grantee` call the read routes of the API (features, catalog, health, OpenAPI) with SigV4, and nothing else. */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return this.grantRoutes(grantee, 'read');
  }

  /** Lets `grantee` push events (`POST /v1/push`) with SigV4, and nothing else. */
  grantPush(grantee: iam.IGrantable): iam.Grant {
    return this.grantRoutes(grantee, 'write');
  }

  private grantRoutes(grantee: iam.IGrantable, access: RouteAccess): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: ROUTES.filter((route) => route.access === access).map((route) =>
        this.api.arnForExecuteApi(route.method, route.path, this.api.deploymentStage.stageName),
      ),
    });
  }
}
