// The three rate limits of a decision (per client address, per tenant+subject, per tenant)
// behind one port: in one process they are local token buckets; with several workers the
// primary holds them and workers ask it (cluster-worker.ts), so a limit is exact across workers.
import type { EdgeConfig } from "@octw/contracts";
import { RateLimiter, type Rate } from "./ratelimit";

export type RateKind = "ip" | "subject" | "tenant";
export type RateKey = readonly [RateKind, string];

export interface RateLimits {
  /**
   * Takes one token from each key in order, stopping at the first key over its rate: returns
   * that key's kind, or undefined when every key had room. Local: synchronous.
   */
  take(keys: readonly RateKey[]): RateKind | undefined | Promise<RateKind | undefined>;
  /** Seconds until one token of that kind is available again (for Retry-After). */
  retryAfterSec(kind: RateKind): number;
  /** New rates; a limit whose rate did not change keeps its buckets. */
  reconfigure(limits: EdgeConfig["limits"]): void;
}

/**
 * Tokens a worker may hold for one key: its requests take them without asking the primary. A
 * lease is only granted while the primary's bucket keeps more than 2 × workers × this back, and
 * an unused lease returns after LEASE_MS: so no limit is ever exceeded in total (every admitted
 * request took a token from the one bucket), and a key under heavy use is refused at most
 * (workers − 1) × (LEASE_TOKENS − 1) requests early, for at most 2 × LEASE_MS, while another
 * worker holds tokens it has not used. Near a limit every take goes to the primary: exact.
 */
export const LEASE_TOKENS = 32;
export const LEASE_MS = 100;

export const RATE_OF: Record<RateKind, "perClientIp" | "perSubject" | "perTenant"> = { ip: "perClientIp", subject: "perSubject", tenant: "perTenant" };

export function retryAfterFor(rate: Rate): number {
  return Math.max(1, Math.ceil(1 / rate.ratePerSec));
}

export class LocalRateLimits implements RateLimits {
  private readonly limiters: Record<RateKind, RateLimiter>;
  private rates: EdgeConfig["limits"];

  constructor(limits: EdgeConfig["limits"]) {
    this.rates = limits;
    this.limiters = { ip: new RateLimiter(limits.perClientIp), subject: new RateLimiter(limits.perSubject), tenant: new RateLimiter(limits.perTenant) };
  }

  take(keys: readonly RateKey[]): RateKind | undefined {
    for (const [kind, key] of keys) if (!this.limiters[kind].take(key)) return kind;
    return undefined;
  }

  retryAfterSec(kind: RateKind): number {
    return this.limiters[kind].retryAfterSec();
  }

  /**
   * For a cluster worker: takes each key in order like take(), and lends out up to
   * LEASE_TOKENS - 1 more per key while the bucket holds more than `keepBack` beyond them.
   * Returns the first key over its rate (if any) and how many tokens each granted key got.
   */
  lease(keys: readonly RateKey[], keepBack: number): { over: RateKind | undefined; granted: number[] } {
    const granted: number[] = [];
    for (const [kind, key] of keys) {
      const n = this.limiters[kind].takeLease(key, LEASE_TOKENS - 1, keepBack);
      if (n === 0) return { over: kind, granted };
      granted.push(n);
    }
    return { over: undefined, granted };
  }

  giveBack(kind: RateKind, key: string, n: number): void {
    this.limiters[kind].giveBack(key, n);
  }

  reconfigure(limits: EdgeConfig["limits"]): void {
    for (const kind of Object.keys(RATE_OF) as RateKind[]) {
      const k = RATE_OF[kind];
      if (JSON.stringify(limits[k]) !== JSON.stringify(this.rates[k])) this.limiters[kind] = new RateLimiter(limits[k]);
    }
    this.rates = limits;
  }
}
