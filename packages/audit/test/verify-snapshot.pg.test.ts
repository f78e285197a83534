import type pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { normalizeEvent, verifyAuditChain } from "../src/index";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "./pg-support";

// `octw audit verify` of a long chain runs for seconds while the services keep appending. It
// reads the chains and heads in one snapshot, so an append that commits in between is not
// reported as a broken chain (the head would be ahead of the rows walked), and it reads one
// consistent prefix of every chain.

const append = (c: pg.ClientBase, tenant: string, keys: string[]) =>
  c.query("SELECT octw.append_events($1::jsonb)", [JSON.stringify(keys.map((k) => normalizeEvent({ tenant, actor: "router", action: "inference.call", idempotencyKey: k })))]);

describe("verify reads one snapshot", () => {
  let db: TestAuditDb;
  beforeEach(async () => {
    db = await createAuditDb(requirePgUrl());
    await withClient(db.routerUrl, (c) => append(c, "busy", Array.from({ length: 30 }, (_, i) => `k-${i}`)));
  });
  afterEach(async () => {
    await db?.drop();
  });

  /**
   * A connection that, the first time verify reads the busy tenant's head, first lets another
   * writer append to that chain and waits for the commit — the worst moment for it to happen.
   */
  function appendingBeforeHeadRead(c: pg.Client, writer: pg.Client): { db: Pick<pg.ClientBase, "query">; appended: () => boolean } {
    let done = false;
    const db = {
      query: async (text: string, values?: unknown[]) => {
        if (!done && /FROM octw\.audit_heads WHERE tenant = \$1/.test(text)) {
          done = true;
          await append(writer, "busy", ["late-1", "late-2"]);
        }
        return c.query(text, values);
      },
    } as Pick<pg.ClientBase, "query">;
    return { db, appended: () => done };
  }

  it("an append committed while verify runs is not a broken chain", async () => {
    await withClient(db.routerUrl, (writer) =>
      withClient(db.ownerUrl, async (c) => {
        const probe = appendingBeforeHeadRead(c, writer);
        const report = await verifyAuditChain(probe.db, { pageSize: 7 });
        expect(probe.appended()).toBe(true);
        expect(report.firstBroken).toBeNull();
        // The snapshot was taken before the late append: exactly the 30 events that were there.
        expect(report.tenants).toEqual([{ tenant: "busy", verified: 30, broken: null }]);
      }),
    );
  });

  it("the late events were stored and verify sees them next time (control: the append really happened)", async () => {
    await withClient(db.routerUrl, (writer) =>
      withClient(db.ownerUrl, async (c) => {
        await verifyAuditChain(appendingBeforeHeadRead(c, writer).db);
        const again = await verifyAuditChain(c);
        expect(again.ok).toBe(true);
        expect(again.tenants).toEqual([{ tenant: "busy", verified: 32, broken: null }]);
      }),
    );
  });

  it("still reports a deleted tail within the snapshot (control: the head is compared)", async () => {
    await withClient(db.superUrl, async (c) => {
      await c.query("SET session_replication_role = replica");
      await c.query("DELETE FROM octw.audit_events WHERE tenant = 'busy' AND seq > 28");
    });
    await withClient(db.ownerUrl, async (c) => {
      expect((await verifyAuditChain(c)).firstBroken).toMatchObject({ tenant: "busy", reason: "head-mismatch" });
    });
  });
});
