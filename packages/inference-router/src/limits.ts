// Per-tenant request rate (token bucket) and concurrency (in-flight count). In memory: the
// router is one process. One tenant exhausting its budget never touches another's.

export interface Rate {
  ratePerSec: number;
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private rate: Rate,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = rate.burst;
    this.at = now();
  }

  /** Takes one token; false when the rate is exceeded. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.rate.burst, this.tokens + ((t - this.at) / 1000) * this.rate.ratePerSec);
    this.at = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Seconds until a token is back (Retry-After). */
  retryAfterSec(): number {
    return Math.max(1, Math.ceil((1 - this.tokens) / this.rate.ratePerSec));
  }

  /** New limits from a reloaded config; the current fill carries over, capped at the new burst. */
  update(rate: Rate): void {
    this.rate = rate;
    this.tokens = Math.min(this.tokens, rate.burst);
  }
}

export class TenantLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly inflight = new Map<string, number>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  rate(tenant: string, rate: Rate): { ok: true } | { ok: false; retryAfterSec: number } {
    let b = this.buckets.get(tenant);
    if (!b) {
      b = new TokenBucket(rate, this.now);
      this.buckets.set(tenant, b);
    } else {
      b.update(rate);
    }
    return b.take() ? { ok: true } : { ok: false, retryAfterSec: b.retryAfterSec() };
  }

  /** Reserves a slot; the returned release must be called exactly once (it is idempotent). */
  acquire(tenant: string, max: number): (() => void) | undefined {
    const n = this.inflight.get(tenant) ?? 0;
    if (n >= max) return undefined;
    this.inflight.set(tenant, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inflight.get(tenant) ?? 1) - 1;
      if (left <= 0) this.inflight.delete(tenant);
      else this.inflight.set(tenant, left);
    };
  }

  inFlight(tenant: string): number {
    return this.inflight.get(tenant) ?? 0;
  }

  /** Forgets tenants no longer configured. */
  retain(tenants: ReadonlySet<string>): void {
    for (const k of this.buckets.keys()) if (!tenants.has(k)) this.buckets.delete(k);
  }
}
