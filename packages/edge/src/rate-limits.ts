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

  reconfigure(limits: EdgeConfig["limits"]): void {
    for (const kind of Object.keys(RATE_OF) as RateKind[]) {
      const k = RATE_OF[kind];
      if (JSON.stringify(limits[k]) !== JSON.stringify(this.rates[k])) this.limiters[kind] = new RateLimiter(limits[k]);
    }
    this.rates = limits;
  }
}
