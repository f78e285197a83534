// One `inference.call` audit event per request: the record a request fills in as it is
// decided and relayed, and the sink it is handed to when the call ends (however it ends).
import type { AuditEventInput } from "@octw/audit";

export const ROUTER_ACTOR = "inference-router";
/**
 * Tenant under which requests that belong to no tenant are recorded (arrived on no tenant's
 * address, or from outside its subnet). The colon keeps it out of the tenant-id space.
 */
export const PLATFORM_AUDIT_TENANT = "octw:inference-router";

/** What the router hands to the audit store (an AuditClient fits). */
export interface RouterAuditSink {
  record(event: AuditEventInput): Promise<unknown>;
}

export interface CallRecord {
  tenant: string;
  decision: "allowed" | "denied" | "failed";
  reason: string;
  status: number;
  provider: string | null;
  model: string | null;
  stream: boolean;
  requestBytes: number;
  responseBytes: number;
  started: number;
  ttfbMs: number | null;
  client: string;
}

/** A call as it arrives: nobody's yet (the platform's), denied until a decision says otherwise. */
export function newCallRecord(client: string): CallRecord {
  return {
    tenant: PLATFORM_AUDIT_TENANT,
    decision: "denied",
    reason: "",
    status: 0,
    provider: null,
    model: null,
    stream: false,
    requestBytes: 0,
    responseBytes: 0,
    started: performance.now(),
    ttfbMs: null,
    client,
  };
}

/** Printable and bounded, so a hostile model name cannot forge log lines or bloat the audit row. */
export function label(s: string | null): string | null {
  return s === null ? null : s.replace(/[^\x20-\x7e]/g, "?").slice(0, 128);
}

/**
 * Hands finished calls to the sink without waiting; counts those not yet stored, so the router
 * can refuse new calls (and report unhealthy) while the store is behind.
 */
export class CallAuditor {
  pending = 0;

  constructor(
    private readonly sink: RouterAuditSink,
    private readonly log: (line: Record<string, unknown>) => void,
  ) {}

  record(r: CallRecord): void {
    this.pending++;
    const ev = {
      tenant: r.tenant,
      actor: ROUTER_ACTOR,
      action: "inference.call",
      target: r.provider ? `${r.provider}/${label(r.model) ?? "-"}` : "-",
      decision: r.decision,
      details: {
        reason: r.reason,
        status: r.status,
        provider: r.provider,
        model: label(r.model),
        stream: r.stream,
        latencyMs: Math.round(performance.now() - r.started),
        ttfbMs: r.ttfbMs,
        requestBytes: r.requestBytes,
        responseBytes: r.responseBytes,
        client: r.client,
      },
      time: new Date().toISOString(),
    };
    this.sink.record(ev).then(
      () => void this.pending--,
      (err: unknown) => {
        this.pending--;
        this.log({ msg: "audit record failed", error: err instanceof Error ? err.message : String(err) });
      },
    );
  }
}
