import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { TenantSecrets, type AuditEventInput, type MasterKey, type TenantSecretsOptions } from "../src/index";

// TenantSecrets without Postgres: the table is an in-memory double that answers the five
// statements the class sends (each recognised by its text, so a statement that changed shape
// fails loudly here) with the semantics Postgres gives them. secrets.pg.test.ts runs the same
// class against the real table, roles and constraints.

interface Row {
  tenant: string;
  name: string;
  version: number;
  key_version: number;
  nonce: Buffer;
  ciphertext: Buffer;
  auth_tag: Buffer;
  created_at: Date;
  rotated_at: Date | null;
}

const TABLE = "octw.tenant_secrets";

class MemoryTable {
  rows: Row[] = [];
  statements: string[] = [];
  /** Called before an INSERT is applied: a test can simulate a concurrent writer here. */
  beforeInsert: ((row: Row) => void) | undefined;
  /** Called before an UPDATE is applied: a test can change the row under the rotation. */
  beforeUpdate: (() => void) | undefined;

  query = <R>(text: string, params: unknown[] = []): Promise<{ rows: R[]; rowCount: number }> => {
    this.statements.push(text);
    const sql = text.replace(/\s+/g, " ").trim();
    const answer = (rows: unknown[], rowCount = rows.length) => Promise.resolve({ rows: rows as R[], rowCount });
    if (!sql.includes(` ${TABLE} `) && !sql.endsWith(` ${TABLE}`)) throw new Error(`statement not on ${TABLE}: ${sql}`);
    const [p1, p2, p3, p4, p5, p6, p7, p8, p9] = params;
    if (sql === `SELECT coalesce(max(version), 0) + 1 AS next FROM ${TABLE} WHERE tenant = $1 AND name = $2`) {
      const versions = this.rows.filter((r) => r.tenant === p1 && r.name === p2).map((r) => r.version);
      return answer([{ next: Math.max(0, ...versions) + 1 }]);
    }
    if (sql === `INSERT INTO ${TABLE} (tenant, name, version, key_version, nonce, ciphertext, auth_tag) VALUES ($1, $2, $3, $4, $5, $6, $7)`) {
      const row: Row = { tenant: p1 as string, name: p2 as string, version: p3 as number, key_version: p4 as number, nonce: p5 as Buffer, ciphertext: p6 as Buffer, auth_tag: p7 as Buffer, created_at: new Date(), rotated_at: null };
      this.beforeInsert?.(row);
      if (this.rows.some((r) => r.tenant === row.tenant && r.name === row.name && r.version === row.version)) {
        return Promise.reject(Object.assign(new Error("duplicate key value violates unique constraint"), { code: "23505" }));
      }
      this.rows.push(row);
      return answer([], 1);
    }
    const select = `SELECT tenant, name, version, key_version, nonce, ciphertext, auth_tag FROM ${TABLE}`;
    if (sql === `${select} WHERE tenant = $1 AND name = $2 ORDER BY version DESC LIMIT 1`) {
      return answer(this.latest((r) => r.tenant === p1 && r.name === p2));
    }
    if (sql === `${select} WHERE tenant = $1 AND name = $2 AND version = $3 ORDER BY version DESC LIMIT 1`) {
      return answer(this.latest((r) => r.tenant === p1 && r.name === p2 && r.version === p3));
    }
    if (sql === `SELECT tenant, name, version, key_version, created_at, rotated_at FROM ${TABLE} WHERE ($1::text IS NULL OR tenant = $1) ORDER BY tenant, name, version`) {
      return answer(this.sorted().filter((r) => p1 === null || r.tenant === p1).map(({ tenant, name, version, key_version, created_at, rotated_at }) => ({ tenant, name, version, key_version, created_at, rotated_at })));
    }
    if (sql === `${select} WHERE key_version <> $1 AND (tenant, name, version) > ($2, $3, $4) ORDER BY tenant, name, version LIMIT $5`) {
      const after = [p2, p3, p4] as [string, string, number];
      // A row comparison with a NULL in it is NULL in SQL: no row qualifies.
      if (after.some((x) => x === null || x === undefined)) return answer([]);
      return answer(this.sorted().filter((r) => r.key_version !== p1 && compareKey([r.tenant, r.name, r.version], after) > 0).slice(0, p5 as number).map((r) => ({ ...r })));
    }
    if (sql === `UPDATE ${TABLE} SET key_version = $1, nonce = $2, ciphertext = $3, auth_tag = $4, rotated_at = now() WHERE tenant = $5 AND name = $6 AND version = $7 AND key_version = $8 AND nonce = $9`) {
      this.beforeUpdate?.();
      const hit = this.rows.filter((r) => r.tenant === p5 && r.name === p6 && r.version === p7 && r.key_version === p8 && r.nonce.equals(p9 as Buffer));
      for (const r of hit) Object.assign(r, { key_version: p1, nonce: p2, ciphertext: p3, auth_tag: p4, rotated_at: new Date() });
      return answer([], hit.length);
    }
    throw new Error(`unexpected statement: ${sql}`);
  };

  /** As the pool TenantSecrets takes: it only ever calls query(text, params). */
  get db(): TenantSecretsOptions["db"] {
    return this as unknown as TenantSecretsOptions["db"];
  }

  private sorted(): Row[] {
    return [...this.rows].sort((a, b) => compareKey([a.tenant, a.name, a.version], [b.tenant, b.name, b.version]));
  }

  private latest(where: (r: Row) => boolean): Row[] {
    const hits = this.rows.filter(where).sort((a, b) => b.version - a.version);
    return hits.slice(0, 1).map((r) => ({ ...r }));
  }

  row(tenant: string, name: string, version: number): Row {
    const r = this.rows.find((x) => x.tenant === tenant && x.name === name && x.version === version);
    if (!r) throw new Error(`no row ${tenant}/${name} v${version}`);
    return r;
  }
}

/** Row-value comparison as Postgres does it for (text, text, int) (C collation for these ids). */
function compareKey(a: [string, string, number], b: [string, string, number]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return a[2] - b[2];
}

const k1: MasterKey = { version: 1, key: randomBytes(32) };
const k2: MasterKey = { version: 2, key: randomBytes(32) };
const VALUE = "sk-live-" + randomBytes(12).toString("hex");

function setup(keyring: MasterKey[] = [k1], table = new MemoryTable(), actor?: string) {
  const events: AuditEventInput[] = [];
  const audit = { record: (e: AuditEventInput) => { events.push(e); return Promise.resolve(); } };
  const secrets = new TenantSecrets({ db: table.db, keyring, audit, ...(actor === undefined ? {} : { actor }) });
  return { table, events, secrets };
}

describe("TenantSecrets: set and get", () => {
  it("round-trips a value, numbering versions per tenant and name; the newest key seals", async () => {
    const { secrets, table } = setup([k2, k1]);
    expect(secrets.currentKeyVersion).toBe(2);
    expect(await secrets.set("acme", "openai/api-key", VALUE)).toEqual({ version: 1, keyVersion: 2 });
    expect(await secrets.set("acme", "openai/api-key", "second")).toEqual({ version: 2, keyVersion: 2 });
    expect(await secrets.set("acme", "slack/token", "other name")).toEqual({ version: 1, keyVersion: 2 });
    expect(await secrets.set("beta", "openai/api-key", "other tenant")).toEqual({ version: 1, keyVersion: 2 });
    expect((await secrets.get("acme", "openai/api-key")).toString()).toBe("second");
    expect((await secrets.get("acme", "openai/api-key", { version: 1 })).toString()).toBe(VALUE);
    expect((await secrets.get("acme", "slack/token")).toString()).toBe("other name");
    expect((await secrets.get("beta", "openai/api-key")).toString()).toBe("other tenant");
    expect(table.rows.map((r) => r.key_version)).toEqual([2, 2, 2, 2]);
    // Only ciphertext is stored.
    for (const r of table.rows) expect(r.ciphertext.toString("latin1")).not.toContain("second");
  });

  it("bounds a string by its UTF-8 bytes, not its characters", async () => {
    const { secrets } = setup();
    await expect(secrets.set("acme", "wide", "é".repeat(32 * 1024 + 1))).rejects.toThrow("value: must be at most 64 KiB");
    await secrets.set("acme", "wide", "é".repeat(32 * 1024));
    expect((await secrets.get("acme", "wide")).toString("utf8")).toBe("é".repeat(32 * 1024));
  });

  it("takes a Buffer as it is, and bounds the value: not empty, at most 64 KiB", async () => {
    const { secrets } = setup();
    const bytes = Buffer.from([0, 255, 1, 254]);
    await secrets.set("acme", "bin", bytes);
    expect((await secrets.get("acme", "bin")).equals(bytes)).toBe(true);
    await expect(secrets.set("acme", "empty", "")).rejects.toThrow("value: must not be empty");
    await expect(secrets.set("acme", "empty", Buffer.alloc(0))).rejects.toThrow("value: must not be empty");
    await expect(secrets.set("acme", "big", Buffer.alloc(64 * 1024 + 1, 1))).rejects.toThrow("value: must be at most 64 KiB");
    expect(await secrets.set("acme", "big", Buffer.alloc(64 * 1024, 1))).toEqual({ version: 1, keyVersion: 1 });
    expect(await secrets.set("acme", "one", "x")).toEqual({ version: 1, keyVersion: 1 });
  });

  it("refuses a malformed tenant or name, naming the field and what is allowed, before any statement", async () => {
    const { secrets, table } = setup();
    for (const tenant of ["", "-acme", "a b", "a".repeat(129)]) {
      await expect(secrets.set(tenant, "n", "v"), tenant).rejects.toThrow(/^tenant: must be 1-128 characters of \[A-Za-z0-9\._:-\]/);
      await expect(secrets.get(tenant, "n"), tenant).rejects.toThrow(/^tenant: must be 1-128 characters/);
      await expect(secrets.list(tenant), tenant).rejects.toThrow(/^tenant: must be 1-128 characters/);
    }
    for (const name of ["", "/x", "a b", "a".repeat(129)]) {
      await expect(secrets.set("acme", name, "v"), name).rejects.toThrow(/^name: must be 1-128 characters of \[A-Za-z0-9\._:\/-\]/);
      await expect(secrets.get("acme", name), name).rejects.toThrow(/^name: must be 1-128 characters/);
    }
    await expect(secrets.set(7 as unknown as string, "n", "v")).rejects.toThrow(/^tenant:/);
    await expect(secrets.set("acme", 7 as unknown as string, "v")).rejects.toThrow(/^name:/);
    expect(table.statements).toEqual([]);
    // Controls: the longest allowed ids pass.
    await secrets.set("a".repeat(128), "n/" + "b".repeat(126), "v");
    expect(await secrets.list("a".repeat(128))).toHaveLength(1);
  });

  it("says which secret (and version) was not found", async () => {
    const { secrets } = setup();
    await expect(secrets.get("acme", "nope")).rejects.toThrow(/^secret acme\/nope: not found$/);
    await secrets.set("acme", "there", "v");
    await expect(secrets.get("acme", "there", { version: 2 })).rejects.toThrow(/^secret acme\/there v2: not found$/);
  });

  it("audits set and read by name and version, never with the value; actor defaults to octw-secrets", async () => {
    const { secrets, events } = setup([k1]);
    await secrets.set("acme", "openai/api-key", VALUE);
    await secrets.get("acme", "openai/api-key");
    expect(events).toEqual([
      { tenant: "acme", actor: "octw-secrets", action: "secret.set", target: "openai/api-key", decision: "allowed", details: { version: 1, keyVersion: 1 } },
      { tenant: "acme", actor: "octw-secrets", action: "secret.read", target: "openai/api-key", decision: "allowed", details: { version: 1 } },
    ]);
    const custom = setup([k1], new MemoryTable(), "octw-cli");
    await custom.secrets.set("acme", "n", "v");
    expect(custom.events[0]!.actor).toBe("octw-cli");
    // Without an audit sink it still works.
    const quiet = new TenantSecrets({ db: new MemoryTable().db, keyring: [k1] });
    await quiet.set("acme", "n", "v");
    expect((await quiet.get("acme", "n")).toString()).toBe("v");
  });
});

describe("TenantSecrets: a row opens only as the secret it was sealed for", () => {
  it("a row copied to another tenant or name, or altered, does not open; the failure is audited", async () => {
    const { secrets, table, events } = setup();
    await secrets.set("acme", "key", VALUE);
    const original = table.row("acme", "key", 1);
    table.rows.push({ ...original, tenant: "beta" }, { ...original, name: "other" });
    await expect(secrets.get("beta", "key")).rejects.toThrow("authentication failed");
    await expect(secrets.get("acme", "other")).rejects.toThrow("authentication failed");
    // A version number changed in place: the AAD names the version.
    table.rows.push({ ...original, version: 2 });
    await expect(secrets.get("acme", "key")).rejects.toThrow("authentication failed");
    const failed = events.filter((e) => e.decision === "failed");
    expect(failed).toEqual([
      { tenant: "beta", actor: "octw-secrets", action: "secret.read", target: "key", decision: "failed", details: { version: 1, error: "SecretDecryptError" } },
      { tenant: "acme", actor: "octw-secrets", action: "secret.read", target: "other", decision: "failed", details: { version: 1, error: "SecretDecryptError" } },
      { tenant: "acme", actor: "octw-secrets", action: "secret.read", target: "key", decision: "failed", details: { version: 2, error: "SecretDecryptError" } },
    ]);
    expect(JSON.stringify(events)).not.toContain(VALUE);
    // Positive control: the original still opens.
    expect((await secrets.get("acme", "key", { version: 1 })).toString()).toBe(VALUE);
  });

  it("a row under a master key version not in the keyring is refused, naming the versions held", async () => {
    const { table } = setup([k2]);
    const writer = new TenantSecrets({ db: table.db, keyring: [k2] });
    await writer.set("acme", "key", "v");
    const reader = new TenantSecrets({ db: table.db, keyring: [k1] });
    await expect(reader.get("acme", "key")).rejects.toThrow(/^master key version 2 is not in the keyring \(have 1\)$/);
    const k3: MasterKey = { version: 3, key: randomBytes(32) };
    await expect(new TenantSecrets({ db: table.db, keyring: [k3, k1] }).get("acme", "key")).rejects.toThrow(/^master key version 2 is not in the keyring \(have 1, 3\)$/);
  });
});

describe("TenantSecrets: concurrent writers", () => {
  it("takes the next version when another writer took this one", async () => {
    const { secrets, table } = setup();
    let stolen = 0;
    table.beforeInsert = (row) => {
      if (stolen < 2) {
        stolen++;
        table.rows.push({ ...row, ciphertext: Buffer.from("other writer") });
      }
    };
    expect(await secrets.set("acme", "key", VALUE)).toEqual({ version: 3, keyVersion: 1 });
    expect((await secrets.get("acme", "key")).toString()).toBe(VALUE);
  });

  it("gives up after 5 taken versions, naming the secret", async () => {
    const { secrets, table, events } = setup();
    let attempts = 0;
    table.beforeInsert = (row) => {
      attempts++;
      table.rows.push({ ...row });
    };
    await expect(secrets.set("acme", "key", VALUE)).rejects.toThrow(/^secret acme\/key: could not allocate a version after 5 attempts/);
    expect(attempts).toBe(5);
    expect(events).toEqual([]);
  });

  it("any other database error is passed on, not retried", async () => {
    const { secrets, table } = setup();
    let attempts = 0;
    table.beforeInsert = () => {
      attempts++;
      throw Object.assign(new Error("permission denied"), { code: "42501" });
    };
    await expect(secrets.set("acme", "key", VALUE)).rejects.toThrow("permission denied");
    expect(attempts).toBe(1);
  });
});

describe("TenantSecrets: list", () => {
  it("lists metadata (no value) of one tenant or of all, in tenant, name, version order", async () => {
    const { secrets } = setup();
    await secrets.set("beta", "b", "1");
    await secrets.set("acme", "z", "1");
    await secrets.set("acme", "a", "1");
    await secrets.set("acme", "a", "2");
    const all = await secrets.list();
    expect(all.map((i) => [i.tenant, i.name, i.version, i.keyVersion])).toEqual([
      ["acme", "a", 1, 1], ["acme", "a", 2, 1], ["acme", "z", 1, 1], ["beta", "b", 1, 1],
    ]);
    expect(Object.keys(all[0]!).sort()).toEqual(["createdAt", "keyVersion", "name", "rotatedAt", "tenant", "version"]);
    expect(all[0]!.createdAt).toBeInstanceOf(Date);
    expect(all[0]!.rotatedAt).toBeNull();
    expect((await secrets.list("beta")).map((i) => i.name)).toEqual(["b"]);
  });
});

describe("TenantSecrets: master key rotation", () => {
  async function seeded() {
    const table = new MemoryTable();
    const old = new TenantSecrets({ db: table.db, keyring: [k1] });
    // More rows than one batch, across tenants and names, so paging matters.
    const written: [string, string, string][] = [];
    for (const tenant of ["acme", "beta"]) {
      for (const name of ["a", "b", "c"]) {
        for (let v = 1; v <= 2; v++) {
          const value = `${tenant}/${name}/${v}`;
          await old.set(tenant, name, value);
          written.push([tenant, name, value]);
        }
      }
    }
    return { table, written };
  }

  it("re-seals every row under the newest key in batches; values open with the new key alone", async () => {
    const { table, written } = await seeded();
    const { secrets, events } = setup([k1, k2], table);
    expect(await secrets.rotateMasterKey({ batchSize: 4 })).toEqual({ rewrapped: written.length, failed: [] });
    expect(table.rows.every((r) => r.key_version === 2 && r.rotated_at instanceof Date)).toBe(true);
    const onlyNew = new TenantSecrets({ db: table.db, keyring: [k2] });
    for (const [i, [tenant, name, value]] of written.entries()) {
      expect((await onlyNew.get(tenant, name, { version: (i % 2) + 1 })).toString()).toBe(value);
    }
    expect(events).toHaveLength(written.length);
    expect(events[0]).toEqual({ tenant: "acme", actor: "octw-secrets", action: "secret.rewrapped", target: "a", decision: "allowed", details: { version: 1, fromKeyVersion: 1, toKeyVersion: 2 } });
    // A second run finds nothing left to do.
    expect(await secrets.rotateMasterKey()).toEqual({ rewrapped: 0, failed: [] });
  });

  it("uses batches of 100 by default", async () => {
    const { table } = await seeded();
    const { secrets } = setup([k1, k2], table);
    await secrets.rotateMasterKey();
    // One page with every row, one empty page, one UPDATE per row.
    const pages = table.statements.filter((s) => s.includes("LIMIT $5"));
    expect(pages).toHaveLength(2);
  });

  it("pages past 100 rows by default; tenants of any case; works without an audit sink", async () => {
    const table = new MemoryTable();
    const old = new TenantSecrets({ db: table.db, keyring: [k1] });
    for (let i = 0; i < 101; i++) await old.set(i % 2 ? "Acme" : "beta", `n${i}`, `v${i}`);
    const secrets = new TenantSecrets({ db: table.db, keyring: [k1, k2] });
    expect(await secrets.rotateMasterKey()).toEqual({ rewrapped: 101, failed: [] });
    expect(table.statements.filter((s) => s.includes("LIMIT $5"))).toHaveLength(3); // 100, 1, none
    expect(table.rows.every((r) => r.key_version === 2)).toBe(true);
    expect((await new TenantSecrets({ db: table.db, keyring: [k2] }).get("Acme", "n1")).toString()).toBe("v1");
  });

  it("leaves a row that does not authenticate as it is and reports it; the others rotate", async () => {
    const { table, written } = await seeded();
    const bad = table.row("acme", "b", 2);
    bad.auth_tag = Buffer.alloc(16);
    const { secrets } = setup([k1, k2], table);
    const r = await secrets.rotateMasterKey({ batchSize: 2 });
    expect(r.rewrapped).toBe(written.length - 1);
    expect(r.failed).toEqual([{ tenant: "acme", name: "b", version: 2, reason: expect.stringContaining("authentication failed") as string }]);
    expect(bad.key_version).toBe(1);
  });

  it("does not count or audit a row changed under it (the conditional UPDATE matched nothing)", async () => {
    const { table, written } = await seeded();
    const { secrets, events } = setup([k1, k2], table);
    let changed = false;
    table.beforeUpdate = () => {
      if (changed) return;
      changed = true;
      // A concurrent writer re-sealed the first row meanwhile (new nonce).
      table.row("acme", "a", 1).nonce = randomBytes(12);
    };
    const r = await secrets.rotateMasterKey({ batchSize: 3 });
    expect(r).toEqual({ rewrapped: written.length - 1, failed: [] });
    expect(events.some((e) => e.target === "a" && e.tenant === "acme" && (e.details as { version: number }).version === 1)).toBe(false);
  });
});
