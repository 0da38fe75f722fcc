/**
 * The online store: one DynamoDB table holding, per (feature view, entity key), the latest
 * feature values and the aggregation tiles still inside the longest window. One
 * BatchGetItem answers a serving request, so the key is a single string `pk`.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The item attribute DynamoDB's TTL reads; the writers set it from each view's TTL. */
export const TTL_ATTRIBUTE = 'ttl';

export interface OnlineStoreProps {
  /**
   * What happens to the table when it leaves the stack. Features can be rebuilt from the
   * offline store, but only slowly, so the default keeps it.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

export class OnlineStore extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: OnlineStoreProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  /** Lets `grantee` read items (GetItem, BatchGetItem, Query). */
  grantReadData(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadData(grantee);
  }

  /** Lets `grantee` write items (PutItem, UpdateItem, BatchWriteItem, DeleteItem). */
  grantWriteData(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantWriteData(grantee);
  }

  grantReadWriteData(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadWriteData(grantee);
  }
}
