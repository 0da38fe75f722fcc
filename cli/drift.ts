/**
 * `tessera drift --service fraud_v1 --training train.parquet [--since 7d]`: PSI (and KS for
 * numbers) per feature between a training set and what was served since; a table, `--html`
 * for small multiples (training vs served shares per bin, one panel per feature), `--json`.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { DriftDeps, DriftReport, FeatureDrift } from '../lambdas/app/drift.js';
import { parseDuration } from '../lambdas/core/duration.js';
import { ValidationError } from '../lambdas/core/errors.js';
import { type DefinitionsOptions, type Output, withDefinitions, withStack } from './command.js';
import { escapeHtml, htmlPage, px } from './html.js';
import { type OfflineStoreOptions, offlineStoreAction } from './offline-store.js';

/** The usual reading of PSI: below 0.1 stable, 0.1–0.25 moderate, above 0.25 a shift. */
export const psiVerdict = (value: number): string => (value < 0.1 ? 'stable' : value < 0.25 ? 'moderate shift' : 'SHIFTED');

export interface DriftOptions {
  readonly service: string;
  readonly training: string;
  /** @default 7d */
  readonly since?: string;
  readonly timestampColumn?: string;
  readonly html?: string;
  readonly json?: boolean;
}

export async function driftCommand(options: DriftOptions, deps: DriftDeps & { stdout: Output; clock?: () => number }): Promise<DriftReport> {
  const window = parseDuration(options.since ?? '7d');
  if (window === undefined) throw new ValidationError(`--since: ${options.since} is not a duration like 7d`);
  const now = (deps.clock ?? Date.now)();
  // Loaded here, not at the top: DuckDB is a native module the other commands do without.
  const { driftReport } = await import('../lambdas/app/drift.js');
  const report = await driftReport(
    {
      service: options.service,
      training: options.training,
      since: now - window,
      now,
      ...(options.timestampColumn ? { timestampColumn: options.timestampColumn } : {}),
    },
    deps,
  );
  if (options.html) await writeFile(options.html, driftHtml(report));
  deps.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${describeDrift(report)}${options.html ? `\nchart: ${options.html}\n` : ''}`);
  return report;
}

export function describeDrift(report: DriftReport): string {
  const width = Math.max(7, ...report.features.map((f) => f.column.length));
  const lines = [
    `${report.service}: ${report.trainingRows.toLocaleString('en-US')} training rows against ${report.servedRows.toLocaleString('en-US')} served rows since ${report.since}`,
    '',
    `  ${'feature'.padEnd(width)}    PSI     KS  verdict         served per day (PSI)`,
  ];
  for (const f of report.features) {
    lines.push(
      `  ${f.column.padEnd(width)}  ${f.comparison.psi.toFixed(3).padStart(5)}  ${f.comparison.ks === undefined ? '    —' : f.comparison.ks.toFixed(3)}  ${psiVerdict(f.comparison.psi).padEnd(14)}  ${f.daily.map((d) => `${d.day.slice(5)} ${d.psi.toFixed(2)}`).join(', ')}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const PANEL = { width: 260, height: 140, left: 8, top: 10, bottom: 34 } as const;

function panel(f: FeatureDrift): string {
  const { width, height, left, top, bottom } = PANEL;
  const plotH = height - top - bottom;
  const n = f.comparison.bins.length;
  const slot = (width - 2 * left) / n;
  const max = Math.max(0.01, ...f.comparison.expected, ...f.comparison.actual);
  const bar = (share: number, x: number, colour: string, label: string) =>
    `<rect x="${px(x)}" y="${px(top + plotH * (1 - share / max))}" width="${px(slot * 0.4)}" height="${px((plotH * share) / max)}" fill="${colour}"><title>${escapeHtml(label)} ${(share * 100).toFixed(1)}%</title></rect>`;
  const parts = f.comparison.bins.flatMap((bin, i) => {
    const x = left + i * slot;
    return [
      bar(f.comparison.expected[i] ?? 0, x + slot * 0.1, '#9aa9c7', `training, ${bin}:`),
      bar(f.comparison.actual[i] ?? 0, x + slot * 0.5, '#d9822b', `served, ${bin}:`),
      `<text x="${px(x + slot / 2)}" y="${height - bottom + 10}" text-anchor="end" transform="rotate(-40 ${px(x + slot / 2)} ${height - bottom + 10})">${escapeHtml(bin.slice(0, 10))}</text>`,
    ];
  });
  const verdict = psiVerdict(f.comparison.psi);
  return `<figure><svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(`${f.column}: PSI ${f.comparison.psi.toFixed(3)}`)}"><line x1="${left}" y1="${top + plotH}" x2="${width - left}" y2="${top + plotH}" stroke="#999"/>${parts.join('')}</svg>
<figcaption><b>${escapeHtml(f.column)}</b><br>PSI ${f.comparison.psi.toFixed(3)}${f.comparison.ks === undefined ? '' : `, KS ${f.comparison.ks.toFixed(3)}`} — <span class="${verdict === 'stable' ? 'batch' : 'stream'}">${verdict}</span></figcaption></figure>`;
}

export function driftHtml(report: DriftReport): string {
  const rows = report.features
    .map(
      (f) =>
        `<tr><td>${escapeHtml(f.column)}</td><td>${f.comparison.psi.toFixed(3)}</td><td>${f.comparison.ks?.toFixed(3) ?? '—'}</td><td>${escapeHtml(f.training)}</td><td>${escapeHtml(f.served)}</td></tr>`,
    )
    .join('\n');
  const body = `<p>${escapeHtml(describeDrift(report).split('\n')[0] as string)}</p>
<p>Bars: share of rows per bin (the training set's deciles for numbers, its top values for text) — <span style="color:#7d8fb3">training</span>, <span style="color:#d9822b">served</span>.</p>
<div class="grid">${report.features.map(panel).join('\n')}</div>
<table><tr><th>feature</th><th>PSI</th><th>KS</th><th>training</th><th>served</th></tr>
${rows}</table>`;
  return htmlPage(`Drift of ${report.service}`, body);
}

export function register(program: Command): void {
  withStack(
    withDefinitions(
      program
        .command('drift')
        .description('PSI (and KS for numbers) per feature between a training set and what was served since')
        .requiredOption('--service <name>', 'a feature service')
        .requiredOption('--training <file>', 'a training set of the service (.parquet or .csv), e.g. from tessera training-set')
        .option('--since <duration>', 'how far back to look at what was served', '7d')
        .option('--timestamp-column <name>', "the training set's time column", 'event_timestamp')
        .option('--html <file>', 'also write the report with its charts as an HTML page')
        .option('--json', 'print the report as JSON'),
    ),
  ).action(
    offlineStoreAction((options: DriftOptions & OfflineStoreOptions & DefinitionsOptions, deps) => driftCommand(options, { ...deps, stdout: process.stdout })),
  );
}
