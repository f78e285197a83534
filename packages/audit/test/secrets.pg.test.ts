import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TenantSecrets, type AuditEventInput, type MasterKey } from "../src/index";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "./pg-support";

const k1: MasterKey = { version: 1, key: randomBytes(32) };
const k2: MasterKey = { version: 2, key: randomBytes(32) };
const VALUE = "sk-live-" + randomBytes(12).toString("hex");

describe("tenant secrets on a real Postgres (as the operator: the owner role)", () => {
  let db: TestAuditDb;
  let pool: pg.Pool;
  const events: AuditEventInput[] = [];
  const audit = {
    record: (e: AuditEventInput) => {
      events.push(e);
      return Promise.resolve();
    },
  };

  beforeAll(async () => {
    db = await createAuditDb(requirePgUrl());
    pool = new pg.Pool({ connectionString: db.ownerUrl, max: 4 });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  /** Superuser edits, as an attacker with database access would make them. */
  const su = (sql: string, params: unknown[] = []) => withClient(db.superUrl, (c) => c.query(sql, params));

  it("stores only ciphertext: a dump of the table does not contain the value", async () => {
    const s = new TenantSecrets({ db: pool, keyring: [k1], audit });
    expect(await s.set("acme", "openai/api-key", VALUE)).toEqual({ version: 1, keyVersion: 1 });
    expect((await s.get("acme", "openai/api-key")).toString()).toBe(VALUE); // positive control
    const dump = await su("SELECT row_to_json(t)::text AS j, encode(ciphertext, 'escape') AS raw FROM octw.tenant_secrets t");
    for (const row of dump.rows as { j: string; raw: string }[]) {
      expect(row.j).not.toContain(VALUE);
      expect(row.raw).not.toContain(VALUE);
    }
    expect(events.map((e) => e.action)).toEqual(["secret.set", "secret.read"]);
    expect(JSON.stringify(events)).not.toContain(VALUE);
  });

  it("list() shows metadata and never a value", async () => {
    const s = new TenantSecrets({ db: pool, keyring: [k1] });
    const list = await s.list("acme");
    expect(list).toHaveLength(1);
    expect(Object.keys(list[0]!).sort()).toEqual(["createdAt", "keyVersion", "name", "rotatedAt", "tenant", "version"]);
    expect(JSON.stringify(list)).not.toContain(VALUE);
  });

  it("keeps versions; get() returns the latest or the one asked for", async () => {
    const s = new TenantSecrets({ db: pool, keyring: [k1] });
    await s.set("acme", "slack/token", "v1-value");
    await s.set("acme", "slack/token", "v2-value");
    expect((await s.get("acme", "slack/token")).toString()).toBe("v2-value");
    expect((await s.get("acme", "slack/token", { version: 1 })).toString()).toBe("v1-value");
  });

  it("fails with another master key of the same version", async () => {
    const wrong = new TenantSecrets({ db: pool, keyring: [{ version: 1, key: randomBytes(32) }] });
    await expect(wrong.get("acme", "openai/api-key")).rejects.toThrow(/authentication failed/);
  });

  it("a row copied to another tenant does not decrypt there", async () => {
    await su(`INSERT INTO octw.tenant_secrets (tenant, name, version, key_version, nonce, ciphertext, auth_tag)
              SELECT 'evil', name, version, key_version, nonce, ciphertext, auth_tag FROM octw.tenant_secrets
               WHERE tenant = 'acme' AND name = 'openai/api-key'`);
    const s = new TenantSecrets({ db: pool, keyring: [k1], audit });
    await expect(s.get("evil", "openai/api-key")).rejects.toThrow(/evil\/openai\/api-key v1: authentication failed/);
    // The failed attempt is itself audited.
    expect(events.at(-1)).toMatchObject({ tenant: "evil", action: "secret.read", target: "openai/api-key", decision: "failed" });
  });

  it("a row moved to another secret name does not decrypt", async () => {
    const s = new TenantSecrets({ db: pool, keyring: [k1] });
    await s.set("acme", "moved/from", "moved-value");
    await su(`UPDATE octw.tenant_secrets SET name = 'telegram/token' WHERE tenant = 'acme' AND name = 'moved/from'`);
    await expect(s.get("acme", "telegram/token")).rejects.toThrow(/acme\/telegram\/token v1: authentication failed/);
  });

  it("two rows of a tenant swapped with each other do not decrypt", async () => {
    const s = new TenantSecrets({ db: pool, keyring: [k1] });
    await s.set("swap", "a", "value-a");
    await s.set("swap", "b", "value-b");
    // Three steps: the primary key is checked row by row.
    await su(`UPDATE octw.tenant_secrets SET name = 'tmp' WHERE tenant = 'swap' AND name = 'a'`);
    await su(`UPDATE octw.tenant_secrets SET name = 'a' WHERE tenant = 'swap' AND name = 'b'`);
    await su(`UPDATE octw.tenant_secrets SET name = 'b' WHERE tenant = 'swap' AND name = 'tmp'`);
    await expect(s.get("swap", "a")).rejects.toThrow(/authentication failed/);
    await expect(s.get("swap", "b")).rejects.toThrow(/authentication failed/);
  });

  it("one flipped bit in the stored ciphertext is detected", async () => {
    const s = new TenantSecrets({ db: pool, keyring: [k1] });
    await s.set("flip", "k", "some-secret-value");
    expect((await s.get("flip", "k")).toString()).toBe("some-secret-value");
    await su(`UPDATE octw.tenant_secrets SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1) WHERE tenant = 'flip'`);
    await expect(s.get("flip", "k")).rejects.toThrow(/authentication failed/);
  });

  it("never reuses a nonce: 300 seals of one value, all nonces distinct, enforced by a unique index", async () => {
    const s = new TenantSecrets({ db: pool, keyring: [k1] });
    for (let i = 0; i < 300; i++) await s.set("nonce", "same", "identical-value");
    const { rows } = await su("SELECT count(*)::int AS n, count(DISTINCT nonce)::int AS d, count(DISTINCT ciphertext)::int AS c FROM octw.tenant_secrets WHERE tenant = 'nonce'");
    expect(rows[0]).toEqual({ n: 300, d: 300, c: 300 });
    await expect(
      su(`INSERT INTO octw.tenant_secrets (tenant, name, version, key_version, nonce, ciphertext, auth_tag)
          SELECT tenant, name, 999, key_version, nonce, ciphertext, auth_tag FROM octw.tenant_secrets WHERE tenant = 'nonce' LIMIT 1`),
    ).rejects.toMatchObject({ code: "23505" });
  });

  it("rotates the master key without downtime: reads never fail while rows are re-wrapped", async () => {
    const s1 = new TenantSecrets({ db: pool, keyring: [k1] });
    for (let i = 0; i < 40; i++) await s1.set(`rot-${i % 4}`, `key-${i}`, `value-${i}`);
    const rotator = new TenantSecrets({ db: pool, keyring: [k1, k2], audit });
    expect(rotator.currentKeyVersion).toBe(2);
    let reads = 0;
    let done = false;
    const reader = (async () => {
      // A service that already has both keys reads continuously during the rotation.
      while (!done) {
        const i = reads % 40;
        expect((await rotator.get(`rot-${i % 4}`, `key-${i}`)).toString()).toBe(`value-${i}`);
        reads++;
      }
    })();
    const before = (await su("SELECT count(*)::int AS n FROM octw.tenant_secrets WHERE key_version = 1")).rows[0] as { n: number };
    const { rewrapped, failed } = await rotator.rotateMasterKey({ batchSize: 7 });
    done = true;
    await reader;
    expect(reads).toBeGreaterThan(0);
    // The rows tampered with by the tests above cannot be opened: reported, left alone, and
    // they do not stop the others from being re-wrapped.
    expect(failed.map((f) => `${f.tenant}/${f.name}`).sort()).toEqual(["acme/telegram/token", "evil/openai/api-key", "flip/k", "swap/a", "swap/b"]);
    expect(rewrapped).toBe(before.n - failed.length);
    const after = await su("SELECT key_version, count(*)::int AS n, bool_and(rotated_at IS NOT NULL) AS stamped FROM octw.tenant_secrets GROUP BY key_version ORDER BY key_version");
    expect(after.rows).toEqual([
      { key_version: 1, n: failed.length, stamped: false },
      { key_version: 2, n: rewrapped, stamped: true },
    ]);
    // The old key can go: the new keyring alone opens everything that was re-wrapped.
    const s2 = new TenantSecrets({ db: pool, keyring: [k2] });
    expect((await s2.get("rot-1", "key-5")).toString()).toBe("value-5");
    expect((await s2.get("acme", "openai/api-key")).toString()).toBe(VALUE);
    await expect(s1.get("rot-1", "key-5")).rejects.toThrow(/master key version 2 is not in the keyring/);
    expect(events.filter((e) => e.action === "secret.rewrapped")).toHaveLength(rewrapped);
  });

  it("rejects bad names and empty values, naming the field", async () => {
    const s = new TenantSecrets({ db: pool, keyring: [k1] });
    await expect(s.set("acme", "bad name", "x")).rejects.toThrow(/name: must be 1-128 characters/);
    await expect(s.set("a b", "n", "x")).rejects.toThrow(/tenant: must be/);
    await expect(s.set("acme", "n", "")).rejects.toThrow(/value: must not be empty/);
    await expect(s.get("acme", "does-not-exist")).rejects.toThrow(/not found/);
  });
});
