/**
 * Training: the query layer over the offline store. A Glue database with one table per
 * feature view over `offline/<view>/` — Parquet, columns and types from the definitions
 * (core/offline.ts, the same source the writers use), partition projection on date/hour so
 * no crawler and no partition maintenance — and an Athena workgroup (engine v3, enforced and
 * encrypted result location in the store's bucket, a bytes-scanned limit per query) in which
 * `tessera training-set` and the SDK run the point-in-time SQL. `grantQuery` gives a role
 * exactly what a training-set build needs.
 */
import { ArnFormat, Aws, Stack, Token, Validations } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { FeatureView } from '../../lambdas/core/definitions.js';
import { BUCKET_PREFIX } from '../../lambdas/core/deployment.js';
import { hiveType, OFFLINE_PREFIX, offlineColumns, PARTITION_COLUMNS } from '../../lambdas/core/offline.js';
import type { Registry } from '../../lambdas/core/registry.js';
import { acknowledgeObjectPrefixes } from './offline-store.js';

/** Which views a training role may read. */
export interface TrainingAccess {
  /** Also the views holding a pii feature. */
  readonly pii: boolean;
}

/** Labels tables live beside the view tables for the length of one build; their names start so. */
export const LABELS_TABLE_PREFIX = 'tessera_labels_';

export interface TrainingProps {
  /** The definitions: one Glue table per feature view. */
  readonly registry: Registry;
  /** The offline store's bucket: rows under `offline/`, Athena results under `resultsPrefix`. */
  readonly bucket: s3.IBucket;
  /** @default `tessera_<stack name>`, lower_snake_case */
  readonly databaseName?: string;
  /** @default `<stack name>-training` */
  readonly workgroupName?: string;
  /** Queries that would scan more are cancelled. @default 100 GiB */
  readonly bytesScannedCutoffPerQuery?: number;
  /** The first date partition projection enumerates; events before it are invisible to Athena. @default '2020-01-01' */
  readonly earliestEventDate?: string;
  /** Where Athena writes results (and training builds their labels). @default 'athena-results/' */
  readonly resultsPrefix?: string;
}

export class Training extends Construct {
  readonly databaseName: string;
  readonly workgroupName: string;
  readonly database: glue.CfnDatabase;
  /** The Glue table of each feature view, by view name. */
  readonly tables = new Map<string, glue.CfnTable>();
  readonly workgroup: athena.CfnWorkGroup;
  private readonly bucket: s3.IBucket;
  private readonly resultsPrefix: string;
  /** Views with a feature the registry marks pii (tagged, or derived from one where the registry says so). */
  private readonly piiViews: ReadonlySet<string>;

  constructor(scope: Construct, id: string, props: TrainingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.bucket = props.bucket;
    this.piiViews = piiViews(props.registry);
    this.resultsPrefix = props.resultsPrefix ?? BUCKET_PREFIX.athenaResults;
    this.databaseName = props.databaseName ?? `tessera_${stack.stackName.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`.slice(0, 255);
    this.workgroupName = props.workgroupName ?? `${stack.stackName}-training`;

    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: this.databaseName, description: 'Tessera offline store: one table per feature view (Parquet, partition projection)' },
    });

    const earliest = props.earliestEventDate ?? '2020-01-01';
    for (const view of props.registry.views.values()) {
      const location = `s3://${props.bucket.bucketName}/${OFFLINE_PREFIX}${view.name}/`;
      const table = new glue.CfnTable(this, `Table-${view.name}`, {
        catalogId: Aws.ACCOUNT_ID,
        databaseName: this.databaseName,
        tableInput: {
          name: view.name,
          description: view.description,
          tableType: 'EXTERNAL_TABLE',
          partitionKeys: PARTITION_COLUMNS.map((name) => ({ name, type: 'string' })),
          parameters: {
            classification: 'parquet',
            EXTERNAL: 'TRUE',
            'parquet.compression': 'SNAPPY',
            // Partition projection: Athena computes partitions from the query's predicates.
            'projection.enabled': 'true',
            'projection.date.type': 'date',
            'projection.date.format': 'yyyy-MM-dd',
            'projection.date.range': `${earliest},NOW`,
            'projection.date.interval': '1',
            'projection.date.interval.unit': 'DAYS',
            'projection.hour.type': 'integer',
            'projection.hour.range': '0,23',
            'projection.hour.digits': '2',
            'storage.location.template': `${location}date=\${date}/hour=\${hour}/`,
          },
          storageDescriptor: {
            location,
            columns: offlineColumns(view).map((c) => ({ name: c.name, type: hiveType(c.type) })),
            inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          },
        },
      });
      table.addResourceDependency(this.database, 'the table lives in the database');
      this.tables.set(view.name, table);
    }

    this.workgroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: this.workgroupName,
      description: 'Tessera training sets: point-in-time joins over the offline store',
      state: 'ENABLED',
      // Query history and results are not records of truth; let the stack delete them.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery ?? 100 * 1024 ** 3,
        publishCloudWatchMetricsEnabled: true,
        resultConfiguration: {
          outputLocation: `s3://${props.bucket.bucketName}/${this.resultsPrefix}`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });
  }

  /** An ARN in this stack's account and region, e.g. `arn('glue', 'table', 'db/name')`. */
  private arn(service: string, resource: string, resourceName?: string): string {
    return Stack.of(this).formatArn({ service, resource, ...(resourceName !== undefined ? { resourceName } : {}), arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  }

  /**
   * The views a role may train on: every view, or (`pii: false`) those without a pii feature
   * — a view is pii when the registry marks any of its features pii.
   */
  viewsFor(access: TrainingAccess): string[] {
    return [...this.tables.keys()].filter((view) => access.pii || !this.piiViews.has(view));
  }

  /**
   * What a training-set build needs, and no more: run queries in this workgroup; read the
   * tables and the offline rows of the views `access` allows (`offline/<view>/`); create,
   * read and drop its own labels tables; write, read and clean up under the results prefix.
   */
  grantQuery(grantee: iam.IGrantable, access: TrainingAccess = { pii: false }): iam.Grant {
    const db = this.databaseName;
    const views = this.viewsFor(access);
    const catalog = this.arn('glue', 'catalog');
    const database = this.arn('glue', 'database', db);
    const viewTables = views.map((name) => this.arn('glue', 'table', `${db}/${name}`));
    const labelsTables = this.arn('glue', 'table', `${db}/${LABELS_TABLE_PREFIX}*`);
    const viewPrefixes = views.map((view) => `${OFFLINE_PREFIX}${view}/`);
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution', 'athena:GetWorkGroup'],
      resourceArns: [this.arn('athena', 'workgroup', this.workgroupName)],
    });
    grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:GetPartition', 'glue:GetPartitions'],
        resourceArns: [catalog, database, ...viewTables, labelsTables],
      }),
    );
    grant.combine(iam.Grant.addToPrincipal({ grantee, actions: ['glue:CreateTable', 'glue:DeleteTable'], resourceArns: [catalog, database, labelsTables] }));
    grant.combine(this.grantViewRows(grantee, viewPrefixes));
    grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resourceArns: [this.bucket.arnForObjects(`${this.resultsPrefix}*`)],
      }),
    );
    this.acknowledgeWildcards(grantee, labelsTables, viewPrefixes);
    return grant;
  }

  /**
   * Read-only queries over `views` in this workgroup, results left in its location (read back
   * with GetQueryResults): what the daily profile job needs, and no more — no labels tables.
   */
  grantSelect(grantee: iam.IGrantable, views: readonly string[]): iam.Grant {
    const db = this.databaseName;
    const viewPrefixes = views.map((view) => `${OFFLINE_PREFIX}${view}/`);
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults'],
      resourceArns: [this.arn('athena', 'workgroup', this.workgroupName)],
    });
    grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['glue:GetDatabase', 'glue:GetTable'],
        resourceArns: [this.arn('glue', 'catalog'), this.arn('glue', 'database', db), ...views.map((name) => this.arn('glue', 'table', `${db}/${name}`))],
      }),
    );
    grant.combine(this.grantViewRows(grantee, viewPrefixes));
    grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
        resourceArns: [this.bucket.arnForObjects(`${this.resultsPrefix}*`)],
      }),
    );
    acknowledgeObjectPrefixes(
      grantee,
      this.bucket,
      [...viewPrefixes, this.resultsPrefix],
      () =>
        `Queries read the offline rows of the views they profile (${OFFLINE_PREFIX}<view>/*) and Athena writes their results under ${this.resultsPrefix}*: prefixes are the narrowest scopes S3 offers.`,
    );
    return grant;
  }

  /** What Athena reads as the caller for a query over these views: the bucket's location, listings of the views and results, the views' rows. */
  private grantViewRows(grantee: iam.IGrantable, viewPrefixes: readonly string[]): iam.Grant {
    const grant = iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetBucketLocation'], resourceArns: [this.bucket.bucketArn] });
    grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['s3:ListBucket'],
        resourceArns: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [...viewPrefixes, this.resultsPrefix].map((prefix) => `${prefix}*`) } },
      }),
    );
    if (viewPrefixes.length > 0) {
      grant.combine(
        iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: viewPrefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}*`)) }),
      );
    }
    return grant;
  }

  /**
   * The wildcards left are prefixes — S3 keys under each view's offline/<view>/ and the
   * results prefix, and the build's own labels tables — the narrowest scopes the services
   * offer. Acknowledged one finding at a time, on the grantee, so any other wildcard still
   * fails the synth.
   */
  private acknowledgeWildcards(grantee: iam.IGrantable, labelsTables: string, viewPrefixes: readonly string[]): void {
    const principal = grantee.grantPrincipal;
    if (!(principal instanceof Construct)) return;
    const reason = () =>
      `Training-set builds read the offline rows of the views they may train on (${OFFLINE_PREFIX}<view>/*), write and clean up ${this.resultsPrefix}* and create and drop their own ${LABELS_TABLE_PREFIX}* tables: prefixes are the narrowest scopes S3 and Glue offer.`;
    Validations.of(principal).acknowledge({ id: `AwsSolutions-IAM5[Resource::${nagArn(Stack.of(this), labelsTables)}]`, reason: reason() });
    acknowledgeObjectPrefixes(grantee, this.bucket, [...viewPrefixes, this.resultsPrefix], reason);
  }
}

/** Views with a feature the registry marks pii (tagged, or however else the registry derives it). */
function piiViews(registry: Registry): Set<string> {
  const features = (view: FeatureView) => [...Object.keys(view.features), ...view.aggregations.map((a) => a.name)];
  return new Set([...registry.views.values()].filter((view) => features(view).some((name) => registry.feature(`${view.name}:${name}`).pii)).map((v) => v.name));
}

/** An ARN as cdk-nag prints it in a finding id: unresolved pseudo parameters as `<AWS::Region>`. */
function nagArn(stack: Stack, arn: string): string {
  const pseudo: Record<string, string> = { 'AWS::Partition': stack.partition, 'AWS::Region': stack.region, 'AWS::AccountId': stack.account };
  let text = arn;
  for (const [name, value] of Object.entries(pseudo)) {
    const literal = Token.isUnresolved(value) ? `<${name}>` : value;
    if (Token.isUnresolved(value)) text = text.replace(value, literal);
  }
  return Token.isUnresolved(text) ? String(stack.resolve(text)) : text;
}
