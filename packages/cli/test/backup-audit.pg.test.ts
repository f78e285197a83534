// `octw backup audit` / `octw restore audit` against a real Postgres: a database with several
// tenants' chains (more events than one page of the dump) and sealed secrets is backed up,
// restored into a freshly migrated database of other roles, and `octw audit verify` passes there
// with every chain ending at the head it had. Refusals: a non-empty target, a wrong key, a
// changed archive, and a backup whose chain does not verify (made with the right key, so only
// the in-transaction verification can catch it: nothing of it is committed).
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeEvent } from "@octw/audit";
import { parseKey } from "../src/backup/backup-key";
import { readManifest, writeArchive } from "../src/backup/archive-file";
import { decryptArchive } from "../src/backup/archive-file";
import { octw } from "./run-octw";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "../../audit/test/pg-support";

const dir = mkdtempSync(join(tmpdir(), "octw-audit-backup-"));
const keyText = randomBytes(32).toString("base64");
const otherKey = randomBytes(32).toString("base64");
const file = join(dir, "audit.octwbak");
let src: TestAuditDb;
let dst: TestAuditDb;
const EVENTS = 12_345; // more than two pages of the dump (5 000)

async function seed(db: TestAuditDb): Promise<void> {
  await withClient(db.superUrl, async (c) => {
    for (let done = 0; done < EVENTS; done += 5_000) {
      const batch = Array.from({ length: Math.min(5_000, EVENTS - done) }, (_, i) =>
        normalizeEvent({ tenant: ["acme", "globex", "initech"][(done + i) % 3]!, actor: "edge", action: "edge.auth.allowed", target: `/p/${done + i}`, details: { n: done + i, "ü": "ok" } }),
      );
      await c.query("SELECT octw.append_events_unchecked($1::jsonb)", [JSON.stringify(batch)]);
    }
  });
}

beforeAll(async () => {
  [src, dst] = await Promise.all([createAuditDb(requirePgUrl()), createAuditDb(requirePgUrl())]);
  await seed(src);
  // a sealed secret too (the CLI as operator)
  const set = await octw(["secrets", "set", "--tenant", "acme", "--name", "openai/api-key"], { OCTW_AUDIT_DATABASE_URL: src.ownerUrl, OCTW_MASTER_KEYRING: `1:${randomBytes(32).toString("base64")}` }, "sk-test\n");
  expect(set.code, set.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await Promise.all([src?.drop(), dst?.drop()]);
  rmSync(dir, { recursive: true, force: true });
});

const asOwner = (db: TestAuditDb, k = keyText) => ({ OCTW_AUDIT_DATABASE_URL: db.ownerUrl, OCTW_BACKUP_KEY: k });

describe("audit database backup and restore", () => {
  it("backs up one snapshot: rows and the chains' heads", async () => {
    const t = Date.now();
    const r = await octw(["backup", "audit", "--out", file], asOwner(src));
    console.log(`backup audit: ${EVENTS + 1} events in ${Date.now() - t} ms: ${r.stdout.trim()}`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("3 chains");
    expect(r.stdout + r.stderr).not.toContain(keyText);
  });

  it("refuses a wrong key and a changed archive, and writes nothing", async () => {
    const wrong = await octw(["restore", "audit", "--from-file", file], asOwner(dst, otherKey));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("the key is not the one this backup was made with");
    const good = readFileSync(file);
    const bad = Buffer.from(good);
    bad[bad.length >> 1]! ^= 1;
    writeFileSync(file, bad);
    const tampered = await octw(["restore", "audit", "--from-file", file], asOwner(dst));
    writeFileSync(file, good);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain("authentication failed");
    const verify = await octw(["audit", "verify"], { OCTW_AUDIT_DATABASE_URL: dst.ownerUrl });
    expect(verify.stdout).toContain("no audit events");
  });

  it("restores into a migrated empty database of other roles; every chain verifies to its recorded head", async () => {
    const t = Date.now();
    const r = await octw(["restore", "audit", "--from-file", file], asOwner(dst));
    console.log(`restore audit: ${Date.now() - t} ms: ${r.stdout.trim()}`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const verify = await octw(["audit", "verify"], { OCTW_AUDIT_DATABASE_URL: dst.ownerUrl });
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain("acme: ok (4116 events verified)");
    expect(verify.stdout).toContain("globex: ok (4115 events verified)");
    const [a, b] = await Promise.all([src, dst].map((db) => octw(["audit", "heads"], { OCTW_AUDIT_DATABASE_URL: db.ownerUrl })));
    expect(b!.stdout).toBe(a!.stdout);
    // the secret is there, sealed; and new appends continue the chains (the identity sequence was moved on)
    const list = await octw(["secrets", "list", "--tenant", "acme"], { OCTW_AUDIT_DATABASE_URL: dst.ownerUrl });
    expect(list.stdout).toMatch(/acme\topenai\/api-key\t1\t1\t/);
    await withClient(dst.superUrl, (c) => c.query("SELECT octw.append_events_unchecked($1::jsonb)", [JSON.stringify([normalizeEvent({ tenant: "acme", actor: "edge", action: "edge.auth.allowed" })])]));
    const after = await octw(["audit", "verify", "--tenant", "acme"], { OCTW_AUDIT_DATABASE_URL: dst.ownerUrl });
    expect(after.stdout).toContain("acme: ok (4117 events verified)");
  });

  it("refuses a target that already holds events (a chain must not be merged into another)", async () => {
    const r = await octw(["restore", "audit", "--from-file", file], asOwner(dst));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not empty");
  });

  it("commits nothing when a restored chain does not verify (an archive re-made with the key, one hash changed)", async () => {
    const key = parseKey(keyText, "k");
    const m = await readManifest(file, key, "audit-db");
    const parts: Buffer[] = [];
    await decryptArchive(file, key, m, async (s) => {
      for await (const c of s) parts.push(c as Buffer);
    });
    const lines = Buffer.concat(parts).toString("utf8").split("\n");
    const i = lines.findIndex((l) => l.includes('"seq":7,') && l.includes('"tenant":"globex"'));
    expect(i).toBeGreaterThan(0);
    lines[i] = lines[i]!.replace(/"target":"[^"]*"/, '"target":"/forged"');
    const forged = join(dir, "forged.octwbak");
    await writeArchive(forged, key, { kind: "audit-db" }, Readable.from([Buffer.from(lines.join("\n"))]), () => ({ heads: m.heads! }));
    const fresh = await createAuditDb(requirePgUrl());
    try {
      const r = await octw(["restore", "audit", "--from-file", forged], asOwner(fresh));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("the restored chain of tenant globex does not verify (hash-mismatch): nothing restored");
      const verify = await octw(["audit", "verify"], { OCTW_AUDIT_DATABASE_URL: fresh.ownerUrl });
      expect(verify.stdout).toContain("no audit events");
      // positive control: the genuine archive restores into the same database
      expect((await octw(["restore", "audit", "--from-file", file], asOwner(fresh))).code).toBe(0);
    } finally {
      await fresh.drop();
    }
  });
});
