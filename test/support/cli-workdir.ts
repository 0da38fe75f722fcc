/**
 * The CLI as a user runs it against local mode: a working folder whose discovery file
 * (`.work/local-endpoints.json`) points at `store`, and `tessera …` run there as a child process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { writeDiscoveryFile } from '../../local/discovery.js';
import type { LocalStore } from '../../local/store.js';

const run = promisify(execFile);

export interface CliWorkdir {
  readonly path: string;
  /** Runs `tessera <args> --definitions features/index.ts` in the folder; resolves to its stdout. */
  tessera(...args: string[]): Promise<string>;
  remove(): void;
}

export async function cliWorkdir(store: LocalStore): Promise<CliWorkdir> {
  const path = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
  await writeDiscoveryFile(store, join(path, '.work', 'local-endpoints.json'));
  return {
    path,
    tessera: async (...args) =>
      (
        await run(resolve('node_modules/.bin/tsx'), [resolve('bin/tessera.ts'), ...args, '--definitions', resolve('features/index.ts')], {
          cwd: path,
          timeout: 120_000,
          env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        })
      ).stdout,
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}
