/**
 * What every command of the CLI shares: where it writes, and the options that pick the
 * definitions and the store — declared once, so every command spells them the same way. Each
 * command is a module of cli/ exporting `register(program)`; bin/tessera.ts registers them.
 */
import { type Command, Option } from 'commander';
import { DEFAULT_DEFINITIONS } from './definitions.js';
import { FINDING_LOCAL_MODE } from './target.js';

/** Where a command writes: process.stdout or process.stderr, or a test's buffer. */
export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface DefinitionsOptions {
  readonly definitions: string;
}

/** `--definitions <module>`. */
export const withDefinitions = (command: Command): Command => command.option('--definitions <module>', 'the definitions module', DEFAULT_DEFINITIONS);

/** `--stack NAME --region REGION`: a deployed store; without them, local mode. */
export interface StoreOptions {
  readonly stack?: string;
  readonly region?: string;
}

/** `--stack` and `--region`: a deployed store instead of local mode. */
export const withStack = (command: Command, stack = 'a deployed Tessera stack (CloudFormation stack name); default: local mode'): Command =>
  command.option('--stack <name>', stack).addOption(new Option('--region <region>', 'AWS region of the stack').env('AWS_REGION'));

/** `--url`, `--stack` and `--region`: the commands that talk to the API (cli/target.ts finds it). */
export const withApi = (command: Command): Command =>
  withStack(
    command
      .addHelpText('after', `\n${FINDING_LOCAL_MODE}`)
      .option('--url <url>', 'the API of local mode (or any Tessera API without IAM); default: TESSERA_URL, else the running local mode'),
    'a deployed Tessera stack (CloudFormation stack name)',
  );
