import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "./pg-support";

const batch = (tenant: string, keys: string[]) =>
  JSON.stringify(keys.map((k) => ({ tenant, actor: "edge", action: "edge.auth.allowed", time: new Date().toISOString(), idempotencyKey: k })));

describe("audit_events is append-only", () => {
  let db: TestAuditDb;
  beforeAll(async () => {
    db = await createAuditDb(requirePgUrl());
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("a service role appends its own event type through octw.append_events (positive control), idempotently", async () => {
    await withClient(db.edgeUrl, async (c) => {
      const r1 = await c.query<{ n: number }>("SELECT octw.append_events($1::jsonb) AS n", [batch("acme", ["a1", "a2"])]);
      expect(r1.rows[0]!.n).toBe(2);
      const r2 = await c.query<{ n: number }>("SELECT octw.append_events($1::jsonb) AS n", [batch("acme", ["a2", "a3", "a3"])]);
      expect(r2.rows[0]!.n).toBe(1); // a2 already stored, a3 once
    });
    await withClient(db.ownerUrl, async (c) => {
      const { rows } = await c.query<{ k: string; seq: string }>("SELECT idempotency_key AS k, seq::text FROM octw.audit_events ORDER BY seq");
      expect(rows).toEqual([{ k: "a1", seq: "1" }, { k: "a2", seq: "2" }, { k: "a3", seq: "3" }]);
    });
  });

  it.each([
    ["INSERT", "INSERT INTO octw.audit_events (tenant, seq, time, actor, action, idempotency_key, prev_hash, hash) VALUES ('acme', 99, now(), 'x', 'x.y', 'k', '\\x00', '\\x00')"],
    ["UPDATE", "UPDATE octw.audit_events SET decision = 'denied'"],
    ["DELETE", "DELETE FROM octw.audit_events"],
    ["TRUNCATE", "TRUNCATE octw.audit_events"],
    ["SELECT", "SELECT * FROM octw.audit_events"],
    ["UPDATE heads", "UPDATE octw.audit_heads SET seq = 0"],
  ])("a service role is refused %s by privileges", async (_op, sql) => {
    await withClient(db.edgeUrl, async (c) => {
      const err = await c.query(sql).then(() => null, (e: unknown) => e as { code?: string; message?: string });
      expect(err?.code).toBe("42501");
      expect(err?.message).toMatch(/permission denied/);
    });
  });

  it.each([
    ["UPDATE", "UPDATE octw.audit_events SET decision = 'denied' WHERE seq = 1"],
    ["DELETE", "DELETE FROM octw.audit_events WHERE seq = 1"],
    ["TRUNCATE", "TRUNCATE octw.audit_events"],
    ["DELETE of a head", "DELETE FROM octw.audit_heads"],
    ["moving a head back", "UPDATE octw.audit_heads SET seq = 1"],
  ])("even the owner is refused %s by a trigger", async (_op, sql) => {
    await withClient(db.ownerUrl, async (c) => {
      const err = await c.query(sql).then(() => null, (e: unknown) => e as { code?: string; message?: string });
      expect(err?.code).toBe("42501");
      expect(err?.message).toMatch(/append-only|only move forward/);
      const { rows } = await c.query<{ n: string }>("SELECT count(*)::text AS n FROM octw.audit_events");
      expect(rows[0]!.n).toBe("3"); // positive control: the owner can read, and nothing changed
    });
  });

  it("a service role cannot call owner-only functions", async () => {
    await withClient(db.edgeUrl, async (c) => {
      await expect(c.query("SELECT octw.bind_tenant_reader('x', 'acme')")).rejects.toMatchObject({ code: "42501" });
    });
  });

  it("rejects malformed events inside the database too (a service calling the function directly)", async () => {
    const ev = (over: object) => JSON.stringify([{ tenant: "acme", actor: "edge", action: "edge.auth.allowed", time: new Date().toISOString(), idempotencyKey: "b1", ...over }]);
    await withClient(db.edgeUrl, async (c) => {
      await expect(c.query("SELECT octw.append_events($1::jsonb)", [ev({ tenant: "not a tenant!" })])).rejects.toMatchObject({ code: "23514" });
      // A malformed event type is no type this role was granted; the error does not echo it.
      await expect(c.query("SELECT octw.append_events($1::jsonb)", [ev({ action: "NOT A VERB" })])).rejects.toThrow(/may not append malformed events/);
      await expect(c.query("SELECT octw.append_events($1::jsonb)", ['{"not":"an array"}'])).rejects.toThrow(/events: must be a JSON array/);
    });
    await withClient(db.ownerUrl, async (c) => {
      // The owner may append any type, but not a malformed one.
      await expect(c.query("SELECT octw.append_events($1::jsonb)", [ev({ action: "NOT A VERB" })])).rejects.toMatchObject({ code: "23514" });
    });
  });
});
