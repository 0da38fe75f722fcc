/**
 * Training-set rows after the point-in-time join: on-demand features computed over each row
 * by their own `compute` (the function the serve handler runs), the columns of the result, and
 * the summary a data scientist reads first (null rate per feature).
 */
import type { Row } from './definitions.js';
import { evaluateOnDemand } from './on-demand.js';
import { columnName, type ReadPlan } from './registry.js';

/**
 * The on-demand features of one joined row. The request context comes from the label
 * columns, the inputs from the joined feature columns; a null input is a missing or
 * expired value, which the serving path passes as null too.
 * Throws a ValidationError naming the row when the labels do not carry the request context.
 */
export function onDemandValues(plan: ReadPlan, label: Row, features: Row, index: number): Row {
  const out: Row = {};
  const computed = evaluateOnDemand(plan.onDemand, label, (ref) => features[columnName(...(ref.split(':') as [string, string]))], {
    name: `label row ${index}`,
    index,
  });
  plan.onDemand.forEach((odfv, i) => {
    for (const name of Object.keys(odfv.features)) out[columnName(odfv.name, name)] = computed[i]?.[name] ?? null;
  });
  return out;
}

/** The feature columns of a training set, in the plan's order (on-demand ones included). */
export const featureColumns = (plan: ReadPlan): string[] => plan.features.map((f) => f.column);
