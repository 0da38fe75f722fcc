/**
 * Scoring a card authorisation with features from Tessera, in TypeScript: one signed call to
 * the serving API (the typed client, SigV4 with the caller's AWS credentials) returns the
 * card holder's and the merchant's stored features and the on-demand risk features computed
 * from the authorisation itself; a toy logistic model (examples/model/fraud-model.json, the
 * same one the Python SageMaker example loads) turns them into a score.
 *
 *   npx tsx examples/typescript/score.ts https://abc.execute-api.eu-west-1.amazonaws.com/prod \
 *     '{"user_id":"u0001","merchant_id":"m0001","amount":250,"currency":"USD","lat":48.85,"lon":2.35}'
 *
 * Credentials come from the AWS SDK's default chain (environment, profile, role); add
 * `--unsigned` against local mode (`npm start`), which needs no credentials.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { TesseraClient } from '../../client/tessera-client.js';

/** An authorisation to score: the entity keys and the request context of fraud_v2. */
export interface Authorisation {
  readonly user_id: string;
  readonly merchant_id: string;
  readonly amount: number;
  readonly currency: 'USD' | 'EUR' | 'GBP' | 'JPY' | 'CHF';
  readonly lat: number;
  readonly lon: number;
}

export interface FraudModel {
  readonly name: string;
  /** The feature service the model was trained on. */
  readonly service: string;
  readonly bias: number;
  /** Weight per response column (`view__feature`). */
  readonly weights: Readonly<Record<string, number>>;
}

export interface Score {
  /** Probability of fraud, rounded to 6 decimals. */
  readonly score: number;
  /** The model's inputs as served. */
  readonly features: Readonly<Record<string, unknown>>;
  /** Inputs that were not present (missing or expired), counted as 0. */
  readonly missing: readonly string[];
}

export const MODEL_PATH = fileURLToPath(new URL('../model/fraud-model.json', import.meta.url));

export function loadModel(path = MODEL_PATH): FraudModel {
  return JSON.parse(readFileSync(path, 'utf8')) as FraudModel;
}

/** Scores up to 100 authorisations with one API call. */
export async function scoreAuthorisations(client: TesseraClient, model: FraudModel, authorisations: readonly Authorisation[]): Promise<Score[]> {
  const response = await client.getFeatures({ service: model.service, entities: authorisations.map((a) => ({ ...a })) });
  return response.results.map((row) => {
    let logit = model.bias;
    const missing: string[] = [];
    const features: Record<string, unknown> = {};
    for (const [column, weight] of Object.entries(model.weights)) {
      const value = row.values[column];
      features[column] = value ?? null;
      if (row.status[column] !== 'present') missing.push(column);
      logit += weight * Number(value ?? 0);
    }
    return { score: Math.round((1 / (1 + Math.exp(-logit))) * 1e6) / 1e6, features, missing };
  });
}

async function main(argv: readonly string[]): Promise<void> {
  const args = argv.filter((a) => !a.startsWith('--'));
  const [url, json] = args;
  if (!url || !json) throw new Error('usage: score.ts <api-url> <authorisation JSON> [--unsigned]');
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const client = new TesseraClient({ url, ...(argv.includes('--unsigned') ? {} : { signing: { region, credentials: fromNodeProviderChain() } }) });
  const [score] = await scoreAuthorisations(client, loadModel(), [JSON.parse(json) as Authorisation]);
  console.log(JSON.stringify(score, null, 2));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((error: Error) => {
    console.error(error.message);
    process.exit(1);
  });
}
