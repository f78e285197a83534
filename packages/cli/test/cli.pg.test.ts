import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { octw } from "./run-octw";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "../../audit/test/pg-support";

const key = (v: number, k: Buffer) => `${v}:${k.toString("base64")}`;

describe("octw CLI against a real Postgres", () => {
  let db: TestAuditDb;
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const SECRET = "sk-cli-" + randomBytes(10).toString("hex");

  beforeAll(async () => {
    db = await createAuditDb(requirePgUrl(), { migrate: false });
  });
  afterAll(async () => {
    await db?.drop();
  });

  const asOwner = () => ({ OCTW_AUDIT_DATABASE_URL: db.ownerUrl });
  // The operator runs `octw secrets` as the owner; a service role (the router's) may only read.
  const asOperator = (keyring: string) => ({ OCTW_AUDIT_DATABASE_URL: db.ownerUrl, OCTW_MASTER_KEYRING: keyring });
  const asRouter = (keyring: string) => ({ OCTW_AUDIT_DATABASE_URL: db.routerUrl, OCTW_MASTER_KEYRING: keyring });

  it("audit migrate applies migrations and grants, and is idempotent", async () => {
    const r = db.roles;
    const args = ["audit", "migrate", "--owner", r.owner, "--reader", r.reader, "--edge", r.edge, "--router", r.router, "--shipper", r.shipper, "--waker", r.waker, "--apply-grants"];
    // The retired shared writer is refused by name, before anything is applied.
    const old = await octw(["audit", "migrate", "--owner", r.owner, "--writer", r.edge, "--reader", r.reader], asOwner());
    expect(old.code).toBe(1);
    expect(old.stderr).toContain("--writer: the shared writer role is retired; pass --edge, --router and --shipper");
    const missing = await octw(args.filter((a, i) => a !== "--shipper" && args[i - 1] !== "--shipper"), asOwner());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("--shipper: required");
    const first = await octw(args, asOwner());
    expect(first.stderr).toBe("");
    expect(first).toMatchObject({ code: 0 });
    expect(first.stdout).toContain("migrations applied: 1, 2, 3");
    const again = await octw(args, asOwner());
    expect(again.code).toBe(0);
  });

  it("secrets set reads the value from stdin and never prints it; list shows no value", async () => {
    // A service role cannot store a secret (only the operator writes them), and the value is not echoed.
    const forged = await octw(["secrets", "set", "--tenant", "acme", "--name", "openai/api-key"], asRouter(key(1, k1)), SECRET + "\n");
    expect(forged.code).toBe(1);
    expect(forged.stderr).toContain("permission denied");
    expect(forged.stdout + forged.stderr).not.toContain(SECRET);
    const set = await octw(["secrets", "set", "--tenant", "acme", "--name", "openai/api-key"], asOperator(key(1, k1)), SECRET + "\n");
    expect(set.stderr).toBe("");
    expect(set.code).toBe(0);
    expect(set.stdout).toContain("stored acme/openai/api-key version 1 (master key version 1)");
    const list = await octw(["secrets", "list", "--tenant", "acme"], asRouter(""));
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/acme\topenai\/api-key\t1\t1\t/);
    for (const r of [set, list]) expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it("audit tail shows the CLI's own secret.set event, without the value", async () => {
    const tail = await octw(["audit", "tail", "--tenant", "acme"], asOwner());
    expect(tail.code).toBe(0);
    const events = tail.stdout.trim().split("\n").map((l) => JSON.parse(l) as { action: string; target: string; actor: string });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "secret.set", target: "openai/api-key" });
    expect(events[0]!.actor).toMatch(/^octw-cli:/);
    expect(tail.stdout).not.toContain(SECRET);
  });

  it("secrets rotate re-wraps under the newest key", async () => {
    const rot = await octw(["secrets", "rotate"], asOperator(`${key(1, k1)},${key(2, k2)}`));
    expect(rot.stderr).toBe("");
    expect(rot.code).toBe(0);
    expect(rot.stdout).toContain("re-wrapped 1 secret version(s) under master key version 2");
    const list = await octw(["secrets", "list", "--json"], asOperator(""));
    expect(JSON.parse(list.stdout)).toMatchObject([{ tenant: "acme", name: "openai/api-key", version: 1, keyVersion: 2 }]);
  });

  it("audit verify passes on an intact chain and reports the first broken link after tampering", async () => {
    const ok = await octw(["audit", "verify"], asOwner());
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("acme: ok (2 events verified)");
    // Heads exported for safekeeping verify as anchors; a forged anchor does not.
    const heads = await octw(["audit", "heads"], asOwner());
    expect(heads.code).toBe(0);
    const exported = JSON.parse(heads.stdout) as { tenant: string; seq: string; hash: string }[];
    expect(exported).toMatchObject([{ tenant: "acme", seq: "2" }]);
    const dir = await mkdtemp(join(tmpdir(), "octw-cli-anchors-"));
    try {
      await writeFile(join(dir, "good.json"), heads.stdout);
      await writeFile(join(dir, "forged.json"), JSON.stringify([{ ...exported[0], hash: "00".repeat(32) }]));
      expect((await octw(["audit", "verify", "--anchors", join(dir, "good.json")], asOwner())).code).toBe(0);
      const forged = await octw(["audit", "verify", "--anchors", join(dir, "forged.json")], asOwner());
      expect(forged.code).toBe(1);
      expect(forged.stdout).toContain("anchor-mismatch");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await withClient(db.superUrl, async (c) => {
      await c.query("SET session_replication_role = replica");
      await c.query("UPDATE octw.audit_events SET decision = 'denied' WHERE tenant = 'acme' AND seq = 1");
    });
    const bad = await octw(["audit", "verify", "--tenant", "acme"], asOwner());
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("acme: BROKEN (0 events verified)");
    expect(bad.stdout).toMatch(/first broken link: tenant acme seq 1 \(id \d+\): hash-mismatch/);
  });

  it("names what is missing or malformed", async () => {
    const noUrl = await octw(["audit", "verify"], {});
    expect(noUrl.code).toBe(1);
    expect(noUrl.stderr).toContain("database URL: pass --database-url or set OCTW_AUDIT_DATABASE_URL");
    const badKey = await octw(["secrets", "set", "--tenant", "acme", "--name", "x"], asOperator("1:c2hvcnQ="), "v");
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain("OCTW_MASTER_KEYRING: keyring[0].key: must be exactly 32 bytes");
    const empty = await octw(["secrets", "set", "--tenant", "acme", "--name", "x"], asOperator(key(1, k1)), "");
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain("value: stdin was empty");
  });
});
