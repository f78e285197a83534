// One credential per service (issue 10, class 7): on a real Postgres, each service's login role
// may append only its own event types, approval decisions and secret writes come only from the
// owner (the operator's CLI), and tenant_secrets are readable by the router alone. Enforced by
// the database itself: every probe talks SQL straight to octw.append_events / the tables, as a
// stolen credential would, not through AuditClient.
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICE_EVENT_TYPES, SERVICE_ROLES, TenantSecrets, applyMigrations, migrations, quoteIdent, quoteLiteral, type ServiceRole } from "../src/index";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "./pg-support";

const APPROVALS = ["egress.approval.approved", "egress.approval.rejected"];
const OPERATOR_ONLY = [...APPROVALS, "secret.set", "secret.rewrapped"];
const KEY = { version: 1, key: randomBytes(32) };

type Err = { code?: string; message?: string } | null;
const errorOf = (p: Promise<unknown>): Promise<Err> => p.then(() => null, (e: unknown) => e as Err);

let seq = 0;
const event = (action: string, tenant = "acme") => ({ tenant, actor: "probe", action, time: new Date().toISOString(), idempotencyKey: `k${++seq}` });
const append = (c: pg.Client, events: object[]) => c.query<{ n: number }>("SELECT octw.append_events($1::jsonb) AS n", [JSON.stringify(events)]);

describe("per-service audit roles on a real Postgres", () => {
  let db: TestAuditDb;
  const conn = {} as Record<ServiceRole | "owner" | "tenantReader", pg.Client>;
  const count = async (action?: string): Promise<number> => {
    const { rows } = await conn.owner.query<{ n: string }>("SELECT count(*)::text AS n FROM octw.audit_events WHERE $1::text IS NULL OR action = $1", [action ?? null]);
    return Number(rows[0]!.n);
  };

  beforeAll(async () => {
    db = await createAuditDb(requirePgUrl());
    const reader = await db.tenantReader("acme");
    const urls = { owner: db.ownerUrl, edge: db.edgeUrl, router: db.routerUrl, shipper: db.shipperUrl, waker: db.wakerUrl, tenantReader: reader.url };
    for (const [k, url] of Object.entries(urls)) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      conn[k as keyof typeof conn] = c;
    }
    // The operator stores a tenant secret (what `octw secrets set` does, as the owner).
    await new TenantSecrets({ db: conn.owner, keyring: [KEY] }).set("acme", "openai/api-key", "sk-test-value");
  });
  afterAll(async () => {
    await Promise.all(Object.values(conn).map((c) => c.end()));
    await db?.drop();
  });

  describe.each(SERVICE_ROLES)("the %s role", (svc) => {
    const others = SERVICE_ROLES.filter((o) => o !== svc).flatMap((o) => SERVICE_EVENT_TYPES[o]);

    it("appends each of its own event types (positive control)", async () => {
      for (const action of SERVICE_EVENT_TYPES[svc]) {
        const before = await count(action);
        expect((await append(conn[svc], [event(action)])).rows[0]!.n).toBe(1);
        expect(await count(action)).toBe(before + 1);
      }
    });

    it.each(others)("is refused another service's event type %s, and nothing is stored", async (action) => {
      const before = await count();
      const err = await errorOf(append(conn[svc], [event(action)]));
      expect(err?.code).toBe("42501");
      expect(err?.message).toBe(`role ${db.roles[svc]} may not append ${action} events`);
      expect(await count()).toBe(before);
    });

    it.each(OPERATOR_ONLY)("is refused the operator's event type %s", async (action) => {
      const err = await errorOf(append(conn[svc], [event(action)]));
      expect(err?.code).toBe("42501");
      expect(await count(action)).toBe(0);
    });

    it("has a batch with one foreign event refused whole (its own events in it are not stored either)", async () => {
      const own = SERVICE_EVENT_TYPES[svc][0]!;
      const before = await count();
      const err = await errorOf(append(conn[svc], [event(own), event(own, "other"), event(APPROVALS[0]!)]));
      expect(err?.code).toBe("42501");
      expect(await count()).toBe(before);
    });

    it("cannot step around the check: the unchecked function, the tables, another role", async () => {
      const probes = [
        "SELECT octw.append_events_unchecked('[]'::jsonb)",
        "INSERT INTO octw.append_grants (role_name, action) VALUES (session_user, 'egress.approval.approved')",
        "DELETE FROM octw.append_grants",
        "INSERT INTO octw.audit_events (tenant, seq, time, actor, action, idempotency_key, prev_hash, hash) VALUES ('acme', 99, now(), 'x', 'x.y', 'k', '\\x00', '\\x00')",
        `SET ROLE ${quoteIdent(db.roles.owner)}`,
      ];
      for (const sql of probes) {
        const err = await errorOf(conn[svc].query(sql));
        expect(err?.code, sql).toBe("42501");
      }
    });

    const readsSecrets = svc === "router";
    it(`${readsSecrets ? "reads" : "cannot read"} tenant_secrets, and cannot write them`, async () => {
      const read = errorOf(new TenantSecrets({ db: conn[svc], keyring: [KEY] }).get("acme", "openai/api-key"));
      if (readsSecrets) expect(await read).toBeNull(); // positive control of the refusals below
      else expect((await read)?.code).toBe("42501");
      const writes = [
        () => new TenantSecrets({ db: conn[svc], keyring: [KEY] }).set("acme", "openai/api-key", "sk-forged"),
        () => conn[svc].query("UPDATE octw.tenant_secrets SET key_version = key_version"),
        () => conn[svc].query("DELETE FROM octw.tenant_secrets"),
        () => conn[svc].query("TRUNCATE octw.tenant_secrets"),
      ];
      for (const w of writes) expect((await errorOf(w()))?.code).toBe("42501");
      const { rows } = await conn.owner.query<{ n: string }>("SELECT count(*)::text AS n FROM octw.tenant_secrets");
      expect(rows[0]!.n).toBe("1"); // nothing was written
    });
  });

  it("the operator (owner) appends approval decisions and secret events (positive control of the refusals)", async () => {
    for (const action of OPERATOR_ONLY) {
      expect((await append(conn.owner, [event(action)])).rows[0]!.n).toBe(1);
      expect(await count(action)).toBe(1);
    }
  });

  it("a tenant reader may append nothing", async () => {
    for (const action of [...SERVICE_EVENT_TYPES.edge, ...APPROVALS]) {
      expect((await errorOf(append(conn.tenantReader, [event(action)])))?.code).toBe("42501");
    }
  });

  it("property: exactly the allowed (role, event type) pairs are appended", async () => {
    const roleNames = ["owner", ...SERVICE_ROLES, "tenantReader"] as const;
    const known = [...SERVICE_ROLES.flatMap((k) => SERVICE_EVENT_TYPES[k]), ...OPERATOR_ONLY];
    const ident = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/);
    const randomAction = fc.tuple(ident, ident).map(([a, b]) => `${a}.${b}`);
    // Near misses too: a known type with a suffix or a changed last part.
    const nearMiss = fc.tuple(fc.constantFrom(...known), ident).chain(([k, x]) => fc.constantFrom(`${k}.${x}`, `${k.slice(0, k.lastIndexOf("."))}.${x}`));
    const allowed = (role: (typeof roleNames)[number], action: string): boolean =>
      role === "owner" || (role !== "tenantReader" && SERVICE_EVENT_TYPES[role].includes(action));
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...roleNames), fc.oneof(fc.constantFrom(...known), randomAction, nearMiss), async (role, action) => {
        const before = await count();
        const err = await errorOf(append(conn[role], [event(action, "prop")]));
        const after = await count();
        if (allowed(role, action)) {
          expect(err).toBeNull();
          expect(after).toBe(before + 1);
          accepted++;
        } else {
          expect(err?.code).toBe("42501");
          expect(after).toBe(before);
          refused++;
        }
      }),
      { numRuns: 300 },
    );
    // Both outcomes really occurred (the property is not vacuous either way).
    expect(accepted).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
  });
});

describe("upgrading a store whose waker role predates tenant.suspend_failed / tenant.suspend_deferred", () => {
  let db: TestAuditDb;
  beforeAll(async () => {
    db = await createAuditDb(requirePgUrl());
  });
  afterAll(async () => {
    await db?.drop();
  });

  // The (role, event type) grants are not a versioned migration: migrationSql rewrites them from
  // SERVICE_EVENT_TYPES on every run (they name the deployment's role names, which only it knows),
  // so a store migrated by the previous release gets the new types on the next run, with no new
  // schema version.
  it("the waker is refused them while the grants are the previous release's, and may append them after the next migration run", async () => {
    const NEW = ["tenant.suspend_deferred", "tenant.suspend_failed"];
    await withClient(db.ownerUrl, (c) => c.query("DELETE FROM octw.append_grants WHERE action = ANY($1::text[])", [NEW]));
    await withClient(db.wakerUrl, async (c) => {
      for (const action of NEW) expect((await errorOf(append(c, [event(action)])))?.code).toBe("42501");
      // positive control: its older types still go in
      expect((await append(c, [event("tenant.woken")])).rows[0]!.n).toBe(1);
    });
    const versions = await withClient(db.ownerUrl, (c) => applyMigrations(c, db.roles));
    expect(versions).toEqual(migrations.map((m) => m.version));
    await withClient(db.wakerUrl, async (c) => {
      for (const action of NEW) expect((await append(c, [event(action)])).rows[0]!.n).toBe(1);
    });
    // and still only the waker: the edge is refused them
    await withClient(db.edgeUrl, async (c) => {
      for (const action of NEW) expect((await errorOf(append(c, [event(action)])))?.code).toBe("42501");
    });
  });
});

describe("upgrading a store that still has the shared writer (migrations 1-2 applied)", () => {
  let db: TestAuditDb;
  let writer: { role: string; url: string };

  beforeAll(async () => {
    db = await createAuditDb(requirePgUrl(), { migrate: false });
    // The schema and grants as the previous release left them: versions 1 and 2, and one writer
    // role with EXECUTE on append_events and SELECT/INSERT/UPDATE on tenant_secrets.
    const role = `${db.roles.owner.replace(/_owner$/, "")}_writer`;
    const password = randomBytes(12).toString("hex");
    await withClient(db.superUrl, (c) => c.query(`CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD ${quoteLiteral(password)}`));
    const url = new URL(db.edgeUrl);
    url.username = role;
    url.password = password;
    writer = { role, url: url.toString() };
    await withClient(db.ownerUrl, async (c) => {
      await c.query("CREATE SCHEMA octw; REVOKE ALL ON SCHEMA octw FROM PUBLIC");
      await c.query("CREATE TABLE octw.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
      for (const m of migrations.filter((x) => x.version <= 2)) {
        await c.query(m.sql);
        await c.query("INSERT INTO octw.schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      }
      const q = quoteIdent(role);
      await c.query(`GRANT CONNECT ON DATABASE ${quoteIdent(db.database)} TO ${q}; GRANT USAGE ON SCHEMA octw TO ${q}`);
      await c.query(`GRANT EXECUTE ON FUNCTION octw.append_events(jsonb) TO ${q}; GRANT SELECT, INSERT, UPDATE ON octw.tenant_secrets TO ${q}`);
    });
  });
  afterAll(async () => {
    await db?.drop();
    await withClient(requirePgUrl(), (c) => c.query(`DROP ROLE IF EXISTS ${quoteIdent(writer.role)}`));
  });

  it("before: the shared writer appends an approval decision and writes secrets (positive control)", async () => {
    await withClient(writer.url, async (c) => {
      expect((await append(c, [event("egress.approval.approved")])).rows[0]!.n).toBe(1);
      await new TenantSecrets({ db: c, keyring: [KEY] }).set("acme", "openai/api-key", "sk-old");
    });
  });

  it("after migration 3: the old writer may append nothing and touch no secret; the chain continues", async () => {
    await withClient(db.ownerUrl, async (c) => {
      expect(await applyMigrations(c, db.roles)).toEqual(migrations.map((m) => m.version));
    });
    await withClient(writer.url, async (c) => {
      for (const action of ["egress.approval.approved", "edge.auth.allowed", "inference.call"]) {
        expect((await errorOf(append(c, [event(action)])))?.code).toBe("42501");
      }
      expect((await errorOf(c.query("SELECT octw.append_events_unchecked('[]'::jsonb)")))?.code).toBe("42501");
      expect((await errorOf(c.query("SELECT 1 FROM octw.tenant_secrets")))?.code).toBe("42501");
    });
    // The new roles take over (grants as requiredGrants lists them are applied by createAuditDb's
    // path in real deployments; here the edge only needs EXECUTE).
    await withClient(db.ownerUrl, (c) => c.query(`GRANT CONNECT ON DATABASE ${quoteIdent(db.database)} TO ${quoteIdent(db.roles.edge)}; GRANT USAGE ON SCHEMA octw TO ${quoteIdent(db.roles.edge)}; GRANT EXECUTE ON FUNCTION octw.append_events(jsonb) TO ${quoteIdent(db.roles.edge)}`));
    await withClient(db.edgeUrl, async (c) => {
      expect((await append(c, [event("edge.auth.allowed")])).rows[0]!.n).toBe(1);
    });
    await withClient(db.ownerUrl, async (c) => {
      const { rows } = await c.query<{ seq: string; action: string }>("SELECT seq::text, action FROM octw.audit_events WHERE tenant = 'acme' ORDER BY seq");
      expect(rows).toEqual([
        { seq: "1", action: "egress.approval.approved" },
        { seq: "2", action: "edge.auth.allowed" },
      ]);
    });
  });
});

describe("migrations refuse role layouts that would undo the split", () => {
  it.each([
    ["a service role that is a member of the owner", (r: TestAuditDb["roles"]) => `GRANT ${quoteIdent(r.owner)} TO ${quoteIdent(r.edge)}`],
    ["a service role that is a member of another service role", (r: TestAuditDb["roles"]) => `GRANT ${quoteIdent(r.router)} TO ${quoteIdent(r.shipper)}`],
  ])("%s", async (_what, grant) => {
    const db = await createAuditDb(requirePgUrl(), { migrate: false });
    try {
      await withClient(db.superUrl, (c) => c.query(grant(db.roles)));
      await withClient(db.ownerUrl, async (c) => {
        await expect(applyMigrations(c, db.roles)).rejects.toThrow(/must not be a member of the owner role or of another service role/);
      });
      // Positive control: without the membership the same roles migrate.
      await withClient(db.superUrl, (c) => c.query(grant(db.roles).replace(/^GRANT (.*) TO (.*)$/, "REVOKE $1 FROM $2")));
      await withClient(db.ownerUrl, async (c) => {
        expect(await applyMigrations(c, db.roles)).toEqual(migrations.map((m) => m.version));
      });
    } finally {
      await db.drop();
    }
  });
});
