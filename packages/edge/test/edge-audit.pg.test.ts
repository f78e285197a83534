// The edge writing through @octw/audit's AuditClient into a real Postgres: every decision,
// allowed and denied, is a row in audit_events, and no row carries the token.
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { AuditClient, readEvents } from "@octw/audit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditDb, type TestAuditDb } from "../../audit/test/pg-support";
import { toAuditSink } from "../src/audit-adapter";
import { parseEdgeConfig } from "@octw/contracts";
import { createEdge, type EdgeServer } from "../src/server";
import { AUDIENCE, ISSUER, claims, makeIssuer, recordingUpstream, type RecordingUpstream } from "./helpers";

let db: TestAuditDb;
let client: AuditClient;
let edge: EdgeServer;
let port: number;
let upstream: RecordingUpstream;
let spoolDir: string;

function get(host: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/p", headers: { host, ...(token ? { authorization: `Bearer ${token}` } : {}) }, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

let issuer: Awaited<ReturnType<typeof makeIssuer>>;
beforeAll(async () => {
  db = await createAuditDb();
  spoolDir = mkdtempSync(path.join(tmpdir(), "edge-audit-"));
  client = new AuditClient({ connection: db.edgeUrl, spoolPath: path.join(spoolDir, "spool"), batchIntervalMs: 20 });
  issuer = await makeIssuer("ES256");
  upstream = await recordingUpstream("A");
  const config = parseEdgeConfig({
    listen: { host: "127.0.0.1", port: 0 },
    routing: { hostDomain: "octw.test" },
    tenants: [{ id: "a", upstream: upstream.url }, { id: "b", upstream: upstream.url }],
    jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", jwks: [issuer.publicJwk] } },
  });
  edge = await createEdge(config, { audit: toAuditSink(client) });
  port = (await edge.listen()).port;
});
afterAll(async () => {
  await edge?.close();
  await client?.close();
  await upstream?.close();
  await db?.drop();
  rmSync(spoolDir, { recursive: true, force: true });
});

describe("edge → AuditClient → Postgres", () => {
  it("records allowed and denied decisions with tenant, sub, role, route and reason, never the token", async () => {
    const viewer = await issuer.sign(claims("a", "viewer", "vera@example.test"));
    const cross = await issuer.sign(claims("a", "admin", "mallory@example.test"));
    expect(await get("a.octw.test", viewer)).toBe(200);
    expect(await get("b.octw.test", cross)).toBe(403);
    expect(await get("a.octw.test")).toBe(401);
    expect(await get("zzz.octw.test", viewer)).toBe(404);
    await edge.auditor.drain(5_000);
    await client.flush();

    const pool = new pg.Pool({ connectionString: db.superUrl });
    try {
      const rows = await readEvents(pool, { limit: 100 });
      const slim = rows.map((r) => ({ tenant: r.tenant, actor: r.actor, action: r.action, target: r.target, decision: r.decision, reason: (r.details as { reason?: string } | null)?.reason, role: (r.details as { role?: string } | null)?.role }));
      expect(slim).toEqual(expect.arrayContaining([
        { tenant: "a", actor: "vera@example.test", action: "edge.auth.allowed", target: "a.octw.test/p", decision: "allowed", reason: "ok", role: "viewer" },
        { tenant: "b", actor: "mallory@example.test", action: "edge.auth.denied", target: "b.octw.test/p", decision: "denied", reason: "tenant_mismatch", role: null },
        { tenant: "a", actor: "anonymous", action: "edge.auth.denied", target: "a.octw.test/p", decision: "denied", reason: "no_token", role: null },
        { tenant: "octw:edge", actor: "vera@example.test", action: "edge.auth.denied", target: "zzz.octw.test/p", decision: "denied", reason: "unknown_tenant", role: null },
      ]));
      expect(rows).toHaveLength(4);
      const all = JSON.stringify(rows);
      expect(all).not.toContain(viewer);
      expect(all).not.toContain(cross);
    } finally {
      await pool.end();
    }
  });
});
