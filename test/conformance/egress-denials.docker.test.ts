// Blocked egress surfaced for approval, with the real parts: the egress proxy image running the
// Squid config SandboxPolicy renders, a client container on the tenant network retrying a
// blocked CONNECT, the egress-audit shipper following the proxy's stdout through the real
// Engine API, AuditClient into a real Postgres, and the pending list the CLI shows.
// No traffic leaves: the proxy refuses on its ACLs (no name is resolved for a refused host).
//
// Needs: DOCKER_HOST, OCTW_TEST_PG_URL, OCTW_IMAGE_EGRESS, OCTW_IMAGE_OPENCLAW. Missing = failure.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AuditClient } from "@octw/audit";
import type Dockerode from "dockerode";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditDb, type TestAuditDb } from "../../packages/audit/test/pg-support";
import { listPending } from "../../packages/cli/src/commands/approvals";
import { parseShipperConfig } from "../../packages/egress-audit/src/config";
import { startRunner, type Runner } from "../../packages/egress-audit/src/runner";
import { engine, requireEnv } from "./env";
import { nodeProbe } from "./probe-exec";
import { denyAllTenantProxy, idleNodeContainer, internalNetwork } from "./proxy-lab";

const RUN = `octwt-ed-${randomBytes(3).toString("hex")}`;
const TENANT = `t${randomBytes(3).toString("hex")}`;
const SUBNET = "10.250.3.0/27";
const PROXY = "10.250.3.4";
const CLIENT = "10.250.3.5";
const TRIES = 25;

// CONNECT through the proxy, TRIES times; prints the status line of each answer.
const CONNECT_LOOP = `
const net = require("net"); const [proxy, target, n] = process.argv.slice(1); const out = [];
const one = () => new Promise(res => { const s = net.connect(3128, proxy); let b = "";
  s.on("connect", () => s.write("CONNECT " + target + " HTTP/1.1\\r\\nHost: " + target + "\\r\\n\\r\\n"));
  s.on("data", d => { b += d; if (b.includes("\\r\\n")) { s.destroy(); res(b.split("\\r\\n")[0]); } });
  s.on("error", e => res("error " + e.code)); s.setTimeout(5000, () => { s.destroy(); res("timeout"); }); });
(async () => { for (let i = 0; i < Number(n); i++) out.push(await one()); console.log(JSON.stringify(out)); })();`;

let docker: Dockerode;
let db: TestAuditDb;
let network: Dockerode.Network;
const containers: Dockerode.Container[] = [];
let dir: string;
let runner: Runner | undefined;
let audit: AuditClient | undefined;
let proxy: Dockerode.Container;
let client: Dockerode.Container;

beforeAll(async () => {
  docker = await engine();
  const egressImage = requireEnv("OCTW_IMAGE_EGRESS");
  const openclawImage = requireEnv("OCTW_IMAGE_OPENCLAW");
  db = await createAuditDb();
  dir = mkdtempSync(path.join(tmpdir(), "egress-denials-"));
  network = await internalNetwork(docker, RUN, SUBNET);
  proxy = await denyAllTenantProxy(docker, network, { run: RUN, tenant: TENANT, image: egressImage, user: "200105:200105", ip: PROXY });
  client = await idleNodeContainer(docker, network, { run: RUN, name: "client", image: openclawImage, user: "200104:200104", ip: CLIENT });
  containers.push(proxy, client);
  for (const c of containers) await c.start();
  // Squid takes a moment to listen.
  const end = Date.now() + 30_000;
  for (;;) {
    const probe = await nodeProbe<string[]>(docker, client.id, CONNECT_LOOP, [PROXY, "warmup.example.com:443", "1"]);
    if (probe[0]?.startsWith("HTTP/")) break;
    if (Date.now() > end) throw new Error(`the egress proxy does not answer: ${probe[0]}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}, 120_000);

afterAll(async () => {
  await runner?.stop();
  await audit?.close();
  for (const c of containers) await c.remove({ force: true }).catch(() => {});
  await network?.remove().catch(() => {});
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("egress denials from a real proxy to the pending list", () => {
  it(`a retry loop of ${TRIES} refused CONNECTs becomes one pending destination with that count`, async () => {
    // Positive control of the refusal itself: the proxy answers, and answers 403.
    const answers = await nodeProbe<string[]>(docker, client.id, CONNECT_LOOP, [PROXY, "blocked.example.com:443", String(TRIES)], { timeoutMs: 60_000 });
    expect(answers).toHaveLength(TRIES);
    for (const a of answers) expect(a).toMatch(/^HTTP\/1\.1 403/);

    audit = new AuditClient({ connection: db.shipperUrl, spoolPath: path.join(dir, "audit.spool"), batchIntervalMs: 10 });
    const socket = requireEnv("DOCKER_HOST").slice("unix://".length);
    runner = startRunner(parseShipperConfig({ dockerSocket: socket, labels: { "octw.test": RUN }, windowMs: 60_000, graceMs: 0, checkpointPath: path.join(dir, "cp.json") }), audit, () => {}, { timers: false });
    await runner.discover();
    expect([...runner.sources.keys()]).toEqual([proxy.id]);
    const end = Date.now() + 20_000;
    while ((runner.sources.get(proxy.id)?.stats.denials ?? 0) < TRIES + 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    const stats = runner.sources.get(proxy.id)!.stats;
    // Every access-log line parsed (warm-up probes included); Squid's start-up lines are on stderr, not followed.
    expect(stats.denials).toBeGreaterThanOrEqual(TRIES + 1);
    await runner.flush(Date.now() + 120_000);

    const pool = new pg.Pool({ connectionString: db.ownerUrl, max: 1 });
    try {
      const pending = await listPending(pool, { tenant: TENANT });
      const blocked = pending.find((p) => p.destination === "blocked.example.com:443");
      expect(blocked).toMatchObject({ tenant: TENANT, count: TRIES, methods: ["CONNECT"], decision: null });
      expect(blocked!.lastSeen.getTime()).toBeGreaterThanOrEqual(blocked!.firstSeen.getTime());
      expect(pending.map((p) => p.destination)).toContain("warmup.example.com:443");
      // One row per window and destination, not one per request.
      const rows = await pool.query(`SELECT count(*)::int AS n FROM octw.audit_events WHERE tenant = $1 AND action = 'egress.denied' AND target = 'blocked.example.com:443'`, [TENANT]);
      expect((rows.rows[0] as { n: number }).n).toBeLessThanOrEqual(2);
    } finally {
      await pool.end();
    }
  });
});
