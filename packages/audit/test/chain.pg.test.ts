import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuditClient, chainHash, exportHeads, verifyAuditChain, type ChainRow } from "../src/index";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "./pg-support";

/** What a tamperer with superuser rights can do: switch off triggers for the session and edit. */
async function tamper(db: TestAuditDb, sql: string): Promise<void> {
  await withClient(db.superUrl, async (c: pg.Client) => {
    await c.query("SET session_replication_role = replica");
    const res = await c.query(sql);
    expect(res.rowCount).toBeGreaterThan(0); // the tampering really happened
  });
}

describe("hash chain on a real Postgres", () => {
  let db: TestAuditDb;
  let dir: string;

  beforeEach(async () => {
    db = await createAuditDb(requirePgUrl());
    dir = await mkdtemp(join(tmpdir(), "octw-chain-"));
    // Two writers at once on the same tenants: the chain must still be one line per tenant.
    const writers = [0, 1].map((w) => new AuditClient({ connection: db.routerUrl, spoolPath: join(dir, `spool-${w}`), batchSize: 7 }));
    await Promise.all(
      writers.flatMap((c, w) =>
        Array.from({ length: 60 }, (_, i) =>
          c.record({ tenant: i % 3 === 0 ? "t-one" : "t-two", actor: `w${w}`, action: "inference.call", target: "gpt", decision: "allowed", details: { i, w, note: "ünïcode ✓", nested: { z: 1, a: [1.5, "x"] } } }),
        ),
      ),
    );
    await Promise.all(writers.map((c) => c.close()));
  });
  afterEach(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const verify = () => withClient(db.ownerUrl, (c) => verifyAuditChain(c));

  it("verifies an untouched chain written by concurrent writers (positive control)", async () => {
    const report = await verify();
    expect(report.ok).toBe(true);
    expect(report.tenants.map((t) => [t.tenant, t.verified])).toEqual([["t-one", 40], ["t-two", 80]]);
  });

  it("catches an edited row at that row", async () => {
    await tamper(db, "UPDATE octw.audit_events SET decision = 'denied' WHERE tenant = 't-two' AND seq = 17");
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.firstBroken).toMatchObject({ tenant: "t-two", seq: "17", reason: "hash-mismatch" });
  });

  it("catches edited details (jsonb) at that row", async () => {
    await tamper(db, `UPDATE octw.audit_events SET details = details || '{"w": 9}' WHERE tenant = 't-one' AND seq = 3`);
    expect((await verify()).firstBroken).toMatchObject({ tenant: "t-one", seq: "3", reason: "hash-mismatch" });
  });

  it("catches a deleted row", async () => {
    await tamper(db, "DELETE FROM octw.audit_events WHERE tenant = 't-one' AND seq = 10");
    expect((await verify()).firstBroken).toMatchObject({ tenant: "t-one", seq: "11", reason: "seq-gap" });
  });

  it("catches a deleted row whose successors were renumbered to hide the gap", async () => {
    await tamper(db, "DELETE FROM octw.audit_events WHERE tenant = 't-one' AND seq = 10");
    // In two steps: the unique (tenant, seq) index is checked row by row.
    await tamper(db, "UPDATE octw.audit_events SET seq = seq + 1000000 WHERE tenant = 't-one' AND seq > 10");
    await tamper(db, "UPDATE octw.audit_events SET seq = seq - 1000001 WHERE tenant = 't-one' AND seq > 1000000");
    expect((await verify()).firstBroken).toMatchObject({ tenant: "t-one", seq: "10", reason: "prev-hash-mismatch" });
  });

  it("catches a deleted tail through the recorded head", async () => {
    await tamper(db, "DELETE FROM octw.audit_events WHERE tenant = 't-two' AND seq > 78");
    expect((await verify()).firstBroken).toMatchObject({ tenant: "t-two", reason: "head-mismatch" });
  });

  it("checks one tenant on request", async () => {
    await tamper(db, "UPDATE octw.audit_events SET actor = 'someone-else' WHERE tenant = 't-two' AND seq = 1");
    const one = await withClient(db.ownerUrl, (c) => verifyAuditChain(c, { tenant: "t-one", pageSize: 7 }));
    expect(one.ok).toBe(true);
    expect(one.tenants).toEqual([{ tenant: "t-one", verified: 40, broken: null }]);
    const two = await withClient(db.ownerUrl, (c) => verifyAuditChain(c, { tenant: "t-two", pageSize: 7 }));
    expect(two.firstBroken).toMatchObject({ seq: "1", reason: "hash-mismatch" });
  });

  it("catches a chain rewritten consistently from one row on (head included) through exported heads", async () => {
    const anchors = await withClient(db.ownerUrl, (c) => exportHeads(c));
    expect(anchors.map((a) => [a.tenant, a.seq])).toEqual([["t-one", "40"], ["t-two", "80"]]);
    // A superuser edits seq 30 of t-two and re-hashes everything after it, then fixes the head.
    await withClient(db.superUrl, async (c) => {
      await c.query("SET session_replication_role = replica");
      await c.query("UPDATE octw.audit_events SET decision = 'denied' WHERE tenant = 't-two' AND seq = 30");
      const { rows } = await c.query<ChainRow>(
        `SELECT id::text AS id, tenant, seq::text AS seq, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS time,
                actor, action, target, decision, details::text AS details, idempotency_key AS "idempotencyKey", prev_hash AS "prevHash", hash
           FROM octw.audit_events WHERE tenant = 't-two' AND seq >= 30 ORDER BY seq`,
      );
      let prev = rows[0]!.prevHash;
      for (const r of rows) {
        const hash = chainHash(prev, r);
        await c.query("UPDATE octw.audit_events SET prev_hash = $1, hash = $2 WHERE id = $3::bigint", [prev, hash, r.id]);
        prev = hash;
      }
      await c.query("UPDATE octw.audit_heads SET hash = $1 WHERE tenant = 't-two'", [prev]);
    });
    const plain = await verify();
    expect(plain.ok).toBe(true); // without anchors a perfect rewrite is invisible
    const anchored = await withClient(db.ownerUrl, (c) => verifyAuditChain(c, { anchors }));
    expect(anchored.firstBroken).toMatchObject({ tenant: "t-two", seq: "80", reason: "anchor-mismatch" });
    expect(anchored.tenants.find((t) => t.tenant === "t-one")?.broken).toBeNull();
  });
});
