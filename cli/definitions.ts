/** The definitions module a command (or local mode) loads, and how the CLI counts what it holds. */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Registry } from '../lambdas/core/registry.js';

export const DEFAULT_DEFINITIONS = 'features/index.ts';

export async function loadRegistry(path = DEFAULT_DEFINITIONS): Promise<Registry> {
  return Registry.fromModule(await import(pathToFileURL(resolve(path)).href));
}

/** `1 source`, `2 sources`, `1 entity`, `3 entities`. */
export const countOf = (n: number, noun: string): string =>
  `${n.toLocaleString('en-US')} ${n === 1 ? noun : noun.endsWith('y') ? `${noun.slice(0, -1)}ies` : `${noun}s`}`;
