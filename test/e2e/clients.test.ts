/**
 * The client examples against local mode: the TypeScript scorer (examples/typescript/score.ts,
 * the typed client) and the SageMaker inference script (examples/python/sagemaker_inference.py,
 * requests + botocore's SigV4Auth), each scoring the same authorisations through fraud_v2 —
 * here restricted to the fraud-scorer role, so each client's SigV4 signature is what lets it
 * in. Local mode reads the caller from the signature's access key and does NOT verify the
 * signature itself. The Python test runs where `python3` imports requests and botocore, and
 * is skipped with the reason printed elsewhere (nothing is installed by the test).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it, type TestContext } from 'vitest';
import { TesseraApiError } from '../../client/tessera-client.js';
import { type Authorisation, loadModel, type Score, scoreAuthorisations } from '../../examples/typescript/score.js';
import * as fraud from '../../features/fraud.js';
import { featureService } from '../../lambdas/core/definitions.js';
import { Registry } from '../../lambdas/core/registry.js';
import { CALLERS, SCORER_ROLE, SECRET, transaction, useServingStore } from '../integration/serving-fixture.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../examples/python/sagemaker_inference.py', import.meta.url));

/** The demo definitions, with fraud_v2 readable by the fraud-scorer role only. */
const restricted = Registry.fromModule({ ...fraud, fraudV2: featureService({ ...fraud.fraudV2, allowedPrincipals: [SCORER_ROLE] }) });
const S = useServingStore({ registry: restricted });

const AUTHORISATIONS: Authorisation[] = [
  { user_id: 'u8001', merchant_id: 'm0801', amount: 250, currency: 'USD', lat: 48.8566, lon: 2.3522 },
  { user_id: 'u8002', merchant_id: 'm0802', amount: 12, currency: 'EUR', lat: 52.52, lon: 13.405 },
  { user_id: 'u8999', merchant_id: 'm0899', amount: 99, currency: 'GBP', lat: 51.5072, lon: -0.1276 },
];

async function withHistory(ctx: TestContext) {
  const s = await S.setUp(ctx);
  await s.ingest([
    transaction('u8001', S.startedAt, { merchant_id: 'm0801', amount: 100, currency: 'EUR' }),
    transaction('u8002', S.startedAt, { merchant_id: 'm0802', amount: 40, currency: 'USD' }),
  ]);
  return s;
}

/** Why the Python example cannot run here, or undefined when it can. */
async function pythonUnavailable(): Promise<string | undefined> {
  try {
    await run('python3', ['-c', 'import requests, botocore'], { timeout: 30_000 });
    return undefined;
  } catch (error) {
    const reason = `python3 with requests and botocore is not available (${(error as Error).message.split('\n')[0]})`;
    console.warn(`[tessera:skip] ${reason}`);
    return reason;
  }
}

/** The SageMaker script, run once as a process, signing with `accessKeyId`; only these AWS settings reach it. */
function sagemaker(url: string, accessKeyId: string, region: string, body: unknown) {
  return run('python3', [SCRIPT, JSON.stringify(body)], {
    timeout: 60_000,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TESSERA_URL: url,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: SECRET,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  });
}

describe('the TypeScript scoring example', { timeout: 60_000 }, () => {
  it('scores authorisations with one signed call, from stored and on-demand features', async (ctx) => {
    // Prepare
    const s = await withHistory(ctx);
    const model = loadModel();

    // Act
    const scores = await scoreAuthorisations(s.client('scorer'), model, AUTHORISATIONS);

    // Assess
    expect(scores).toHaveLength(3);
    const [paris, berlin, unknown] = scores as [Score, Score, Score];
    expect(paris.features).toMatchObject({ txn_risk__km_from_last: fraud.distanceKm(52.52, 13.405, 48.8566, 2.3522), user_last_txn__is_foreign: true });
    expect(paris.missing).toEqual([]);
    expect(berlin.features).toMatchObject({ txn_risk__amount_ratio: 0.324, user_last_txn__is_foreign: false });
    // A count over no transactions is 0, and present; the rest of an unknown card holder is missing.
    expect(unknown.missing).toEqual(['txn_risk__amount_ratio', 'txn_risk__km_from_last', 'user_last_txn__is_foreign']);
    expect(unknown.features.merchant_txn_stats__txn_count_1h).toBe(0);
    expect(unknown.score).toBe(Math.round((1 / (1 + Math.exp(-model.bias))) * 1e6) / 1e6);
    for (const { score } of scores) expect(score).toBeGreaterThan(0);
    expect(paris.score).toBeGreaterThan(berlin.score);
  });

  it('is refused with 403 when it signs as a role the service does not list', async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);

    // Act
    const error = await scoreAuthorisations(s.client('marketing'), loadModel(), AUTHORISATIONS).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(TesseraApiError);
    expect(error).toMatchObject({ status: 403, code: 'AccessDeniedError' });
  });
});

describe('the Python SageMaker inference example', { timeout: 120_000 }, () => {
  it('scores the same authorisations as the TypeScript example, signing with botocore', async (ctx) => {
    // Prepare
    const reason = await pythonUnavailable();
    if (reason) ctx.skip(reason);
    const s = await withHistory(ctx);
    const expected = await scoreAuthorisations(s.client('scorer'), loadModel(), AUTHORISATIONS);

    // Act
    const { stdout } = await sagemaker(s.store.url, CALLERS.scorer.accessKeyId, s.store.runtime.config.access.region, { instances: AUTHORISATIONS });

    // Assess
    const output = JSON.parse(stdout) as { model: string; predictions: Score[] };
    expect(output.model).toBe('fraud-demo-logistic');
    expect(output.predictions.map((p) => p.features)).toEqual(expected.map((p) => p.features));
    expect(output.predictions.map((p) => p.missing)).toEqual(expected.map((p) => p.missing));
    for (const [i, p] of output.predictions.entries()) expect(p.score).toBeCloseTo(expected[i]?.score as number, 6);
  });

  it('exits with the API error when the execution role may not read the service', async (ctx) => {
    // Prepare
    const reason = await pythonUnavailable();
    if (reason) ctx.skip(reason);
    const s = await S.setUp(ctx);

    // Act
    const error = (await sagemaker(s.store.url, CALLERS.marketing.accessKeyId, s.store.runtime.config.access.region, { instances: AUTHORISATIONS }).catch(
      (e: unknown) => e,
    )) as { code: number; stderr: string };

    // Assess
    expect(error.code).toBe(2);
    expect(JSON.parse(error.stderr)).toMatchObject({ error: { status: 403, code: 'AccessDeniedError' } });
  });
});
