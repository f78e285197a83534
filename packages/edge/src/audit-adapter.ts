// Maps the edge's decision events onto @octw/audit's AuditEventInput (tenant, actor, action,
// target, decision, details); `toAuditSink` wraps an AuditClient (or anything with its
// `record(input)`).
import type { AuditEventInput } from "@octw/audit";
import type { AuditSink, EdgeAuditEvent } from "./audit";

/**
 * Tenant under which decisions that belong to no known tenant are recorded (unknown routes,
 * bad tokens on no route). The colon keeps it out of the edge's tenant-id space, so no real
 * tenant can be named like it.
 */
export const PLATFORM_AUDIT_TENANT = "octw:edge";

export function toAuditInput(ev: EdgeAuditEvent): AuditEventInput {
  const { route, ...rest } = ev.detail;
  return {
    tenant: ev.tenant ?? PLATFORM_AUDIT_TENANT,
    actor: ev.actor ?? "anonymous",
    action: ev.type,
    target: route === "" ? "-" : route,
    decision: ev.type === "edge.auth.allowed" ? "allowed" : ev.type === "edge.auth.denied" ? "denied" : "failed",
    details: rest,
    time: ev.at,
    ...(ev.id !== undefined ? { idempotencyKey: ev.id } : {}),
  };
}

export function toAuditSink(client: { record(input: AuditEventInput): Promise<unknown> }): AuditSink {
  return { record: async (ev) => void (await client.record(toAuditInput(ev))) };
}
