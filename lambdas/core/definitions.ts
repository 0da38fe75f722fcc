/**
 * The definitions DSL: what a feature repo (see features/) declares. These objects describe
 * features and know nothing about where they are stored; the registry validates a set of them
 * and every path (stream, batch, serving, offline SQL) computes from the same objects.
 */
import type { z } from 'zod';
import type { Duration } from './duration.js';

/** Types a feature value can have, shared by the online item, the Parquet schema and the SQL. */
export type ScalarType = 'int' | 'float' | 'string' | 'bool';
export type FeatureType = ScalarType | 'int[]' | 'float[]' | 'string[]';

export type Row = Record<string, unknown>;

export interface Entity {
  readonly kind: 'entity';
  readonly name: string;
  /** The field that identifies an instance of this entity in events and requests. */
  readonly joinKey: string;
  readonly keyType: 'string' | 'int';
  readonly description?: string;
}

export type EventSchema = z.ZodObject<z.ZodRawShape>;

interface SourceBase<S extends EventSchema> {
  readonly name: string;
  /** Validates every event before any transform runs; invalid events are dead-lettered. */
  readonly schema: S;
  /** Field holding the event time, epoch milliseconds or an ISO-8601 string. */
  readonly eventTimeField: keyof z.infer<S> & string;
  /** Field holding the producer's event id; duplicates of one id count once. */
  readonly eventIdField: keyof z.infer<S> & string;
  readonly description?: string;
  readonly owner?: string;
  /** An example event: checked against `schema`, and every view's transform is run on it at plan and synth time. */
  readonly example?: z.infer<S>;
  /**
   * How far ahead of its ingest time an event may be stamped; events further ahead are
   * rejected (EventTimeOutOfRange), so a wrong clock or a forged time cannot pin a value.
   * @default '5m'
   */
  readonly maxFutureSkew?: Duration;
  /**
   * How far behind its ingest time an event may be stamped; older events are rejected.
   * Backfills are held to it too. @default no limit
   */
  readonly maxAge?: Duration;
}

export interface StreamSource<S extends EventSchema = EventSchema> extends SourceBase<S> {
  readonly kind: 'stream';
  /** @default `tessera-<name>` */
  readonly streamName: string;
  /**
   * IAM role ARNs allowed to push events to this source through the API (`POST /v1/push`);
   * the stack grants them invoke on that route. Producers writing to the Kinesis stream
   * itself are governed by the stream's IAM policy instead.
   * @default [] — no caller may push, except the deployment's own writers (TESSERA_WRITERS)
   */
  readonly allowedWriters: readonly string[];
}

export interface BatchSource<S extends EventSchema = EventSchema> extends SourceBase<S> {
  readonly kind: 'batch';
  /** Where the files are: an `s3://bucket/prefix/` URI, or a key prefix in the store's own bucket. */
  readonly location: string;
  readonly format: 'parquet' | 'csv';
  /** EventBridge schedule expression for the scheduled batch handler, e.g. `rate(1 hour)`. */
  readonly schedule?: string;
}

export type Source<S extends EventSchema = EventSchema> = StreamSource<S> | BatchSource<S>;

export type AggregationFunction = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'last' | 'last_n' | 'approx_distinct';

export interface Aggregation {
  /** The feature's name; `<column>_<fn>_<window>` is a good habit. */
  readonly name: string;
  readonly fn: AggregationFunction;
  /** A row feature of the view; not needed for `count`. */
  readonly column?: string;
  readonly window: Duration;
  /** How many values `last_n` keeps. */
  readonly n?: number;
}

export interface FeatureView<S extends EventSchema = EventSchema> {
  readonly kind: 'featureView';
  readonly name: string;
  readonly entities: readonly Entity[];
  readonly source: Source<S>;
  /** The row features the transform produces, with their types. */
  readonly features: Readonly<Record<string, FeatureType>>;
  /**
   * A pure function of one validated event: the feature row, or null to skip the event.
   * The same function runs in the stream handler, the batch handler and local mode.
   * @default the event's fields named in `features`
   */
  readonly transform: (event: z.infer<S>) => Row | null;
  readonly aggregations: readonly Aggregation[];
  /** Values older than this are served as `expired` and left out of training rows. */
  readonly ttl?: Duration;
  /** The freshness objective: an event is servable within this long (p99 event → servable lag); alarmed when deployed. */
  readonly freshness?: Duration;
  readonly owner: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly version: number;
}

export interface RequestContext {
  readonly request: Row;
  /** Input features by reference (`view:feature`); null where missing or expired. */
  readonly features: Readonly<Record<string, unknown>>;
}

export interface OnDemandFeature<R extends EventSchema = EventSchema> {
  readonly kind: 'onDemand';
  readonly name: string;
  /** Schema of the request context the caller sends with the entity row. */
  readonly request: R;
  /** Feature references (`view:feature`) the function reads. */
  readonly inputs: readonly string[];
  readonly features: Readonly<Record<string, FeatureType>>;
  /** Pure: the same function runs in the serve handler and over training-set rows. */
  readonly compute: (context: RequestContext) => Row;
  readonly owner: string;
  readonly description: string;
  readonly tags: readonly string[];
}

/** A feature view narrowed to some of its features. */
export interface FeatureSelection {
  readonly kind: 'selection';
  readonly view: FeatureView | OnDemandFeature;
  readonly features: readonly string[];
}

export interface FeatureService {
  readonly kind: 'featureService';
  readonly name: string;
  readonly version: number;
  readonly features: readonly (FeatureView | OnDemandFeature | FeatureSelection)[];
  /**
   * IAM role ARNs allowed to read this service through the API.
   * @default [] — any caller the API's IAM policy lets in
   */
  readonly allowedPrincipals: readonly string[];
  /** Features tagged `pii` that this service serves, as `view:feature`; a pii feature not listed here is refused at plan time. */
  readonly piiFeatures: readonly string[];
  readonly owner: string;
  readonly description: string;
}

export type Definition = Entity | Source | FeatureView | OnDemandFeature | FeatureService;

type Optional<T, K extends keyof T> = Omit<T, K | 'kind'> & Partial<Pick<T, K>>;

export function entity(spec: Optional<Entity, 'keyType'>): Entity {
  return { kind: 'entity', keyType: 'string', ...spec };
}

export function streamSource<S extends EventSchema>(spec: Optional<StreamSource<S>, 'streamName' | 'allowedWriters'>): StreamSource<S> {
  return { kind: 'stream', streamName: `tessera-${spec.name}`, allowedWriters: [], ...spec };
}

export function batchSource<S extends EventSchema>(spec: Omit<BatchSource<S>, 'kind'>): BatchSource<S> {
  return { kind: 'batch', ...spec };
}

export function featureView<S extends EventSchema>(spec: Optional<FeatureView<S>, 'transform' | 'aggregations' | 'tags' | 'version'>): FeatureView<S> {
  const names = Object.keys(spec.features);
  const pick = (event: z.infer<S>): Row => Object.fromEntries(names.map((name) => [name, (event as Row)[name] ?? null]));
  return { kind: 'featureView', transform: pick, aggregations: [], tags: [], version: 1, ...spec };
}

export function onDemandFeature<R extends EventSchema>(spec: Optional<OnDemandFeature<R>, 'tags'>): OnDemandFeature<R> {
  return { kind: 'onDemand', tags: [], ...spec } as OnDemandFeature<R>;
}

export function select(view: FeatureView | OnDemandFeature, features: readonly string[]): FeatureSelection {
  return { kind: 'selection', view: view as FeatureView, features };
}

export function featureService(spec: Optional<FeatureService, 'allowedPrincipals' | 'piiFeatures' | 'version'>): FeatureService {
  return { kind: 'featureService', version: 1, allowedPrincipals: [], piiFeatures: [], ...spec };
}
