// Concurrent writers never fork a chain: whatever mix of writers, tenants and batch sizes
// append at the same time, every tenant's chain is one line (seq 1..n, each row pointing at
// its predecessor), it verifies, every event is stored once, and each writer's events of a
// tenant keep the order that writer sent them in.
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeEvent, verifyAuditChain, type NormalizedEvent } from "../src/index";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "./pg-support";

let db: TestAuditDb;
let run = 0;
beforeAll(async () => {
  db = await createAuditDb(requirePgUrl());
});
afterAll(async () => {
  await db?.drop();
});

const plan = fc.record({
  tenants: fc.integer({ min: 1, max: 3 }),
  writers: fc.array(
    fc.record({
      // Each writer sends these batch sizes, one after the other; every event goes to tenant (i % tenants).
      batches: fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 5 }),
      tenantShift: fc.nat({ max: 2 }),
    }),
    { minLength: 2, maxLength: 4 },
  ),
});

describe("concurrent writers", () => {
  it("never fork a chain (property)", async () => {
    await fc.assert(
      fc.asyncProperty(plan, async ({ tenants, writers }) => {
        const r = run++;
        const tenantOf = (i: number, shift: number) => `run${r}-t${(i + shift) % tenants}`;
        const sent: NormalizedEvent[][] = writers.map((w, wi) => {
          const all: NormalizedEvent[] = [];
          let i = 0;
          for (const size of w.batches) for (let j = 0; j < size; j++, i++) all.push(normalizeEvent({ tenant: tenantOf(i, w.tenantShift), actor: `w${wi}`, action: "inference.call", details: { i }, idempotencyKey: `r${r}-w${wi}-${i}` }));
          return all;
        });
        const clients = await Promise.all(writers.map(async () => {
          const c = new pg.Client({ connectionString: db.routerUrl });
          await c.connect();
          return c;
        }));
        try {
          await Promise.all(
            writers.map(async (w, wi) => {
              let at = 0;
              for (const size of w.batches) {
                await clients[wi]!.query("SELECT octw.append_events($1::jsonb)", [JSON.stringify(sent[wi]!.slice(at, at + size))]);
                at += size;
              }
            }),
          );
        } finally {
          await Promise.all(clients.map((c) => c.end()));
        }
        await withClient(db.ownerUrl, async (c) => {
          const { rows } = await c.query<{ tenant: string; seq: string; actor: string; key: string; linked: boolean }>(
            `SELECT tenant, seq::text AS seq, actor, idempotency_key AS key,
                    prev_hash = coalesce(lag(hash) OVER (PARTITION BY tenant ORDER BY seq), '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) AS linked
               FROM octw.audit_events WHERE tenant LIKE $1 ORDER BY tenant, audit_events.seq`,
            [`run${r}-%`],
          );
          const expected = sent.flat();
          expect(rows).toHaveLength(expected.length);
          expect(new Set(rows.map((x) => x.key)).size).toBe(expected.length);
          const byTenant = new Map<string, typeof rows>();
          for (const row of rows) byTenant.set(row.tenant, [...(byTenant.get(row.tenant) ?? []), row]);
          for (const [tenant, chain] of byTenant) {
            // One line: seq 1..n without gap or repeat, every row linked to the one before.
            expect(chain.map((x) => Number(x.seq))).toEqual(chain.map((_, i) => i + 1));
            expect(chain.every((x) => x.linked)).toBe(true);
            // Each writer's order within the tenant is kept.
            for (let wi = 0; wi < writers.length; wi++) {
              expect(chain.filter((x) => x.actor === `w${wi}`).map((x) => x.key)).toEqual(sent[wi]!.filter((e) => e.tenant === tenant).map((e) => e.idempotencyKey));
            }
            const report = await verifyAuditChain(c, { tenant });
            expect(report.ok).toBe(true);
          }
        });
      }),
      { numRuns: 12 },
    );
  });

  it("the linkage check above notices a forked chain (control)", async () => {
    // A fork as a superuser could forge it (triggers off): two rows claim the same predecessor.
    await withClient(db.ownerUrl, (c) =>
      c.query("SELECT octw.append_events($1::jsonb)", [JSON.stringify([1, 2].map((i) => normalizeEvent({ tenant: "forked", actor: "w", action: "inference.call", idempotencyKey: `f-${i}` })))]),
    );
    await withClient(db.superUrl, (c) => c.query("SET session_replication_role = replica; UPDATE octw.audit_events SET prev_hash = (SELECT prev_hash FROM octw.audit_events WHERE tenant = 'forked' AND seq = 1) WHERE tenant = 'forked' AND seq = 2"));
    await withClient(db.ownerUrl, async (c) => {
      const { rows } = await c.query<{ linked: boolean }>(
        `SELECT prev_hash = coalesce(lag(hash) OVER (PARTITION BY tenant ORDER BY seq), '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) AS linked
           FROM octw.audit_events WHERE tenant = 'forked' ORDER BY seq`,
      );
      expect(rows.map((x) => x.linked)).toEqual([true, false]);
      expect((await verifyAuditChain(c, { tenant: "forked" })).ok).toBe(false);
    });
  });
});
