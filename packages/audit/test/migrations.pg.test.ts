import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, migrationSql, migrations, quoteIdent } from "../src/index";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "./pg-support";

describe("migrations on a real Postgres", () => {
  let db: TestAuditDb;
  beforeAll(async () => {
    db = await createAuditDb(requirePgUrl(), { migrate: false });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("refuse to run as anyone but the owner role", async () => {
    await withClient(db.superUrl, async (c) => {
      await expect(c.query(migrationSql(db.roles))).rejects.toThrow(/must run as the owner role/);
      await c.query("ROLLBACK");
      const { rows } = await c.query("SELECT 1 FROM pg_namespace WHERE nspname = 'octw'");
      expect(rows).toHaveLength(0); // nothing half-applied
    });
  });

  it("refuse a writer or reader role that bypasses row-level security", async () => {
    await withClient(db.superUrl, (c) => c.query(`ALTER ROLE ${quoteIdent(db.roles.reader)} BYPASSRLS`));
    try {
      await withClient(db.ownerUrl, async (c) => {
        await expect(applyMigrations(c, db.roles)).rejects.toThrow(/must not be superuser or BYPASSRLS/);
      });
    } finally {
      await withClient(db.superUrl, (c) => c.query(`ALTER ROLE ${quoteIdent(db.roles.reader)} NOBYPASSRLS`));
    }
  });

  it("apply concurrently from several connections exactly once, then are a no-op", async () => {
    const clients = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const c = new pg.Client({ connectionString: db.ownerUrl });
        await c.connect();
        return c;
      }),
    );
    try {
      // The same text the stack's dynamic provider sends with client.query(sql).
      const sql = migrationSql(db.roles);
      await Promise.all(clients.map((c) => c.query(sql)));
      const { rows } = await clients[0]!.query<{ version: number; n: string }>(
        "SELECT version, count(*) OVER () AS n FROM octw.schema_migrations ORDER BY version",
      );
      expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
      expect(await applyMigrations(clients[1]!, db.roles)).toEqual(migrations.map((m) => m.version));
      const owners = await clients[0]!.query<{ owner: string }>(
        "SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'octw'",
      );
      expect(owners.rows).toEqual([{ owner: db.roles.owner }]);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it("leave no function executable by PUBLIC and no database access for PUBLIC", async () => {
    await withClient(db.ownerUrl, async (c) => {
      const { rows } = await c.query<{ proname: string }>(
        `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'octw' AND has_function_privilege('public', p.oid, 'EXECUTE')`,
      );
      expect(rows).toEqual([]);
      const db2 = await c.query<{ ok: boolean }>("SELECT has_database_privilege('public', current_database(), 'CONNECT') AS ok");
      expect(db2.rows[0]!.ok).toBe(false);
    });
  });
});
