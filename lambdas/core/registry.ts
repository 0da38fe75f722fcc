/**
 * The registry: a validated set of definitions. Built once per process (at cold start, at
 * `tessera plan`, at synth); everything downstream — read plans, the catalog, the SQL — is
 * derived from it. Validation errors name the definition at fault.
 */
import * as z from 'zod';
import { aggregationProblem, functionOf } from './aggregation-functions.js';
import { checkDefinitionShape, KIND_LABEL } from './definition-schema.js';
import type { Definition, Entity, FeatureService, FeatureType, FeatureView, OnDemandFeature, Source, StreamSource } from './definitions.js';
import { parseDuration, viewDurations } from './duration.js';
import { DefinitionError, NotFoundError } from './errors.js';
import { roleOf } from './principal.js';
import { scheduledRun } from './schedule.js';
import { FEATURE_TYPES, valueMatches } from './values.js';

export type FeatureKind = 'row' | 'aggregation' | 'onDemand';

/** One servable feature, resolved from a `view:feature` reference. */
export interface ResolvedFeature {
  /** `view:feature`, as callers reference it. */
  readonly ref: string;
  /** `view__feature`, the name in responses and training sets. */
  readonly column: string;
  readonly view: string;
  readonly feature: string;
  readonly kind: FeatureKind;
  readonly type: FeatureType;
  /** Tagged pii, or computed from a pii feature (anything computed from pii is pii). */
  readonly pii: boolean;
  /** The pii-tagged features this one is computed from, through every on-demand step; empty for a feature tagged pii itself or one that is not pii. */
  readonly piiFrom: readonly string[];
}

/** What one request for a set of features has to read, computed once per service. */
export interface ReadPlan {
  /** The features returned, in order. */
  readonly features: readonly ResolvedFeature[];
  /** The stored views to read (including inputs of on-demand features), with their join keys. */
  readonly views: readonly { readonly view: FeatureView; readonly joinKeys: readonly string[]; readonly features: readonly ResolvedFeature[] }[];
  readonly onDemand: readonly OnDemandFeature[];
  /** Every join key an entity row must carry. */
  readonly joinKeys: readonly string[];
}

/** The event times a source accepts, relative to each event's ingest time (see SourceBase). */
export interface EventTimeWindow {
  readonly maxFutureSkewMs: number;
  /** Undefined: any age. */
  readonly maxAgeMs?: number;
}

export const DEFAULT_MAX_FUTURE_SKEW = '5m';

export const COLUMN_SEPARATOR = '__';
export const columnName = (view: string, feature: string): string => `${view}${COLUMN_SEPARATOR}${feature}`;

const NAME = /^[a-z][a-z0-9_]{0,62}$/;

export class Registry {
  readonly entities = new Map<string, Entity>();
  readonly sources = new Map<string, Source>();
  readonly views = new Map<string, FeatureView>();
  readonly onDemand = new Map<string, OnDemandFeature>();
  readonly services = new Map<string, FeatureService>();
  /** Each source's accepted event times, parsed once here. */
  readonly eventTimeWindows = new Map<string, EventTimeWindow>();
  private readonly features = new Map<string, ResolvedFeature>();
  private readonly plans = new Map<string, ReadPlan>();
  /** The freshness objective of each view that declares one, in ms. */
  readonly freshnessMs = new Map<string, number>();

  constructor(definitions: Iterable<Definition>) {
    for (const definition of definitions) this.add(definition);
    // A batch source's schedule must be one EventBridge and local mode can run.
    for (const source of this.sources.values()) if (source.kind === 'batch') scheduledRun(source);
    for (const source of this.sources.values()) this.eventTimeWindows.set(source.name, eventTimeWindowOf(source));
    for (const source of this.streamSources()) {
      // A writer that is not a role ARN could never match a caller: refuse it rather than ignore it.
      const bad = source.allowedWriters.find((arn) => roleOf(arn) === null || !arn.includes(':role/'));
      if (bad !== undefined)
        throw new DefinitionError(
          `source "${source.name}"`,
          `allowedWriters lists "${bad}", which is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)`,
        );
    }
    for (const view of this.views.values()) this.checkView(view);
    for (const odfv of this.onDemand.values()) this.checkOnDemand(odfv);
    for (const service of this.services.values()) this.plans.set(service.name, this.checkService(service));
  }

  /** Every definition exported by a definitions module (arrays and nested objects are walked). */
  static fromModule(module: Record<string, unknown>): Registry {
    const found = new Set<Definition>();
    const walk = (value: unknown): void => {
      if (!value || typeof value !== 'object') return;
      if (Array.isArray(value)) {
        for (const item of value) walk(item);
        return;
      }
      const kind = (value as { kind?: unknown }).kind;
      if (['entity', 'stream', 'batch', 'featureView', 'onDemand', 'featureService'].includes(kind as string)) {
        found.add(value as Definition);
        if (kind === 'featureView') {
          const view = value as FeatureView;
          walk(view.source);
          view.entities.forEach(walk);
        }
        if (kind === 'featureService') for (const f of (value as FeatureService).features) walk(f.kind === 'selection' ? f.view : f);
      } else if (!kind) Object.values(value).forEach(walk);
    };
    walk(module);
    return new Registry(found);
  }

  private add(definition: Definition): void {
    checkDefinitionShape(definition);
    const label = KIND_LABEL[definition.kind];
    if (!NAME.test(definition.name)) {
      throw new DefinitionError(`${label} "${definition.name}"`, 'names are lower_snake_case, 1-63 characters, starting with a letter');
    }
    const clash = (map: Map<string, unknown>) => {
      const existing = map.get(definition.name);
      if (existing && existing !== definition) {
        throw new DefinitionError(`${label} "${definition.name}"`, 'the name is defined twice');
      }
    };
    switch (definition.kind) {
      case 'entity':
        clash(this.entities);
        this.entities.set(definition.name, definition);
        break;
      case 'stream':
      case 'batch':
        clash(this.sources);
        this.sources.set(definition.name, definition);
        break;
      case 'featureView':
      case 'onDemand':
        clash(this.views);
        clash(this.onDemand);
        if (definition.kind === 'featureView') this.views.set(definition.name, definition);
        else this.onDemand.set(definition.name, definition);
        break;
      case 'featureService':
        clash(this.services);
        this.services.set(definition.name, definition);
        break;
    }
  }

  private checkView(view: FeatureView): void {
    const at = `feature view "${view.name}"`;
    const fail = (message: string): never => {
      throw new DefinitionError(at, message);
    };
    if (view.entities.length === 0) fail('it needs at least one entity');
    for (const e of view.entities) {
      if (this.entities.get(e.name) !== e) fail(`unknown entity "${e.name}" (register it with the definitions)`);
    }
    if (this.sources.get(view.source.name) !== view.source) fail(`unknown source "${view.source.name}"`);
    const shape = view.source.schema.shape;
    for (const e of view.entities) {
      if (!(e.joinKey in shape)) fail(`its source "${view.source.name}" has no field "${e.joinKey}" for entity "${e.name}"`);
    }
    // Parsed once here (ttl, freshness, windows); every path reads them from viewDurations afterwards.
    const { freshnessMs } = viewDurations(view);
    if (freshnessMs !== undefined) this.freshnessMs.set(view.name, freshnessMs);
    if (!Number.isInteger(view.version) || view.version < 1) fail('version must be a positive integer');
    const names = new Set<string>();
    for (const [name, type] of Object.entries(view.features)) {
      if (!NAME.test(name)) fail(`feature "${name}" is not lower_snake_case`);
      if (!FEATURE_TYPES.includes(type)) fail(`feature "${name}" has unknown type "${type}" (one of ${FEATURE_TYPES.join(', ')})`);
      names.add(name);
      this.addFeature({ view: view.name, feature: name, kind: 'row', type, pii: view.tags.includes('pii'), piiFrom: [] });
    }
    for (const agg of view.aggregations) {
      const where = `aggregation "${agg.name}"`;
      if (!NAME.test(agg.name)) fail(`${where} is not lower_snake_case`);
      if (names.has(agg.name)) fail(`${where} has the name of another feature`);
      names.add(agg.name);
      const input = agg.column !== undefined && Object.hasOwn(view.features, agg.column) ? view.features[agg.column] : undefined;
      const problem = aggregationProblem(agg, input);
      if (problem) fail(`${where}: ${problem}`);
      this.addFeature({
        view: view.name,
        feature: agg.name,
        kind: 'aggregation',
        type: functionOf(agg).outputType(input),
        pii: view.tags.includes('pii'),
        piiFrom: [],
      });
    }
    if (names.size === 0) fail('it declares no features');
    const example = view.source.example;
    if (example !== undefined) this.checkTransformOn(view, example);
  }

  /** Runs the view's transform on its source's example event and checks the declared types. */
  private checkTransformOn(view: FeatureView, example: unknown): void {
    const at = `feature view "${view.name}"`;
    const event = view.source.schema.safeParse(example);
    if (!event.success) throw new DefinitionError(`source "${view.source.name}"`, `its example does not match its schema: ${z.prettifyError(event.error)}`);
    const row = view.transform(event.data);
    if (row === null) return;
    const problem = rowProblem(view, row);
    if (problem) throw new DefinitionError(at, `its transform's output does not match the declared features: ${problem}`);
  }

  private checkOnDemand(odfv: OnDemandFeature): void {
    const at = `on-demand feature "${odfv.name}"`;
    for (const input of odfv.inputs) {
      if (!this.features.has(input)) throw new DefinitionError(at, `unknown input "${input}" (write view:feature)`);
    }
    // pii through lineage: an output is pii when any input is, and remembers which tagged features it comes from.
    const inputs = odfv.inputs.map((ref) => this.features.get(ref) as ResolvedFeature);
    const piiFrom = [...new Set(inputs.filter((f) => f.pii).flatMap((f) => (f.piiFrom.length ? f.piiFrom : [f.ref])))];
    for (const [name, type] of Object.entries(odfv.features)) {
      if (!FEATURE_TYPES.includes(type)) throw new DefinitionError(at, `feature "${name}" has unknown type "${type}"`);
      this.addFeature({ view: odfv.name, feature: name, kind: 'onDemand', type, pii: odfv.tags.includes('pii') || piiFrom.length > 0, piiFrom });
    }
  }

  private checkService(service: FeatureService): ReadPlan {
    const at = `feature service "${service.name}"`;
    const refs: string[] = [];
    for (const part of service.features) {
      const target = part.kind === 'selection' ? part.view : part;
      if (this.views.get(target.name) !== target && this.onDemand.get(target.name) !== target) {
        throw new DefinitionError(at, `it uses "${target.name}", which is not registered`);
      }
      const all = this.featuresOf(target.name);
      const names = part.kind === 'selection' ? part.features : all.map((f) => f.feature);
      for (const name of names) {
        if (!all.some((f) => f.feature === name)) throw new DefinitionError(at, `"${target.name}" has no feature "${name}"`);
        refs.push(`${target.name}:${name}`);
      }
    }
    for (const ref of refs) {
      const feature = this.features.get(ref) as ResolvedFeature;
      if (feature.pii && !service.piiFeatures.includes(ref))
        throw new DefinitionError(at, `it serves "${ref}", which ${piiReason(feature)}: list it in piiFeatures to serve it`);
    }
    for (const ref of service.piiFeatures) {
      const feature = this.features.get(ref);
      if (!feature?.pii) throw new DefinitionError(at, `piiFeatures lists "${ref}", which is not a pii feature`);
    }
    return this.plan(refs);
  }

  private addFeature(f: Omit<ResolvedFeature, 'ref' | 'column'>): void {
    const ref = `${f.view}:${f.feature}`;
    this.features.set(ref, { ...f, ref, column: columnName(f.view, f.feature) });
  }

  private featuresOf(view: string): ResolvedFeature[] {
    return [...this.features.values()].filter((f) => f.view === view);
  }

  /** The feature behind a `view:feature` reference (`view__feature` is accepted too). */
  feature(ref: string): ResolvedFeature {
    const normalized = ref.includes(':') ? ref : ref.replace(COLUMN_SEPARATOR, ':');
    const feature = this.features.get(normalized);
    if (!feature) throw new NotFoundError(`unknown feature "${ref}"`, { feature: ref });
    return feature;
  }

  service(name: string): FeatureService {
    const service = this.services.get(name);
    if (!service) throw new NotFoundError(`unknown feature service "${name}"`, { service: name });
    return service;
  }

  /** The read plan of a service, computed once when the registry was built. */
  servicePlan(name: string): ReadPlan {
    this.service(name);
    return this.plans.get(name) as ReadPlan;
  }

  /** A read plan for an ad-hoc list of feature references. */
  plan(refs: readonly string[]): ReadPlan {
    const features = [...new Set(refs)].map((ref) => this.feature(ref));
    const onDemand = [...new Set(features.filter((f) => f.kind === 'onDemand').map((f) => f.view))].map((name) => this.onDemand.get(name) as OnDemandFeature);
    const stored = new Map<string, ResolvedFeature>();
    for (const f of features) if (f.kind !== 'onDemand') stored.set(f.ref, f);
    for (const odfv of onDemand) for (const input of odfv.inputs) stored.set(input, this.feature(input));
    const views = [...new Set([...stored.values()].map((f) => f.view))].map((name) => {
      const view = this.views.get(name) as FeatureView;
      return { view, joinKeys: view.entities.map((e) => e.joinKey), features: [...stored.values()].filter((f) => f.view === name) };
    });
    const joinKeys = [...new Set(views.flatMap((v) => v.joinKeys))];
    return { features, views, onDemand, joinKeys };
  }

  viewsOfSource(source: string): FeatureView[] {
    return [...this.views.values()].filter((v) => v.source.name === source);
  }

  streamSources(): StreamSource[] {
    return [...this.sources.values()].filter((s): s is StreamSource => s.kind === 'stream');
  }
}

/** Why a feature is pii, for messages: `is tagged pii` or `is pii: computed from user_location:lat, …`. */
export function piiReason(feature: ResolvedFeature): string {
  return feature.piiFrom.length ? `is pii: computed from ${feature.piiFrom.join(', ')}` : 'is tagged pii';
}

/** Why a transformed row does not fit its view's declared features, or undefined when it does. */
export function rowProblem(view: FeatureView, row: Record<string, unknown>): string | undefined {
  for (const [name, type] of Object.entries(view.features)) {
    if (!valueMatches(type, row[name])) return `feature "${name}" should be ${type}, got ${JSON.stringify(row[name])}`;
  }
  const extra = Object.keys(row).filter((k) => !(k in view.features));
  if (extra.length) return `undeclared field(s) ${extra.join(', ')}`;
  return undefined;
}

function eventTimeWindowOf(source: Source): EventTimeWindow {
  const parse = (field: 'maxFutureSkew' | 'maxAge', text: string): number => {
    const ms = parseDuration(text);
    if (ms === undefined)
      throw new DefinitionError(`source "${source.name}"`, `bad ${field} "${text}": write a positive whole number of s, m, h or d, e.g. "5m"`);
    return ms;
  };
  const maxFutureSkewMs = parse('maxFutureSkew', source.maxFutureSkew ?? DEFAULT_MAX_FUTURE_SKEW);
  return source.maxAge === undefined ? { maxFutureSkewMs } : { maxFutureSkewMs, maxAgeMs: parse('maxAge', source.maxAge) };
}
