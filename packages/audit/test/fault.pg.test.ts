import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditClient, verifyAuditChain } from "../src/index";
import { createAuditDb, withClient, type TestAuditDb } from "./pg-support";
import { startPrivatePostgres, type PrivatePostgres } from "./private-postgres";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("fault: Postgres stops for several seconds while events are written", () => {
  let server: PrivatePostgres;
  let db: TestAuditDb;
  let dir: string;

  beforeAll(async () => {
    server = await startPrivatePostgres();
    db = await createAuditDb(server.url);
    dir = await mkdtemp(join(tmpdir(), "octw-fault-"));
  });
  afterAll(async () => {
    await db?.drop().catch(() => {});
    await server?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * Writes continuously from one client while `disrupt` runs, then checks that every accepted
   * event is stored exactly once, in recording order per tenant, and that the chains verify.
   */
  async function writeThrough(name: string, disrupt: () => Promise<void>): Promise<{ total: number; stats: ReturnType<AuditClient["stats"]>; errors: number }> {
    const spoolPath = join(dir, `${name}.jsonl`);
    const errors: Error[] = [];
    const client = new AuditClient({ connection: db.shipperUrl, spoolPath, batchSize: 50, batchIntervalMs: 5, retryIntervalMs: 200, onError: (e) => errors.push(e) });
    const tenants = ["alpha", "beta", "gamma"];
    const accepted = new Map<string, string[]>(tenants.map((t) => [t, []]));
    let rejected = 0;
    let n = 0;
    let stop = false;

    const producer = (async () => {
      while (!stop) {
        const round = Array.from({ length: 30 }, () => {
          const i = n++;
          const tenant = tenants[i % 3]!;
          const key = `${name}-${i}`;
          return client
            .record({ tenant, actor: "fault-test", action: "egress.denied", target: `host-${i}`, decision: "denied", idempotencyKey: key, details: { i } })
            .then(() => key, () => (rejected++, null));
        });
        const keys = await Promise.all(round);
        keys.forEach((k) => {
          if (k) accepted.get(tenants[Number(k.slice(name.length + 1)) % 3]!)!.push(k);
        });
        await sleep(5);
      }
    })();

    await sleep(1_000);
    await disrupt();
    await sleep(2_000);
    stop = true;
    await producer;
    await client.close({ drainTimeoutMs: 30_000 });

    const stats = client.stats();
    expect(rejected).toBe(0);
    expect(stats.spoolBytes).toBe(0);
    expect(await readFile(spoolPath, "utf8")).toBe("");

    const total = [...accepted.values()].reduce((a, k) => a + k.length, 0);
    expect(total).toBe(n);
    await withClient(db.ownerUrl, async (c) => {
      const { rows } = await c.query<{ tenant: string; keys: string[] }>(
        "SELECT tenant, array_agg(idempotency_key ORDER BY seq) AS keys FROM octw.audit_events WHERE idempotency_key LIKE $1 GROUP BY tenant ORDER BY tenant",
        [`${name}-%`],
      );
      // Exactly the accepted events, once each, in the order they were recorded, per tenant.
      expect(rows.map((r) => r.tenant)).toEqual(tenants);
      for (const r of rows) expect(r.keys).toEqual(accepted.get(r.tenant));
      const report = await verifyAuditChain(c);
      expect(report.firstBroken).toBeNull();
      const stored = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM octw.audit_events");
      expect(report.tenants.reduce((a, t) => a + t.verified, 0)).toBe(stored.rows[0]!.n);
    });
    console.log(`fault ${name}: ${total} events accepted, stats ${JSON.stringify(stats)}, ${errors.length} errors handled`);
    return { total, stats, errors: errors.length };
  }

  it("survives a clean stop (pg_ctl -m fast) of several seconds", async () => {
    let during = 0;
    const r = await writeThrough("fast", async () => {
      await server.stop("fast");
      const t0 = Date.now();
      await sleep(4_000); // several seconds without Postgres; the producer keeps going
      during = Date.now() - t0;
      await server.start();
    });
    // Positive controls: the outage really happened and really went through the spool.
    expect(during).toBeGreaterThanOrEqual(3_900); // timers may fire a millisecond early
    expect(r.stats.spooled).toBeGreaterThan(100);
    expect(r.stats.replayed).toBeGreaterThanOrEqual(r.stats.spooled);
    expect(r.errors).toBeGreaterThan(0);
  });

  it("survives a crash (pg_ctl -m immediate: commits may be acknowledged to nobody)", async () => {
    const r = await writeThrough("crash", async () => {
      await server.stop("immediate");
      await sleep(3_000);
      await server.start();
    });
    expect(r.stats.spooled).toBeGreaterThan(100);
    expect(r.stats.replayed).toBeGreaterThanOrEqual(r.stats.spooled);
  });

  it("survives its connections being killed again and again", async () => {
    const r = await writeThrough("kill", async () => {
      for (let i = 0; i < 8; i++) {
        await withClient(db.superUrl, (c) =>
          c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [db.roles.shipper]),
        );
        await sleep(250);
      }
    });
    expect(r.errors).toBeGreaterThan(0);
    expect(r.total).toBeGreaterThan(0);
  });
});
