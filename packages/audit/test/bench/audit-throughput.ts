/**
 * `npm run bench:audit` — sustained audit throughput vs. the same server's raw insert rate.
 *
 *  1. raw:   a plain single-row INSERT loop (autocommit, one connection, no chain) into a
 *            table with the same columns — what a naive "one INSERT per event" writer gets.
 *  2. audit: AuditClient with batching and the per-tenant SHA-256 hash chain computed in
 *            Postgres, fed by many concurrent record() callers, for the same duration.
 * Then checks that every accepted event is stored exactly once and every chain verifies.
 * Needs OCTW_TEST_PG_URL (a superuser URL; scripts/test-env.sh writes it). Not a test.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { AuditClient, verifyAuditChain } from "../../src/index";
import { createAuditDb, requirePgUrl, withClient } from "../pg-support";

const seconds = Number(process.env.OCTW_BENCH_SECONDS ?? "5");
const tenants = Number(process.env.OCTW_BENCH_TENANTS ?? "8");
const batchSize = Number(process.env.OCTW_BENCH_BATCH ?? "500");
if (!(seconds > 0) || !(tenants > 0) || !(batchSize > 0)) throw new Error("OCTW_BENCH_SECONDS, OCTW_BENCH_TENANTS, OCTW_BENCH_BATCH: must be positive numbers");

const details = (i: number) => ({ route: "/v1/chat", method: "POST", status: 200, clientIp: "10.64.0.2", i });

async function rawInsertRate(url: string): Promise<{ rows: number; perSecond: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`CREATE TABLE bench_raw (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant text NOT NULL, time timestamptz NOT NULL,
      actor text NOT NULL, action text NOT NULL, target text, decision text, details jsonb,
      idempotency_key text NOT NULL, UNIQUE (tenant, idempotency_key))`);
    const end = Date.now() + seconds * 1000;
    const start = process.hrtime.bigint();
    let n = 0;
    while (Date.now() < end) {
      await c.query(
        "INSERT INTO bench_raw (tenant, time, actor, action, target, decision, details, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [`tenant-${n % tenants}`, new Date().toISOString(), "bench", "edge.auth.allowed", "/v1/chat", "allowed", JSON.stringify(details(n)), `raw-${n}`],
      );
      n++;
    }
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const { rows } = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM bench_raw");
    if (rows[0]!.n !== n) throw new Error(`raw baseline lost rows: ${n} inserted, ${rows[0]!.n} stored`);
    return { rows: n, perSecond: n / elapsed };
  } finally {
    await c.end();
  }
}

async function auditRate(writerUrl: string, spoolDir: string): Promise<{ accepted: number; perSecond: number; stats: ReturnType<AuditClient["stats"]> }> {
  const client = new AuditClient({ connection: writerUrl, spoolPath: join(spoolDir, "bench.jsonl"), batchSize, maxBuffered: batchSize * 8 });
  let accepted = 0;
  let next = 0;
  const state: { failed: Error | null } = { failed: null };
  const end = Date.now() + seconds * 1000;
  const start = process.hrtime.bigint();
  // Many concurrent callers, like request handlers of the edge; record() applies back-pressure.
  const workers = Array.from({ length: batchSize * 4 }, async () => {
    while (Date.now() < end && state.failed === null) {
      const i = next++;
      try {
        await client.record({ tenant: `tenant-${i % tenants}`, actor: "bench", action: "edge.auth.allowed", target: "/v1/chat", decision: "allowed", details: details(i), idempotencyKey: `ev-${i}` });
        accepted++;
      } catch (err) {
        state.failed = err instanceof Error ? err : new Error(String(err));
      }
    }
  });
  await Promise.all(workers);
  await client.flush();
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  await client.close();
  if (state.failed) throw state.failed;
  return { accepted, perSecond: accepted / elapsed, stats: client.stats() };
}

async function main(): Promise<void> {
  const base = requirePgUrl();
  const db = await createAuditDb(base);
  const spoolDir = await mkdtemp(join(tmpdir(), "octw-bench-"));
  try {
    const { rows: settings } = await withClient(db.ownerUrl, (c) =>
      c.query<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'server_version') ORDER BY name"),
    );
    console.log(`server: ${settings.map((s) => `${s.name}=${s.setting}`).join(", ")}; ${seconds}s per run, ${tenants} tenants, batch ${batchSize}`);
    const raw = await rawInsertRate(db.ownerUrl);
    console.log(`raw single-row INSERT (autocommit, 1 connection): ${raw.rows} rows, ${raw.perSecond.toFixed(0)} rows/s`);
    const audit = await auditRate(db.edgeUrl, spoolDir);
    console.log(`AuditClient (batched, hash-chained):            ${audit.accepted} events, ${audit.perSecond.toFixed(0)} events/s  (direct ${audit.stats.direct}, spooled ${audit.stats.spooled})`);
    const ratio = audit.perSecond / raw.perSecond;
    console.log(`ratio audit / raw: ${ratio.toFixed(2)}x`);

    const check = await withClient(db.ownerUrl, async (c) => {
      const { rows } = await c.query<{ n: number; distinct: number }>(
        "SELECT count(*)::int AS n, count(DISTINCT (tenant, idempotency_key))::int AS distinct FROM octw.audit_events",
      );
      const report = await verifyAuditChain(c);
      return { stored: rows[0]!.n, distinct: rows[0]!.distinct, report };
    });
    const lost = audit.accepted - check.stored;
    console.log(`stored ${check.stored} (distinct ${check.distinct}), lost ${lost}, chains ${check.report.ok ? "verify" : `BROKEN at ${JSON.stringify(check.report.firstBroken)}`}`);
    const pass = lost === 0 && check.distinct === check.stored && check.report.ok && ratio >= 1;
    console.log(pass ? "target met: at least the raw single-row rate, no event lost" : "TARGET NOT MET");
    if (!pass) process.exitCode = 1;
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
    await db.drop();
  }
}

await main();
