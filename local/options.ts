/**
 * The command line of `npm start` (local mode): which definitions to serve, whether to feed
 * the demo traffic, where the data lives and whether to start from nothing, and who the
 * callers are. Read once by local/main.ts; nothing below it looks at argv or the environment.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TesseraError } from '../lambdas/core/errors.js';

export interface LocalModeOptions {
  /** Port of the API on 127.0.0.1 (PORT). */
  readonly port: number;
  /** The definitions module to serve. */
  readonly definitions: string;
  /** Feed the demo's synthetic card traffic (only with the demo definitions). */
  readonly demo: boolean;
  /** Where the emulators keep their data between runs. */
  readonly dataDirectory: string;
  /** Delete the data of earlier runs before starting. */
  readonly fresh: boolean;
  /** The caller every unsigned request is reported as (an IAM role or assumed-role ARN). */
  readonly caller?: string;
  /** Access key id → principal ARN, for SigV4-signed requests. */
  readonly principals: Readonly<Record<string, string>>;
  readonly help: boolean;
}

export const DEMO_DEFINITIONS = 'features/index.ts';
export const LOCAL_DATA_DIRECTORY = '.work/local';

export const USAGE = `Usage: npm start [-- options]     (PORT=4300 npm start changes the port; default 4000)

  --definitions <module>   serve your own definitions module (default ${DEMO_DEFINITIONS}, the demo)
  --no-demo                do not feed the demo's synthetic card traffic (off anyway with your own definitions)
  --fresh                  delete the data of earlier runs first (kept under ${LOCAL_DATA_DIRECTORY} by default)
  --data <dir>             keep the data elsewhere (default ${LOCAL_DATA_DIRECTORY})
  --principal <arn>        report every unsigned request as this IAM role, to try allowedPrincipals
  --principal <key>=<arn>  report SigV4-signed requests of this access key id as this role (repeatable)
  --help                   this text`;

/** `npm start` options that cannot be parsed; the message ends with the usage text. */
export class UsageError extends TesseraError {
  constructor(message: string, options?: ErrorOptions) {
    super('UsageError', message, undefined, options);
  }
}

export function parseLocalModeOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): LocalModeOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`, { cause: error });
  }
  const { values } = parsed;
  const port = Number(env.PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`PORT=${env.PORT} is not a port number`);
  let caller: string | undefined;
  const principals: Record<string, string> = {};
  for (const entry of values.principal ?? []) {
    const equals = entry.indexOf('=');
    const [key, arn] = equals < 0 ? [undefined, entry] : [entry.slice(0, equals), entry.slice(equals + 1)];
    if (!/^arn:aws[\w-]*:(iam|sts)::\d{12}:(role|assumed-role)\/.+/.test(arn)) {
      throw new UsageError(`--principal ${entry}: give a role ARN (arn:aws:iam::123456789012:role/NAME), optionally after ACCESS_KEY_ID=`);
    }
    if (key === undefined) caller = arn;
    else principals[key] = arn;
  }
  const definitions = values.definitions ?? DEMO_DEFINITIONS;
  return {
    port,
    definitions,
    demo: !values['no-demo'] && resolve(definitions) === resolve(DEMO_DEFINITIONS),
    dataDirectory: values.data ?? LOCAL_DATA_DIRECTORY,
    fresh: values.fresh ?? false,
    ...(caller ? { caller } : {}),
    principals,
    help: values.help ?? false,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      definitions: { type: 'string' },
      'no-demo': { type: 'boolean' },
      fresh: { type: 'boolean' },
      data: { type: 'string' },
      principal: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
