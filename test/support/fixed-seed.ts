/**
 * Setup of the mutation runs (vitest.mutation.config.ts): every property test draws the same
 * cases on every run, so a mutant is killed or survives by what it changes, not by the draw,
 * and the incremental file's results stay valid between runs.
 */
import fc from 'fast-check';

fc.configureGlobal({ seed: 20_2026 });
