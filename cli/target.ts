/**
 * Where a CLI command goes: local mode by default, or a deployed stack found by name with the
 * caller's normal AWS credentials (outputs ApiUrl and StreamName<Source>). Every command finds
 * local mode the same way: `--url`, else `TESSERA_URL`, else the discovery file a running
 * local mode writes (`.work/local-endpoints.json`, which knows its port), else
 * http://127.0.0.1:4000. When nothing answers there, the error names the URL tried, where it
 * came from and the fix.
 */
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { TesseraClient } from '../client/tessera-client.js';
import { STACK_OUTPUT } from '../lambdas/core/deployment.js';
import { TesseraError } from '../lambdas/core/errors.js';
import { LOCAL_ENDPOINTS_FILE, LOCAL_OPERATOR, LocalModeNotRunning, readDiscoveryFile } from '../local/discovery.js';
import { readStackOutputs } from './stack-outputs.js';

export interface TargetOptions {
  readonly url?: string;
  readonly stack?: string;
  readonly region?: string;
}

export interface CliTarget {
  /** The API's base URL. */
  readonly url: string;
  readonly description: string;
  /** Where the URL came from (`--url`, `TESSERA_URL`, the discovery file, the default), for messages. */
  readonly foundBy?: string;
  readonly client: TesseraClient;
  /** The client that pushes events: in local mode signed as its operator (a writer of every source); deployed, `client`. */
  readonly writer?: TesseraClient;
  /** Set for a deployed stack: the region and the physical stream of each source. */
  readonly aws?: { readonly region: string; readonly streams: Readonly<Record<string, string>> };
}

export const DEFAULT_LOCAL_URL = 'http://127.0.0.1:4000';

/** How to reach local mode, said once for every command's --help and every "cannot reach" error. */
export const FINDING_LOCAL_MODE = `Local mode is found by --url, else TESSERA_URL, else ${LOCAL_ENDPOINTS_FILE} (written by \`npm start\` in this folder), else ${DEFAULT_LOCAL_URL}; a deployed store by --stack NAME --region REGION.`;

/** The API of local mode, and how it was found. */
export function localApi(options: TargetOptions, env: NodeJS.ProcessEnv, discoveryFile = LOCAL_ENDPOINTS_FILE): { url: string; foundBy: string } {
  if (options.url) return { url: options.url, foundBy: '--url' };
  if (env.TESSERA_URL) return { url: env.TESSERA_URL, foundBy: 'TESSERA_URL' };
  try {
    return { url: readDiscoveryFile(discoveryFile).url, foundBy: discoveryFile };
  } catch (error) {
    if (!(error instanceof LocalModeNotRunning)) throw error;
    return { url: DEFAULT_LOCAL_URL, foundBy: `the default: no running local mode in ${discoveryFile}` };
  }
}

/** Nothing answered at the target's URL: says which URL, found how, and what to do. */
export class ApiUnreachable extends TesseraError {
  constructor(message: string, options?: ErrorOptions) {
    super('ApiUnreachable', message, undefined, options);
  }
}

/** Runs `call` against the target; a refused or failed connection becomes an ApiUnreachable naming the URL and the fix. */
export async function reach<T>(target: CliTarget, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof TypeError) || error.message !== 'fetch failed') throw error;
    const reason = (error.cause as { code?: string; message?: string } | undefined)?.code ?? (error.cause as Error | undefined)?.message ?? 'no answer';
    const fix = target.aws
      ? 'Check the stack and your network.'
      : `Start local mode with \`npm start\` (PORT=4300 npm start for another port; the CLI then finds it through ${LOCAL_ENDPOINTS_FILE}), or point the CLI at a running one with --url URL or TESSERA_URL=URL.`;
    throw new ApiUnreachable(`cannot reach ${target.description}${target.foundBy ? ` (from ${target.foundBy})` : ''}: ${reason}. ${fix}`, { cause: error });
  }
}

export async function resolveTarget(options: TargetOptions, env: NodeJS.ProcessEnv): Promise<CliTarget> {
  if (!options.stack) {
    const { url, foundBy } = localApi(options, env);
    // Reads go unsigned (local mode answers them as its --principal, or anonymous); pushes are
    // signed as local mode's operator, which local mode lets push (its signature is not checked).
    const signing = { region: 'us-east-1', credentials: { accessKeyId: LOCAL_OPERATOR.accessKeyId, secretAccessKey: LOCAL_OPERATOR.secretAccessKey } };
    return { url, description: `local mode at ${url}`, foundBy, client: new TesseraClient({ url }), writer: new TesseraClient({ url, signing }) };
  }
  const outputs = await readStackOutputs({ stack: options.stack, ...(options.region ? { region: options.region } : {}) }, env);
  const url = outputs.require(STACK_OUTPUT.apiUrl);
  const region = outputs.region;
  const streams = new Proxy({} as Record<string, string>, {
    get: (_, source: string) => {
      try {
        return outputs.require(STACK_OUTPUT.streamName(source));
      } catch {
        return undefined;
      }
    },
  });
  return {
    url,
    description: `stack ${options.stack} (${region})`,
    client: new TesseraClient({ url, signing: { region, credentials: fromNodeProviderChain() } }),
    aws: { region, streams },
  };
}
