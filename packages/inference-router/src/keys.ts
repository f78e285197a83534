// The tenants' provider keys, decrypted from tenant_secrets (@octw/audit's TenantSecrets) and
// kept in memory for a bounded time:
//  - fresher than cacheTtlMs: served from memory (no database round trip per request);
//  - older, but fetched less than maxStaleMs ago: served from memory while ONE background
//    refresh runs — so a Postgres outage does not stall requests, and a rotated key is picked
//    up within cacheTtlMs once Postgres answers;
//  - older than maxStaleMs (or never fetched): the request waits for Postgres and fails
//    (KeyUnavailableError) if it cannot be reached. The outage window is therefore bounded.
// The cache is keyed by (tenant, secret name) and filled only by asking for exactly that
// tenant's row: there is no path by which one tenant's request reads another's key.

/** What the cache reads from: TenantSecrets.get has this shape. */
export interface KeySource {
  get(tenant: string, name: string): Promise<Buffer>;
}

export class KeyUnavailableError extends Error {
  constructor(
    readonly tenant: string,
    readonly secretName: string,
    readonly cause_: "not_found" | "unreachable",
  ) {
    super(`provider key ${secretName} of tenant ${tenant} is ${cause_ === "not_found" ? "not stored" : "not available (secret store unreachable and no usable cached copy)"}`);
    this.name = "KeyUnavailableError";
  }
}

interface Entry {
  value: string;
  fetchedAt: number;
  refreshing?: Promise<void>;
  /** Earliest time of the next background refresh after a failed one. */
  retryAt: number;
}

export interface KeyCacheOptions {
  cacheTtlMs: number;
  maxStaleMs: number;
  /** Pause after a failed background refresh. Default min(5 s, cacheTtlMs). */
  retryMs?: number;
  now?: () => number;
  onRefreshError?: (tenant: string, name: string, err: unknown) => void;
}

const isNotFound = (err: unknown) => err instanceof Error && /: not found$/.test(err.message);

export class ProviderKeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly now: () => number;

  constructor(
    private readonly source: KeySource,
    private readonly opts: KeyCacheOptions,
  ) {
    this.now = opts.now ?? (() => Date.now());
  }

  /** The key, or KeyUnavailableError. Never logs or includes the value in errors. */
  async get(tenant: string, name: string): Promise<string> {
    const id = `${tenant}\u0000${name}`;
    const e = this.entries.get(id);
    const t = this.now();
    if (e) {
      const age = t - e.fetchedAt;
      if (age < this.opts.cacheTtlMs) return e.value;
      if (age < this.opts.maxStaleMs) {
        if (!e.refreshing && t >= e.retryAt) e.refreshing = this.refresh(id, tenant, name, e);
        return e.value;
      }
    }
    return this.fetch(id, tenant, name);
  }

  private async refresh(id: string, tenant: string, name: string, e: Entry): Promise<void> {
    try {
      await this.fetch(id, tenant, name);
    } catch (err) {
      this.opts.onRefreshError?.(tenant, name, err);
      e.retryAt = this.now() + (this.opts.retryMs ?? Math.min(5_000, this.opts.cacheTtlMs));
    } finally {
      e.refreshing = undefined;
    }
  }

  /** One database read per (tenant, name) at a time, however many requests wait for it. */
  private fetch(id: string, tenant: string, name: string): Promise<string> {
    let p = this.inflight.get(id);
    if (!p) {
      p = this.source
        .get(tenant, name)
        .then(
          (buf) => {
            const value = buf.toString("utf8").trim();
            buf.fill(0);
            this.entries.set(id, { value, fetchedAt: this.now(), retryAt: 0 });
            return value;
          },
          (err: unknown) => {
            if (isNotFound(err)) {
              // Deleted secret: stop serving the old copy at once.
              this.entries.delete(id);
              throw new KeyUnavailableError(tenant, name, "not_found");
            }
            const e = this.entries.get(id);
            if (e && this.now() - e.fetchedAt < this.opts.maxStaleMs) {
              // Fetch was for a stale-but-usable entry (background refresh): let the caller decide.
              throw err;
            }
            this.entries.delete(id);
            throw new KeyUnavailableError(tenant, name, "unreachable");
          },
        )
        .finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
    return p;
  }

  /** Drops entries of tenants no longer configured. */
  retain(tenants: ReadonlySet<string>): void {
    for (const id of this.entries.keys()) if (!tenants.has(id.split("\u0000", 1)[0]!)) this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
