/**
 * A first look at a CSV labels file before the engine reads it: a time that is neither epoch
 * milliseconds nor an ISO-8601 time is reported by file, row and column, instead of as the
 * engine's conversion error with its SQL. The engine's own reading (lambdas/adapters/labels.ts)
 * stays the rule; this only finds the rows it would choke on.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { ValidationError } from '../lambdas/core/errors.js';

const EPOCH_MS = /^\d+$/;

export async function checkCsvLabels(file: string, timestampColumn: string): Promise<void> {
  const rows = createReadStream(file).pipe(parse({ columns: true, skip_empty_lines: true, bom: true }));
  let row = 0;
  for await (const record of rows as AsyncIterable<Record<string, string>>) {
    row++;
    if (!(timestampColumn in record)) {
      throw new ValidationError(
        `labels ${file}: no column "${timestampColumn}" (the columns are ${Object.keys(record).join(', ')}); name the time column with --timestamp-column`,
      );
    }
    const value = (record[timestampColumn] ?? '').trim();
    if (value === '' || EPOCH_MS.test(value) || !Number.isNaN(Date.parse(value))) continue;
    throw new ValidationError(
      `labels ${file}, row ${row} (line ${row + 1}), column ${timestampColumn}: ${JSON.stringify(value)} is neither epoch milliseconds nor an ISO-8601 time such as 2026-01-31T00:00:00Z`,
    );
  }
}
