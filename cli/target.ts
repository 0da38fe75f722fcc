/**
 * Where a CLI command goes: local mode's API by default, or a deployed stack found by name
 * with the caller's normal AWS credentials (outputs ApiUrl and StreamName<Source>).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { TesseraClient } from '../client/tessera-client.js';
import { LOCAL_OPERATOR } from '../local/discovery.js';

export interface TargetOptions {
  readonly url?: string;
  readonly stack?: string;
  readonly region?: string;
}

export interface CliTarget {
  readonly description: string;
  readonly client: TesseraClient;
  /** Set for a deployed stack: the region and the physical stream of each source. */
  readonly aws?: { readonly region: string; readonly streams: Readonly<Record<string, string>> };
}

export const DEFAULT_LOCAL_URL = 'http://127.0.0.1:4000';

const pascalCase = (name: string) => name.replace(/(^|_)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());

export async function resolveTarget(options: TargetOptions, env: NodeJS.ProcessEnv): Promise<CliTarget> {
  if (!options.stack) {
    const url = options.url ?? env.TESSERA_URL ?? DEFAULT_LOCAL_URL;
    // Signed as local mode's operator, which local mode lets push (its signature is not checked).
    const signing = { region: 'us-east-1', credentials: { accessKeyId: LOCAL_OPERATOR.accessKeyId, secretAccessKey: LOCAL_OPERATOR.secretAccessKey } };
    return { description: `local mode at ${url}`, client: new TesseraClient({ url, signing }) };
  }
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new Error('--stack needs a region: pass --region or set AWS_REGION');
  const cloudformation = new CloudFormationClient({ region });
  const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: options.stack }));
  const outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  const url = outputs.ApiUrl;
  if (!url) throw new Error(`stack ${options.stack} has no ApiUrl output; is it a Tessera stack?`);
  const streams = new Proxy({} as Record<string, string>, { get: (_, source: string) => outputs[`StreamName${pascalCase(source)}`] });
  return {
    description: `stack ${options.stack} (${region})`,
    client: new TesseraClient({ url, signing: { region, credentials: fromNodeProviderChain() } }),
    aws: { region, streams },
  };
}
