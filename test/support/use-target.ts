/**
 * Vitest glue for `startTarget()`: one target per test file, started in `beforeAll` and
 * stopped in `afterAll`. When the target cannot run here (`TargetUnavailable`, e.g. the
 * Docker `localstack` target without a Docker engine) every test of the file is skipped with
 * the printed reason — counted as skipped, never as passed. A test that needs a capability
 * the target lacks skips itself the same way.
 *
 * ```ts
 * const t = useTarget();
 * it('writes in a transaction', async (ctx) => {
 *   const target = t.require(ctx, 'transactions');
 *   const clients = createClients(target);
 *   ...
 * });
 * ```
 */
import { afterAll, beforeAll, type TestContext } from 'vitest';
import { missing, startTarget, type Target, TargetUnavailable } from './target.js';

export interface TargetHandle {
  /** The started target, or skip this test (printing why) when it is unavailable or lacks a capability. */
  require(ctx: TestContext, ...capabilities: (keyof Target['capabilities'])[]): Target;
}

/** Skip reasons are printed with this prefix; scripts/targets/conformance.sh collects them. */
export const SKIP_MARK = '[tessera:skip]';

export function useTarget(options: { startTimeoutMs?: number } = {}): TargetHandle {
  let target: Target | undefined;
  let unavailable: string | undefined;

  beforeAll(async () => {
    try {
      target = await startTarget();
    } catch (error) {
      if (!(error instanceof TargetUnavailable)) throw error;
      unavailable = error.message;
      console.warn(`${SKIP_MARK} ${unavailable}`);
    }
  }, options.startTimeoutMs ?? 180_000);

  afterAll(async () => {
    await target?.stop();
  }, 60_000);

  return {
    require(ctx, ...capabilities) {
      if (unavailable !== undefined) ctx.skip(unavailable);
      if (target === undefined) throw new Error('useTarget(): the target did not start (see beforeAll)');
      for (const capability of capabilities) {
        const reason = missing(target, capability);
        if (reason !== undefined) ctx.skip(reason);
      }
      return target;
    },
  };
}
