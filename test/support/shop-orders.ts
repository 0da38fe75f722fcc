/**
 * The drift tests' definitions: orders of buyers (amount, country) and the service `shop_v1`
 * over the last order of each buyer — a numeric feature and a text one.
 */
import * as z from 'zod';
import { entity, featureService, featureView, streamSource } from '../../lambdas/core/definitions.js';
import { Registry } from '../../lambdas/core/registry.js';

const buyer = entity({ name: 'buyer', joinKey: 'user_id' });
const orders = streamSource({
  name: 'orders',
  schema: z.object({ id: z.string(), ts: z.number(), user_id: z.string(), amount: z.number(), country: z.string() }),
  eventTimeField: 'ts',
  eventIdField: 'id',
});
const lastOrder = featureView({
  name: 'last_order',
  entities: [buyer],
  source: orders,
  features: { amount: 'float', country: 'string' },
  owner: 'tests',
  description: 'generated',
});

export const shopRegistry = (): Registry =>
  new Registry([buyer, orders, lastOrder, featureService({ name: 'shop_v1', features: [lastOrder], owner: 'tests', description: 'generated' })]);
