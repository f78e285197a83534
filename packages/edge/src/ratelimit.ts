// Token buckets keyed by tenant, by tenant+subject and by client address. In memory, in one
// process (with several workers: the primary's, lent out in small leases, rate-limits.ts).
// Idle buckets are swept so random keys cannot grow the map forever.

export interface Rate {
  ratePerSec: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly rate: Rate,
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes one token; false when the key is over its rate. */
  take(key: string): boolean {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.sweep(t);
      b = { tokens: this.rate.burst, at: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.rate.burst, b.tokens + ((t - b.at) / 1000) * this.rate.ratePerSec);
      b.at = t;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /**
   * Takes one token and, when the bucket then still holds more than `keepBack`, up to `extra`
   * more of what lies above it (a lease for a cluster worker). Returns how many were taken: 0
   * when the key is over its rate.
   */
  takeLease(key: string, extra: number, keepBack: number): number {
    if (!this.take(key)) return 0;
    const b = this.buckets.get(key)!;
    const more = Math.max(0, Math.min(extra, Math.floor(b.tokens - keepBack)));
    b.tokens -= more;
    return 1 + more;
  }

  /** Tokens of a lease that were not used, back into the bucket (never above the burst). */
  giveBack(key: string, n: number): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(this.rate.burst, b.tokens + n);
  }

  /** Seconds until one token is available again (for Retry-After). */
  retryAfterSec(): number {
    return Math.max(1, Math.ceil(1 / this.rate.ratePerSec));
  }

  private sweep(t: number): void {
    const full = (this.rate.burst / this.rate.ratePerSec) * 1000;
    for (const [k, b] of this.buckets) if (t - b.at >= full) this.buckets.delete(k);
    // Still full of active keys: drop the oldest half rather than grow without bound.
    if (this.buckets.size >= this.maxKeys) {
      let n = this.buckets.size / 2;
      for (const k of this.buckets.keys()) {
        if (n-- <= 0) break;
        this.buckets.delete(k);
      }
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
