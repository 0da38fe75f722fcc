/**
 * Least privilege, read from the synthesized IAM: every Allow statement of every policy in
 * the stack is walked, so a grant added later is held to the same rules without a new test;
 * and each function's data-plane actions are held against the AWS SDK commands its code can
 * send (read from the handler's import graph), so a grant nothing sends, or a command sent
 * without a grant, fails here rather than in production.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { OFFLINE_PREFIX } from '../../lambdas/core/offline.js';
import { logicalId, type Synthesized, synthesize } from './fixture.js';

type Statement = { Effect: 'Allow' | 'Deny'; Action: string | string[]; Resource?: unknown };
/** Resources by logical id, as the assertions library types template JSON. */
type Resources = ReturnType<Template['findResources']>;

let synth: Synthesized;
let resources: Resources;

beforeAll(() => {
  // Grants depend on neither the bundles nor template validation; the stack test file runs both.
  synth = synthesize({ bundle: false, cloudFormationValidation: false });
  resources = synth.template.toJSON().Resources;
});
afterAll(() => synth?.cleanup());

/** Allow statements of identity policies (standalone, managed and inline), with the policy's logical id. */
function allowStatements(template: Resources): { policy: string; statement: Statement }[] {
  const found: { policy: string; statement: Statement }[] = [];
  const add = (policy: string, document: { Statement: Statement[] } | undefined) => {
    for (const statement of document?.Statement ?? []) if (statement.Effect === 'Allow') found.push({ policy, statement });
  };
  for (const [id, resource] of Object.entries(template)) {
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') add(id, resource.Properties.PolicyDocument);
    if (resource.Type === 'AWS::IAM::Role') for (const inline of resource.Properties.Policies ?? []) add(id, inline.PolicyDocument);
  }
  return found;
}

const actionsOf = (statement: Statement): string[] => [statement.Action].flat();

/** Actions on the data services that name a wildcard (`*`, `s3:*`, `dynamodb:Get*`, ...). */
function wildcardDataActions(statements: readonly Statement[]): string[] {
  return statements.flatMap(actionsOf).filter((action) => action === '*' || (/^(dynamodb|s3|kinesis|sqs|glue|athena):/.test(action) && action.includes('*')));
}

/** The Allow statements attached to the role whose logical id starts with `rolePrefix`. */
function statementsOfRole(rolePrefix: string): Statement[] {
  const role = logicalId(synth.template, 'AWS::IAM::Role', rolePrefix);
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: role }]))
    .flatMap((r) => (r.Properties.PolicyDocument.Statement as Statement[]).filter((s) => s.Effect === 'Allow'));
}

describe('least privilege', () => {
  test('the wildcard check recognises what it must reject', () => {
    const statements: Statement[] = [
      { Effect: 'Allow', Action: ['s3:GetObject*', 'kinesis:PutRecords'] },
      { Effect: 'Allow', Action: 'dynamodb:*' },
      { Effect: 'Allow', Action: '*' },
      { Effect: 'Allow', Action: 'logs:Create*' },
    ];
    expect(wildcardDataActions(statements)).toEqual(['s3:GetObject*', 'dynamodb:*', '*']);
  });

  test('no IAM policy in the stack grants a wildcard action on DynamoDB, S3, Kinesis, SQS, Glue or Athena', () => {
    const statements = allowStatements(resources);
    expect(statements.length).toBeGreaterThan(0);
    const offending = statements.filter(({ statement }) => wildcardDataActions([statement]).length > 0);
    expect(offending).toEqual([]);
  });

  test('the stream handler writes S3 objects only under offline/, dead-letter/ and aws/lambda/, and reads or deletes none', () => {
    const s3 = statementsOfRole('ProcessingStreamHandler').filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    const bucket = logicalId(synth.template, 'AWS::S3::Bucket', 'OfflineStoreBucket');
    const put = s3.filter((s) => actionsOf(s).includes('s3:PutObject')).flatMap((s) => [s.Resource].flat());
    expect(put.map((r) => JSON.stringify(r)).sort()).toEqual(
      ['aws/lambda/*', 'dead-letter/*', 'offline/*'].map((prefix) => JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, `/${prefix}`]] })),
    );
    // Lambda's S3 on-failure destination needs ListBucket besides PutObject (Lambda developer guide).
    expect(s3.flatMap(actionsOf).sort()).toEqual(['s3:ListBucket', 's3:PutObject']);
  });

  test("the batch handler reads S3 objects only under its sources' prefixes, lists only those, and writes only under offline/ and dead-letter/", () => {
    const s3 = statementsOfRole('BatchProcessingHandler').filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    const bucket = logicalId(synth.template, 'AWS::S3::Bucket', 'OfflineStoreBucket');
    const own = (prefix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, `/${prefix}`]] });
    const other = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${rest}`]] });
    const resourcesOf = (action: string) =>
      s3
        .filter((s) => actionsOf(s).includes(action))
        .flatMap((s) => [s.Resource].flat())
        .map((r) => JSON.stringify(r))
        .sort();
    expect(s3.flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:ListBucket', 's3:ListBucket', 's3:PutObject']);
    expect(resourcesOf('s3:PutObject')).toEqual([own('dead-letter/*'), own('offline/*')].map((r) => JSON.stringify(r)).sort());
    // Stream sources' raw archives and the batch sources' locations, in the store's bucket or their own.
    expect(resourcesOf('s3:GetObject')).toEqual(
      [own('raw/clicks/*'), own('raw/card_payments/*'), own('imports/manual/*'), other('acme-exports/payments/*')].map((r) => JSON.stringify(r)).sort(),
    );
    const lists = s3.filter((s) => actionsOf(s).includes('s3:ListBucket')) as (Statement & { Condition?: unknown })[];
    expect(lists.map((s) => ({ resource: s.Resource, condition: s.Condition }))).toEqual(
      expect.arrayContaining([
        {
          resource: { 'Fn::GetAtt': [bucket, 'Arn'] },
          condition: { StringLike: { 's3:prefix': ['raw/clicks/*', 'raw/card_payments/*', 'imports/manual/*'] } },
        },
        { resource: other('acme-exports'), condition: { StringLike: { 's3:prefix': ['payments/*'] } } },
      ]),
    );
  });

  test('the batch handler may send to and consume the backfill queue, and no other queue', () => {
    const sqs = statementsOfRole('BatchProcessingHandler').filter((s) => actionsOf(s).some((a) => a.startsWith('sqs:')));
    const queue = logicalId(synth.template, 'AWS::SQS::Queue', 'BatchProcessingBackfillQueue');
    expect(new Set(sqs.flatMap((s) => [s.Resource].flat()).map((r) => JSON.stringify(r)))).toEqual(new Set([JSON.stringify({ 'Fn::GetAtt': [queue, 'Arn'] })]));
    expect(sqs.flatMap(actionsOf)).toEqual(expect.arrayContaining(['sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage']));
    expect(sqs.flatMap(actionsOf).filter((a) => /Purge|Delete(Queue)?$|SetQueueAttributes/.test(a) && a !== 'sqs:DeleteMessage')).toEqual([]);
  });

  test('the serve handler cannot change the online table or touch the offline bucket', () => {
    const actions = statementsOfRole('ServingServeHandler').flatMap(actionsOf);
    expect(actions).toContain('dynamodb:BatchGetItem');
    expect(actions.filter((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a))).toEqual([]);
    expect(actions.filter((a) => a.startsWith('s3:'))).toEqual([]);
  });

  test('only the operator starts an erasure: no role of the stack, serving principals included, may invoke the erase function', () => {
    const erase = logicalId(synth.template, 'AWS::Lambda::Function', 'ErasureHandler');
    const invokes = allowStatements(resources).filter(({ statement }) => actionsOf(statement).some((a) => a.startsWith('lambda:Invoke')));
    expect(invokes.filter(({ statement }) => JSON.stringify(statement.Resource ?? '').includes(erase)).map(({ policy }) => policy)).toEqual([]);
    const permissions = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Lambda::Permission' && JSON.stringify(r.Properties.FunctionName).includes(erase),
    );
    expect(permissions).toEqual([]);
  });

  test('no role has a managed policy: functions write their own log group only, not every log group of the account', () => {
    const managed = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Role')
      .flatMap((r) => r.Properties.ManagedPolicyArns ?? []);
    expect(managed).toEqual([]);
  });
});

/** The handler entry of each function's role (logical id prefix). */
const FUNCTIONS = {
  ProcessingStreamHandler: 'stream',
  BatchProcessingHandler: 'batch',
  ServingServeHandler: 'serve',
  CompactionHandler: 'compact',
  DriftMonitoringHandler: 'profile',
  ErasureHandler: 'erase',
} as const;

/**
 * Commands a handler's modules import but that handler never sends: lambdas/handlers/runtime.ts
 * builds every adapter for every handler, so the import graph over-approximates. Each entry is
 * a reviewed claim about the code, with its reason.
 */
const REACHABLE_NOT_SENT: Record<keyof typeof FUNCTIONS, Record<string, string>> = {
  ProcessingStreamHandler: { 'kinesis:PutRecords': 'only the push route writes to streams' },
  BatchProcessingHandler: { 'kinesis:PutRecords': 'only the push route writes to streams' },
  ServingServeHandler: {
    'dynamodb:PutItem': "online-store's apply runs in the stream and batch pipelines; serving only reads",
  },
  ErasureHandler: {
    'dynamodb:BatchGetItem': "online-store's reads serve the pipelines; erasure scans",
    'kinesis:PutRecords': 'only the push route writes to streams',
  },
  CompactionHandler: {
    'dynamodb:BatchGetItem': 'compaction touches the offline store only',
    'dynamodb:PutItem': 'compaction touches the offline store only',
    'kinesis:PutRecords': 'only the push route writes to streams',
  },
  DriftMonitoringHandler: {
    'dynamodb:BatchGetItem': 'the profile job reads the offline store only, through Athena',
    'dynamodb:PutItem': 'the profile job reads the offline store only, through Athena',
    'kinesis:PutRecords': 'only the push route writes to streams',
    's3:DeleteObject': "athena-runner's training-set runner cleans up its labels; the profile job runs plain queries",
  },
};

/** Actions a role holds for the service around the code, not for the code: event source mappings, on-failure destinations, tracing, logs. */
const PLATFORM_ACTIONS =
  /^(xray:|logs:|kinesis:(DescribeStream|DescribeStreamSummary|GetRecords|GetShardIterator|ListShards|ListStreams|SubscribeToShard|DescribeStreamConsumer)$|sqs:(ReceiveMessage|ChangeMessageVisibility|GetQueueUrl|DeleteMessage|GetQueueAttributes)$)/;

/** Data-plane actions a service takes with a function's role, on the function's behalf: Lambda, or Athena running its queries. */
const LAMBDA_SERVICE_ACTIONS: Record<keyof typeof FUNCTIONS, readonly string[]> = {
  // The S3 on-failure destination of the stream mappings (ListBucket besides PutObject, Lambda developer guide).
  ProcessingStreamHandler: ['s3:ListBucket'],
  BatchProcessingHandler: [],
  ServingServeHandler: [],
  // DeleteObject with a VersionId purges a noncurrent version: S3 authorises it as s3:DeleteObjectVersion.
  ErasureHandler: ['s3:DeleteObjectVersion'],
  // Asynchronous invocations that failed every attempt, sent to the dead-letter queue.
  CompactionHandler: ['sqs:SendMessage'],
  // Athena reads the Glue tables and the offline rows, and writes the results, as the caller.
  DriftMonitoringHandler: ['glue:GetDatabase', 'glue:GetTable', 's3:GetBucketLocation', 's3:AbortMultipartUpload'],
};

/** The IAM action a command needs, where it is not the command's own name. */
const ACTION_OF_COMMAND: Record<string, string> = {
  's3:ListObjectsV2': 's3:ListBucket',
  's3:HeadObject': 's3:GetObject',
  'sqs:SendMessageBatch': 'sqs:SendMessage',
  's3:ListObjectVersions': 's3:ListBucketVersions',
};

/** The IAM actions of the AWS SDK commands imported (as values) by the modules reachable from a handler entry. */
function actionsSentBy(handler: string): Set<string> {
  const seen = new Set<string>();
  const actions = new Set<string>();
  const pending = [fileURLToPathSafe(`../../lambdas/handlers/${handler}.ts`)];
  while (pending.length) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const [, typeOnly, names, client] of source.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+'@aws-sdk\/client-([a-z0-9-]+)'/g)) {
      if (typeOnly) continue;
      for (const name of (names as string).split(',').map((n) => n.trim())) {
        if (name.startsWith('type ') || !name.endsWith('Command')) continue;
        const command = `${client}:${name.replace(/Command$/, '')}`;
        actions.add(ACTION_OF_COMMAND[command] ?? command);
      }
    }
    for (const [, path] of source.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g))
      pending.push(resolve(dirname(file), path as string).replace(/\.js$/, '.ts'));
  }
  return actions;
}

function fileURLToPathSafe(relative: string): string {
  return new URL(relative, import.meta.url).pathname;
}

describe('each function holds the data-plane actions its code sends, and no others', () => {
  test('the scan finds what the adapters send (it would catch a new command)', () => {
    const batch = actionsSentBy('batch');
    expect([...batch]).toEqual(expect.arrayContaining(['dynamodb:BatchGetItem', 'dynamodb:PutItem', 's3:GetObject', 's3:ListBucket', 'sqs:SendMessage']));
  });

  for (const [role, handler] of Object.entries(FUNCTIONS) as [keyof typeof FUNCTIONS, string][]) {
    test(`${handler}: granted = sent (less the reviewed exceptions), on DynamoDB, S3, Kinesis and SQS`, () => {
      const notSent = REACHABLE_NOT_SENT[role];
      const sent = [...actionsSentBy(handler)].filter((a) => !(a in notSent)).concat(LAMBDA_SERVICE_ACTIONS[role]);
      const granted = new Set(
        statementsOfRole(role)
          .flatMap(actionsOf)
          .filter((a) => !PLATFORM_ACTIONS.test(a)),
      );
      // An exception must name something the scan actually finds, or it is stale.
      for (const action of Object.keys(notSent)) expect(actionsSentBy(handler).has(action), `${role}: stale exception ${action}`).toBe(true);
      expect([...granted].sort()).toEqual([...new Set(sent)].sort());
    });
  }
});
