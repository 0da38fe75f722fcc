/** Valid demo transactions for the integration tests: a fresh event id per call, overrides on top. */
import type { Transaction } from '../../features/fraud.js';

export function transactionMaker(idPrefix: string, defaults: Partial<Transaction> = {}): (userId: string, overrides?: Partial<Transaction>) => Transaction {
  let serial = 0;
  return (userId, overrides = {}) => {
    serial += 1;
    return {
      event_id: `${idPrefix}-${serial}`,
      user_id: userId,
      merchant_id: 'm0001',
      amount: 100,
      currency: 'EUR',
      lat: 48.8566,
      lon: 2.3522,
      ts: Date.now() - 60_000,
      ...defaults,
      ...overrides,
    };
  };
}
