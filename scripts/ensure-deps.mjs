#!/usr/bin/env node
// Runs before `npm start` and `npm test`: on a fresh clone (no node_modules, or one older than
// package-lock.json) it installs the locked dependencies with `npm ci`, so those two commands
// are all a new machine needs. Plain Node, no dependencies of its own.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const marker = 'node_modules/.package-lock.json';
const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync('package-lock.json').mtimeMs;
if (stale) {
  console.error('tessera: installing the locked dependencies with npm ci — the first run on a fresh clone takes about 2 minutes, later runs skip this…');
  execSync('npm ci --no-audit --no-fund', { stdio: 'inherit' });
}
