/**
 * The outputs of a deployed Tessera stack (lib/feature-store-stack.ts), read with the
 * caller's normal AWS credentials: how CLI commands find the table, the bucket, the batch
 * function and the training workgroup of a store by its stack name.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { NotFoundError, ValidationError } from '../lambdas/core/errors.js';

export interface StackRef {
  readonly stack: string;
  readonly region?: string;
}

export interface StackOutputs {
  readonly stack: string;
  readonly region: string;
  /** The value of an output; throws, naming the stack, when it has none (an older or a foreign stack). */
  require(key: string): string;
}

export async function readStackOutputs(ref: StackRef, env: NodeJS.ProcessEnv = {}): Promise<StackOutputs> {
  const region = ref.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new ValidationError('--stack needs a region: pass --region or set AWS_REGION');
  const cloudformation = new CloudFormationClient({ region });
  try {
    const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: ref.stack }));
    const outputs = new Map((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
    return {
      stack: ref.stack,
      region,
      require(key) {
        const value = outputs.get(key);
        if (!value) throw new NotFoundError(`stack ${ref.stack} has no ${key} output; is it a Tessera stack, deployed from this version?`);
        return value;
      },
    };
  } finally {
    cloudformation.destroy();
  }
}
