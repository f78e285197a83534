/**
 * `npm run bench:audit` — sustained audit throughput vs. the same server's raw insert rate.
 *
 *  1. raw:   a plain single-row INSERT loop (autocommit, one connection, no chain) into a
 *            table with the same columns — what a naive "one INSERT per event" writer gets.
 *  2. audit: AuditClient with batching and the per-tenant SHA-256 hash chain computed in
 *            Postgres, fed by many concurrent record() callers, for the same duration — once
 *            on a database whose audit_events CHECKs are put back as they were before
 *            migration 4 ("before"), once without migration 5's append_event_columns (the
 *            client falls back to append_events(jsonb), as every client did before it), once
 *            on the current schema.
 * Then checks that every accepted event is stored exactly once and every chain verifies.
 *  3. verify: builds one chain of OCTW_BENCH_VERIFY_EVENTS events (default 1,000,000; 0 skips)
 *            through append_events and times verifyAuditChain over it (target: ≤ 10 s).
 * Needs OCTW_TEST_PG_URL (a superuser URL; scripts/test-env.sh writes it). Not a test.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { AuditClient, verifyAuditChain } from "../../src/index";
import { createAuditDb, requirePgUrl, withClient } from "../pg-support";

const seconds = Number(process.env.OCTW_BENCH_SECONDS ?? "5");
const tenants = Number(process.env.OCTW_BENCH_TENANTS ?? "8");
const batchSize = Number(process.env.OCTW_BENCH_BATCH ?? "500");
const verifyEvents = Number(process.env.OCTW_BENCH_VERIFY_EVENTS ?? "1000000");
if (!(seconds > 0) || !(tenants > 0) || !(batchSize > 0)) throw new Error("OCTW_BENCH_SECONDS, OCTW_BENCH_TENANTS, OCTW_BENCH_BATCH: must be positive numbers");

const details = (i: number) => ({ route: "/v1/chat", method: "POST", status: 200, clientIp: "10.64.0.2", i });

async function rawInsertRate(url: string, role: string): Promise<{ rows: number; perSecond: number; cpuMs: number | null }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`CREATE TABLE bench_raw (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant text NOT NULL, time timestamptz NOT NULL,
      actor text NOT NULL, action text NOT NULL, target text, decision text, details jsonb,
      idempotency_key text NOT NULL, UNIQUE (tenant, idempotency_key))`);
    const end = Date.now() + seconds * 1000;
    const start = process.hrtime.bigint();
    const cpu0 = backendCpuMs(role);
    let n = 0;
    while (Date.now() < end) {
      await c.query(
        "INSERT INTO bench_raw (tenant, time, actor, action, target, decision, details, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [`tenant-${n % tenants}`, new Date().toISOString(), "bench", "edge.auth.allowed", "/v1/chat", "allowed", JSON.stringify(details(n)), `raw-${n}`],
      );
      n++;
    }
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu1 = backendCpuMs(role);
    const { rows } = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM bench_raw");
    if (rows[0]!.n !== n) throw new Error(`raw baseline lost rows: ${n} inserted, ${rows[0]!.n} stored`);
    return { rows: n, perSecond: n / elapsed, cpuMs: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0 };
  } finally {
    await c.end();
  }
}

async function auditRate(writerUrl: string, role: string, spoolDir: string, name: string, action = "edge.auth.allowed"): Promise<{ accepted: number; perSecond: number; stats: ReturnType<AuditClient["stats"]>; cpuMs: number | null; writerCpuMs: number }> {
  const client = new AuditClient({ connection: writerUrl, spoolPath: join(spoolDir, `${name}.jsonl`), batchSize, maxBuffered: batchSize * 8 });
  let accepted = 0;
  let next = 0;
  const state: { failed: Error | null } = { failed: null };
  const end = Date.now() + seconds * 1000;
  const start = process.hrtime.bigint();
  const writer0 = process.cpuUsage();
  // Many concurrent callers, like request handlers of the edge; record() applies back-pressure.
  const workers = Array.from({ length: batchSize * 4 }, async () => {
    while (Date.now() < end && state.failed === null) {
      const i = next++;
      try {
        await client.record({ tenant: `tenant-${i % tenants}`, actor: "bench", action, target: "/v1/chat", decision: "allowed", details: details(i), idempotencyKey: `${name}-${i}` });
        accepted++;
      } catch (err) {
        state.failed = err instanceof Error ? err : new Error(String(err));
      }
    }
  });
  await Promise.all(workers);
  await client.flush();
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const writer = process.cpuUsage(writer0);
  // Before close(): the pool's backends exit with it.
  const cpu = backendCpuMs(role);
  await client.close();
  if (state.failed) throw state.failed;
  return { accepted, perSecond: accepted / elapsed, stats: client.stats(), cpuMs: cpu, writerCpuMs: (writer.user + writer.system) / 1000 };
}

/** What migration 4 changed for speed, put back as migrations 1-3 left it. */
const SCHEMA_BEFORE_M4 = `ALTER FUNCTION octw.append_events_unchecked(jsonb) RESET plan_cache_mode;
ALTER TABLE octw.audit_events
  DROP CONSTRAINT audit_events_tenant_check,
  ADD CONSTRAINT audit_events_tenant_check CHECK (tenant ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
  DROP CONSTRAINT audit_events_idempotency_key_check,
  ADD CONSTRAINT audit_events_idempotency_key_check CHECK (idempotency_key ~ '^[A-Za-z0-9._:-]{1,200}$')`;

/** Migration 5 taken out: AuditClient then sends one jsonb to append_events, as before it. */
const SCHEMA_BEFORE_M5 = "DROP FUNCTION octw.append_event_columns(text[], text[], text[], text[], text[], jsonb[], timestamptz[], text[])";

async function storedAndVerified(ownerUrl: string): Promise<{ stored: number; distinct: number; report: Awaited<ReturnType<typeof verifyAuditChain>> }> {
  return withClient(ownerUrl, async (c) => {
    const { rows } = await c.query<{ n: number; distinct: number }>(
      "SELECT count(*)::int AS n, count(DISTINCT (tenant, idempotency_key))::int AS distinct FROM octw.audit_events",
    );
    const report = await verifyAuditChain(c);
    return { stored: rows[0]!.n, distinct: rows[0]!.distinct, report };
  });
}

/** One chain of `n` events, appended through append_events in batches of 10 000; then verified. */
async function verifyRate(n: number): Promise<{ appendPerSecond: number; verifySeconds: number; clientCpuSeconds: number; serverCpuSeconds: number | null; ok: boolean; verified: number; rssGrowthMb: number }> {
  const db = await createAuditDb(requirePgUrl());
  try {
    return await withClient(db.ownerUrl, async (c) => {
      const t0 = process.hrtime.bigint();
      for (let from = 0; from < n; from += 10_000) {
        const events = Array.from({ length: Math.min(10_000, n - from) }, (_, j) => ({
          tenant: "long-chain", actor: "bench", action: "edge.auth.allowed", target: "/v1/chat", decision: "allowed",
          details: details(from + j), time: new Date().toISOString(), idempotencyKey: `v-${from + j}`,
        }));
        await c.query("SELECT octw.append_events($1::jsonb)", [JSON.stringify(events)]);
      }
      const appendSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const t1 = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      const server0 = backendCpuMs(db.roles.owner);
      // Resident memory while verify runs, sampled: flat (two pages) if it streams, growing with n if not.
      const rss0 = process.memoryUsage.rss();
      let rssPeak = rss0;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 25);
      const report = await verifyAuditChain(c);
      clearInterval(sampler);
      const verifySeconds = Number(process.hrtime.bigint() - t1) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      const server1 = backendCpuMs(db.roles.owner);
      return {
        appendPerSecond: n / appendSeconds,
        verifySeconds,
        clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
        serverCpuSeconds: server0 === null || server1 === null ? null : (server1 - server0) / 1000,
        ok: report.ok,
        verified: report.tenants.reduce((a, t) => a + t.verified, 0),
        rssGrowthMb: (rssPeak - rss0) / 2 ** 20,
      };
    });
  } finally {
    await db.drop();
  }
}

const load = () => loadavg()[0]!.toFixed(2);

/**
 * CPU time (ms) used so far by the Postgres backends of `role`, read from /proc — possible when
 * the server runs on this machine (the test environment's container does). On a loaded machine
 * events/s mostly says how much CPU the backend was given; CPU per event says what it costs.
 */
function backendCpuMs(role: string): number | null {
  try {
    let ms = 0;
    let found = 0;
    for (const line of execFileSync("ps", ["-eo", "pid,args"]).toString().split("\n")) {
      // "postgres: [cluster: ]<role> <database> <client> <state>"
      if (!line.includes("postgres: ") || !line.includes(` ${role} `)) continue;
      const f = readFileSync(`/proc/${line.trim().split(/\s+/)[0]}/stat`, "utf8").split(") ")[1]!.split(" ");
      // utime and stime, in clock ticks of 10 ms.
      ms += (Number(f[11]) + Number(f[12])) * 10;
      found++;
    }
    return found > 0 ? ms : null;
  } catch {
    return null;
  }
}

function perEvent(cpuMs: number | null, events: number): string {
  return cpuMs === null ? "server CPU n/a" : `server CPU ${((cpuMs * 1000) / events).toFixed(1)} µs/event`;
}

async function main(): Promise<void> {
  const base = requirePgUrl();
  const before = await createAuditDb(base);
  const beforeM5 = await createAuditDb(base);
  const db = await createAuditDb(base);
  const spoolDir = await mkdtemp(join(tmpdir(), "octw-bench-"));
  let pass = true;
  try {
    await withClient(before.ownerUrl, (c) => c.query(SCHEMA_BEFORE_M4));
    await withClient(beforeM5.ownerUrl, (c) => c.query(SCHEMA_BEFORE_M5));
    const { rows: settings } = await withClient(db.ownerUrl, (c) =>
      c.query<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'server_version') ORDER BY name"),
    );
    console.log(`server: ${settings.map((s) => `${s.name}=${s.setting}`).join(", ")}; ${seconds}s per run, ${tenants} tenants, batch ${batchSize}`);
    console.log(`load average (1 min) at start: ${load()} on 2 CPUs`);
    const raw = await rawInsertRate(db.ownerUrl, db.roles.owner);
    console.log(`raw single-row INSERT (autocommit, 1 connection):      ${raw.rows} rows, ${raw.perSecond.toFixed(0)} rows/s, ${perEvent(raw.cpuMs, raw.rows)}  (load ${load()})`);
    const old = await auditRate(before.edgeUrl, before.roles.edge, spoolDir, "before");
    console.log(`AuditClient, schema before migration 4 (hash-chained):  ${old.accepted} events, ${old.perSecond.toFixed(0)} events/s, ${perEvent(old.cpuMs, old.accepted)}  (direct ${old.stats.direct}, spooled ${old.stats.spooled}; load ${load()})`);
    const m5 = await auditRate(beforeM5.edgeUrl, beforeM5.roles.edge, spoolDir, "before-m5");
    console.log(`AuditClient, schema before migration 5 (jsonb):        ${m5.accepted} events, ${m5.perSecond.toFixed(0)} events/s, ${perEvent(m5.cpuMs, m5.accepted)}  (direct ${m5.stats.direct}, spooled ${m5.stats.spooled}; load ${load()})`);
    const audit = await auditRate(db.edgeUrl, db.roles.edge, spoolDir, "now");
    console.log(`AuditClient, current schema (hash-chained):             ${audit.accepted} events, ${audit.perSecond.toFixed(0)} events/s, ${perEvent(audit.cpuMs, audit.accepted)}  (direct ${audit.stats.direct}, spooled ${audit.stats.spooled}; load ${load()})`);
    // A fleet: the three services write at once, each with its own client and role, into the
    // same tenants' chains (so their batches contend for the same chain heads).
    const fleet = await createAuditDb(base);
    try {
      const services = [
        ["edge", fleet.edgeUrl, fleet.roles.edge, "edge.auth.allowed"],
        ["router", fleet.routerUrl, fleet.roles.router, "inference.call"],
        ["shipper", fleet.shipperUrl, fleet.roles.shipper, "egress.denied"],
      ] as const;
      const rs = await Promise.all(services.map(([name, url, role, action]) => auditRate(url, role, spoolDir, `fleet-${name}`, action)));
      const accepted = rs.reduce((a, r) => a + r.accepted, 0);
      const perSecond = rs.reduce((a, r) => a + r.perSecond, 0);
      const cpu = rs.every((r) => r.cpuMs !== null) ? rs.reduce((a, r) => a + r.cpuMs!, 0) : null;
      console.log(`3 services at once (edge, router, shipper clients):     ${accepted} events, ${perSecond.toFixed(0)} events/s, ${perEvent(cpu, accepted)}  (load ${load()})`);
      console.log(`summary: hash-chained events/s, 3 services at once | ${perSecond.toFixed(0)} | raw single-row ${raw.perSecond.toFixed(0)} | ${(perSecond / raw.perSecond).toFixed(2)} | ≥ 50000 events/s`);
      const check = await storedAndVerified(fleet.ownerUrl);
      console.log(`fleet: stored ${check.stored}, lost ${accepted - check.stored}, chains ${check.report.ok ? "verify" : "BROKEN"}`);
      pass &&= check.stored === accepted && check.distinct === check.stored && check.report.ok;
    } finally {
      await fleet.drop();
    }
    // On this shared machine events/s says how much CPU the run was given; CPU per event says
    // what an event costs, so what one dedicated core each for Postgres and the writer would carry.
    if (audit.cpuMs !== null) {
      const [pgUs, writerUs] = [(audit.cpuMs * 1000) / audit.accepted, (audit.writerCpuMs * 1000) / audit.accepted];
      console.log(`current schema, CPU per event: Postgres ${pgUs.toFixed(1)} µs + writer process (callers, AuditClient, pg) ${writerUs.toFixed(1)} µs; one dedicated core for Postgres carries ${(1e6 / pgUs).toFixed(0)} events/s`);
      console.log(`summary: hash-chained events per Postgres CPU-second, current schema | ${(1e6 / pgUs).toFixed(0)} | writer ${writerUs.toFixed(1)} µs/event | – | ≥ 50000 events/s`);
      if (m5.cpuMs !== null) {
        const [pgM5, writerM5] = [(m5.cpuMs * 1000) / m5.accepted, (m5.writerCpuMs * 1000) / m5.accepted];
        console.log(`before migration 5, CPU per event: Postgres ${pgM5.toFixed(1)} µs + writer process ${writerM5.toFixed(1)} µs; one dedicated core for Postgres carries ${(1e6 / pgM5).toFixed(0)} events/s`);
      }
    }
    const ratio = audit.perSecond / raw.perSecond;
    console.log(`ratios: current / raw ${ratio.toFixed(2)}x, before / raw ${(old.perSecond / raw.perSecond).toFixed(2)}x, current / before ${(audit.perSecond / old.perSecond).toFixed(2)}x (target: 50000 events/s)`);

    // For `npm run bench` (bench/run-all.ts): what | value | baseline | ratio | target.
    const cpuOf = (r: { cpuMs: number | null; accepted: number }) => (r.cpuMs === null ? "n/a" : `${((r.cpuMs * 1000) / r.accepted).toFixed(1)} µs`);
    console.log(`summary: hash-chained events/s, current schema | ${audit.perSecond.toFixed(0)} | raw single-row ${raw.perSecond.toFixed(0)} | ${ratio.toFixed(2)} | ≥ 50000 events/s`);
    console.log(`summary: hash-chained events/s, current vs before migration 4 | ${audit.perSecond.toFixed(0)} | ${old.perSecond.toFixed(0)} | ${(audit.perSecond / old.perSecond).toFixed(2)} | –`);
    console.log(`summary: Postgres CPU per event, current vs before migration 4 | ${cpuOf(audit)} | ${cpuOf(old)} | ${audit.cpuMs !== null && old.cpuMs !== null ? ((audit.cpuMs / audit.accepted) / (old.cpuMs / old.accepted)).toFixed(2) : "n/a"} | –`);
    console.log(`summary: hash-chained events/s, current vs before migration 5 | ${audit.perSecond.toFixed(0)} | ${m5.perSecond.toFixed(0)} | ${(audit.perSecond / m5.perSecond).toFixed(2)} | –`);
    console.log(`summary: Postgres CPU per event, current vs before migration 5 | ${cpuOf(audit)} | ${cpuOf(m5)} | ${audit.cpuMs !== null && m5.cpuMs !== null ? ((audit.cpuMs / audit.accepted) / (m5.cpuMs / m5.accepted)).toFixed(2) : "n/a"} | –`);
    for (const [name, url, accepted] of [["before", before.ownerUrl, old.accepted], ["before-m5", beforeM5.ownerUrl, m5.accepted], ["current", db.ownerUrl, audit.accepted]] as const) {
      const check = await storedAndVerified(url);
      const lost = accepted - check.stored;
      console.log(`${name}: stored ${check.stored} (distinct ${check.distinct}), lost ${lost}, chains ${check.report.ok ? "verify" : `BROKEN at ${JSON.stringify(check.report.firstBroken)}`}`);
      pass &&= lost === 0 && check.distinct === check.stored && check.report.ok;
    }
    pass &&= ratio >= 1;

    if (verifyEvents > 0) {
      const v = await verifyRate(verifyEvents);
      console.log(
        `verify: one chain of ${v.verified} events (appended at ${v.appendPerSecond.toFixed(0)} events/s in batches of 10000) verified in ${v.verifySeconds.toFixed(2)} s = ${(v.verified / v.verifySeconds).toFixed(0)} events/s, ${v.ok ? "intact" : "BROKEN"}; CPU: this process ${v.clientCpuSeconds.toFixed(2)} s, Postgres ${v.serverCpuSeconds === null ? "n/a" : `${v.serverCpuSeconds.toFixed(2)} s`}; resident memory grew at most ${v.rssGrowthMb.toFixed(0)} MiB (target: 1,000,000 in ≤ 10 s; load ${load()})`,
      );
      console.log(`summary: verify ${v.verified} events | ${v.verifySeconds.toFixed(2)} s | – | – | ≤ 10 s per 1000000`);
      pass &&= v.ok && v.verified === verifyEvents;
    }
    console.log(pass ? "no event lost, every chain verifies" : "FAILED: see above");
    if (!pass) process.exitCode = 1;
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
    await db.drop();
    await beforeM5.drop();
    await before.drop();
  }
}

await main();
