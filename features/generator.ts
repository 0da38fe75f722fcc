/**
 * Synthetic card transactions for the demo and the tests: a seeded, deterministic generator
 * (same options, same events, on every machine) of realistic-looking traffic. Card holders
 * u0001… live in a home city, pay mostly in its currency at nearby merchants m0001…, travel
 * now and then, and spend lognormally distributed amounts. Optional faults for tests: late
 * (out-of-order) events and producer duplicates (the same event_id twice).
 *
 * Pure: no I/O, no global clock, no Math.random. Time comes from `clock` or a simulated one.
 */
import type { CURRENCIES, Transaction } from './fraud.js';

type Currency = (typeof CURRENCIES)[number];

export interface GeneratorOptions {
  /** @default 1 */
  readonly seed?: number;
  /** Card holders u0001…; @default 200 */
  readonly users?: number;
  /** Merchants m0001…; @default 50 */
  readonly merchants?: number;
  /**
   * Event time of each new event (epoch ms). Give the real clock to feed a live stream.
   * @default a simulated clock starting at `startTs` with Poisson arrivals at `ratePerSecond`
   */
  readonly clock?: () => number;
  /** Start of the simulated clock. @default 1_767_225_600_000 (2026-01-01T00:00:00Z) */
  readonly startTs?: number;
  /** Mean events per second of the simulated clock. @default 5 */
  readonly ratePerSecond?: number;
  /** Share of events stamped earlier than the clock, so they arrive late and out of order. @default 0 */
  readonly lateFraction?: number;
  /** How late a late event is, at most. @default 60_000 ms */
  readonly maxLatenessMs?: number;
  /** Share of emitted events that repeat a recent event verbatim (same event_id). @default 0 */
  readonly duplicateFraction?: number;
}

export interface City {
  readonly name: string;
  readonly lat: number;
  readonly lon: number;
  readonly currency: Currency;
  /** Relative share of card holders and merchants. */
  readonly weight: number;
}

export interface CardHolder {
  readonly userId: string;
  readonly home: City;
  readonly lat: number;
  readonly lon: number;
  readonly currency: Currency;
  /** Median spend in USD; amounts are lognormal around it. */
  readonly medianUsd: number;
}

export interface Merchant {
  readonly merchantId: string;
  readonly city: City;
  readonly lat: number;
  readonly lon: number;
}

export const CITIES: readonly City[] = [
  { name: 'New York', lat: 40.7128, lon: -74.006, currency: 'USD', weight: 8 },
  { name: 'San Francisco', lat: 37.7749, lon: -122.4194, currency: 'USD', weight: 4 },
  { name: 'Chicago', lat: 41.8781, lon: -87.6298, currency: 'USD', weight: 4 },
  { name: 'Austin', lat: 30.2672, lon: -97.7431, currency: 'USD', weight: 2 },
  { name: 'London', lat: 51.5074, lon: -0.1278, currency: 'GBP', weight: 6 },
  { name: 'Manchester', lat: 53.4808, lon: -2.2426, currency: 'GBP', weight: 2 },
  { name: 'Paris', lat: 48.8566, lon: 2.3522, currency: 'EUR', weight: 5 },
  { name: 'Berlin', lat: 52.52, lon: 13.405, currency: 'EUR', weight: 4 },
  { name: 'Madrid', lat: 40.4168, lon: -3.7038, currency: 'EUR', weight: 3 },
  { name: 'Zurich', lat: 47.3769, lon: 8.5417, currency: 'CHF', weight: 2 },
  { name: 'Tokyo', lat: 35.6762, lon: 139.6503, currency: 'JPY', weight: 5 },
  { name: 'Osaka', lat: 34.6937, lon: 135.5023, currency: 'JPY', weight: 2 },
];

/** Units of each currency per US dollar: the demo spends in USD and converts. */
const UNITS_PER_USD: Record<Currency, number> = { USD: 1, EUR: 1 / 1.08, GBP: 1 / 1.27, JPY: 1 / 0.0067, CHF: 1 / 1.13 };

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const pad = (n: number) => String(n).padStart(4, '0');
const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

export const userId = (n: number): string => `u${pad(n)}`;
export const merchantId = (n: number): string => `m${pad(n)}`;

/** How many recent events a duplicate may repeat. */
const DUPLICATE_WINDOW = 64;
/** Share of a card holder's transactions away from home. */
const TRAVEL_SHARE = 0.08;
/** Spread of amounts around a card holder's median (lognormal sigma). */
const AMOUNT_SIGMA = 0.9;

export class TransactionGenerator {
  readonly users: readonly CardHolder[];
  readonly merchants: readonly Merchant[];
  private readonly random: () => number;
  private readonly clock: () => number;
  private readonly seedTag: string;
  private readonly merchantsByCity = new Map<string, Merchant[]>();
  private readonly recent: Transaction[] = [];
  private sequence = 0;

  constructor(private readonly options: GeneratorOptions = {}) {
    const seed = options.seed ?? 1;
    this.random = mulberry32(seed);
    this.seedTag = (seed >>> 0).toString(36);
    const userCount = options.users ?? 200;
    const merchantCount = options.merchants ?? 50;
    if (!(Number.isInteger(userCount) && userCount >= 1) || !(Number.isInteger(merchantCount) && merchantCount >= 1)) {
      throw new RangeError('users and merchants must be positive integers');
    }
    // Merchants first, spread over the cities by weight, so every city a card holder can
    // live in has at least one merchant when there are enough merchants to go round.
    this.merchants = Array.from({ length: merchantCount }, (_, i) => {
      const city = i < CITIES.length ? (CITIES[i] as City) : this.pickCity();
      const merchant = { merchantId: merchantId(i + 1), city, ...this.near(city, 0.05) };
      this.merchantsByCity.set(city.name, [...(this.merchantsByCity.get(city.name) ?? []), merchant]);
      return merchant;
    });
    this.users = Array.from({ length: userCount }, (_, i) => {
      const home = this.pickCity();
      return {
        userId: userId(i + 1),
        home,
        ...this.near(home, 0.1),
        currency: this.random() < 0.9 ? home.currency : 'USD',
        medianUsd: round(15 + this.random() * 65, 2),
      };
    });
    this.clock = options.clock ?? this.simulatedClock(options.startTs ?? 1_767_225_600_000, options.ratePerSecond ?? 5);
  }

  /**
   * The next event. With `userId`, a fresh event of that card holder (never a duplicate):
   * how the demo gives every card holder data at start.
   */
  next(options: { userId?: string } = {}): Transaction {
    const duplicateFraction = this.options.duplicateFraction ?? 0;
    if (options.userId === undefined && this.recent.length > 0 && this.random() < duplicateFraction) {
      const original = this.recent[Math.floor(this.random() * this.recent.length)] as Transaction;
      return { ...original };
    }
    const user = options.userId === undefined ? this.pick(this.users) : this.user(options.userId);
    const event = this.transactionOf(user);
    this.recent.push(event);
    if (this.recent.length > DUPLICATE_WINDOW) this.recent.shift();
    return { ...event };
  }

  /** The next `count` events. */
  take(count: number): Transaction[] {
    return Array.from({ length: count }, () => this.next());
  }

  user(id: string): CardHolder {
    const user = this.users.find((u) => u.userId === id);
    if (!user) throw new RangeError(`no card holder ${id} (the generator has u0001…${userId(this.users.length)})`);
    return user;
  }

  private transactionOf(user: CardHolder): Transaction {
    const travelling = this.random() < TRAVEL_SHARE;
    const local = this.merchantsByCity.get(user.home.name);
    const merchant = !travelling && local?.length ? this.pick(local) : this.pick(this.merchants);
    const away = merchant.city.name !== user.home.name;
    const currency = away ? merchant.city.currency : user.currency;
    const usd = user.medianUsd * Math.exp(AMOUNT_SIGMA * this.gaussian());
    const amount = clamp(round(usd * UNITS_PER_USD[currency], currency === 'JPY' ? 0 : 2), 0.01, 1_000_000);
    let ts = Math.round(this.clock());
    const lateFraction = this.options.lateFraction ?? 0;
    if (lateFraction > 0 && this.random() < lateFraction) {
      ts -= 1 + Math.floor(this.random() * (this.options.maxLatenessMs ?? 60_000));
    }
    this.sequence += 1;
    return {
      event_id: `evt-${this.seedTag}-${this.sequence.toString(36).padStart(6, '0')}`,
      user_id: user.userId,
      merchant_id: merchant.merchantId,
      amount,
      currency,
      lat: round(clamp(merchant.lat + (this.random() - 0.5) * 0.01, -90, 90), 5),
      lon: round(clamp(merchant.lon + (this.random() - 0.5) * 0.01, -180, 180), 5),
      ts: Math.max(1, ts),
    };
  }

  private simulatedClock(start: number, ratePerSecond: number): () => number {
    if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be positive');
    let t = start;
    return () => {
      // Exponential inter-arrival times: a Poisson process at the given rate.
      t += Math.max(1, Math.round((-Math.log(1 - this.random()) * 1000) / ratePerSecond));
      return t;
    };
  }

  private pickCity(): City {
    const total = CITIES.reduce((sum, c) => sum + c.weight, 0);
    let r = this.random() * total;
    for (const city of CITIES) {
      r -= city.weight;
      if (r < 0) return city;
    }
    return CITIES[CITIES.length - 1] as City;
  }

  private near(city: City, degrees: number): { lat: number; lon: number } {
    return {
      lat: round(city.lat + (this.random() - 0.5) * 2 * degrees, 5),
      lon: round(city.lon + (this.random() - 0.5) * 2 * degrees, 5),
    };
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T;
  }

  /** Standard normal (Box–Muller). */
  private gaussian(): number {
    const u = 1 - this.random();
    const v = this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
