// Every refused egress attempt reaches the audit trail, with the real parts: the egress proxy
// image running the config SandboxPolicy renders (URL-quoted log fields), a client container
// sending a burst of hostile requests — long names, names that differ only near Squid's
// 255-character limit, IPv6 literals bracketed and bare, unicode and punycode, quotes and
// backslashes, odd ports, CONNECT and other methods, more distinct destinations than
// maxGroups — the egress-audit shipper following the proxy through the real Engine API, and
// AuditClient into a real Postgres. Every attempt must be counted in exactly one stored event
// that names its destination (as squid-model.ts predicts it from the request alone).
// No traffic leaves: the proxy refuses on its ACLs (the policy allows nothing).
//
// Needs: DOCKER_HOST, OCTW_TEST_PG_URL, OCTW_IMAGE_EGRESS, OCTW_IMAGE_OPENCLAW. Missing = failure.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AuditClient } from "@octw/audit";
import type Dockerode from "dockerode";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditDb, type TestAuditDb } from "../../packages/audit/test/pg-support";
import { parseShipperConfig } from "../../packages/egress-audit/src/config";
import { startRunner, type Runner } from "../../packages/egress-audit/src/runner";
import { requestArb, squidLogLine, type ModelRequest } from "../../packages/egress-audit/test/squid-model";
import { parseCidrRange } from "../../packages/pulumi/src/planners/ip-ranges";
import { engine, requireEnv } from "./env";
import { nodeProbe } from "./probe-exec";
import { denyAllTenantProxy, idleNodeContainer, internalNetwork } from "./proxy-lab";

const RUN = `octwt-eh-${randomBytes(3).toString("hex")}`;
const TENANT = `t${randomBytes(3).toString("hex")}`;
const SUBNET = "10.250.14.0/27";
const PROXY = "10.250.14.4";
const CLIENT = "10.250.14.5";
const MAX_GROUPS = 5;

// Sends each raw request on its own connection; prints the status line of each answer.
const SEND = `
const net = require("net"); const reqs = JSON.parse(Buffer.from(process.argv[2], "base64").toString("utf8")); const out = [];
const one = (r) => new Promise((res) => { const s = net.connect(3128, process.argv[1]); let b = "";
  s.on("connect", () => s.write(Buffer.from(r, "utf8")));
  s.on("data", (d) => { b += d; if (b.includes("\\r\\n")) { s.destroy(); res(b.split("\\r\\n")[0]); } });
  s.on("error", (e) => res("error " + e.code)); s.setTimeout(5000, () => { s.destroy(); res("timeout"); }); });
(async () => { for (const r of reqs) out.push(await one(r)); console.log(JSON.stringify(out)); process.exit(0); })();`;

const stem = `${"s".repeat(60)}.`.repeat(3) + "q".repeat(40); // 223 characters
/** Requests with a known outcome; `expect` where Squid's own parsing decides the destination. */
const FIXED: (ModelRequest & { expect?: string })[] = [
  { method: "CONNECT", host: "blocked.example.com", port: 443 },
  // Differ at character ~225 (inside Squid's 255): two destinations.
  { method: "CONNECT", host: `${stem}.one.example.com`, port: 443 },
  { method: "CONNECT", host: `${stem}.two.example.com`, port: 443 },
  { method: "CONNECT", host: "[2001:db8::1]", port: 8443 },
  // Bare IPv6: with a leading colon Squid refuses it as malformed (400); otherwise it reads the
  // first group as a number (2001 = 0.0.7.209) and that is the destination it would use.
  { method: "CONNECT", host: "::1", port: 443, bareIpv6: true, expect: "[::1]:443" },
  { method: "CONNECT", host: "2001:db8::2", port: 443, bareIpv6: true, expect: "0.0.7.209:443" },
  // Squid writes IPv6 literals canonically (inet_ntop), an IPv4-mapped one as IPv4.
  { method: "CONNECT", host: "[060::5:8d22:1a]", port: 7, expect: "[60::5:8d22:1a]:7" },
  { method: "CONNECT", host: "[::ffff:1.2.3.4]", port: 443, expect: "1.2.3.4:443" },
  { method: "CONNECT", host: "ex\u00e4mple.com", port: 443 },
  { method: "CONNECT", host: "xn--exmple-cua.com", port: 443 },
  { method: "CONNECT", host: 'quo"te.example.com', port: 443 },
  { method: "CONNECT", host: "back\\slash.example.com", port: 443 },
  { method: "CONNECT", host: "odd.example.com", port: 0 },
  { method: "CONNECT", host: "odd.example.com", port: 99_999 },
  { method: "CONNECT", host: "odd.example.com", port: 65_535 },
  { method: "GET", host: "plain.example.com", port: 80 },
  { method: "POST", host: "[2001:db8::3]", port: 81 },
];

/** IPv6 literals compared by value (Squid prints them canonically): `[v6]:port` in one spelling. */
function canonical(destination: string): string {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(destination);
  if (!m) return destination;
  const v = parseCidrRange(m[1]!).range.start;
  return `[${v.toString(16).padStart(32, "0")}]:${m[2]}`;
}

function raw(r: ModelRequest): string {
  if (r.method === "CONNECT") return `CONNECT ${r.host}:${r.port} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const port = r.port >= 1 && r.port <= 65_535 ? r.port : 80;
  const host = r.bareIpv6 ? `[${r.host}]` : r.host;
  return `${r.method} http://${host}${port === 80 ? "" : `:${port}`}/p?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`;
}

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
  const nodeImage = requireEnv("OCTW_IMAGE_OPENCLAW");
  db = await createAuditDb();
  dir = mkdtempSync(path.join(tmpdir(), "egress-hostile-"));
  network = await internalNetwork(docker, RUN, SUBNET);
  proxy = await denyAllTenantProxy(docker, network, { run: RUN, tenant: TENANT, image: egressImage, user: "200405:200405", ip: PROXY });
  client = await idleNodeContainer(docker, network, { run: RUN, name: "client", image: nodeImage, user: "200404:200404", ip: CLIENT });
  containers.push(proxy, client);
  for (const c of containers) await c.start();
  const end = Date.now() + 30_000;
  for (;;) {
    const probe = await nodeProbe<string[]>(docker, client.id, SEND, [PROXY, Buffer.from(JSON.stringify([raw(FIXED[0]!)])).toString("base64")]);
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

describe("hostile egress denials from a real proxy to stored events", () => {
  it(`a burst of generated hostile requests (more distinct destinations than maxGroups=${MAX_GROUPS}) is counted exactly, per real destination`, async () => {
    // Bare IPv6 literals are parsed by Squid's own rules (see FIXED); generated ones are left out.
    const generated = fc.sample(requestArb.filter((r) => !r.bareIpv6), { numRuns: 40, seed: 20_261_130 });
    const pool = [...FIXED, ...generated];
    // Each destination several times, interleaved: decoys around the real attempts.
    const burst = [...pool, ...pool.filter((_, i) => i % 2 === 0), ...pool.filter((_, i) => i % 3 === 0)];
    const answers = await nodeProbe<string[]>(docker, client.id, SEND, [PROXY, Buffer.from(JSON.stringify(burst.map(raw))).toString("base64")], { timeoutMs: 120_000 });
    expect(answers).toHaveLength(burst.length);
    // Positive control of the refusal itself: every request was answered by the proxy with a refusal.
    for (const a of answers) expect(a).toMatch(/^HTTP\/1\.1 (403|400)/);

    audit = new AuditClient({ connection: db.shipperUrl, spoolPath: path.join(dir, "audit.spool"), batchIntervalMs: 10 });
    const socket = requireEnv("DOCKER_HOST").slice("unix://".length);
    runner = startRunner(parseShipperConfig({ dockerSocket: socket, labels: { "octw.test": RUN }, windowMs: 60_000, graceMs: 0, maxGroups: MAX_GROUPS, checkpointPath: path.join(dir, "cp.json") }), audit, () => {}, { timers: false });
    await runner.discover();
    const total = burst.length + 1; // + the warm-up probe
    const end = Date.now() + 30_000;
    while ((runner.sources.get(proxy.id)?.stats.denials ?? 0) < total && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    const stats = runner.sources.get(proxy.id)!.stats;
    expect(stats.unparsed).toBe(0);
    expect(stats.denials).toBe(total);
    await runner.flush(Date.now() + 120_000);
    await audit.flush();

    // What the trail must hold: per (method, destination), the number of attempts.
    const want = new Map<string, number>();
    for (const r of [FIXED[0]!, ...burst]) {
      const { destination, method } = squidLogLine(r, Date.now());
      const k = `${method} ${canonical((r as { expect?: string }).expect ?? destination)}`;
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    const pgPool = new pg.Pool({ connectionString: db.ownerUrl, max: 1 });
    try {
      const { rows } = await pgPool.query<{ target: string; details: { method: string; count: number; destination?: string; window_chunk: number } }>(
        "SELECT target, details FROM octw.audit_events WHERE tenant = $1 AND action = 'egress.denied'",
        [TENANT],
      );
      const got = new Map<string, number>();
      for (const r of rows) {
        const k = `${r.details.method} ${canonical(r.details.destination ?? r.target)}`;
        got.set(k, (got.get(k) ?? 0) + r.details.count);
      }
      expect(got).toEqual(want);
      expect(want.size).toBeGreaterThan(MAX_GROUPS * 4);
      // The burst did overflow a chunk, and nothing was folded into an anonymous row.
      expect(rows.some((r) => r.details.window_chunk > 0)).toBe(true);
      expect(rows.map((r) => r.target)).not.toContain("(other):0");
      // The two long names that differ inside Squid's 255 characters are two destinations.
      expect(rows.filter((r) => r.target.startsWith(stem)).map((r) => r.target.slice(stem.length)).sort()).toEqual(expect.arrayContaining([".one.example.com:443", ".two.example.com:443"]));
    } finally {
      await pgPool.end();
    }
  });
});
