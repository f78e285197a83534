// Blocked egress surfaced for approval, end to end on a real Postgres: a proxy's denials
// (fake Engine API) → egress-audit shipper → AuditClient (Postgres cut for a while: spooled,
// then delivered, nothing lost, nothing twice) → `octw approvals list` shows them with counts →
// `approve` edits a copy of the stack file and records the decision → the destination leaves
// the pending list; `reject` likewise.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AuditClient } from "@octw/audit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditDb, type TestAuditDb } from "../../audit/test/pg-support";
import { parseShipperConfig } from "../../egress-audit/src/config";
import { startRunner } from "../../egress-audit/src/runner";
import { fakeEngine, squidLine, type FakeEngine } from "../../egress-audit/test/fake-engine";
import { pgRelay, type PgRelay } from "../../../test/support/pg-relay";
import { octw } from "./run-octw";

const STACK = fileURLToPath(new URL("../../../stacks/Pulumi.local.yaml", import.meta.url));
const ID_A = "1".repeat(64);
const ID_B = "2".repeat(64);
const T0 = Math.floor(Date.now() / 10_000) * 10_000 - 120_000;

let db: TestAuditDb;
let engine: FakeEngine;
let relay: PgRelay;
let dir: string;
let stackCopy: string;

async function events(action: string): Promise<{ tenant: string; target: string; decision: string; details: Record<string, unknown> }[]> {
  const c = new pg.Client({ connectionString: db.superUrl });
  await c.connect();
  try {
    return (await c.query(`SELECT tenant, target, decision, details FROM octw.audit_events WHERE action = $1 ORDER BY tenant, seq`, [action])).rows as never;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  db = await createAuditDb();
  engine = await fakeEngine();
  relay = await pgRelay(new URL(db.shipperUrl));
  dir = mkdtempSync(path.join(tmpdir(), "approvals-"));
  stackCopy = path.join(dir, "Pulumi.local.yaml");
  copyFileSync(STACK, stackCopy);
});
afterAll(async () => {
  await engine?.close();
  await relay?.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("octw approvals against a real Postgres", () => {
  it("denials reach audit_events through a Postgres outage, aggregated, each window once", async () => {
    engine.add(ID_A, { "octw.tenant": "alpha", "octw.component": "egress-proxy" });
    engine.add(ID_B, { "octw.tenant": "bravo", "octw.component": "egress-proxy" });
    // alpha's agent retries a blocked host 1 500 times across two windows; bravo tries one host once.
    for (let i = 0; i < 1_500; i++) engine.log(ID_A, T0 + i * 10, squidLine(T0 + i * 10, "evil.example.com", 443));
    engine.log(ID_B, T0 + 5, squidLine(T0 + 5, "pastebin.example.org", 443));
    const audit = new AuditClient({ connection: relay.url(db.shipperUrl), spoolPath: path.join(dir, "audit.spool"), batchIntervalMs: 10, retryIntervalMs: 200 });
    await relay.cut(); // Postgres unreachable while the shipper records
    const runner = startRunner(parseShipperConfig({ dockerSocket: engine.socketPath, windowMs: 10_000, graceMs: 1_000, checkpointPath: path.join(dir, "cp.json") }), audit, () => {}, { timers: false });
    await runner.discover();
    const until = async (cond: () => boolean) => {
      const end = Date.now() + 10_000;
      while (!cond()) {
        if (Date.now() > end) throw new Error("timed out");
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(() => (runner.sources.get(ID_A)?.stats.lines ?? 0) >= 1_500 && (runner.sources.get(ID_B)?.stats.lines ?? 0) >= 1);
    await runner.flush();
    expect(audit.stats().spooled).toBe(3); // two windows of alpha, one of bravo: on disk, not lost
    expect(await events("egress.denied")).toHaveLength(0);
    await relay.restore();
    await until(() => audit.stats().spoolBytes === 0);
    await runner.stop();
    await audit.close();
    const rows = await events("egress.denied");
    expect(rows.map((r) => [r.tenant, r.target, r.details.count])).toEqual([
      ["alpha", "evil.example.com:443", 1_000],
      ["alpha", "evil.example.com:443", 500],
      ["bravo", "pastebin.example.org:443", 1],
    ]);
  });

  it("list shows pending destinations with counts and first/last seen, per tenant", async () => {
    const env = { OCTW_AUDIT_DATABASE_URL: db.ownerUrl };
    const r = await octw(["approvals", "list", "--json"], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { tenant: string; destination: string; count: number; firstSeen: string; lastSeen: string; methods: string[]; decision: null }[];
    expect(list.map((p) => [p.tenant, p.destination, p.count])).toEqual(expect.arrayContaining([["alpha", "evil.example.com:443", 1_500], ["bravo", "pastebin.example.org:443", 1]]));
    expect(list).toHaveLength(2);
    const a = list.find((p) => p.tenant === "alpha")!;
    expect([a.firstSeen, a.lastSeen, a.methods]).toEqual([new Date(T0).toISOString(), new Date(T0 + 14_990).toISOString(), ["CONNECT"]]);
    const only = await octw(["approvals", "list", "--tenant", "bravo"], env);
    expect(only.stdout).toContain("pastebin.example.org:443");
    expect(only.stdout).not.toContain("evil.example.com");
    expect(only.stdout.split("\n")[0]).toMatch(/^TENANT\s+DESTINATION\s+METHODS\s+COUNT\s+FIRST SEEN\s+LAST SEEN$/);
  });

  it("approve writes alpha's rule into the stack file copy and records the decision; reject records bravo's", async () => {
    const env = { OCTW_AUDIT_DATABASE_URL: db.ownerUrl };
    const before = readFileSync(stackCopy, "utf8");
    const mode = statSync(stackCopy).mode;
    const ok = await octw(["approvals", "approve", "alpha", "evil.example.com:443", "--stack-file", stackCopy, "--reason", "ticket 42"], env);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("added network_policies.approved_evil_example_com_443");
    const after = readFileSync(stackCopy, "utf8");
    expect(after).not.toBe(before);
    expect(after).toContain("host: evil.example.com");
    expect(statSync(stackCopy).mode).toBe(mode);
    const again = await octw(["approvals", "approve", "alpha", "evil.example.com:443", "--stack-file", stackCopy], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already allowed");
    const rej = await octw(["approvals", "reject", "bravo", "pastebin.example.org:443", "--reason", "exfiltration risk"], env);
    expect(rej.code).toBe(0);
    expect((await events("egress.approval.approved")).map((e) => [e.tenant, e.target, e.decision, e.details.reason])).toEqual([["alpha", "evil.example.com:443", "approved", "ticket 42"]]);
    expect((await events("egress.approval.rejected")).map((e) => [e.tenant, e.target, e.decision])).toEqual([["bravo", "pastebin.example.org:443", "rejected"]]);
    const pending = await octw(["approvals", "list"], env);
    expect(pending.stdout).toBe("no pending destinations\n");
    const all = JSON.parse((await octw(["approvals", "list", "--all", "--json"], env)).stdout) as { tenant: string; decision: string }[];
    expect(all.map((p) => [p.tenant, p.decision]).sort()).toEqual([["alpha", "approved"], ["bravo", "rejected"]]);
  });

  it("a service role cannot decide: approve/reject with the shipper's own credentials are refused by the database, nothing written", async () => {
    const asShipper = { OCTW_AUDIT_DATABASE_URL: db.shipperUrl };
    const before = readFileSync(stackCopy, "utf8");
    const counts = async () => [(await events("egress.approval.approved")).length, (await events("egress.approval.rejected")).length];
    const n = await counts();
    const app = await octw(["approvals", "approve", "alpha", "forged.example.com:443", "--stack-file", stackCopy], asShipper);
    expect(app.code).toBe(1);
    expect(app.stderr).toContain(`role ${db.roles.shipper} may not append egress.approval.approved events`);
    const rej = await octw(["approvals", "reject", "bravo", "forged.example.com:443"], asShipper);
    expect(rej.code).toBe(1);
    expect(rej.stderr).toContain(`role ${db.roles.shipper} may not append egress.approval.rejected events`);
    expect(readFileSync(stackCopy, "utf8")).toBe(before);
    expect(await counts()).toEqual(n);
    // Positive control: the same command as the operator (owner) records the decision.
    const ok = await octw(["approvals", "reject", "bravo", "forged.example.com:443"], { OCTW_AUDIT_DATABASE_URL: db.ownerUrl });
    expect(ok.code).toBe(0);
    expect(await counts()).toEqual([n[0], n[1]! + 1]);
  });

  it("a bad destination or an unknown tenant is refused before anything is recorded or written", async () => {
    const env = { OCTW_AUDIT_DATABASE_URL: db.ownerUrl };
    const before = readFileSync(stackCopy, "utf8");
    const n = (await events("egress.approval.approved")).length;
    const ip = await octw(["approvals", "approve", "alpha", "169.254.169.254:80", "--stack-file", stackCopy], env);
    expect(ip.code).toBe(1);
    expect(ip.stderr).toContain('destination: host "169.254.169.254" must be a DNS name');
    const who = await octw(["approvals", "approve", "zulu", "ok.example.com:443", "--stack-file", stackCopy], env);
    expect(who.stderr).toContain('tenant: "zulu" is not in the stack file');
    expect(readFileSync(stackCopy, "utf8")).toBe(before);
    expect((await events("egress.approval.approved")).length).toBe(n);
  });
});
