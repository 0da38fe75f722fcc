/**
 * The online store: one DynamoDB table holding, per (feature view, entity key), the latest
 * feature values and the aggregation tiles still inside the longest window. One
 * BatchGetItem answers a serving request, so the key is a single string `pk`.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The item attribute DynamoDB's TTL reads; the writers set it from each view's TTL. */
export const TTL_ATTRIBUTE = 'ttl';

/** DynamoDB actions on items, as IAM names them; grants take exactly the ones a function sends. */
export type TableAction = 'GetItem' | 'BatchGetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Scan';

export interface OnlineStoreProps {
  /**
   * What happens to the table when it leaves the stack. Features can be rebuilt from the
   * offline store, but only slowly, so the default keeps it — with deletion protection on,
   * which a removal policy other than RETAIN turns off (or the stack could not delete it).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A table to use instead of creating one, by name: e.g. the table a destroyed stack retained.
   * @default none: a new table
   */
  readonly existingTableName?: string;
}

export class OnlineStore extends Construct {
  readonly table: dynamodb.ITable;

  constructor(scope: Construct, id: string, props: OnlineStoreProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.table = props.existingTableName
      ? dynamodb.Table.fromTableName(this, 'Table', props.existingTableName)
      : new dynamodb.Table(this, 'Table', {
          partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
          billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
          pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
          timeToLiveAttribute: TTL_ATTRIBUTE,
          encryption: dynamodb.TableEncryption.AWS_MANAGED,
          deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
          removalPolicy,
        });
  }

  /** Lets `grantee` send exactly `actions` on the table's items. */
  grant(grantee: iam.IGrantable, ...actions: TableAction[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: actions.map((action) => `dynamodb:${action}`), resourceArns: [this.table.tableArn] });
  }
}
