#!/usr/bin/env -S npx tsx
/**
 * The Tessera CLI: registers the commands of cli/ (one module each) and reports their errors.
 * Talks to local mode by default — found the same way by every command (cli/target.ts:
 * --url, TESSERA_URL, the discovery file `.work/local-endpoints.json`, port 4000) — or to a
 * deployed stack with `--stack NAME --region REGION` and the normal AWS credential chain.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import * as advise from '../cli/advise.js';
import * as audit from '../cli/audit.js';
import * as backfill from '../cli/backfill.js';
import * as catalog from '../cli/catalog.js';
import * as drift from '../cli/drift.js';
import * as erase from '../cli/erase.js';
import * as get from '../cli/get.js';
import * as plan from '../cli/plan.js';
import * as push from '../cli/push.js';
import { sdkNodeWarningOnce } from '../cli/sdk-warning.js';
import * as status from '../cli/status.js';
import { FINDING_LOCAL_MODE } from '../cli/target.js';
import * as trainingSet from '../cli/training-set.js';
import * as url from '../cli/url.js';
import { TesseraApiError } from '../client/tessera-client.js';

sdkNodeWarningOnce(process.env);
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('tessera')
  .description('Tessera: a real-time feature store for AWS')
  .version(version, '-V, --version')
  .showHelpAfterError()
  .addHelpText('after', `\n${FINDING_LOCAL_MODE}`);

for (const command of [plan, url, push, get, backfill, catalog, audit, erase, trainingSet, advise, status, drift]) command.register(program);

program.parseAsync().catch((error: unknown) => {
  // Errors a user acts on carry their own text; nothing else needs a stack trace here either.
  if (error instanceof TesseraApiError) console.error(`tessera: the API answered ${error.message}`);
  else console.error(`tessera: ${(error as Error).message}`);
  process.exitCode = 1;
});
