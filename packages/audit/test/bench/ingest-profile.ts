/**
 * Scratch profiler for the chain writer (not a test, not part of npm run bench): runs 10 000-event
 * batches through a function on a fresh audit database and reports the backend's CPU per event
 * (from /proc/<pid>/schedstat, ns resolution), for the real function and for variants that each
 * take one part out ("a+b" combines the setups of a with one of the table variants listed below).
 * Usage (OCTW_TEST_PG_URL set, Postgres on this machine):
 *   npx tsx packages/audit/test/bench/ingest-profile.ts [variant ...]
 * PROF_BATCH (10000), PROF_BATCHES (12), PROF_WARMUP (2); PROF_PERF=<file prefix> records the
 * backend with `perf record` while the measured batches run (PROF_PERF_G=dwarf,16384 for call graphs).
 * Run variants alternately and more than once: on the shared machine CPU per event moves by ±1 µs.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import pg from "pg";
import { eventColumns } from "../../src/client";
import { migrations } from "../../src/migrations";
import { createAuditDb, requirePgUrl } from "../pg-support";

const BATCH = Number(process.env.PROF_BATCH ?? "10000");
const BATCHES = Number(process.env.PROF_BATCHES ?? "12");
const WARMUP = Number(process.env.PROF_WARMUP ?? "2");
const TENANTS = 8;

const details = (i: number) => ({ route: "/v1/chat", method: "POST", status: 200, clientIp: "10.64.0.2", i });

function batch(from: number, withDetails = true) {
  return Array.from({ length: BATCH }, (_, j) => ({
    tenant: `tenant-${(from + j) % TENANTS}`,
    actor: "bench",
    action: "edge.auth.allowed",
    target: "/v1/chat",
    decision: "allowed",
    details: withDetails ? details(from + j) : null,
    time: new Date(Date.UTC(2026, 10, 30, 12, 0, 0, (from + j) % 1000)).toISOString(),
    idempotencyKey: `p-${from + j}`,
  }));
}

function cpuNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
}

interface Variant {
  /** SQL run (as superuser) on the fresh database before measuring. */
  setup?: string;
  /** The statement measured; $1 is the batch. */
  call?: string;
  /** Builds the parameter(s) from a batch. */
  params?: (events: ReturnType<typeof batch>) => unknown[];
  withDetails?: boolean;
  /** false: the call stores nothing, so batch numbers can repeat. */
  stores?: boolean;
  /** Stores fewer rows than it is sent (replays): the stored count is not checked. */
  countless?: boolean;
}

/** The body of migration 1's append_events, with switches to take parts out. */
function body(o: {
  existsCheck?: boolean;
  dedup?: "full" | "distinct-only" | "none";
  hash?: "full" | "no-sha" | "none";
  arrays?: boolean;
  insert?: boolean;
  heads?: boolean;
}): string {
  const { existsCheck = true, dedup = "full", hash = "full", arrays = true, insert = true, heads = true } = o;
  const enc = `convert_to(
            octw.chain_field('octw.audit.v1')
         || octw.chain_field(t)
         || octw.chain_field(s::text)
         || octw.chain_field(to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
         || octw.chain_field(e->>'actor')
         || octw.chain_field(e->>'action')
         || octw.chain_field(e->>'target')
         || octw.chain_field(e->>'decision')
         || octw.chain_field(det::text)
         || octw.chain_field(k), 'UTF8')`;
  const nh = hash === "full" ? `sha256(prev || ${enc})` : hash === "no-sha" ? `substr(prev || ${enc}, 1, 32)` : "prev";
  const fresh =
    dedup === "none"
      ? `SELECT coalesce(array_agg(x.value ORDER BY x.value->>'tenant', x.ord), '{}') INTO fresh FROM jsonb_array_elements(events) WITH ORDINALITY AS x(value, ord);`
      : `SELECT coalesce(array_agg(d.value ORDER BY d.value->>'tenant', d.ord), '{}') INTO fresh
    FROM (SELECT DISTINCT ON (x.value->>'tenant', x.value->>'idempotencyKey') x.value, x.ord
            FROM jsonb_array_elements(events) WITH ORDINALITY AS x(value, ord)
           ORDER BY x.value->>'tenant', x.value->>'idempotencyKey', x.ord) d
   ${dedup === "full" ? "WHERE NOT EXISTS (SELECT 1 FROM octw.audit_events a WHERE a.tenant = d.value->>'tenant' AND a.idempotency_key = d.value->>'idempotencyKey')" : ""};`;
  const appends = arrays
    ? `a_tenant := a_tenant || t;
    a_seq := a_seq || s;
    a_time := a_time || ts;
    a_actor := a_actor || (e->>'actor');
    a_action := a_action || (e->>'action');
    a_target := a_target || (e->>'target');
    a_decision := a_decision || (e->>'decision');
    a_details := a_details || det;
    a_key := a_key || k;
    a_prev := a_prev || prev;
    a_hash := a_hash || nh;`
    : "n := n + 1;";
  return `
DECLARE
  e jsonb; fresh jsonb[]; t text; cur text := NULL; k text; tenants text[]; s bigint; prev bytea; ts timestamptz; det jsonb; nh bytea; n int := 0;
  a_tenant text[] := '{}'; a_seq bigint[] := '{}'; a_time timestamptz[] := '{}'; a_actor text[] := '{}'; a_action text[] := '{}';
  a_target text[] := '{}'; a_decision text[] := '{}'; a_details jsonb[] := '{}'; a_key text[] := '{}'; a_prev bytea[] := '{}'; a_hash bytea[] := '{}';
BEGIN
  IF jsonb_typeof(events) IS DISTINCT FROM 'array' THEN RAISE EXCEPTION 'array'; END IF;
  IF jsonb_array_length(events) > 10000 THEN RAISE EXCEPTION 'too many'; END IF;
  ${
    existsCheck
      ? `IF EXISTS (SELECT 1 FROM jsonb_array_elements(events) el
              WHERE jsonb_typeof(el) IS DISTINCT FROM 'object' OR el->>'tenant' IS NULL OR el->>'idempotencyKey' IS NULL
                 OR el->>'actor' IS NULL OR el->>'action' IS NULL OR el->>'time' IS NULL) THEN RAISE EXCEPTION 'required'; END IF;`
      : ""
  }
  SELECT array_agg(DISTINCT el->>'tenant' ORDER BY el->>'tenant') INTO tenants FROM jsonb_array_elements(events) el;
  IF tenants IS NULL THEN RETURN 0; END IF;
  INSERT INTO octw.audit_heads (tenant, seq, hash) SELECT x, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea FROM unnest(tenants) x ON CONFLICT (tenant) DO NOTHING;
  PERFORM 1 FROM octw.audit_heads WHERE tenant = ANY (tenants) ORDER BY tenant FOR UPDATE;
  ${fresh}
  FOREACH e IN ARRAY fresh LOOP
    t := e->>'tenant';
    k := e->>'idempotencyKey';
    IF cur IS DISTINCT FROM t THEN
      SELECT h.seq, h.hash INTO s, prev FROM octw.audit_heads h WHERE h.tenant = t;
      cur := t;
    END IF;
    det := CASE WHEN e->'details' IS NULL OR jsonb_typeof(e->'details') = 'null' THEN NULL ELSE e->'details' END;
    ts := (e->>'time')::timestamptz;
    s := s + 1;
    nh := ${nh};
    ${appends}
    prev := nh;
  END LOOP;
  IF ${arrays ? "cardinality(a_tenant)" : "n"} = 0 THEN RETURN 0; END IF;
  ${
    insert && arrays
      ? `INSERT INTO octw.audit_events (tenant, seq, time, actor, action, target, decision, details, idempotency_key, prev_hash, hash)
    SELECT * FROM unnest(a_tenant, a_seq, a_time, a_actor, a_action, a_target, a_decision, a_details, a_key, a_prev, a_hash);`
      : ""
  }
  ${
    heads && arrays
      ? `UPDATE octw.audit_heads h SET seq = last.seq, hash = last.hash
    FROM (SELECT DISTINCT ON (u.tenant) u.tenant, u.seq, u.hash FROM unnest(a_tenant, a_seq, a_hash) AS u(tenant, seq, hash) ORDER BY u.tenant, u.seq DESC) last
   WHERE h.tenant = last.tenant;`
      : ""
  }
  RETURN ${arrays ? "cardinality(a_tenant)" : "n"};
END`;
}

const fn = (b: string) =>
  `CREATE FUNCTION octw.prof(events jsonb) RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS $fn$${b}$fn$;`;
const prof = "SELECT octw.prof($1::jsonb)";

/** Migration 5's unchecked writer as octw.prof_cols, with `edits` (pairs of from, to) applied to its text. */
function m5(...edits: [string, string][]): string {
  const sql = migrations.find((m) => m.version === 5)!.sql;
  let f = sql.slice(0, sql.indexOf("REVOKE ALL ON FUNCTION")).replace("append_event_columns_unchecked(", "prof_cols(");
  for (const [from, to] of edits) {
    if (!f.includes(from)) throw new Error(`m5 variant: ${from} not found`);
    f = f.replace(from, to);
  }
  return f;
}
const colsCall = "SELECT octw.prof_cols($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::text[])";
type Events = ReturnType<typeof batch>;
const colParams = (ev: Events) => [ev.map((e) => e.tenant), ev.map((e) => e.actor), ev.map((e) => e.action), ev.map((e) => e.target), ev.map((e) => e.decision), ev.map((e) => (e.details === null ? null : JSON.stringify(e.details))), ev.map((e) => e.time), ev.map((e) => e.idempotencyKey)];
const variants: Record<string, Variant> = {
  real: {},
  // the argument alone: protocol + jsonb parse
  "parse-only": { call: "SELECT jsonb_array_length($1::jsonb)", stores: false },
  "parse-text": { call: "SELECT length($1::text)", stores: false },
  copy: { setup: fn(body({})), call: prof },
  "no-exists-check": { setup: fn(body({ existsCheck: false })), call: prof },
  "no-probe": { setup: fn(body({ dedup: "distinct-only" })), call: prof },
  "no-dedup": { setup: fn(body({ dedup: "none" })), call: prof },
  "no-sha": { setup: fn(body({ hash: "no-sha" })), call: prof },
  "no-hash-no-enc": { setup: fn(body({ hash: "none" })), call: prof },
  "no-insert": { setup: fn(body({ insert: false, heads: false })), call: prof, stores: false },
  "no-arrays-no-insert": { setup: fn(body({ arrays: false })), call: prof, stores: false },
  "no-details": { withDetails: false },
  "no-pk": { setup: "ALTER TABLE octw.audit_events DROP CONSTRAINT audit_events_pkey" },
  "no-tenant-seq": { setup: "ALTER TABLE octw.audit_events DROP CONSTRAINT audit_events_tenant_seq_key" },
  "no-tenant-key": { setup: "ALTER TABLE octw.audit_events DROP CONSTRAINT audit_events_tenant_idempotency_key_key" },
  "no-tenant-time": { setup: "DROP INDEX octw.audit_events_tenant_time" },
  "no-indexes": {
    setup: `ALTER TABLE octw.audit_events DROP CONSTRAINT audit_events_pkey, DROP CONSTRAINT audit_events_tenant_seq_key, DROP CONSTRAINT audit_events_tenant_idempotency_key_key; DROP INDEX octw.audit_events_tenant_time`,
  },
  "no-checks": {
    setup: `DO $$ DECLARE c record; BEGIN FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'octw.audit_events'::regclass AND contype = 'c' LOOP EXECUTE format('ALTER TABLE octw.audit_events DROP CONSTRAINT %I', c.conname); END LOOP; END $$`,
  },
  "no-regex-checks": {
    setup: `ALTER TABLE octw.audit_events DROP CONSTRAINT audit_events_tenant_check, DROP CONSTRAINT audit_events_action_check, DROP CONSTRAINT audit_events_idempotency_key_check`,
  },
  // what AuditClient sends (eventColumns groups by tenant)
  columns: {
    call: "SELECT octw.append_event_columns_unchecked($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::text[])",
    params: (ev) => eventColumns(ev),
  },
  // migration 5's writer with one part of the chain encoding taken out (events grouped as AuditClient sends them)
  "columns-no-to-char": { setup: m5([`to_char(e_time[i] AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`, "'x'"]), call: colsCall, params: (ev) => eventColumns(ev) },
  "columns-no-details-text": { setup: m5(["e_details[i]::text", "'x'"]), call: colsCall, params: (ev) => eventColumns(ev) },
  "columns-no-sha": { setup: m5(["prev := sha256(prev || convert_to(", "prev := substr(prev || convert_to("], [", 'UTF8'));", ", 'UTF8'), 1, 32);"]), call: colsCall, params: (ev) => eventColumns(ev) },
  // a replay: one key of each batch is stored already, so the optimistic insert fails and the careful path runs
  "columns-one-replayed": {
    call: "SELECT octw.append_event_columns_unchecked($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::text[])",
    params: (ev) => eventColumns(ev.map((e, j) => (j === 0 && e.idempotencyKey !== "p-0" ? { ...e, tenant: "tenant-0", idempotencyKey: "p-0" } : e))),
    countless: true,
  },
  // planned once per session (generic plans) except the probe, planned per call through EXECUTE
  "columns-generic-plans": {
    setup: m5(
      ["  SET plan_cache_mode = force_custom_plan\n", ""],
      [
        `SELECT coalesce(array_agg(d.i ORDER BY d.t COLLATE "C", d.i), '{}') INTO fresh
        FROM (SELECT u.t, u.k, min(u.i) AS i FROM unnest(e_tenant, e_key) WITH ORDINALITY AS u(t, k, i) GROUP BY u.t, u.k) d
       WHERE NOT EXISTS (SELECT 1 FROM octw.audit_events a WHERE a.tenant = d.t AND a.idempotency_key = d.k);`,
        `EXECUTE 'SELECT coalesce(array_agg(d.i ORDER BY d.t COLLATE "C", d.i), ''{}'')
        FROM (SELECT u.t, u.k, min(u.i) AS i FROM unnest($1, $2) WITH ORDINALITY AS u(t, k, i) GROUP BY u.t, u.k) d
       WHERE NOT EXISTS (SELECT 1 FROM octw.audit_events a WHERE a.tenant = d.t AND a.idempotency_key = d.k)' INTO fresh USING e_tenant, e_key;`,
      ],
    ),
    call: colsCall,
    params: (ev) => eventColumns(ev),
  },
  "columns-interleaved": {
    call: "SELECT octw.append_event_columns_unchecked($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::text[])",
    params: colParams,
  },
  "collate-c": {
    setup: `DROP POLICY tenant_reader ON octw.audit_events;
ALTER TABLE octw.audit_events ALTER COLUMN tenant TYPE text COLLATE "C", ALTER COLUMN idempotency_key TYPE text COLLATE "C";
CREATE POLICY tenant_reader ON octw.audit_events FOR SELECT USING (tenant = (SELECT b.tenant FROM octw.reader_bindings b WHERE b.role_name = current_user))`,
  },
  unlogged: { setup: "ALTER TABLE octw.audit_events SET UNLOGGED" },
};

async function run(name: string): Promise<void> {
  const v = variants[name];
  if (!v) throw new Error(`unknown variant ${name}; known: ${Object.keys(variants).join(", ")}`);
  const db = await createAuditDb(requirePgUrl());
  const c = new pg.Client({ connectionString: db.superUrl });
  await c.connect();
  try {
    if (v.setup) await c.query(v.setup);
    const { rows } = await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    const pid = rows[0]!.pid;
    const call = v.call ?? "SELECT octw.append_events_unchecked($1::jsonb)";
    // PROF_PERF=<file>: sample this backend with perf while the measured batches run.
    const perfOut = process.env.PROF_PERF;
    let perf: ReturnType<typeof spawn> | null = null;
    let cpu = 0;
    let wall = 0n;
    let events = 0;
    for (let b = 0; b < BATCHES + WARMUP; b++) {
      const from = v.stores === false ? 0 : b * BATCH;
      const ev = batch(from, v.withDetails ?? true);
      const params = v.params ? v.params(ev) : [JSON.stringify(ev)];
      if (perfOut && b === WARMUP) {
        perf = spawn("perf", ["record", "-F", "1999", ...(process.env.PROF_PERF_G ? ["--call-graph", process.env.PROF_PERF_G] : []), "-p", String(pid), "-o", `${perfOut}.${name}`], { stdio: "inherit" });
        await new Promise((r) => setTimeout(r, 500));
      }
      const c0 = cpuNs(pid);
      const t0 = process.hrtime.bigint();
      await c.query(call, params);
      const t1 = process.hrtime.bigint();
      const c1 = cpuNs(pid);
      if (b >= WARMUP) {
        cpu += c1 - c0;
        wall += t1 - t0;
        events += ev.length;
      }
    }
    if (perf) {
      const p = perf;
      const done = new Promise((r) => p.on("exit", r));
      p.kill("SIGINT");
      await done;
    }
    if (v.stores !== false && !v.countless) {
      const { rows: n } = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM octw.audit_events");
      if (n[0]!.n !== (BATCHES + WARMUP) * BATCH) throw new Error(`${name}: stored ${n[0]!.n}`);
    }
    console.log(`${name.padEnd(22)} ${(cpu / 1000 / events).toFixed(2).padStart(6)} µs CPU/event  ${(Number(wall) / 1000 / events).toFixed(2).padStart(6)} µs wall/event`);
  } finally {
    await c.end();
    await db.drop();
  }
}

// "<a>+<b>": the setups of both, the call of the last one that has one.
for (const name of Object.keys(variants)) {
  for (const other of ["collate-c", "no-tenant-time", "no-regex-checks", "no-pk", "no-tenant-key", "no-tenant-seq"]) {
    const a = variants[name]!;
    const b = variants[other]!;
    if (name === other || name.includes("+")) continue;
    variants[`${name}+${other}`] = { ...a, setup: [a.setup, b.setup].filter(Boolean).join(";\n") };
  }
}
for (const name of process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(variants)) await run(name);
