import { normalizeEvent } from "@octw/audit";
import { describe, expect, it } from "vitest";
import { BufferedAuditor, type EdgeAuditEvent } from "../src/audit";
import { PLATFORM_AUDIT_TENANT, toAuditInput } from "../src/audit-adapter";

const base: EdgeAuditEvent = {
  type: "edge.auth.denied",
  tenant: null,
  actor: null,
  detail: { role: null, route: "zzz.octw.test/", method: "GET", reason: "no_token", status: 401, clientIp: "203.0.113.9", transport: "http" },
  at: "2026-11-25T17:00:00.000Z",
};

describe("edge events → @octw/audit events", () => {
  it("maps a denial without tenant or subject onto the platform tenant, valid for the audit store", () => {
    const input = toAuditInput(base);
    expect(input).toEqual({
      tenant: PLATFORM_AUDIT_TENANT,
      actor: "anonymous",
      action: "edge.auth.denied",
      target: "zzz.octw.test/",
      decision: "denied",
      details: { role: null, method: "GET", reason: "no_token", status: 401, clientIp: "203.0.113.9", transport: "http" },
      time: "2026-11-25T17:00:00.000Z",
    });
    expect(() => normalizeEvent(input)).not.toThrow();
  });
  it("maps an allowed decision with tenant, subject and role", () => {
    const input = toAuditInput({ ...base, type: "edge.auth.allowed", tenant: "acme", actor: "alice@example.test", detail: { ...base.detail, role: "viewer", reason: "ok", status: 0 } });
    expect(normalizeEvent(input)).toMatchObject({ tenant: "acme", actor: "alice@example.test", action: "edge.auth.allowed", decision: "allowed", details: { role: "viewer" } });
  });
  it("maps an upstream failure to decision failed, valid for the audit store", () => {
    const input = toAuditInput({ ...base, type: "edge.upstream.failed", tenant: "acme", actor: "alice@example.test", detail: { ...base.detail, reason: "upstream_invalid_response", status: 502, error: "HPE_INVALID_CONSTANT" } });
    expect(normalizeEvent(input)).toMatchObject({ tenant: "acme", action: "edge.upstream.failed", decision: "failed", details: { reason: "upstream_invalid_response", status: 502, error: "HPE_INVALID_CONSTANT" } });
  });
  it("the platform tenant can never be a tenant id the edge routes to", () => {
    expect(PLATFORM_AUDIT_TENANT).not.toMatch(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/);
  });
});

describe("BufferedAuditor", () => {
  it("hands events over concurrently (a batching sink is not serialised)", async () => {
    let inFlight = 0;
    let peak = 0;
    const sink = { record: async () => { inFlight++; peak = Math.max(peak, inFlight); await new Promise((r) => setTimeout(r, 50)); inFlight--; } };
    const a = new BufferedAuditor(sink, { bufferMax: 100 });
    for (let i = 0; i < 20; i++) expect(a.submit(base)).toBe(true);
    expect(a.pending).toBe(20);
    expect(await a.drain(2_000)).toBe(0);
    expect(peak).toBe(20);
  });
  it("refuses once bufferMax events are pending, retries refused events, and drops invalid ones", async () => {
    let fail = true;
    const got: EdgeAuditEvent[] = [];
    const sink = {
      record: (e: EdgeAuditEvent) => {
        if (e.detail.reason === "invalid") return Promise.reject(Object.assign(new Error("bad"), { name: "AuditEventError" }));
        if (fail) return Promise.reject(new Error("down"));
        got.push(e);
        return Promise.resolve();
      },
    };
    const a = new BufferedAuditor(sink, { bufferMax: 2, minBackoffMs: 20, maxBackoffMs: 40 });
    expect([a.submit(base), a.submit(base), a.submit(base)]).toEqual([true, true, false]);
    await new Promise((r) => setTimeout(r, 60));
    expect(a.pending).toBe(2);
    expect(a.failures).toBeGreaterThan(0);
    fail = false;
    await new Promise((r) => setTimeout(r, 120));
    expect(got).toHaveLength(2);
    expect(a.pending).toBe(0);
    expect(a.submit({ ...base, detail: { ...base.detail, reason: "invalid" } })).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(a.dropped).toBe(1);
    expect(a.pending).toBe(0);
  });
});
