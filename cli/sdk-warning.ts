/**
 * The AWS SDK warns on every process under Node 20 that its releases after January 2027 need
 * Node 22. Said once it is news; said on every command it is noise. The CLI lets it through
 * the first time (and remembers that under .work/), then turns it off with the SDK's own switch.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const SDK_WARNING_MARKER = '.work/aws-sdk-node-warning-shown';
const SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/** Call before any AWS client is built. */
export function sdkNodeWarningOnce(env: NodeJS.ProcessEnv, marker = SDK_WARNING_MARKER): void {
  if (existsSync(marker)) {
    env[SWITCH] = 'true';
    return;
  }
  process.on('warning', (warning) => {
    if (!warning.message.includes('NodeVersionSupportWarning')) return;
    try {
      mkdirSync(dirname(marker), { recursive: true });
      writeFileSync(marker, `${new Date().toISOString()}\n${warning.message}\n`);
    } catch {
      // Not remembered: it shows again next time, which is harmless.
    }
  });
}
