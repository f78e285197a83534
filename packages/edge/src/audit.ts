// Every edge decision becomes an audit event. The edge does not wait for the audit store on
// each request (that would put a database round trip into every request's latency): it hands
// the event to the sink and counts it as pending until the sink accepts it (@octw/audit's
// AuditClient accepts once the event is committed in Postgres or fsync'd in its spool file).
// Refused events are retried with backoff. When `bufferMax` events are pending — the store
// and its spool cannot keep up or refuse — the edge refuses new requests (503): it fails
// closed rather than letting traffic through unaudited. Pending events are lost if the process
// is killed (at most `bufferMax`); a graceful shutdown waits for them. A cluster worker's sink is
// the primary (cluster-worker.ts): its events leave the worker before the request goes on.

/** The part of @octw/audit's AuditClient the edge needs. */
export interface AuditSink {
  record(event: EdgeAuditEvent): Promise<void>;
  /**
   * Resolves once every event recorded so far has left this process (a cluster worker's events
   * are in the primary's hands). The edge waits for it before answering or forwarding, so a
   * worker that dies later loses no event. Sinks in the same process leave it out.
   */
  handedOff?: () => Promise<void>;
}

/**
 * `edge.upstream.failed`: an allowed request the tenant's gateway did not answer properly
 * (unreachable, timed out, malformed, reset, WebSocket protocol violation). The client got 502
 * or 504 (or its connection cut, when the response had already begun).
 */
export type EdgeAuditType = "edge.auth.allowed" | "edge.auth.denied" | "edge.upstream.failed";

export interface EdgeAuditEvent {
  type: EdgeAuditType;
  /** Only a tenant the edge knows; attacker-chosen names from unknown routes stay out. */
  tenant: string | null;
  /** The token's subject when it was verified. */
  actor: string | null;
  /** Stored as the event's idempotency key: a resent event is stored once (cluster workers set it). */
  id?: string;
  detail: {
    role: string | null;
    route: string;
    method: string;
    reason: string;
    status: number;
    clientIp: string;
    transport: "http" | "ws";
    /** How many identical denials this event stands for (rate-limit denials are coalesced). */
    count?: number;
    /** Node's error code for an upstream failure (e.g. HPE_INVALID_CONSTANT); never upstream text. */
    error?: string;
  };
  at: string;
}

export interface BufferedAuditorOptions {
  bufferMax: number;
  /** First retry delay after a failed record; doubles up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (err: unknown) => void;
}

export class BufferedAuditor {
  /** Events handed to the sink and not yet accepted by it. */
  private inflight = 0;
  /** Events the sink refused, waiting for the next retry. */
  private readonly retry: EdgeAuditEvent[] = [];
  private backoffMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Consecutive failures of the sink; 0 once it accepts again. */
  failures = 0;
  /** Events dropped because the sink called them invalid (a bug, logged through onError). */
  dropped = 0;

  constructor(
    private readonly sink: AuditSink,
    private readonly opts: BufferedAuditorOptions,
  ) {
    this.backoffMs = opts.minBackoffMs ?? 100;
  }

  /** Events not yet accepted by the sink (in flight + waiting for a retry). */
  get pending(): number {
    return this.inflight + this.retry.length;
  }

  /** True when the event was accepted; false means the caller must refuse the request. */
  submit(event: EdgeAuditEvent): boolean {
    if (!this.hasRoom()) return false;
    this.send(event);
    return true;
  }

  /** Room for one more event (used to refuse before doing work). */
  hasRoom(): boolean {
    return !this.closed && this.pending < this.opts.bufferMax;
  }

  // The sink may batch (AuditClient resolves record() once a batch is committed or spooled),
  // so events are handed over concurrently rather than one at a time.
  private send(event: EdgeAuditEvent): void {
    this.inflight++;
    this.sink.record(event).then(
      () => {
        this.inflight--;
        this.failures = 0;
        this.backoffMs = this.opts.minBackoffMs ?? 100;
      },
      (err: unknown) => {
        this.inflight--;
        this.opts.onError?.(err);
        if (err instanceof Error && err.name === "AuditEventError") {
          this.dropped++; // invalid for the store: retrying cannot help
          return;
        }
        this.failures++;
        this.retry.push(event);
        this.scheduleRetry();
      },
    );
  }

  private scheduleRetry(): void {
    if (this.timer !== undefined) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 5_000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      for (const ev of this.retry.splice(0)) this.send(ev);
    }, delay);
    this.timer.unref();
  }

  /** Stops accepting and waits (up to timeoutMs) for everything pending to be accepted. Returns what was left. */
  async drain(timeoutMs: number): Promise<number> {
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < deadline) {
      if (this.retry.length > 0 && this.timer === undefined) this.scheduleRetry();
      await new Promise((r) => setTimeout(r, 20));
    }
    if (this.timer) clearTimeout(this.timer);
    return this.pending;
  }
}
