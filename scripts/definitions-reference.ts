// `npm run docs:definitions`: writes the definitions reference, generated from the schemas,
// into README.md between its markers (lambdas/core/definition-reference.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { definitionsReference, REFERENCE_END, REFERENCE_START } from '../lambdas/core/definition-reference.js';

const readme = readFileSync('README.md', 'utf8');
const start = readme.indexOf(REFERENCE_START);
const end = readme.indexOf(REFERENCE_END);
if (start < 0 || end < start) throw new Error(`README.md has no definitions reference markers (${REFERENCE_START} … ${REFERENCE_END})`);
writeFileSync('README.md', `${readme.slice(0, start)}${definitionsReference()}${readme.slice(end + REFERENCE_END.length)}`);
console.log('README.md: definitions reference updated');
