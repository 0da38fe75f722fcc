/** IAM principals as the definitions name them (role ARNs) and as API Gateway reports callers (role sessions). */

/**
 * The role an ARN stands for, as `account:role-name`: an assumed-role session
 * (`arn:aws:sts::123:assumed-role/Name/session`) is its role (`arn:aws:iam::123:role/path/Name`).
 */
export function roleOf(arn: string): string | null {
  const sts = /^arn:aws[\w-]*:sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  if (sts) return `${sts[1]}:${sts[2]}`;
  const iam = /^arn:aws[\w-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(arn);
  if (iam) return `${iam[1]}:${iam[2]}`;
  return null;
}
