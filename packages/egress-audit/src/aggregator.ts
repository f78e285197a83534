// Turns a stream of denials into one event per (tenant, destination, method) per time window,
// with a count and first/last seen. Windows are cut by the LOG's own timestamps, not by when
// the shipper happens to read them, so re-reading the same lines after a restart yields the
// same windows, counts and idempotency keys: a replayed window is stored once.
//
// Every denied attempt is counted in exactly one event, and that event names its real
// destination. A burst of more distinct destinations than `maxGroups` (a loop over random
// names, or decoys hiding one exfiltration attempt) does not fold names into an anonymous
// bucket: the window's groups are sealed as a chunk — recorded at the next flush, even while
// the window is still open — and a new chunk starts. Memory stays bounded by `maxGroups`;
// chunk boundaries depend only on the order of the log lines, so a replay seals the same
// chunks with the same keys. Keys carry a digest of the destination, never a truncated name:
// two long names never share a key, and any name fits the audit trail's key pattern.
import { createHash } from "node:crypto";

export interface Denial {
  timeMs: number;
  /** What the event names: `host:port`, or the request as logged when it named no valid host and port. */
  destination: string;
  host: string;
  /** 0 when the request named no valid port. */
  port: number;
  method: string;
}

export interface DenialWindowEvent {
  tenant: string;
  destination: string;
  host: string;
  port: number;
  method: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  windowStartMs: number;
  /** 0 for the first `maxGroups` destinations of a window, then 1, 2, … */
  chunk: number;
  /** Stable across restarts: source, window, chunk and a digest of method and destination. */
  idempotencyKey: string;
}

interface Group {
  destination: string;
  host: string;
  port: number;
  method: string;
  count: number;
  first: number;
  last: number;
}

interface Window {
  chunk: number;
  groups: Map<string, Group>;
}

export interface AggregatorOptions {
  tenant: string;
  /** Identifies the log source in idempotency keys (e.g. the proxy container's short id). */
  source: string;
  /** Window length; a multiple of 1000 so windows start on whole seconds (Docker's `since`). */
  windowMs: number;
  /** Distinct destinations per window and chunk before the chunk is sealed and recorded. */
  maxGroups?: number;
}

/** Bracketed IPv6 literal for an unbracketed one, so `host:port` stays unambiguous. */
export function destinationOf(host: string, port: number, target: string): string {
  if (host !== "" && port > 0) return `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
  if (target !== "" && target !== "-") return target;
  return host !== "" ? host : "(no destination logged)";
}

function digest(method: string, destination: string): string {
  return createHash("sha256").update(method).update("\u0000").update(destination).digest("hex").slice(0, 40);
}

/** Aggregates one log source (one tenant's proxy). */
export class DenialAggregator {
  private readonly windows = new Map<number, Window>();
  private sealed: DenialWindowEvent[] = [];
  private readonly maxGroups: number;

  constructor(private readonly opts: AggregatorOptions) {
    if (opts.windowMs < 1_000 || opts.windowMs % 1_000 !== 0) throw new Error(`windowMs: must be a multiple of 1000 (got ${opts.windowMs})`);
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(opts.source)) throw new Error("source: must be 1-64 characters of [A-Za-z0-9._-] (it is part of idempotency keys)");
    this.maxGroups = opts.maxGroups ?? 1_000;
  }

  windowOf(timeMs: number): number {
    return Math.floor(timeMs / this.opts.windowMs) * this.opts.windowMs;
  }

  add(d: Denial): void {
    const w = this.windowOf(d.timeMs);
    let win = this.windows.get(w);
    if (!win) {
      win = { chunk: 0, groups: new Map() };
      this.windows.set(w, win);
    }
    const key = `${d.method}\u0000${d.destination}`;
    let g = win.groups.get(key);
    if (!g && win.groups.size >= this.maxGroups) {
      // Seal, never fold: the names of the full chunk are recorded as they are.
      this.sealed.push(...this.events(w, win));
      win.chunk++;
      win.groups = new Map();
    }
    if (!g) {
      g = { destination: d.destination, host: d.host, port: d.port, method: d.method, count: 0, first: d.timeMs, last: d.timeMs };
      win.groups.set(key, g);
    }
    g.count++;
    g.first = Math.min(g.first, d.timeMs);
    g.last = Math.max(g.last, d.timeMs);
  }

  private events(w: number, win: Window): DenialWindowEvent[] {
    return [...win.groups.values()].map((g) => ({
      tenant: this.opts.tenant,
      destination: g.destination,
      host: g.host,
      port: g.port,
      method: g.method,
      count: g.count,
      firstSeen: new Date(g.first).toISOString(),
      lastSeen: new Date(g.last).toISOString(),
      windowStartMs: w,
      chunk: win.chunk,
      idempotencyKey: `egress.denied:${this.opts.source}:${w}:${win.chunk}:${digest(g.method, g.destination)}`,
    }));
  }

  /** Start of the oldest window still open (what must be re-read after a restart), or undefined. */
  oldestOpenWindow(): number | undefined {
    let min: number | undefined;
    for (const w of this.windows.keys()) if (min === undefined || w < min) min = w;
    return min;
  }

  /** Destinations held in memory (open windows' current chunks): bounded by maxGroups per window. */
  heldGroups(): number {
    let n = 0;
    for (const win of this.windows.values()) n += win.groups.size;
    return n;
  }

  /**
   * Removes and returns the events of every sealed chunk and of every window that ended before
   * `closedBeforeMs` (callers pass now - grace, so late log lines still land in their window).
   */
  takeClosed(closedBeforeMs: number): DenialWindowEvent[] {
    const out = this.sealed;
    this.sealed = [];
    for (const [w, win] of [...this.windows].sort((a, b) => a[0] - b[0])) {
      if (w + this.opts.windowMs > closedBeforeMs) continue;
      this.windows.delete(w);
      out.push(...this.events(w, win));
    }
    return out;
  }
}
