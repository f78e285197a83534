// Turns a stream of denials into one event per (tenant, host, port, method) per time window,
// with a count and first/last seen. Windows are cut by the LOG's own timestamps, not by when
// the shipper happens to read them, so re-reading the same lines after a restart yields the
// same windows, counts and idempotency keys: a replayed window is stored once.

export interface Denial {
  timeMs: number;
  host: string;
  port: number;
  method: string;
}

export interface DenialWindowEvent {
  tenant: string;
  host: string;
  port: number;
  method: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  windowStartMs: number;
  /** Stable across restarts: tenant, source, window and destination. */
  idempotencyKey: string;
}

interface Group {
  host: string;
  port: number;
  method: string;
  count: number;
  first: number;
  last: number;
}

export interface AggregatorOptions {
  tenant: string;
  /** Identifies the log source in idempotency keys (e.g. the proxy container's short id). */
  source: string;
  /** Window length; a multiple of 1000 so windows start on whole seconds (Docker's `since`). */
  windowMs: number;
  /** Distinct destinations per window before the rest are folded into one "(other)" row. */
  maxGroups?: number;
}

export const OTHER_HOST = "(other)";

/** Aggregates one log source (one tenant's proxy). */
export class DenialAggregator {
  private readonly windows = new Map<number, Map<string, Group>>();
  private readonly maxGroups: number;

  constructor(private readonly opts: AggregatorOptions) {
    if (opts.windowMs < 1_000 || opts.windowMs % 1_000 !== 0) throw new Error(`windowMs: must be a multiple of 1000 (got ${opts.windowMs})`);
    this.maxGroups = opts.maxGroups ?? 1_000;
  }

  windowOf(timeMs: number): number {
    return Math.floor(timeMs / this.opts.windowMs) * this.opts.windowMs;
  }

  add(d: Denial): void {
    const w = this.windowOf(d.timeMs);
    let groups = this.windows.get(w);
    if (!groups) {
      groups = new Map();
      this.windows.set(w, groups);
    }
    let key = `${d.host}\u0000${d.port}\u0000${d.method}`;
    let g = groups.get(key);
    if (!g && groups.size >= this.maxGroups) {
      // A loop over random names must not become unbounded memory or rows.
      key = `${OTHER_HOST}\u00000\u0000${d.method}`;
      g = groups.get(key);
      if (!g) {
        g = { host: OTHER_HOST, port: 0, method: d.method, count: 0, first: d.timeMs, last: d.timeMs };
        groups.set(key, g);
      }
    }
    if (!g) {
      g = { host: d.host, port: d.port, method: d.method, count: 0, first: d.timeMs, last: d.timeMs };
      groups.set(key, g);
    }
    g.count++;
    g.first = Math.min(g.first, d.timeMs);
    g.last = Math.max(g.last, d.timeMs);
  }

  /** Start of the oldest window still open (what must be re-read after a restart), or undefined. */
  oldestOpenWindow(): number | undefined {
    let min: number | undefined;
    for (const w of this.windows.keys()) if (min === undefined || w < min) min = w;
    return min;
  }

  /**
   * Removes and returns the events of every window that ended before `closedBeforeMs`
   * (callers pass now - grace, so late log lines still land in their window).
   */
  takeClosed(closedBeforeMs: number): DenialWindowEvent[] {
    const out: DenialWindowEvent[] = [];
    for (const [w, groups] of [...this.windows].sort((a, b) => a[0] - b[0])) {
      if (w + this.opts.windowMs > closedBeforeMs) continue;
      this.windows.delete(w);
      for (const g of groups.values()) {
        out.push({
          tenant: this.opts.tenant,
          host: g.host,
          port: g.port,
          method: g.method,
          count: g.count,
          firstSeen: new Date(g.first).toISOString(),
          lastSeen: new Date(g.last).toISOString(),
          windowStartMs: w,
          idempotencyKey: `egress.denied:${this.opts.source}:${w}:${g.method}:${g.host}:${g.port}`.slice(0, 200),
        });
      }
    }
    return out;
  }
}
