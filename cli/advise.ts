/**
 * `tessera advise --service fraud_v1 --labels labels.csv [--staleness 5m,1h,6h,24h]`: which
 * streaming features of a service would lose nothing if a batch run every Δ served them, and
 * what that schedule would save. Prints a table; `--html` writes the same report with a
 * small-multiples chart (one panel per feature); `--json` prints the report for scripts.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ProgressListener } from '../lambdas/adapters/query-runner.js';
import { formatDuration, parseDuration } from '../lambdas/core/duration.js';
import { ValidationError } from '../lambdas/core/errors.js';
import type { FeatureAdvice } from '../lambdas/core/staleness.js';
import type { AdviseDeps, AdvisorReport, ViewSaving } from '../tools/staleness-advisor.js';
import { type DefinitionsOptions, type Output, withDefinitions, withStack } from './command.js';
import { escapeHtml, htmlPage, px } from './html.js';
import { type OfflineStoreOptions, offlineStoreAction } from './offline-store.js';

export interface AdviseOptions {
  readonly service: string;
  readonly labels: string;
  /** Comma-separated durations. @default 5m,1h,6h,24h */
  readonly staleness?: string;
  readonly labelColumn?: string;
  readonly timestampColumn?: string;
  /** Largest acceptable AUC drop. @default 0.01 */
  readonly tolerance?: string;
  /** DynamoDB write units per online item write. @default 1 */
  readonly writeUnits?: string;
  /** Lambda milliseconds per online item write. @default 5 */
  readonly lambdaMs?: string;
  readonly html?: string;
  readonly json?: boolean;
}

export function parseStalenesses(text: string): number[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const ms = parseDuration(part);
      if (ms === undefined) throw new ValidationError(`--staleness: ${part} is not a duration like 5m, 1h, 6h or 24h`);
      return ms;
    });
}

function positiveNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(value >= 0) || !Number.isFinite(value)) throw new ValidationError(`${name}: ${text} is not a non-negative number`);
  return value;
}

export async function adviseCommand(options: AdviseOptions, deps: AdviseDeps & { stdout: Output }): Promise<AdvisorReport> {
  const tolerance = positiveNumber('--tolerance', options.tolerance);
  const writeUnits = positiveNumber('--write-units', options.writeUnits);
  const lambdaMs = positiveNumber('--lambda-ms', options.lambdaMs);
  // Loaded here, not at the top: DuckDB is a native module the other commands do without.
  const { adviseService, DEFAULT_STALENESSES } = await import('../tools/staleness-advisor.js');
  const report = await adviseService(
    {
      service: options.service,
      labels: options.labels,
      stalenesses: parseStalenesses(options.staleness ?? DEFAULT_STALENESSES.join(',')),
      ...(options.labelColumn ? { labelColumn: options.labelColumn } : {}),
      ...(options.timestampColumn ? { timestampColumn: options.timestampColumn } : {}),
      ...(tolerance !== undefined ? { options: { tolerance, maxChangeShare: tolerance } } : {}),
      ...(writeUnits !== undefined || lambdaMs !== undefined ? { costPerWrite: { writeUnits: writeUnits ?? 1, lambdaMs: lambdaMs ?? 5 } } : {}),
    },
    deps,
  );
  if (options.html) await writeFile(options.html, adviceHtml(report));
  deps.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${describeAdvice(report)}${options.html ? `\nchart: ${options.html}\n` : ''}`);
  return report;
}

/** Progress as one line per stage, on stderr. */
export function stageLines(stream: Output): ProgressListener {
  let stage: string | undefined;
  return (p) => {
    if (p.stage === stage) return;
    stage = p.stage;
    stream.write(`${p.stage}: ${p.message}\n`);
  };
}

/** "needs streaming" or "batch every Δ is enough". */
export const verdictOf = (feature: FeatureAdvice): string =>
  feature.batchEveryMs === undefined ? 'needs streaming' : `batch every ${formatDuration(feature.batchEveryMs)} is enough`;

/** The longest lag every advised feature of the view accepts; undefined if one needs streaming. */
function viewBatchEvery(report: AdvisorReport, view: string): number | undefined {
  const lags = report.features.filter((f) => f.view === view).map((f) => f.batchEveryMs);
  return lags.some((lag) => lag === undefined) ? undefined : Math.min(...(lags as number[]));
}

const percent = (share: number) => `${Math.round(share * 100)}%`;
const count = (n: number) => Math.round(n).toLocaleString('en-US');

export function describeAdvice(report: AdvisorReport): string {
  const deltas = report.stalenesses.map(formatDuration).join(' / ');
  const judged =
    report.criterion === 'auc-drop'
      ? `model AUC (all fresh, held-out rows) ${report.modelAuc?.toFixed(3)}; a feature may be stale while the model's AUC drops by at most ${report.threshold}`
      : `no labels: a feature may be stale while at most ${percent(report.threshold)} of its values change`;
  const lines = [
    `${report.service}: ${count(report.rows)} label rows, ${new Date(report.from).toISOString()} → ${new Date(report.to).toISOString()}`,
    judged,
    '',
  ];
  const width = Math.max(7, ...report.features.map((f) => f.column.length));
  const changed = `changed at ${deltas}`;
  const dropped = `AUC drop at ${deltas}`;
  const header = [`${'feature'.padEnd(width)}`, 'alone AUC', changed];
  if (report.criterion === 'auc-drop') header.push(dropped);
  lines.push(`  ${[...header, 'verdict'].join('  ')}`);
  for (const f of report.features) {
    const cells = [
      f.column.padEnd(width),
      (f.aloneAuc === undefined ? '—' : f.aloneAuc.toFixed(3)).padStart(9),
      f.effects
        .map((e) => percent(e.changeShare).padStart(4))
        .join(' / ')
        .padStart(changed.length),
    ];
    if (report.criterion === 'auc-drop')
      cells.push(
        f.effects
          .map((e) => e.loss.toFixed(3))
          .join(' / ')
          .padStart(dropped.length),
      );
    lines.push(`  ${[...cells, verdictOf(f)].join('  ')}`);
  }
  lines.push(
    '',
    `What a batch schedule would save per day (${report.costPerWrite.writeUnits} write unit and ${report.costPerWrite.lambdaMs} ms of Lambda per item write):`,
  );
  for (const view of report.savings) lines.push(`  ${describeViewSaving(report, view)}`);
  return `${lines.join('\n')}\n`;
}

function describeViewSaving(report: AdvisorReport, view: ViewSaving): string {
  const every = viewBatchEvery(report, view.view);
  const streaming = report.features.filter((f) => f.view === view.view && f.batchEveryMs === undefined).map((f) => f.column);
  if (every === undefined) return `${view.view}: keeps streaming (${streaming.join(', ')} need${streaming.length === 1 ? 's' : ''} it)`;
  const saving = view.savings.find((s) => s.stalenessMs === every);
  if (!saving) return `${view.view}: batch every ${formatDuration(every)}`;
  return `${view.view}: batch every ${formatDuration(every)}: ${count(saving.streamWritesPerDay)} → ${count(saving.batchWritesPerDay)} item writes, ${count(saving.writeUnitsSavedPerDay)} write units and ${saving.lambdaSecondsSavedPerDay.toFixed(1)} Lambda-seconds saved`;
}

const PANEL = { width: 240, height: 150, left: 34, right: 40, top: 12, bottom: 28 } as const;

/** One panel: bars for the share of values changed at each Δ (left axis), the line for the AUC drop (right axis), the tolerance dashed. */
function panel(report: AdvisorReport, feature: FeatureAdvice): string {
  const { width, height, left, right, top, bottom } = PANEL;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const n = feature.effects.length;
  const slot = plotW / n;
  const y = (share: number) => top + plotH * (1 - share);
  const withLabels = report.criterion === 'auc-drop';
  const maxLoss = Math.max(report.threshold * 2, ...report.features.flatMap((f) => f.effects.map((e) => e.loss)));
  const yLoss = (loss: number) => top + plotH * (1 - Math.min(1, loss / maxLoss));
  const parts = [`<line x1="${left}" y1="${y(0)}" x2="${left + plotW}" y2="${y(0)}" stroke="#999"/>`];
  parts.push(`<text x="${left - 4}" y="${y(1) + 3}" text-anchor="end">100%</text><text x="${left - 4}" y="${y(0) + 3}" text-anchor="end">0</text>`);
  feature.effects.forEach((e, i) => {
    const x = left + i * slot;
    parts.push(
      `<rect x="${px(x + slot * 0.2)}" y="${px(y(e.changeShare))}" width="${px(slot * 0.6)}" height="${px(plotH * e.changeShare)}" fill="#c8d3e6"><title>${percent(e.changeShare)} changed at ${formatDuration(e.stalenessMs)}</title></rect>`,
      `<text x="${px(x + slot / 2)}" y="${height - bottom + 12}" text-anchor="middle">${formatDuration(e.stalenessMs)}</text>`,
    );
  });
  if (withLabels) {
    const points = feature.effects.map((e, i) => `${px(left + i * slot + slot / 2)},${px(yLoss(e.loss))}`);
    parts.push(
      `<line x1="${left}" y1="${px(yLoss(report.threshold))}" x2="${left + plotW}" y2="${px(yLoss(report.threshold))}" stroke="#b3261e" stroke-dasharray="4 3"/>`,
      `<polyline points="${points.join(' ')}" fill="none" stroke="#222" stroke-width="1.5"/>`,
      ...feature.effects.map(
        (e, i) =>
          `<circle cx="${px(left + i * slot + slot / 2)}" cy="${px(yLoss(e.loss))}" r="2.5"><title>AUC drop ${e.loss.toFixed(4)} at ${formatDuration(e.stalenessMs)}</title></circle>`,
      ),
      `<text x="${left + plotW + 4}" y="${y(1) + 3}">${maxLoss.toFixed(3)}</text><text x="${left + plotW + 4}" y="${px(yLoss(report.threshold) + 3)}" fill="#b3261e">tol.</text>`,
    );
  } else {
    parts.push(
      `<line x1="${left}" y1="${px(y(report.threshold))}" x2="${left + plotW}" y2="${px(y(report.threshold))}" stroke="#b3261e" stroke-dasharray="4 3"/>`,
    );
  }
  const verdict = verdictOf(feature);
  return `<figure><svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(`${feature.column}: ${verdict}`)}">${parts.join('')}</svg>
<figcaption><b>${escapeHtml(feature.column)}</b><br><span class="${feature.batchEveryMs === undefined ? 'stream' : 'batch'}">${escapeHtml(verdict)}</span></figcaption></figure>`;
}

export function adviceHtml(report: AdvisorReport): string {
  const rows = report.features
    .map(
      (f) =>
        `<tr><td>${escapeHtml(f.column)}</td><td>${f.aloneAuc?.toFixed(3) ?? '—'}</td>${f.effects.map((e) => `<td>${percent(e.changeShare)}</td>`).join('')}${
          report.criterion === 'auc-drop' ? f.effects.map((e) => `<td>${e.loss.toFixed(3)}</td>`).join('') : ''
        }<td class="${f.batchEveryMs === undefined ? 'stream' : 'batch'}">${escapeHtml(verdictOf(f))}</td></tr>`,
    )
    .join('\n');
  const deltas = report.stalenesses.map((d) => `<th>${formatDuration(d)}</th>`).join('');
  const legend =
    report.criterion === 'auc-drop'
      ? 'Bars: share of label rows whose value at t − Δ differs from the value at t. Line: drop in the held-out AUC of a logistic regression over the service’s features when only this one is served Δ stale; dashed: the tolerance.'
      : 'Bars: share of label rows whose value at t − Δ differs from the value at t; dashed: the largest share accepted (no labels were given).';
  const body = `<p>${escapeHtml(describeAdvice(report).split('\n').slice(0, 2).join(' — '))}</p>
<table><tr><th>feature</th><th>alone AUC</th>${deltas.replaceAll('<th>', '<th>changed ')}${report.criterion === 'auc-drop' ? deltas.replaceAll('<th>', '<th>AUC drop ') : ''}<th>verdict</th></tr>
${rows}</table>
<p>${escapeHtml(legend)}</p>
<div class="grid">${report.features.map((f) => panel(report, f)).join('\n')}</div>
<h2>What a batch schedule would save, per day</h2>
<ul>${report.savings.map((v) => `<li>${escapeHtml(describeViewSaving(report, v))}</li>`).join('')}</ul>`;
  return htmlPage(`Staleness advice for ${report.service}`, body);
}

export function register(program: Command): void {
  withStack(
    withDefinitions(
      program
        .command('advise')
        .description('which streaming features of a service lose nothing when served stale, so that a batch schedule would do')
        .requiredOption('--service <name>', 'a feature service')
        .requiredOption('--labels <file|s3://…>', 'labels: join keys, a time column, optionally a 0/1 outcome (.parquet or .csv)')
        .option('--staleness <durations>', 'the lags to test, comma-separated', '5m,1h,6h,24h')
        .option('--label-column <name>', 'the 0/1 outcome column (without it: judged by how often values change)')
        .option('--timestamp-column <name>', "the labels' time column", 'event_timestamp')
        .option('--tolerance <number>', 'largest acceptable AUC drop (or share of changed values without labels)')
        .option('--write-units <number>', 'DynamoDB write units per online item write', '1')
        .option('--lambda-ms <number>', 'Lambda milliseconds per online item write', '5')
        .option('--html <file>', 'also write the report with its chart as an HTML page')
        .option('--json', 'print the report as JSON'),
    ),
  ).action(
    offlineStoreAction((options: AdviseOptions & OfflineStoreOptions & DefinitionsOptions, deps) =>
      adviseCommand(options, { ...deps, stdout: process.stdout, onProgress: stageLines(process.stderr) }),
    ),
  );
}
