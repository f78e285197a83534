// A batch is one transaction: a writer that dies in the middle of one (here: its backend is
// terminated while the batch's INSERT has stored part of its rows and waits on a row lock)
// leaves the chain exactly as it was before the batch — verifiable, head unchanged — and the
// same batch sent again is stored once, in order, and verifies.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeEvent, verifyAuditChain, type NormalizedEvent } from "../src/index";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "./pg-support";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TENANT = "crash-tenant";
const ev = (key: string, i: number): NormalizedEvent =>
  normalizeEvent({ tenant: TENANT, actor: "router", action: "inference.call", target: "m", decision: "allowed", details: { i }, idempotencyKey: key });
const append = (c: pg.ClientBase, events: NormalizedEvent[]) => c.query<{ n: number }>("SELECT octw.append_events($1::jsonb) AS n", [JSON.stringify(events)]);

let db: TestAuditDb;
beforeAll(async () => {
  db = await createAuditDb(requirePgUrl());
});
afterAll(async () => {
  await db?.drop();
});

async function chainState(): Promise<{ rows: number; head: { seq: string; hash: string }; ok: boolean }> {
  return withClient(db.ownerUrl, async (c) => {
    const n = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM octw.audit_events WHERE tenant = $1", [TENANT]);
    const h = await c.query<{ seq: string; hash: string }>("SELECT seq::text AS seq, encode(hash, 'hex') AS hash FROM octw.audit_heads WHERE tenant = $1", [TENANT]);
    const report = await verifyAuditChain(c, { tenant: TENANT });
    return { rows: n.rows[0]!.n, head: h.rows[0]!, ok: report.ok };
  });
}

describe("a writer killed in the middle of a batch", () => {
  it("stores nothing of the batch, leaves the chain verifiable, and the resent batch is stored once", async () => {
    await withClient(db.routerUrl, (c) => append(c, Array.from({ length: 20 }, (_, i) => ev(`before-${i}`, i))));
    const before = await chainState();
    expect(before).toMatchObject({ rows: 20, ok: true });

    // The batch: 2000 events; the one at position 1500 has a key that another, uncommitted
    // transaction has just inserted, so the batch's INSERT stores rows up to there and waits.
    const batch = Array.from({ length: 2_000 }, (_, i) => ev(`batch-${i}`, i));
    const blocker = new pg.Client({ connectionString: db.superUrl });
    await blocker.connect();
    await blocker.query("BEGIN");
    await blocker.query(
      `INSERT INTO octw.audit_events (tenant, seq, time, actor, action, idempotency_key, prev_hash, hash)
       VALUES ($1, 1000000, now(), 'blocker', 'test.blocker', 'batch-1500', sha256('x'), sha256('y'))`,
      [TENANT],
    );
    const writer = new pg.Client({ connectionString: db.routerUrl });
    await writer.connect();
    const writerPid = (await writer.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    writer.on("error", () => {});
    const outcome = append(writer, batch).then(
      () => "committed",
      (e: { code?: string }) => `failed:${e.code ?? "?"}`,
    );

    // Positive control: the writer really is inside the batch's INSERT, waiting for the
    // blocker's transaction (a unique-index check waits on the other transaction's id; the
    // blocker holds no other lock the writer could wait for).
    let waiting = false;
    for (let i = 0; i < 200 && !waiting; i++) {
      const { rows } = await blocker.query<{ w: string | null }>("SELECT wait_event_type || '/' || wait_event AS w FROM pg_stat_activity WHERE pid = $1", [writerPid]);
      waiting = rows[0]?.w === "Lock/transactionid";
      if (!waiting) await sleep(25);
    }
    expect(waiting).toBe(true);
    const killed = await withClient(db.superUrl, (c) => c.query<{ ok: boolean }>("SELECT pg_terminate_backend($1) AS ok", [writerPid]));
    expect(killed.rows[0]!.ok).toBe(true);
    expect(await outcome).toBe("failed:57P01");
    await writer.end().catch(() => {});
    await blocker.query("ROLLBACK");
    await blocker.end();

    const after = await chainState();
    expect(after).toEqual(before);

    // The writer's retry (what AuditClient's spool replay does) stores the whole batch once.
    await withClient(db.routerUrl, async (c) => {
      expect((await append(c, batch)).rows[0]!.n).toBe(2_000);
      expect((await append(c, batch)).rows[0]!.n).toBe(0);
    });
    const final = await chainState();
    expect(final.rows).toBe(2_020);
    expect(final.ok).toBe(true);
    expect(final.head.seq).toBe("2020");
    await withClient(db.ownerUrl, async (c) => {
      const { rows } = await c.query<{ keys: string[] }>("SELECT array_agg(idempotency_key ORDER BY seq) AS keys FROM octw.audit_events WHERE tenant = $1 AND seq > 20", [TENANT]);
      expect(rows[0]!.keys).toEqual(batch.map((e) => e.idempotencyKey));
    });
  });
});
