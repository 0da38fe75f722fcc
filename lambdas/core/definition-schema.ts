/**
 * The shape of every definition, as zod schemas: which fields each kind takes, their types,
 * their defaults and what they mean. The registry checks each definition against its schema
 * before the rules between definitions, so a typo — `fn: 'median'`, a `count` with a
 * `column`, a misspelt field — fails at plan and synth time with the definition's name and
 * the allowed values, instead of running. The README's definitions reference is generated
 * from these same schemas (`npm run docs:definitions`), so the two cannot drift apart.
 */
import * as z from 'zod';
import { AGGREGATION_FUNCTIONS } from './aggregation-functions.js';
import type { AggregationFunction, Definition } from './definitions.js';
import { DefinitionError } from './errors.js';
import { FEATURE_TYPES } from './values.js';

/** What the reference prints for a field: its default, when the builder fills one in. */
interface FieldMeta {
  readonly description: string;
  readonly default?: string;
  /** The type as the reference prints it, where zod's own is not telling (functions, schemas). */
  readonly type?: string;
}

const field = <T extends z.ZodType>(schema: T, meta: FieldMeta): T => schema.meta({ ...meta }) as T;

const name = (what: string) => field(z.string(), { description: `The ${what}'s name: lower_snake_case, 1-63 characters, unique among its kind.` });
/** Durations are checked with their meaning by the registry (a window must fit its tiles). */
const duration = z.string();
const zodObject = z.custom<z.ZodObject>((value) => value instanceof z.ZodObject, 'a zod object schema: z.object({...})');
const definitionOf = (kind: string) => z.looseObject({ kind: z.literal(kind), name: z.string() });
const featureType = z.enum(FEATURE_TYPES as [string, ...string[]]);
const description = field(z.string(), { description: 'What it is, for the catalog.' });
const owner = field(z.string(), { description: 'The team that owns it.' });
const optionalText = (text: string) => field(z.string().optional(), { description: text });

export const entitySchema = z.strictObject({
  kind: z.literal('entity'),
  name: name('entity'),
  joinKey: field(z.string(), { description: 'The field that identifies an instance in events and requests, e.g. `user_id`.' }),
  keyType: field(z.enum(['string', 'int']), { description: "The join key's type.", default: "'string'" }),
  description: optionalText('What it is, for the catalog.'),
});

const sourceFields = {
  name: name('source'),
  schema: field(zodObject, {
    type: 'zod object',
    description: 'A zod object schema every event must match; events that do not are dead-lettered with the reason.',
  }),
  eventTimeField: field(z.string(), { description: 'The field holding the event time: epoch milliseconds or ISO-8601 text.' }),
  eventIdField: field(z.string(), { description: "The field holding the producer's event id; copies of one id count once." }),
  description: optionalText('What it is, for the catalog.'),
  owner: optionalText('The team that owns it.'),
  example: field(z.unknown().optional(), {
    description: "An example event: checked against `schema`, and every view's `transform` is run on it at plan time.",
  }),
  // Event-time bounds and writers, checked by the ingest path (issue 11).
  allowedWriters: field(z.array(z.string()).optional(), { description: 'IAM role ARNs allowed to write events (POST /v1/push, PutRecords).', default: '[]' }),
  maxFutureSkew: field(duration.optional(), { description: 'How far ahead of the ingest time an event time may be.', default: "'5m'" }),
  maxAge: field(duration.optional(), { description: 'How far behind the ingest time an event time may be.', default: 'no limit' }),
};

export const streamSourceSchema = z.strictObject({
  kind: z.literal('stream'),
  ...sourceFields,
  streamName: field(z.string(), { description: 'The Kinesis stream.', default: '`tessera-<name>`' }),
});

export const batchSourceSchema = z.strictObject({
  kind: z.literal('batch'),
  ...sourceFields,
  location: field(z.string(), {
    description:
      "Where the files are: `s3://bucket/prefix/`, or a key prefix in the store's own bucket; files under `date=YYYY-MM-DD/` folders are picked by date.",
  }),
  format: field(z.enum(['parquet', 'csv']), { description: "The files' format." }),
  schedule: field(z.string().optional(), {
    description:
      'An EventBridge schedule, `rate(1 hour)` or `cron(0 3 * * ? *)`: the batch handler applies new files on it (local mode runs `rate(...)` ones).',
    default: 'none: only `tessera backfill` runs it',
  }),
});

const AGGREGATION_FIELDS = {
  name: field(z.string(), { description: "The feature's name; `<column>_<fn>_<window>` is a good habit." }),
  window: field(duration, { description: 'The window: `5m`, `1h`, `1d`, `7d`, `30d`… (seconds, minutes, hours, days).' }),
  column: field(z.string(), { description: 'A row feature of the view (`features`): the input.' }),
  n: field(z.number().int().min(1).max(100), { description: 'How many values `last_n` keeps, 1-100.' }),
};

/** The strict schema of an aggregation of function `fn`: exactly the fields that function takes. */
export function aggregationSchema(fn: AggregationFunction) {
  const spec = AGGREGATION_FUNCTIONS[fn];
  return z.strictObject({
    name: AGGREGATION_FIELDS.name,
    fn: z.literal(fn),
    window: AGGREGATION_FIELDS.window,
    ...(spec.column ? { column: AGGREGATION_FIELDS.column } : {}),
    ...(spec.takesN ? { n: AGGREGATION_FIELDS.n } : {}),
  });
}

export const featureViewSchema = z.strictObject({
  kind: z.literal('featureView'),
  name: name('feature view'),
  entities: field(z.array(definitionOf('entity')).min(1), { description: 'The entities it is keyed by, e.g. `[user]` or `[user, merchant]`.' }),
  source: field(z.union([definitionOf('stream'), definitionOf('batch')]), { description: 'The stream or batch source it is computed from.' }),
  features: field(z.record(z.string(), featureType), {
    description: `The row features the transform produces, with their types: ${FEATURE_TYPES.map((t) => `\`${t}\``).join(', ')}.`,
  }),
  transform: field(
    z.custom<(event: never) => unknown>((value) => typeof value === 'function', 'a function (event) => row | null'),
    {
      type: '(event) => row \\| null',
      description: 'A pure function of one validated event: the feature row, or null to skip the event. Runs on every path (stream, batch, local).',
      default: "the event's fields named in `features`",
    },
  ),
  aggregations: field(z.array(z.unknown()), { description: 'Windowed aggregations over the rows (see the table below).', default: '[]' }),
  ttl: field(duration.optional(), { description: 'Older values are served as `expired` and left out of training rows.', default: 'none' }),
  owner,
  description,
  tags: field(z.array(z.string()), {
    description: '`pii` marks every feature of the view as personal data (served only where a service lists it).',
    default: '[]',
  }),
  version: field(z.number().int().min(1), { description: 'Bump it when the meaning of a feature changes.', default: '1' }),
  freshness: field(duration.optional(), {
    description: 'The freshness objective: event → servable lag it should stay under (a metric and an alarm; `tessera status`).',
    default: 'none',
  }),
});

export const onDemandFeatureSchema = z.strictObject({
  kind: z.literal('onDemand'),
  name: name('on-demand feature'),
  request: field(zodObject, { type: 'zod object', description: 'A zod object schema of the request context the caller sends with each entity row.' }),
  inputs: field(z.array(z.string()), { description: 'Stored features it reads, as `view:feature`.' }),
  features: field(z.record(z.string(), featureType), { description: 'What it returns, with types.' }),
  compute: field(
    z.custom<(context: never) => unknown>((value) => typeof value === 'function', 'a function ({ request, features }) => row'),
    {
      type: '({ request, features }) => row',
      description: 'A pure function of the request and the inputs; the same code runs at serving and over training rows.',
    },
  ),
  owner,
  description,
  tags: field(z.array(z.string()), { description: 'As for feature views.', default: '[]' }),
});

const servedPart = z.union([definitionOf('featureView'), definitionOf('onDemand'), z.looseObject({ kind: z.literal('selection') })]);

export const featureServiceSchema = z.strictObject({
  kind: z.literal('featureService'),
  name: name('feature service'),
  version: field(z.number().int().min(1), { description: 'The version models pin.', default: '1' }),
  features: field(z.array(servedPart).min(1), {
    description: 'What it serves: whole views and on-demand features, or `select(view, [names])`. Only features in some service are served.',
  }),
  allowedPrincipals: field(z.array(z.string()), {
    description: 'IAM role ARNs allowed to read it through the API.',
    default: '[]: any caller the API lets in',
  }),
  piiFeatures: field(z.array(z.string()), { description: 'The pii-tagged features it may serve, as `view:feature`.', default: '[]' }),
  owner,
  description,
});

const SCHEMAS: Record<Definition['kind'], z.ZodObject> = {
  entity: entitySchema,
  stream: streamSourceSchema,
  batch: batchSourceSchema,
  featureView: featureViewSchema,
  onDemand: onDemandFeatureSchema,
  featureService: featureServiceSchema,
};

/** How messages name each kind of definition. */
export const KIND_LABEL: Record<Definition['kind'], string> = {
  entity: 'entity',
  stream: 'source',
  batch: 'source',
  featureView: 'feature view',
  onDemand: 'on-demand feature',
  featureService: 'feature service',
};

const quoteAll = (values: readonly string[]) => values.map((v) => `"${v}"`).join(', ');

/**
 * Checks one definition's fields against its schema (and each aggregation's against its
 * function's). Throws a DefinitionError naming the definition, the field and what is allowed.
 */
export function checkDefinitionShape(definition: Definition): void {
  const schema = SCHEMAS[definition.kind];
  const at = `${KIND_LABEL[definition.kind]} "${definition.name}"`;
  fail(at, schema, definition);
  if (definition.kind !== 'featureView') return;
  const functions = Object.keys(AGGREGATION_FUNCTIONS) as AggregationFunction[];
  definition.aggregations.forEach((aggregation, i) => {
    const where = `${at}: aggregation "${(aggregation as { name?: unknown }).name ?? `#${i + 1}`}"`;
    const fn = (aggregation as { fn?: unknown }).fn;
    if (!functions.includes(fn as AggregationFunction)) {
      throw new DefinitionError(where, `unknown function ${JSON.stringify(fn)}; the functions are ${quoteAll(functions)}`);
    }
    fail(where, aggregationSchema(fn as AggregationFunction), aggregation, `${fn} takes`);
  });
}

function fail(at: string, schema: z.ZodObject, value: unknown, takes = 'allowed fields:'): void {
  const parsed = schema.safeParse(value);
  if (parsed.success) return;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
    const allowed = Object.keys(schema.shape).filter((key) => key !== 'kind');
    throw new DefinitionError(at, `unknown field${issue.keys.length === 1 ? '' : 's'} ${quoteAll(issue.keys)}; ${takes} ${quoteAll(allowed)}`);
  }
  throw new DefinitionError(at, `${path ? `${path}: ` : ''}${issue.message}`);
}

/** The reference of one schema's fields, as Markdown rows: field, type, default, meaning. */
export function describeFields(schema: z.ZodObject): { field: string; type: string; default: string; description: string }[] {
  return Object.entries(schema.shape)
    .filter(([key]) => key !== 'kind')
    .map(([key, fieldSchema]) => {
      const meta = (z.globalRegistry.get(fieldSchema as z.ZodType) ?? {}) as Partial<FieldMeta>;
      const optional = (fieldSchema as z.ZodType).safeParse(undefined).success;
      return {
        field: key,
        type: meta.type ?? typeName(fieldSchema as z.ZodType),
        default: meta.default ?? (optional ? 'none' : 'required'),
        description: meta.description ?? '',
      };
    });
}

function typeName(schema: z.ZodType): string {
  const def = schema._zod.def as {
    type: string;
    innerType?: z.ZodType;
    element?: z.ZodType;
    entries?: Record<string, string>;
    valueType?: z.ZodType;
    values?: unknown[];
  };
  switch (def.type) {
    case 'optional':
    case 'default':
      return typeName(def.innerType as z.ZodType);
    case 'enum':
      return Object.values(def.entries ?? {})
        .map((v) => `'${v}'`)
        .join(' \\| ');
    case 'array':
      return `${typeName(def.element as z.ZodType)}[]`;
    case 'record':
      return `{ [name]: ${typeName(def.valueType as z.ZodType)} }`;
    case 'literal':
      return (def.values ?? []).map((v) => JSON.stringify(v)).join(' \\| ');
    case 'union':
    case 'object':
      return 'definition';
    default:
      return def.type;
  }
}
