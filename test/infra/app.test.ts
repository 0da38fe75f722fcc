/**
 * The CDK app as a whole: cdk-nag's AwsSolutions pack runs at every synth and passes, each
 * acknowledged finding carries its reason, and bin/app.ts synthesizes the demo definitions.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildApp, cdkJsonContext, type Synthesized, synthesize, WITHOUT_BUNDLING } from './fixture.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

let synth: Synthesized;
beforeAll(() => {
  // cdk-nag reads the construct tree; bundling and template validation are the stack test file's.
  synth = synthesize({ bundle: false, cloudFormationValidation: false });
});
afterAll(() => synth?.cleanup());

describe('cdk-nag', () => {
  test('the AwsSolutions pack reports no unacknowledged finding', () => {
    // synthesize() would have thrown on a finding; the report and a direct run agree.
    const report = JSON.parse(readFileSync(join(synth.outdir, 'validation-report.json'), 'utf8'));
    const nagViolations = report.pluginReports
      .filter((r: { pluginName: string }) => r.pluginName === 'AwsSolutions')
      .flatMap((r: { violations: unknown[] }) => r.violations);
    expect(nagViolations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(synth.app).violations).toEqual([]);
  });

  test('the pack is live: a resource that breaks a rule fails the synth', () => {
    const { app, stack, cleanup } = buildApp({ bundle: false, cloudFormationValidation: false });
    try {
      new s3.Bucket(stack, 'UnloggedBucket', { enforceSSL: true });
      expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
    } finally {
      cleanup();
    }
  });

  test('every acknowledged finding gives its reason, and only the expected rules are acknowledged', () => {
    const acknowledged = synth.app.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => ({ rule: id.replace(/^annotation::/i, ''), reason }));
    for (const { rule, reason } of acknowledged) expect(reason.length, rule).toBeGreaterThan(40);
    // Adding an acknowledgement is a reviewed decision: it has to be added here too.
    expect([...new Set(acknowledged.map(({ rule }) => rule.replace(/\[.*$/, '')))].sort()).toEqual([
      'AwsSolutions-APIG3',
      'AwsSolutions-COG4',
      'AwsSolutions-IAM5',
      'AwsSolutions-KDF1',
      'AwsSolutions-L1',
      'AwsSolutions-S1',
      'AwsSolutions-SNS2',
      'AwsSolutions-SQS3',
    ]);
  });
});

describe('bin/app.ts', () => {
  test('synthesizes the demo definitions with the choices given in context, and no fixed stream name', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'tessera-app-'));
    try {
      const role = 'arn:aws:iam::123456789012:role/DemoInvoker';
      const writer = 'arn:aws:iam::123456789012:role/DemoWriter';
      const scientist = 'arn:aws:iam::123456789012:role/DemoScientist';
      execFileSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        stdio: 'pipe',
        // What the CDK CLI passes to the app: cdk.json's context plus -c values.
        env: {
          PATH: process.env.PATH,
          CDK_OUTDIR: outdir,
          CDK_VALIDATION: 'false',
          CDK_CONTEXT_JSON: JSON.stringify({
            ...cdkJsonContext(),
            ...WITHOUT_BUNDLING,
            'tessera:stackName': 'TesseraB',
            'tessera:invokerRoleArns': role,
            'tessera:writerRoleArns': writer,
            'tessera:trainingRoleArns': scientist,
            'tessera:alarmEmails': 'oncall@example.com',
            'tessera:serveReservedConcurrency': '25',
          }),
        },
      });
      const template = JSON.parse(readFileSync(join(outdir, 'TesseraB.template.json'), 'utf8'));
      expect(Object.keys(template.Outputs)).toEqual(
        expect.arrayContaining(['StreamNameTransactions', 'StreamArnTransactions', 'BatchFunctionName', 'GlueDatabase', 'AthenaWorkgroup', 'AlarmTopicArn']),
      );
      type Resource = { Type: string; Properties: Record<string, unknown> };
      const ofType = (type: string) => Object.values(template.Resources as Record<string, Resource>).filter((r) => r.Type === type);
      const streams = ofType('AWS::Kinesis::Stream');
      expect(streams).toHaveLength(1);
      expect(streams[0]?.Properties.Name).toBeUndefined();
      const resources = JSON.stringify(template.Resources);
      for (const name of ['DemoInvoker', 'DemoWriter', 'DemoScientist']) expect(resources).toContain(`"Roles":["${name}"]`);
      expect(ofType('AWS::SNS::Subscription').map((r) => r.Properties)).toEqual([
        expect.objectContaining({ Protocol: 'email', Endpoint: 'oncall@example.com' }),
      ]);
      const serve = ofType('AWS::Lambda::Function').filter((r) => r.Properties.ReservedConcurrentExecutions !== undefined);
      expect(serve.map((r) => r.Properties.ReservedConcurrentExecutions)).toEqual([25]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
