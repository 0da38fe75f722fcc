/**
 * On-demand features, evaluated one way on every path: the serve handler (per entity row) and
 * the training-set build (per joined row) both call `evaluateOnDemand`, and differ only in
 * where the fields and the input values come from. The request context is parsed with the
 * feature's own schema; an input that is missing or expired is null; an output that is not a
 * value of its declared type (Infinity or NaN for a number, a string for a float) is null —
 * served as `missing`, null in a training set, never a `null` reported as present.
 */
import * as z from 'zod';
import type { OnDemandFeature, Row } from './definitions.js';
import { ValidationError } from './errors.js';
import { valueMatches } from './values.js';

/**
 * The outputs of each on-demand feature (in the order given) for one row. `fields` holds the
 * request context (an entity row, a label row); `input(ref)` the value of an input feature,
 * null when missing or expired. `where` names the row in errors ("entities[3]", "label row 3").
 * Throws a ValidationError when the row does not carry a feature's request context.
 */
export function evaluateOnDemand(
  features: readonly OnDemandFeature[],
  fields: Row,
  input: (ref: string) => unknown,
  where: { readonly name: string; readonly index: number },
): Row[] {
  return features.map((odfv) => {
    const context = odfv.request.safeParse(fields);
    if (!context.success) {
      throw new ValidationError(`${where.name}: request context for "${odfv.name}": ${z.prettifyError(context.error).replaceAll('\n', '; ')}`, {
        index: where.index,
      });
    }
    const computed = odfv.compute({ request: context.data, features: Object.fromEntries(odfv.inputs.map((ref) => [ref, input(ref) ?? null])) });
    return Object.fromEntries(
      Object.entries(odfv.features).map(([name, type]) => {
        const value = computed[name] ?? null;
        return [name, valueMatches(type, value) ? value : null];
      }),
    );
  });
}
