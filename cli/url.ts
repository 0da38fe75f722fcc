/** `tessera url`: the API URL the other commands use, for curl and scripts. */
import type { Command } from 'commander';
import { withApi } from './command.js';
import { resolveTarget, type TargetOptions } from './target.js';

export function register(program: Command): void {
  withApi(program.command('url'))
    .description('print the API URL the other commands use, e.g. curl "$(npx tessera url)/v1/catalog"')
    .action(async (options: TargetOptions) => {
      const target = await resolveTarget(options, process.env);
      console.log(target.url);
    });
}
