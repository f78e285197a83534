// The shipper: follows every tenant egress proxy's access log, aggregates its denials
// (DenialAggregator) and records closed windows as `egress.denied` audit events.
//
// No event is lost when Postgres is briefly down: AuditClient.record() resolves only once the
// event is committed OR fsync'd in its spool (replayed when Postgres is back). Only then does
// the checkpoint of that proxy advance past the window; after a crash the shipper re-reads the
// proxy's log from its checkpoint, rebuilds the same windows, and their idempotency keys make
// the replay store each window once.
import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { DenialAggregator, destinationOf, type DenialWindowEvent } from "./aggregator";
import { isDenial, parseAccessLogLine } from "./squid-log";
import type { AuditEventInput } from "@octw/audit";

export const SHIPPER_ACTOR = "egress-audit";

export interface AuditRecorder {
  record(event: AuditEventInput): Promise<unknown>;
}

/** Per proxy container: the second from which its log must be read again after a restart. */
export class CheckpointStore {
  private data: Record<string, number> = {};

  constructor(private readonly path: string | undefined) {
    if (!path) return;
    try {
      const j = JSON.parse(readFileSync(path, "utf8")) as unknown;
      if (j && typeof j === "object") for (const [k, v] of Object.entries(j)) if (typeof v === "number") this.data[k] = v;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`checkpoint file ${path}: unreadable or not JSON`);
    }
  }

  get(source: string): number | undefined {
    return this.data[source];
  }

  set(source: string, sinceSec: number): void {
    if ((this.data[source] ?? 0) >= sinceSec) return;
    this.data[source] = sinceSec;
    if (!this.path) return;
    // Write-then-rename: a crash leaves the old or the new file, never half of one.
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data), { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  forget(keep: ReadonlySet<string>): void {
    for (const k of Object.keys(this.data)) if (!keep.has(k)) delete this.data[k];
  }
}

export interface SourceOptions {
  tenant: string;
  /** The proxy container id (or any stable source name). */
  source: string;
  windowMs: number;
  /** A window is closed this long after its end, so late lines still count in it. */
  graceMs: number;
  maxGroups?: number;
}

export interface SourceStats {
  lines: number;
  denials: number;
  unparsed: number;
  events: number;
}

/** One proxy's log: lines in, closed windows out to the audit trail. */
export class DenialSource {
  readonly agg: DenialAggregator;
  readonly stats: SourceStats = { lines: 0, denials: 0, unparsed: 0, events: 0 };
  /** Time of the newest line seen: windows close by log time, so a silent proxy still flushes via `now`. */
  private newestMs = 0;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    readonly opts: SourceOptions,
    private readonly audit: AuditRecorder,
    private readonly checkpoints: CheckpointStore,
  ) {
    this.agg = new DenialAggregator({ tenant: opts.tenant, source: opts.source.slice(0, 12), windowMs: opts.windowMs, ...(opts.maxGroups ? { maxGroups: opts.maxGroups } : {}) });
  }

  /** Where to start reading (seconds): the checkpoint, or `fallbackSec` for a proxy never seen. */
  startSec(fallbackSec: number): number {
    return this.checkpoints.get(this.opts.source) ?? fallbackSec;
  }

  line(text: string): void {
    this.stats.lines++;
    const e = parseAccessLogLine(text);
    if (!e) {
      this.stats.unparsed++;
      return;
    }
    this.newestMs = Math.max(this.newestMs, e.timeMs);
    if (!isDenial(e)) return;
    this.stats.denials++;
    this.agg.add({ timeMs: e.timeMs, destination: destinationOf(e.host, e.port, e.target), host: e.host, port: e.port, method: e.method });
  }

  /**
   * Records every window closed by `nowMs` and, once all are durably accepted, advances the
   * checkpoint. Serialised: flushes never overlap.
   */
  flush(nowMs: number): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushNow(nowMs));
    return this.flushing;
  }

  private async flushNow(nowMs: number): Promise<void> {
    const closedBefore = nowMs - this.opts.graceMs;
    const events = this.agg.takeClosed(closedBefore);
    await Promise.all(events.map((ev) => this.audit.record(toAuditEvent(ev))));
    this.stats.events += events.length;
    // Everything before the oldest still-open window is recorded; if none is open, everything
    // before the current window (lines not yet seen belong to it or later).
    const open = this.agg.oldestOpenWindow();
    const safeMs = open ?? this.agg.windowOf(Math.min(closedBefore, Math.max(this.newestMs + 1, 0)));
    if (safeMs > 0) this.checkpoints.set(this.opts.source, Math.floor(safeMs / 1000));
  }
}

/** The audit trail's `target` holds 1024 characters; longer destinations keep a prefix and their digest. */
export const MAX_TARGET = 1_024;
/** Longest destination kept whole in `details` (Squid's URLs end at 8 KiB). */
const MAX_DETAIL_DESTINATION = 16_384;

function bounded(text: string, max: number): { text: string; sha256?: string } {
  if (text.length <= max) return { text };
  const sha256 = createHash("sha256").update(text).digest("hex");
  return { text: `${text.slice(0, max - 80)}…(sha256:${sha256})`, sha256 };
}

export function toAuditEvent(ev: DenialWindowEvent): Parameters<AuditRecorder["record"]>[0] {
  const target = bounded(ev.destination, MAX_TARGET);
  const full = bounded(ev.destination, MAX_DETAIL_DESTINATION);
  return {
    tenant: ev.tenant,
    actor: SHIPPER_ACTOR,
    action: "egress.denied",
    target: target.text,
    decision: "denied",
    details: {
      host: ev.host,
      port: ev.port,
      method: ev.method,
      count: ev.count,
      first_seen: ev.firstSeen,
      last_seen: ev.lastSeen,
      window_start: new Date(ev.windowStartMs).toISOString(),
      // A window with more destinations than maxGroups is recorded in chunks: no name is folded away.
      window_chunk: ev.chunk,
      ...(target.sha256 ? { destination: full.text, destination_sha256: target.sha256 } : {}),
    },
    time: ev.lastSeen,
    idempotencyKey: ev.idempotencyKey,
  };
}
