/** A merchant view with a last_n over the card holder's id: where an erased user's id sits inside another entity's aggregation state. */
import * as demo from '../../features/index.js';
import { featureView } from '../../lambdas/core/definitions.js';

export const merchantRecentUsers = featureView({
  name: 'merchant_recent_users',
  entities: [demo.merchant],
  source: demo.transactions,
  features: { user_id: 'string' },
  transform: (t: { user_id: string }) => ({ user_id: t.user_id }),
  aggregations: [{ name: 'recent_users_1d', fn: 'last_n', column: 'user_id', window: '1d', n: 3 }],
  ttl: '30d',
  owner: 'fraud-ml',
  description: 'The last card holders at the merchant',
});
