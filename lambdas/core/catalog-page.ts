/**
 * The catalog as a web page people browse: one self-contained HTML document (inline CSS,
 * inline script, inline SVG — no CDN, no fetch) generated from the catalog JSON. Search over
 * every definition; entities, sources, views, features, on-demand features and services with
 * types, owner, description, tags, pii (tagged, or derived: an on-demand feature computed
 * from a pii input), TTL and windows; the lineage graph source → view → service; freshness
 * and null rates of the offline rows where the caller measured them.
 *
 * Served at GET /catalog by the serve handler (no figures: it reads no S3) and written by
 * `tessera catalog --out site/` (with figures when it can read the offline store). Pure.
 */
import type { Catalog } from './catalog.js';

/** What was measured of one view's offline rows. */
export interface ViewStats {
  readonly rows: number;
  /** Latest event time (epoch ms) among the rows; absent with no rows. */
  readonly lastEventTs?: number;
  /** Share of rows (0..1) where each row feature is null. */
  readonly nullRates: Readonly<Record<string, number>>;
}

export interface CatalogPageOptions {
  /** Figures of the offline rows by view name. @default none: the page says they are not measured */
  readonly stats?: Readonly<Record<string, ViewStats>>;
  /** When the figures were measured (epoch ms), shown with them. */
  readonly measuredAt?: number;
}

/** A feature's pii status: tagged on its definition, derived from pii inputs, or none. */
export interface PiiMark {
  readonly kind: 'tagged' | 'derived';
  /** For derived pii, the pii inputs it is computed from. */
  readonly from: readonly string[];
}

/**
 * Every pii feature by reference (`view:feature`): features of views tagged `pii`, and
 * on-demand features tagged `pii` or reading a pii input (their output can reveal it).
 */
export function piiFeatures(catalog: Catalog): Map<string, PiiMark> {
  const marks = new Map<string, PiiMark>();
  for (const view of catalog.featureViews) {
    if (view.tags.includes('pii')) for (const f of view.features) marks.set(`${view.name}:${f.name}`, { kind: 'tagged', from: [] });
  }
  for (const odfv of catalog.onDemandFeatures) {
    const from = odfv.inputs.filter((input) => marks.has(input));
    for (const f of odfv.features) {
      if (odfv.tags.includes('pii')) marks.set(`${odfv.name}:${f.name}`, { kind: 'tagged', from: [] });
      else if (from.length) marks.set(`${odfv.name}:${f.name}`, { kind: 'derived', from });
    }
  }
  return marks;
}

export type LineageKind = 'source' | 'view' | 'ondemand' | 'service';

export interface LineageGraph {
  readonly nodes: readonly { id: string; kind: LineageKind; name: string; pii: boolean }[];
  readonly edges: readonly { from: string; to: string }[];
}

/** The catalog's lineage with features folded into their views: source → view (→ on-demand) → service. */
export function lineageGraph(catalog: Catalog): LineageGraph {
  const pii = piiFeatures(catalog);
  const onDemand = new Set(catalog.onDemandFeatures.map((o) => o.name));
  const viewOf = (feature: string) => feature.split(':')[0] ?? feature;
  const nodeId = (view: string) => `${onDemand.has(view) ? 'ondemand' : 'view'}:${view}`;
  const edges = new Map<string, { from: string; to: string }>();
  const add = (from: string, to: string) => edges.set(`${from}→${to}`, { from, to });
  for (const { from, to } of catalog.lineage) {
    const [fromKind, ...fromRest] = from.split(':');
    const [toKind, ...toRest] = to.split(':');
    const fromName = fromRest.join(':');
    const toName = toRest.join(':');
    if (fromKind === 'source' && toKind === 'view') add(from, nodeId(toName));
    else if (fromKind === 'feature' && toKind === 'service') add(nodeId(viewOf(fromName)), to);
    else if (fromKind === 'feature' && toKind === 'view') add(nodeId(viewOf(fromName)), nodeId(toName));
  }
  const hasPii = (view: string) => [...pii.keys()].some((ref) => viewOf(ref) === view);
  return {
    nodes: [
      ...catalog.sources.map((s) => ({ id: `source:${s.name}`, kind: 'source' as const, name: s.name, pii: false })),
      ...catalog.featureViews.map((v) => ({ id: `view:${v.name}`, kind: 'view' as const, name: v.name, pii: hasPii(v.name) })),
      ...catalog.onDemandFeatures.map((o) => ({ id: `ondemand:${o.name}`, kind: 'ondemand' as const, name: o.name, pii: hasPii(o.name) })),
      ...catalog.featureServices.map((s) => ({ id: `service:${s.name}`, kind: 'service' as const, name: s.name, pii: s.piiFeatures.length > 0 })),
    ],
    edges: [...edges.values()],
  };
}

const COLUMNS: readonly LineageKind[] = ['source', 'view', 'ondemand', 'service'];
const NODE_WIDTH = 190;
const NODE_HEIGHT = 30;
const COLUMN_GAP = 90;
const ROW_GAP = 14;

/** The lineage graph as inline SVG: one column per kind, edges as curves left to right. */
export function lineageSvg(graph: LineageGraph): string {
  const columns = COLUMNS.filter((kind) => graph.nodes.some((n) => n.kind === kind));
  const at = new Map<string, { x: number; y: number }>();
  let rows = 0;
  columns.forEach((kind, column) => {
    graph.nodes
      .filter((n) => n.kind === kind)
      .forEach((node, row) => {
        at.set(node.id, { x: 10 + column * (NODE_WIDTH + COLUMN_GAP), y: 10 + row * (NODE_HEIGHT + ROW_GAP) });
        rows = Math.max(rows, row + 1);
      });
  });
  const width = 20 + columns.length * NODE_WIDTH + (columns.length - 1) * COLUMN_GAP;
  const height = 20 + rows * (NODE_HEIGHT + ROW_GAP) - ROW_GAP;
  const edges = graph.edges.flatMap(({ from, to }) => {
    const a = at.get(from);
    const b = at.get(to);
    if (!a || !b) return [];
    const [x1, y1, x2, y2] = [a.x + NODE_WIDTH, a.y + NODE_HEIGHT / 2, b.x, b.y + NODE_HEIGHT / 2];
    const bend = (x2 - x1) / 2;
    return [
      `<path class="edge" data-from="${escapeHtml(from)}" data-to="${escapeHtml(to)}" d="M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}"/>`,
    ];
  });
  const nodes = graph.nodes.map((node) => {
    const { x, y } = at.get(node.id)!;
    const label = node.name.length > 24 ? `${node.name.slice(0, 23)}…` : node.name;
    return (
      `<g class="node ${node.kind}${node.pii ? ' pii' : ''}" data-id="${escapeHtml(node.id)}"><title>${escapeHtml(`${node.kind} ${node.name}${node.pii ? ' (pii)' : ''}`)}</title>` +
      `<rect x="${x}" y="${y}" width="${NODE_WIDTH}" height="${NODE_HEIGHT}" rx="6"/>` +
      `<text x="${x + 10}" y="${y + NODE_HEIGHT / 2 + 4}">${escapeHtml(label)}${node.pii ? ' ⚠' : ''}</text></g>`
    );
  });
  const headings = columns.map(
    (kind, column) => `<text class="heading" x="${10 + column * (NODE_WIDTH + COLUMN_GAP)}" y="${height + 16}">${HEADINGS[kind]}</text>`,
  );
  return (
    `<svg id="lineage" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Lineage: sources, feature views, on-demand features, feature services" ` +
    `viewBox="0 0 ${width} ${height + 24}" width="${width}" height="${height + 24}">${edges.join('')}${nodes.join('')}${headings.join('')}</svg>`
  );
}

const HEADINGS: Record<LineageKind, string> = { source: 'sources', view: 'feature views', ondemand: 'on-demand', service: 'services' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const percent = (share: number) => `${(share * 100).toFixed(share > 0 && share < 0.001 ? 2 : 1)}%`;

/** The whole page. */
export function catalogPage(catalog: Catalog, options: CatalogPageOptions = {}): string {
  const pii = piiFeatures(catalog);
  const stats = options.stats;
  const tags = (list: readonly string[]) => list.map((t) => `<span class="tag${t === 'pii' ? ' pii' : ''}">${escapeHtml(t)}</span>`).join(' ');
  const piiBadge = (ref: string) => {
    const mark = pii.get(ref);
    if (!mark) return '';
    return mark.kind === 'tagged'
      ? '<span class="pii-badge" title="tagged pii">PII</span>'
      : `<span class="pii-badge derived" title="derived from ${escapeHtml(mark.from.join(', '))}">PII (derived from ${escapeHtml(mark.from.join(', '))})</span>`;
  };
  const card = (kind: string, name: string, body: string, search: string) =>
    `<article class="card" data-kind="${kind}" data-search="${escapeHtml(`${kind} ${name} ${search}`.toLowerCase())}"><h3><span class="kind">${kind}</span> ${escapeHtml(name)}</h3>${body}</article>`;
  const meta = (pairs: [string, string][]) =>
    `<dl>${pairs
      .filter(([, v]) => v !== '')
      .map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`)
      .join('')}</dl>`;

  const entities = catalog.entities.map((e) =>
    card(
      'entity',
      e.name,
      meta([
        ['join key', `<code>${escapeHtml(e.joinKey)}</code> (${e.keyType})`],
        ['description', escapeHtml(e.description ?? '')],
      ]),
      `${e.joinKey} ${e.description ?? ''}`,
    ),
  );
  const sources = catalog.sources.map((s) => {
    const fields = Object.entries((s.schema as { properties?: Record<string, { type?: string; enum?: unknown[] }> }).properties ?? {});
    return card(
      'source',
      s.name,
      meta([
        ['kind', s.kind],
        [s.kind === 'stream' ? 'stream' : 'location', `<code>${escapeHtml(s.stream ?? s.location ?? '')}</code>`],
        ['event time', `<code>${escapeHtml(s.eventTimeField)}</code>`],
        ['event id', `<code>${escapeHtml(s.eventIdField)}</code>`],
        ['schema', fields.map(([name, f]) => `<code>${escapeHtml(name)}</code>: ${escapeHtml(f.type ?? (f.enum ? 'enum' : '?'))}`).join(', ')],
      ]),
      fields.map(([name]) => name).join(' '),
    );
  });
  const views = catalog.featureViews.map((v) => {
    const figures = stats?.[v.name];
    const rows = v.features.map((f) => {
      const aggregation = f.aggregation as { fn?: string; column?: string; window?: string; n?: number } | undefined;
      const nullRate = figures && f.kind === 'row' && figures.rows > 0 ? percent(figures.nullRates[f.name] ?? 0) : '—';
      return `<tr class="feature" data-search="${escapeHtml(`${v.name}:${f.name} ${f.type}`.toLowerCase())}"><td><code>${escapeHtml(f.name)}</code> ${piiBadge(`${v.name}:${f.name}`)}</td><td>${escapeHtml(f.type)}</td><td>${
        aggregation ? `${escapeHtml(aggregation.fn ?? '')}(${escapeHtml(aggregation.column ?? '*')}) over ${escapeHtml(aggregation.window ?? '')}` : 'row'
      }</td><td class="null-rate">${nullRate}</td></tr>`;
    });
    const freshness = figures
      ? figures.lastEventTs !== undefined
        ? `<span class="freshness" data-ts="${figures.lastEventTs}">latest event ${new Date(figures.lastEventTs).toISOString()}</span>, ${figures.rows} offline rows`
        : 'no offline rows'
      : '<span class="unknown">not measured</span>';
    return card(
      'view',
      v.name,
      `${meta([
        ['version', String(v.version)],
        ['entities', escapeHtml(v.entities.join(', '))],
        ['source', escapeHtml(v.source)],
        ['owner', escapeHtml(v.owner)],
        ['description', escapeHtml(v.description)],
        ['tags', tags(v.tags)],
        ['TTL', v.ttl ? escapeHtml(v.ttl) : 'none'],
        ['windows', escapeHtml([...new Set(v.features.map((f) => (f.aggregation as { window?: string } | undefined)?.window).filter(Boolean))].join(', '))],
        ['freshness', freshness],
      ])}<table><thead><tr><th>feature</th><th>type</th><th>computed as</th><th>null rate</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
      `${v.owner} ${v.description} ${v.tags.join(' ')} ${v.source} ${v.entities.join(' ')} ${v.features.map((f) => f.name).join(' ')}`,
    );
  });
  const onDemand = catalog.onDemandFeatures.map((o) =>
    card(
      'on-demand',
      o.name,
      meta([
        ['inputs', o.inputs.map((i) => `<code>${escapeHtml(i)}</code>`).join(', ')],
        ['owner', escapeHtml(o.owner)],
        ['description', escapeHtml(o.description)],
        ['tags', tags(o.tags)],
      ]) +
        `<table><thead><tr><th>feature</th><th>type</th></tr></thead><tbody>${o.features
          .map(
            (f) =>
              `<tr class="feature" data-search="${escapeHtml(`${o.name}:${f.name} ${f.type}`.toLowerCase())}"><td><code>${escapeHtml(f.name)}</code> ${piiBadge(`${o.name}:${f.name}`)}</td><td>${escapeHtml(f.type)}</td></tr>`,
          )
          .join('')}</tbody></table>`,
      `${o.owner} ${o.description} ${o.inputs.join(' ')} ${o.features.map((f) => f.name).join(' ')}`,
    ),
  );
  const services = catalog.featureServices.map((s) =>
    card(
      'service',
      s.name,
      meta([
        ['version', String(s.version)],
        ['owner', escapeHtml(s.owner)],
        ['description', escapeHtml(s.description)],
        [
          'allowed principals',
          s.allowedPrincipals?.length ? s.allowedPrincipals.map((p) => `<code>${escapeHtml(p)}</code>`).join(', ') : 'any caller the API lets in',
        ],
        ['features', s.features.map((f) => `<code>${escapeHtml(f)}</code>${piiBadge(f)}`).join(', ')],
      ]),
      `${s.owner} ${s.description} ${s.features.join(' ')}`,
    ),
  );
  const section = (id: string, title: string, cards: string[]) =>
    `<section id="${id}"><h2>${title} <span class="count">${cards.length}</span></h2>${cards.join('')}</section>`;
  const measured = options.measuredAt !== undefined ? ` Offline figures measured ${new Date(options.measuredAt).toISOString()}.` : '';

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tessera catalog</title><link rel="icon" href="data:,">
<style>${STYLE}</style></head>
<body><header><h1>Tessera catalog</h1>
<input id="search" type="search" placeholder="Search features, views, owners, tags…" autocomplete="off" aria-label="Search the catalog">
<p class="summary">${catalog.featureViews.length} feature views, ${catalog.onDemandFeatures.length} on-demand, ${catalog.featureServices.length} services, ${pii.size} pii features.${measured} <span id="matches"></span></p></header>
<main><section id="lineage-section"><h2>Lineage</h2><div class="graph">${lineageSvg(lineageGraph(catalog))}</div></section>
${section('entities', 'Entities', entities)}${section('sources', 'Sources', sources)}${section('views', 'Feature views', views)}${section('on-demand', 'On-demand features', onDemand)}${section('services', 'Feature services', services)}
<p id="no-match" hidden>Nothing matches.</p></main>
<script>${SCRIPT}</script></body></html>
`;
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{position:sticky;top:0;background:#1d2330;color:#fff;padding:12px 24px;z-index:1}
h1{margin:0 0 8px;font-size:20px}#search{width:min(640px,90%);padding:7px 10px;font-size:15px;border-radius:6px;border:0}
.summary{margin:6px 0 0;color:#c9d1e0;font-size:13px}main{padding:8px 24px 40px}
h2{font-size:16px;margin:22px 0 8px}.count{color:#6b7385;font-weight:normal}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:10px 14px;margin:8px 0}
.card h3{margin:0 0 6px;font-size:15px}.kind{font-size:11px;text-transform:uppercase;color:#6b7385;margin-right:4px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 6px}dt{color:#6b7385}dd{margin:0}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:3px 8px;border-top:1px solid #eef0f4}th{color:#6b7385;font-weight:600}
.tag{background:#eef0f4;border-radius:4px;padding:0 6px;font-size:12px}.tag.pii,.pii-badge{background:#fde2e1;color:#a4161a;border-radius:4px;padding:0 6px;font-size:11px;font-weight:700}
.pii-badge.derived{background:#fff0d6;color:#8a4b00}.unknown{color:#8a93a6}
.graph{overflow-x:auto;background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:8px}
svg .edge{fill:none;stroke:#9aa3b5;stroke-width:1.4}svg .node rect{fill:#e8f0fe;stroke:#4c6ef5}svg .node text{font-size:12px;fill:#1d2330}
svg .node.source rect{fill:#e6f6ec;stroke:#2b8a3e}svg .node.ondemand rect{fill:#f3e8fd;stroke:#7048e8}svg .node.service rect{fill:#fff4e0;stroke:#e8590c}
svg .node.pii rect{stroke:#c92a2a;stroke-width:2.2}svg .heading{font-size:11px;fill:#6b7385;text-transform:uppercase}
svg .dim{opacity:.18}`;

/** Search: a card stays when its text, or one of its features', holds every word typed; the graph dims what is filtered out. */
const SCRIPT = `
(function(){
  var input=document.getElementById('search');
  var cards=[].slice.call(document.querySelectorAll('.card'));
  var nodes=[].slice.call(document.querySelectorAll('#lineage .node'));
  function apply(){
    var words=input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown=0,names={};
    cards.forEach(function(card){
      var text=card.getAttribute('data-search');
      var ok=words.every(function(w){return text.indexOf(w)>=0;});
      card.hidden=!ok; if(ok){shown++;names[card.querySelector('h3').lastChild.textContent.trim()]=true;}
    });
    document.querySelectorAll('section[id]').forEach(function(s){
      if(s.id==='lineage-section')return;
      var left=s.querySelectorAll('.card:not([hidden])').length;
      s.hidden=words.length>0&&left===0;
    });
    nodes.forEach(function(n){var name=n.getAttribute('data-id').split(':').slice(1).join(':');n.classList.toggle('dim',words.length>0&&!names[name]);});
    document.getElementById('no-match').hidden=shown>0;
    document.getElementById('matches').textContent=words.length?shown+' of '+cards.length+' match':'';
  }
  input.addEventListener('input',apply);
  if(location.hash.indexOf('#q=')===0){input.value=decodeURIComponent(location.hash.slice(3));}
  apply();
})();`;

/** Response headers of the page: HTML, and a policy that lets it load nothing from anywhere. */
export const CATALOG_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:",
};

/** The figures of one view's offline rows: how many, the latest event time, each row feature's null rate. */
export function measureViewRows(
  features: readonly string[],
  rows: Iterable<{ readonly eventTs: number; readonly values: Readonly<Record<string, unknown>> }>,
): ViewStats {
  let count = 0;
  let lastEventTs: number | undefined;
  const nulls = Object.fromEntries(features.map((f) => [f, 0]));
  for (const row of rows) {
    count += 1;
    if (lastEventTs === undefined || row.eventTs > lastEventTs) lastEventTs = row.eventTs;
    for (const f of features) if (row.values[f] === null || row.values[f] === undefined) nulls[f] = (nulls[f] ?? 0) + 1;
  }
  return {
    rows: count,
    ...(lastEventTs !== undefined ? { lastEventTs } : {}),
    nullRates: Object.fromEntries(features.map((f) => [f, count ? (nulls[f] ?? 0) / count : 0])),
  };
}
