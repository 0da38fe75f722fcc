/**
 * Training-set rows after the point-in-time join: on-demand features computed over each row
 * by their own `compute` (the function the serve handler runs), the columns of the result, and
 * the summary a data scientist reads first (null rate per feature).
 */
import * as z from 'zod';
import type { Row } from './definitions.js';
import { ValidationError } from './errors.js';
import { columnName, type ReadPlan } from './registry.js';
import { computeOnDemand } from './values.js';

/**
 * The on-demand features of one joined row. The request context comes from the label
 * columns, the inputs from the joined feature columns; a null input is a missing or
 * expired value, which the serving path passes as null too.
 * Throws a ValidationError naming the row when the labels do not carry the request context.
 */
export function onDemandValues(plan: ReadPlan, label: Row, features: Row, index: number): Row {
  const out: Row = {};
  for (const odfv of plan.onDemand) {
    const context = odfv.request.safeParse(label);
    if (!context.success) {
      throw new ValidationError(`label row ${index}: request context for "${odfv.name}": ${z.prettifyError(context.error).replaceAll('\n', '; ')}`, {
        index,
      });
    }
    const inputs = Object.fromEntries(odfv.inputs.map((ref) => [ref, features[columnName(...(ref.split(':') as [string, string]))] ?? null]));
    const computed = computeOnDemand(odfv, { request: context.data, features: inputs });
    for (const name of Object.keys(odfv.features)) out[columnName(odfv.name, name)] = computed[name] ?? null;
  }
  return out;
}

/** The feature columns of a training set, in the plan's order (on-demand ones included). */
export const featureColumns = (plan: ReadPlan): string[] => plan.features.map((f) => f.column);
