// octw.append_event_columns (migration 5): the same chain, idempotency, grants and per-tenant
// serialisation as append_events(jsonb), from one typed array per column.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventColumns } from "../src/client";
import { AuditClient, PgAuditSink, normalizeEvent, verifyAuditChain, type NormalizedEvent } from "../src/index";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "./pg-support";

const COLUMNS_SQL = "SELECT octw.append_event_columns($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::text[]) AS n";
const JSONB_SQL = "SELECT octw.append_events($1::jsonb) AS n";

const viaColumns = async (c: pg.Client, events: readonly NormalizedEvent[]) => (await c.query<{ n: number }>(COLUMNS_SQL, eventColumns(events))).rows[0]!.n;
/** The arrays in batch order, tenants interleaved (eventColumns groups them; the function must not depend on it). */
const inBatchOrder = async (c: pg.Client, events: readonly NormalizedEvent[]) => {
  const cols = (["tenant", "actor", "action", "target", "decision", "details", "time", "idempotencyKey"] as const).map((k) =>
    events.map((e) => (k === "details" ? (e.details === null ? null : JSON.stringify(e.details)) : e[k])),
  );
  return (await c.query<{ n: number }>(COLUMNS_SQL, cols)).rows[0]!.n;
};
const viaJsonb = async (c: pg.Client, events: readonly NormalizedEvent[]) => (await c.query<{ n: number }>(JSONB_SQL, [JSON.stringify(events)])).rows[0]!.n;

/** Every stored field as it was hashed, plus the hashes: what must be equal whichever function wrote the rows. */
const ROWS_SQL = `SELECT tenant, seq::text AS seq, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS time, actor, action, target, decision,
  details::text AS details, idempotency_key, encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash
  FROM octw.audit_events WHERE tenant = ANY ($1) ORDER BY tenant, seq`;

async function errorOf(p: Promise<unknown>): Promise<{ code?: string; message: string } | null> {
  try {
    await p;
    return null;
  } catch (err) {
    return err as { code?: string; message: string };
  }
}

// Text the chain encoding must carry exactly: multi-byte characters, quotes, backslashes, JSON escapes.
const text = fc.string({ unit: fc.constantFrom("a", "Z", "0", " ", '"', "\\", "ü", "✓", "𝄞", "\n", "'", "{", "}", ","), minLength: 1, maxLength: 12 });
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    text,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(text, tie("value"), { maxKeys: 3 }),
  ),
}));
const eventOf = (tenants: readonly string[]) =>
  fc.record({
    tenant: fc.constantFrom(...tenants),
    actor: text,
    action: fc.constantFrom("edge.auth.allowed", "edge.auth.denied"),
    target: fc.option(text, { nil: undefined }),
    decision: fc.option(text, { nil: undefined }),
    details: fc.option(fc.dictionary(text, jsonValue.value, { maxKeys: 4 }), { nil: undefined }),
    time: fc.date({ min: new Date("1970-01-01T00:00:00Z"), max: new Date("2200-01-01T00:00:00Z"), noInvalidDate: true }),
    key: fc.integer({ min: 0, max: 30 }),
  });

describe("append_event_columns on a real Postgres", () => {
  let db: TestAuditDb;
  let dir: string;
  beforeAll(async () => {
    db = await createAuditDb(requirePgUrl());
    dir = await mkdtemp(join(tmpdir(), "octw-columns-"));
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("writes rows, chains and heads byte-identical to append_events(jsonb) (property, two stores)", async () => {
    const other = await createAuditDb(requirePgUrl());
    let run = 0;
    try {
      await withClient(db.edgeUrl, async (mine) => {
        await withClient(other.edgeUrl, async (theirs) => {
          await fc.assert(
            fc.asyncProperty(fc.array(fc.array(eventOf(["a", "b", "c"]), { minLength: 1, maxLength: 25 }), { minLength: 1, maxLength: 3 }), async (batches) => {
              run++;
              const tenants = ["a", "b", "c"].map((t) => `p${run}-${t}`);
              for (const batch of batches) {
                const events = batch.map((e) =>
                  normalizeEvent({ tenant: `p${run}-${e.tenant}`, actor: e.actor, action: e.action, target: e.target, decision: e.decision, details: e.details, time: e.time, idempotencyKey: `k${e.key}` }),
                );
                expect(await viaColumns(mine, events)).toBe(await viaJsonb(theirs, events));
              }
              const rows = (d: TestAuditDb) => withClient(d.ownerUrl, async (c) => (await c.query<Record<string, string | null>>(ROWS_SQL, [tenants])).rows);
              const heads = (d: TestAuditDb) =>
                withClient(d.ownerUrl, async (c) => (await c.query<Record<string, string>>("SELECT tenant, seq::text, encode(hash, 'hex') AS hash FROM octw.audit_heads WHERE tenant = ANY ($1) ORDER BY tenant", [tenants])).rows);
              const stored = await rows(db);
              expect(stored.length).toBeGreaterThan(0);
              expect(stored).toEqual(await rows(other));
              expect(await heads(db)).toEqual(await heads(other));
            }),
            { numRuns: 25 },
          );
        });
      });
      const report = await withClient(db.ownerUrl, (c) => verifyAuditChain(c));
      expect(report.firstBroken).toBeNull();
      expect(report.ok).toBe(true);
    } finally {
      await other.drop();
    }
  });

  it("computes the same hashes as append_events(jsonb) for the same events (two stores)", async () => {
    const other = await createAuditDb(requirePgUrl());
    try {
      const events = Array.from({ length: 300 }, (_, i) =>
        normalizeEvent({
          tenant: ["acme", "initech", "umbrella"][i % 3]!,
          actor: i % 5 === 0 ? "ünïcode ✓ 𝄞" : "edge",
          action: "edge.auth.allowed",
          ...(i % 2 ? { target: `/v1/${i}` } : {}),
          ...(i % 3 ? { decision: "allowed" } : {}),
          ...(i % 4 ? { details: { i, s: 'quote " and \\ back', n: { z: [1.5, 1e21, -0, "x"], a: null } } } : {}),
          time: new Date(Date.UTC(2026, 10, 30, 12, 0, 0, i)),
          idempotencyKey: `key-${i % 180}`, // event i + 180 repeats event i (same tenant, same key)
        }),
      );
      await withClient(db.edgeUrl, async (c) => {
        expect(await inBatchOrder(c, events.slice(0, 50))).toBe(50);
        // keys 40-49 stored already (twice in the batch), keys 50-119 twice in the batch, 120-179 once
        expect(await viaColumns(c, events.slice(40))).toBe(130);
      });
      await withClient(other.edgeUrl, async (c) => {
        expect(await viaJsonb(c, events.slice(0, 50))).toBe(50);
        expect(await viaJsonb(c, events.slice(40))).toBe(130);
      });
      const rows = (d: TestAuditDb) => withClient(d.ownerUrl, async (c) => (await c.query<Record<string, string | null>>(ROWS_SQL, [["acme", "initech", "umbrella"]])).rows);
      const [mine, theirs] = [await rows(db), await rows(other)];
      expect(mine.length).toBe(180);
      expect(mine).toEqual(theirs);
      const heads = (d: TestAuditDb) => withClient(d.ownerUrl, async (c) => (await c.query<Record<string, string>>("SELECT tenant, seq::text, encode(hash, 'hex') AS hash FROM octw.audit_heads WHERE tenant IN ('acme', 'initech', 'umbrella') ORDER BY tenant")).rows);
      expect(await heads(db)).toEqual(await heads(other));
    } finally {
      await other.drop();
    }
  });

  it("is idempotent across both entry points: a key stored by one is skipped by the other", async () => {
    const ev = (k: string) => normalizeEvent({ tenant: "idem", actor: "edge", action: "edge.auth.allowed", idempotencyKey: k });
    await withClient(db.edgeUrl, async (c) => {
      expect(await viaJsonb(c, [ev("x1"), ev("x2")])).toBe(2);
      expect(await viaColumns(c, [ev("x2"), ev("x3"), ev("x3"), ev("x1")])).toBe(1);
      expect(await viaJsonb(c, [ev("x3"), ev("x4")])).toBe(1);
      expect(await viaColumns(c, [])).toBe(0);
    });
    const { rows } = await withClient(db.ownerUrl, (c) => c.query<{ seq: number; idempotency_key: string }>("SELECT seq::int, idempotency_key FROM octw.audit_events WHERE tenant = 'idem' ORDER BY seq"));
    expect(rows).toEqual([
      { seq: 1, idempotency_key: "x1" },
      { seq: 2, idempotency_key: "x2" },
      { seq: 3, idempotency_key: "x3" },
      { seq: 4, idempotency_key: "x4" },
    ]);
  });

  it("refuses malformed column arrays with 22023 and stores nothing", async () => {
    const good = eventColumns([normalizeEvent({ tenant: "shape", actor: "edge", action: "edge.auth.allowed" })]);
    const cases: [string, unknown[]][] = [
      ["unequal lengths", good.map((col, i) => (i === 1 ? [...col, "extra"] : col))],
      ["a missing actor", good.map((col, i) => (i === 1 ? [null] : col))],
      ["a missing time", good.map((col, i) => (i === 6 ? [null] : col))],
      ["a missing key", good.map((col, i) => (i === 7 ? [null] : col))],
      ["a NULL column", good.map((col, i) => (i === 0 ? null : col))],
      ["two dimensions", good.map((col, i) => (i === 3 ? [[null]] : col))],
      ["more than 10000", good.map((col) => Array.from({ length: 10_001 }, () => col[0]))],
    ];
    await withClient(db.edgeUrl, async (c) => {
      for (const [what, params] of cases) {
        const err = await errorOf(c.query(COLUMNS_SQL, params));
        expect(err?.code, what).toBe("22023");
      }
      // details must be an object or SQL NULL; a JSON null is refused by the table's CHECK
      const nullJson = good.map((col, i) => (i === 5 ? ["null"] : col));
      expect((await errorOf(c.query(COLUMNS_SQL, nullJson)))?.code).toBe("23514");
      // positive control: the same arrays, well-formed, are stored
      expect((await c.query<{ n: number }>(COLUMNS_SQL, good)).rows[0]!.n).toBe(1);
    });
    const { rows } = await withClient(db.ownerUrl, (c) => c.query<{ n: number }>("SELECT count(*)::int AS n FROM octw.audit_events WHERE tenant = 'shape'"));
    expect(rows[0]!.n).toBe(1);
  });

  it("checks every event type against the calling role, and keeps the unchecked writer the owner's", async () => {
    const ev = (action: string, k: string) => normalizeEvent({ tenant: "grants", actor: "svc", action, idempotencyKey: k });
    await withClient(db.edgeUrl, async (c) => {
      const refused = await errorOf(viaColumns(c, [ev("edge.auth.allowed", "g1"), ev("inference.call", "g2")]));
      expect(refused?.code).toBe("42501");
      expect(refused?.message).toMatch(/may not append inference\.call events/);
      const unchecked = await errorOf(c.query("SELECT octw.append_event_columns_unchecked('{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')"));
      expect(unchecked?.code).toBe("42501");
      expect(await viaColumns(c, [ev("edge.auth.allowed", "g3")])).toBe(1); // positive control
    });
    await withClient(db.shipperUrl, async (c) => {
      expect((await errorOf(viaColumns(c, [ev("egress.approval.approved", "g4")])))?.code).toBe("42501");
      expect(await viaColumns(c, [ev("egress.denied", "g5")])).toBe(1);
    });
    await withClient(db.ownerUrl, async (c) => {
      // the operator (owner) may append any type
      expect(await viaColumns(c, [ev("egress.approval.approved", "g6")])).toBe(1);
      const { rows } = await c.query<{ idempotency_key: string }>("SELECT idempotency_key FROM octw.audit_events WHERE tenant = 'grants' ORDER BY seq");
      expect(rows.map((r) => r.idempotency_key)).toEqual(["g3", "g5", "g6"]);
    });
  });

  it("serialises writers of both entry points per tenant: chains stay one line", async () => {
    const clients = [db.edgeUrl, db.edgeUrl, db.edgeUrl, db.edgeUrl];
    await Promise.all(
      clients.map((url, w) =>
        withClient(url, async (c) => {
          for (let b = 0; b < 8; b++) {
            const batch = Array.from({ length: 40 }, (_, i) => normalizeEvent({ tenant: `race-${(i + b + w) % 3}`, actor: `w${w}`, action: "edge.auth.allowed", idempotencyKey: `w${w}-${b}-${i}` }));
            await (w % 2 === 0 ? viaColumns(c, batch) : viaJsonb(c, batch));
          }
        }),
      ),
    );
    const report = await withClient(db.ownerUrl, (c) => verifyAuditChain(c));
    expect(report.ok).toBe(true);
    const { rows } = await withClient(db.ownerUrl, (c) =>
      c.query<{ n: number; top: number }>("SELECT count(*)::int AS n, max(seq)::int AS top FROM octw.audit_events WHERE tenant LIKE 'race-%' GROUP BY tenant"),
    );
    expect(rows.length).toBe(3);
    for (const r of rows) expect(r.top).toBe(r.n); // seq 1..n, no gap, no fork
    expect(rows.reduce((a, r) => a + r.n, 0)).toBe(4 * 8 * 40);
    const heads = await withClient(db.ownerUrl, (c) => c.query<{ s: number }>("SELECT sum(seq)::int AS s FROM octw.audit_heads WHERE tenant LIKE 'race-%'"));
    expect(heads.rows[0]!.s).toBe(4 * 8 * 40);
  });

  it("PgAuditSink falls back to append_events(jsonb) while the function is missing or not yet granted", async () => {
    const other = await createAuditDb(requirePgUrl());
    try {
      const ev = (k: string) => normalizeEvent({ tenant: "fallback", actor: "edge", action: "edge.auth.allowed", idempotencyKey: k });
      // not granted yet (grants follow migrations): this batch goes through jsonb
      await withClient(other.ownerUrl, (c) => c.query(`REVOKE EXECUTE ON FUNCTION octw.append_event_columns(text[], text[], text[], text[], text[], jsonb[], timestamptz[], text[]) FROM "${other.roles.edge}"`));
      const sink = new PgAuditSink(other.edgeUrl);
      await sink.append([ev("f1")]);
      // a store older than migration 5
      await withClient(other.ownerUrl, (c) => c.query("DROP FUNCTION octw.append_event_columns(text[], text[], text[], text[], text[], jsonb[], timestamptz[], text[])"));
      await sink.append([ev("f2"), ev("f1")]);
      await sink.append([ev("f3")]);
      await sink.close();
      const { rows } = await withClient(other.ownerUrl, (c) => c.query<{ idempotency_key: string }>("SELECT idempotency_key FROM octw.audit_events WHERE tenant = 'fallback' ORDER BY seq"));
      expect(rows.map((r) => r.idempotency_key)).toEqual(["f1", "f2", "f3"]);
      // a refusal that is not about the function itself is not swallowed
      const refusing = new PgAuditSink(db.edgeUrl);
      expect((await errorOf(refusing.append([normalizeEvent({ tenant: "fallback", actor: "edge", action: "inference.call" })])))?.code).toBe("42501");
      await refusing.close();
    } finally {
      await other.drop();
    }
  });

  it("AuditClient writes through append_event_columns (the jsonb function could be gone)", async () => {
    const other = await createAuditDb(requirePgUrl());
    try {
      await withClient(other.ownerUrl, (c) => c.query(`REVOKE EXECUTE ON FUNCTION octw.append_events(jsonb) FROM "${other.roles.router}"`));
      const client = new AuditClient({ connection: other.routerUrl, spoolPath: join(dir, "client.jsonl"), batchSize: 50 });
      await Promise.all(Array.from({ length: 230 }, (_, i) => client.record({ tenant: `t${i % 4}`, actor: "router", action: "inference.call", details: { i }, idempotencyKey: `c-${i}` })));
      await client.close();
      expect(client.stats()).toMatchObject({ direct: 230, spooled: 0 });
      const report = await withClient(other.ownerUrl, (c) => verifyAuditChain(c));
      expect(report.ok).toBe(true);
      expect(report.tenants.map((t) => t.verified)).toEqual([58, 58, 57, 57]);
    } finally {
      await other.drop();
    }
  });
});
