/**
 * A small client of Trino's HTTP protocol, enough to execute the generated SQL on Athena's
 * engine in the tests: POST the statement to /v1/statement, follow `nextUri` until the
 * answer has none, collecting `columns` and `data` on the way; an `error` fails the query.
 * (A 503 means "busy, ask again", as the protocol says.)
 */
import type { Row } from '../../lambdas/core/definitions.js';

export class TrinoQueryError extends Error {
  override readonly name = 'TrinoQueryError';
  constructor(
    readonly reason: string,
    readonly sql: string,
  ) {
    super(`trino query failed: ${reason}\n${sql.slice(0, 2_000)}`);
  }
}

interface StatementAnswer {
  readonly nextUri?: string;
  readonly columns?: readonly { name: string; type: string }[];
  readonly data?: readonly unknown[][];
  readonly error?: { message: string; errorName?: string };
}

export class TrinoClient {
  constructor(
    private readonly endpoint: string,
    private readonly session: { catalog: string; user?: string } = { catalog: 'memory' },
  ) {}

  async run(sql: string): Promise<Row[]> {
    const headers = { 'X-Trino-User': this.session.user ?? 'tessera', 'X-Trino-Catalog': this.session.catalog };
    let answer = await this.ask(`${this.endpoint}/v1/statement`, { method: 'POST', body: sql, headers }, sql);
    let columns: readonly { name: string; type: string }[] | undefined;
    const rows: unknown[][] = [];
    for (;;) {
      if (answer.error) throw new TrinoQueryError(`${answer.error.errorName ?? 'ERROR'}: ${answer.error.message}`, sql);
      columns ??= answer.columns;
      if (answer.data) rows.push(...answer.data);
      if (!answer.nextUri) break;
      answer = await this.ask(answer.nextUri, { headers }, sql);
    }
    const names = (columns ?? []).map((c) => c.name);
    return rows.map((values) => Object.fromEntries(names.map((name, i) => [name, values[i] ?? null])));
  }

  private async ask(url: string, init: RequestInit, sql: string): Promise<StatementAnswer> {
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(url, init);
      if (response.status === 503 && attempt < 20) {
        await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
        continue;
      }
      if (!response.ok) throw new TrinoQueryError(`HTTP ${response.status}: ${(await response.text()).slice(0, 500)}`, sql);
      return (await response.json()) as StatementAnswer;
    }
  }
}
