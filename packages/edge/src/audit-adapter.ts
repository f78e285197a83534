// Maps the edge's decision events onto @octw/audit's AuditEventInput (tenant, actor, action,
// target, decision, details). Structural, so the edge does not need the audit package's
// internals; `toAuditSink` wraps anything with AuditClient's `record(input)`.
import type { AuditSink, EdgeAuditEvent } from "./audit";

/**
 * Tenant under which decisions that belong to no known tenant are recorded (unknown routes,
 * bad tokens on no route). The colon keeps it out of the edge's tenant-id space, so no real
 * tenant can be named like it.
 */
export const PLATFORM_AUDIT_TENANT = "octw:edge";

export interface AuditEventInputLike {
  tenant: string;
  actor: string;
  action: string;
  target?: string;
  decision?: string;
  details?: Record<string, unknown>;
  time?: string;
}

export function toAuditInput(ev: EdgeAuditEvent): AuditEventInputLike {
  const { route, ...rest } = ev.detail;
  return {
    tenant: ev.tenant ?? PLATFORM_AUDIT_TENANT,
    actor: ev.actor ?? "anonymous",
    action: ev.type,
    target: route === "" ? "-" : route,
    decision: ev.type === "edge.auth.allowed" ? "allowed" : "denied",
    details: rest,
    time: ev.at,
  };
}

export function toAuditSink(client: { record(input: AuditEventInputLike): Promise<unknown> }): AuditSink {
  return { record: async (ev) => void (await client.record(toAuditInput(ev))) };
}
