import { describe, expect, it } from 'vitest';
import * as demo from '../../features/index.js';
import { featureView } from '../../lambdas/core/definitions.js';
import { parseSubject } from '../../lambdas/core/erasure.js';
import { scrubPlan, scrubTierItem } from '../../lambdas/core/erasure-scrub.js';
import { onlineGroups, type TierItem } from '../../lambdas/core/online.js';
import { Registry } from '../../lambdas/core/registry.js';
import { merchantRecentUsers as recentUsers } from '../support/merchant-recent-users.js';

const registry = Registry.fromModule({ ...demo, recentUsers });
const subject = parseSubject(registry, 'user_id=u0001');
const group = onlineGroups(registry.views).get('merchant_txn_stats')!;

describe('erasure inside other entities’ data', () => {
  it('concerns the views keyed by another entity that store the join key, nulling only it; in a pii view, every feature', () => {
    const piiView = featureView({ ...recentUsers, name: 'merchant_card_holders', features: { user_id: 'string', card_holder_name: 'string' }, tags: ['pii'] });
    const plan = scrubPlan(Registry.fromModule({ ...demo, recentUsers, piiView }), subject);
    expect(Object.fromEntries(plan)).toEqual({
      merchant_txn_stats: ['user_id'],
      merchant_recent_users: ['user_id'],
      merchant_card_holders: ['user_id', 'card_holder_name'],
    });
  });

  it('nulls the subject in a merchant item’s latest, pending and buffered rows, drops its last_n values, and keeps everything else', () => {
    const item: TierItem = {
      pk: 'transactions:merchant_id#m0001',
      version: 7,
      epoch: 3,
      absorbed: 0,
      marks: { abc: ['42', 1] },
      latest: { merchant_txn_stats: { s: [10, 11, 'e1'], f: { amount_usd: 5, user_id: 'u0001' } } },
      pending: { merchant_txn_stats: [{ s: [20, 21, 'e2'], f: { amount_usd: 6, user_id: 'u0002' } }] },
      buffer: {
        merchant_txn_stats: [
          [10, 11, 'e1', 5, 'u0001'],
          [9, 11, 'e0', 4, 'u0002'],
        ],
      },
      open: {
        merchant_recent_users: {
          tops: {
            'recent_users_1d@60': [
              [10, 11, 'e1', 'u0001'],
              [9, 11, 'e0', 'u0002'],
            ],
          },
        },
      },
    };

    const scrubbed = scrubTierItem(group.views, item, scrubPlan(registry, subject), subject);

    expect(scrubbed?.scrubbed).toBe(3);
    expect(scrubbed?.item).toEqual({
      ...item,
      version: 8,
      latest: { merchant_txn_stats: { s: [10, 11, 'e1'], f: { amount_usd: 5, user_id: null } } },
      buffer: {
        merchant_txn_stats: [
          [10, 11, 'e1', 5, null],
          [9, 11, 'e0', 4, 'u0002'],
        ],
      },
      open: { merchant_recent_users: { tops: { 'recent_users_1d@60': [[9, 11, 'e0', 'u0002']] } } },
    });
    expect(scrubTierItem(group.views, scrubbed!.item, scrubPlan(registry, subject), subject)).toBeUndefined();
  });
});
