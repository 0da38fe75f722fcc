#!/usr/bin/env node
/**
 * The layering, checked in `npm run lint`: every import (static, `export ... from` and dynamic
 * `import()`) of the TypeScript sources against the house's dependency rules. Data flows one
 * way — definitions → registry/plan → app/ → adapters; handlers/, local/, bin/ and cli/ are
 * edges. Exits 1 naming each import that breaks a rule.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['lambdas', 'lib', 'local', 'cli', 'bin', 'client', 'features'];

/** Node builtins core may use: pure ones only (no fs, net, process). */
const PURE_BUILTINS = new Set(['node:crypto']);
const inside = (path, folder) => path === folder || path.startsWith(`${folder}/`);
const isHandlerEntry = (file) => /^lambdas\/handlers\/[^/]+\.ts$/.test(file) && !/runtime(-base)?\.ts$|http\.ts$/.test(file);

/** Each rule: which files it governs, and what an import of theirs may not be (a reason, or undefined when allowed). */
const RULES = [
  {
    name: 'core imports only core and zod',
    applies: (file) => inside(file, 'lambdas/core'),
    check: (target) =>
      target.kind === 'package'
        ? target.name === 'zod' || PURE_BUILTINS.has(target.name)
          ? undefined
          : `the package ${target.name}`
        : inside(target.path, 'lambdas/core')
          ? undefined
          : target.path,
  },
  {
    name: 'adapters never import app or handlers',
    applies: (file) => inside(file, 'lambdas/adapters'),
    check: (target) =>
      target.kind === 'file' && ['lambdas/app', 'lambdas/handlers', 'local', 'cli', 'lib', 'bin'].some((f) => inside(target.path, f)) ? target.path : undefined,
  },
  {
    name: 'app never imports handlers',
    applies: (file) => inside(file, 'lambdas/app'),
    check: (target) =>
      target.kind === 'file' && ['lambdas/handlers', 'local', 'cli', 'lib', 'bin'].some((f) => inside(target.path, f)) ? target.path : undefined,
  },
  {
    name: 'cli never imports handlers or local/store',
    applies: (file) => inside(file, 'cli') || file === 'bin/tessera.ts',
    check: (target) => (target.kind === 'file' && (inside(target.path, 'lambdas/handlers') || target.path === 'local/store.ts') ? target.path : undefined),
  },
  {
    name: 'the definitions module is named only at composition roots (handler entries, local/, bin/, cli/)',
    applies: (file) => inside(file, 'lambdas') && !isHandlerEntry(file),
    check: (target) => (target.kind === 'file' && inside(target.path, 'features') ? target.path : undefined),
  },
];

/**
 * Known violations, each with why it is still here: `file -> import`. The check fails when one
 * of them is gone, so the list only shrinks.
 */
const KNOWN = new Map([]);

function* sourceFiles(folder) {
  for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true })) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (/\.ts$/.test(entry.name) && !/\.d\.ts$/.test(entry.name)) yield path;
  }
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file) {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const targets = [];
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2];
    if (spec.startsWith('.'))
      targets.push({
        kind: 'file',
        path: normalize(join(dirname(file), spec))
          .replace(/\\/g, '/')
          .replace(/\.js$/, '.ts'),
      });
    else
      targets.push({
        kind: 'package',
        name: spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.startsWith('node:') ? spec : spec.split('/')[0],
      });
  }
  return targets;
}

const found = [];
const seenKnown = new Set();
for (const folder of SOURCES) {
  for (const file of sourceFiles(folder)) {
    const rules = RULES.filter((rule) => rule.applies(file));
    if (rules.length === 0) continue;
    for (const target of importsOf(file)) {
      for (const rule of rules) {
        const bad = rule.check(target);
        if (bad === undefined) continue;
        const key = `${file} -> ${bad}`;
        if (KNOWN.has(key)) seenKnown.add(key);
        else found.push(`${key}  (${rule.name})`);
      }
    }
  }
}
const stale = [...KNOWN.keys()].filter((key) => !seenKnown.has(key));
for (const line of found) console.error(`layering: ${line}`);
for (const key of stale) console.error(`layering: ${key} is listed as a known violation but no longer occurs: remove it from scripts/check-layers.mjs`);
if (found.length || stale.length) process.exit(1);
console.log(`layering: ${RULES.length} rules hold over ${SOURCES.join(', ')} (${KNOWN.size} known violations listed)`);
