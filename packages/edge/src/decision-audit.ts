// Turns decisions into audit events: every allow and deny, rate-limit denials coalesced (one
// event per key per second, with a count), and upstream failures of admitted requests. A full
// audit buffer turns a denial into a 503: the edge fails closed rather than unaudited.
import type { BufferedAuditor, EdgeAuditEvent } from "./audit";
import { PUBLIC_ERROR, type Allowed, type Ctx, type Denied } from "./decision";
import { errorCode } from "./upstream-response";

export type Who = { tenant: string | null; actor: string | null; role: string | null };

export interface DecisionAudit {
  /** Records one decision; false when the buffer is full (the caller must refuse). */
  audit: (ctx: Ctx, allowed: boolean, fields: Who & { reason: string; status: number; count?: number; type?: EdgeAuditEvent["type"]; error?: string }) => boolean;
  deny: (ctx: Ctx, status: number, reason: string, who: Who, headers?: Record<string, string | string[]>) => Denied;
  rateDeny: (ctx: Ctx, key: string, who: Who, retryAfter: number) => Denied;
  /** An allowed request its gateway did not answer properly: recorded, never silently. */
  upstreamFailed: (ctx: Ctx, a: Allowed, reason: string, status: number, err?: unknown) => void;
}

export function createDecisionAudit(auditor: BufferedAuditor): DecisionAudit {
  // Rate-limit denials are coalesced: one audit event per key per second, with a count.
  const coalesced = new Map<string, { at: number; count: number }>();

  const audit: DecisionAudit["audit"] = (ctx, allowed, fields) => {
    const ev: EdgeAuditEvent = {
      type: fields.type ?? (allowed ? "edge.auth.allowed" : "edge.auth.denied"),
      tenant: fields.tenant,
      actor: fields.actor,
      detail: {
        role: fields.role,
        route: ctx.routeLabel,
        method: ctx.method,
        reason: fields.reason,
        status: fields.status,
        clientIp: ctx.clientIp,
        transport: ctx.transport,
        ...(fields.count !== undefined ? { count: fields.count } : {}),
        ...(fields.error !== undefined ? { error: fields.error } : {}),
      },
      at: new Date().toISOString(),
    };
    return auditor.submit(ev);
  };

  const deny: DecisionAudit["deny"] = (ctx, status, reason, who, headers) => {
    const accepted = audit(ctx, false, { ...who, reason, status });
    return accepted
      ? { allow: false, status, error: PUBLIC_ERROR[status] ?? "error", ...(headers ? { headers } : {}) }
      : { allow: false, status: 503, error: "unavailable" };
  };

  return {
    audit,
    deny,
    rateDeny: (ctx, key, who, retryAfter) => {
      const now = Date.now();
      const c = coalesced.get(key);
      const headers = { "retry-after": String(retryAfter) };
      if (c && now - c.at < 1_000) {
        c.count++;
        return { allow: false, status: 429, error: "rate_limited", headers };
      }
      if (coalesced.size > 10_000) coalesced.clear();
      coalesced.set(key, { at: now, count: 0 });
      return deny(ctx, 429, "rate_limited", who, headers);
    },
    upstreamFailed: (ctx, a, reason, status, err) => {
      // The request was already admitted (and recorded); a full buffer only loses this detail.
      audit(ctx, false, { tenant: a.tenant.id, actor: a.sub, role: null, reason, status, type: "edge.upstream.failed", ...(err !== undefined ? { error: errorCode(err) } : {}) });
    },
  };
}
