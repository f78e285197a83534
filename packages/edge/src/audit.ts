// Every edge decision becomes an audit event. The edge does not wait for the audit store on
// each request (that would put a database round trip into every request's latency); it puts
// the event into a bounded in-memory buffer that a single flusher drains in order. When the
// buffer is full — the store is down or too slow — the edge refuses new requests (503): it
// fails closed rather than letting traffic through unaudited. Events still in the buffer are
// lost if the process is killed (at most `bufferMax` events); a graceful shutdown drains them.

/** The part of @octw/audit's AuditClient the edge needs. */
export interface AuditSink {
  record(event: EdgeAuditEvent): Promise<void>;
}

export type EdgeAuditType = "edge.auth.allowed" | "edge.auth.denied";

export interface EdgeAuditEvent {
  type: EdgeAuditType;
  /** Only a tenant the edge knows; attacker-chosen names from unknown routes stay out. */
  tenant: string | null;
  /** The token's subject when it was verified. */
  actor: string | null;
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
  private readonly queue: EdgeAuditEvent[] = [];
  private flushing = false;
  private backoffMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Consecutive failures of the sink; 0 when it last succeeded. */
  failures = 0;

  constructor(
    private readonly sink: AuditSink,
    private readonly opts: BufferedAuditorOptions,
  ) {
    this.backoffMs = opts.minBackoffMs ?? 100;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** True when the event was accepted; false means the caller must refuse the request. */
  submit(event: EdgeAuditEvent): boolean {
    if (this.closed || this.queue.length >= this.opts.bufferMax) return false;
    this.queue.push(event);
    if (!this.flushing && this.timer === undefined) void this.flush();
    return true;
  }

  /** Room for one more event (used to refuse before doing work). */
  hasRoom(): boolean {
    return !this.closed && this.queue.length < this.opts.bufferMax;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const ev = this.queue[0]!;
        try {
          await this.sink.record(ev);
        } catch (err) {
          this.failures++;
          this.opts.onError?.(err);
          const delay = this.backoffMs;
          this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 5_000);
          this.timer = setTimeout(() => {
            this.timer = undefined;
            void this.flush();
          }, delay);
          this.timer.unref();
          return;
        }
        this.queue.shift();
        this.failures = 0;
        this.backoffMs = this.opts.minBackoffMs ?? 100;
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Stops accepting and waits (up to timeoutMs) for the buffer to drain. Returns what was left. */
  async drain(timeoutMs: number): Promise<number> {
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 && Date.now() < deadline) {
      if (!this.flushing && this.timer === undefined) void this.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
    if (this.timer) clearTimeout(this.timer);
    return this.queue.length;
  }
}
