/**
 * The serve Lambda's bundle: its size, what is in it, and how long it takes to load in a fresh
 * Node process. Built with esbuild as lib/constructs/handler-function.ts builds it (CommonJS,
 * minified, node22, the handler tsconfig, mainFields module/main), in three variants:
 * - `sdk_bundled_whole`: the AWS SDK bundled whole (`bundleAwsSDK: true`, nothing external);
 * - `construct`: what the construct builds: the SDK bundled but the on-demand credential
 *   providers (lib/constructs/bundling.ts) left out; the bundle is written outside the project,
 *   where they cannot resolve, to show the cold start needs none;
 * - `sdk_external`: all of `@aws-sdk/*` left to the runtime (here it resolves to node_modules).
 *
 *   npx tsx bench/serve-bundle.ts        (also run at the end of `npm run bench:serve`)
 *
 * Per variant: bytes, gzip bytes, the largest packages, the median time of `require()` in a
 * fresh process, and the median cold start the handler controls: require, then the first
 * invocation (GET /v1/health: builds the registry, clients and logger; no network).
 * The last line printed is one JSON object of the figures, units in the key names.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { LAZY_CREDENTIAL_PROVIDERS } from '../lib/constructs/bundling.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = join(ROOT, '.work', 'bench', 'serve-bundle');

export interface BundleFigures {
  readonly variant: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly requireMs: number;
  readonly coldStartMs: number;
  readonly largest: readonly (readonly [string, number])[];
}

/** Bytes of output per package (or per project folder), largest first. */
function byPackage(metafile: Metafile): [string, number][] {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [file, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? file.split('/').slice(0, 2).join('/');
      sizes.set(pkg, (sizes.get(pkg) ?? 0) + bytesInOutput);
    }
  }
  return [...sizes].sort((a, b) => b[1] - a[1]);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

/** Times `script` in fresh Node processes; the script prints milliseconds. */
async function timeInFreshProcesses(script: string, env: Record<string, string>, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { stdout } = await run(process.execPath, ['-e', script], { env: { PATH: process.env.PATH ?? '', ...env }, cwd: ROOT });
    times.push(Number(stdout.trim().split('\n').pop()));
  }
  return median(times);
}

export async function measureServeBundle(options: { runs?: number } = {}): Promise<BundleFigures[]> {
  const runs = options.runs ?? 11;
  const variants = [
    { variant: 'sdk_bundled_whole', external: [] as string[], dir: join(OUT, 'sdk-bundled-whole') },
    { variant: 'construct', external: [...LAZY_CREDENTIAL_PROVIDERS], dir: join(tmpdir(), 'tessera-serve-bundle') },
    { variant: 'sdk_external', external: ['@aws-sdk/*'], dir: join(OUT, 'sdk-external') },
  ];
  const figures: BundleFigures[] = [];
  for (const { variant, external, dir } of variants) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    // As in the Lambda asset: the bundle is CommonJS, whatever the project's "type" says.
    await writeFile(join(dir, 'package.json'), '{"type": "commonjs"}\n');
    const outfile = join(dir, 'index.js');
    const result = await build({
      entryPoints: [join(ROOT, 'lambdas/handlers/serve.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      minify: true,
      sourcemap: 'external',
      sourcesContent: false,
      mainFields: ['module', 'main'],
      tsconfig: join(ROOT, 'lib/handler.tsconfig.json'),
      external,
      metafile: true,
      logLevel: 'error',
    });
    const code = await readFile(outfile);
    const env = {
      TESSERA_TABLE: 'bench-table',
      TESSERA_BUCKET: 'bench-bucket',
      TESSERA_STREAMS: '{}',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      // Node 20 here: keep the SDK's version warning out of the timings' output.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const file = JSON.stringify(outfile);
    const requireMs = await timeInFreshProcesses(
      `const t=process.hrtime.bigint();require(${file});console.log(Number(process.hrtime.bigint()-t)/1e6)`,
      env,
      runs,
    );
    const coldStartMs = await timeInFreshProcesses(
      `const t=process.hrtime.bigint();const {handler}=require(${file});` +
        `handler({httpMethod:'GET',path:'/v1/health',requestContext:{requestId:'bench',identity:{}}}).then((r)=>{` +
        `if(r.statusCode!==200)throw new Error(JSON.stringify(r));console.log(Number(process.hrtime.bigint()-t)/1e6)})`,
      env,
      runs,
    );
    figures.push({ variant, bytes: code.length, gzipBytes: gzipSync(code).length, requireMs, coldStartMs, largest: byPackage(result.metafile).slice(0, 8) });
  }
  return figures;
}

export function printBundleFigures(figures: readonly BundleFigures[]): Record<string, number> {
  const json: Record<string, number> = {};
  for (const f of figures) {
    console.log(`\nserve bundle, ${f.variant}: ${(f.bytes / 1024).toFixed(1)} KiB (${(f.gzipBytes / 1024).toFixed(1)} KiB gzip)`);
    console.log(
      `  require() in a fresh process: ${f.requireMs.toFixed(1)} ms median; require + first invocation (GET /v1/health): ${f.coldStartMs.toFixed(1)} ms`,
    );
    console.log(`  largest: ${f.largest.map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(1)} KiB`).join(', ')}`);
    const key = f.variant;
    json[`bundle_${key}_bytes`] = f.bytes;
    json[`bundle_${key}_gzip_bytes`] = f.gzipBytes;
    json[`bundle_${key}_require_ms`] = Math.round(f.requireMs * 10) / 10;
    json[`bundle_${key}_cold_start_ms`] = Math.round(f.coldStartMs * 10) / 10;
  }
  return json;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const figures = await measureServeBundle();
  console.log(JSON.stringify(printBundleFigures(figures)));
}
