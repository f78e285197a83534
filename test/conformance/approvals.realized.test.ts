// Blocked egress surfaced for approval, on the realized stack:
//  1. realize a 2-tenant platform; alpha's agent (a probe in its real gateway container) retries
//     a CONNECT to a destination its policy does not list — the proxy refuses every time;
//  2. the egress-audit shipper follows the realized proxies' logs (Engine API) into the
//     platform's own AuditStore; `octw approvals list` shows the destination with the count;
//  3. `octw approvals approve` writes the rule into alpha's policy in a stack file;
//  4. the stack from that file is realized again: the destination is reachable from alpha and
//     still refused for bravo.
// The destination is the suite's fake outside server, named by the suite's fake DNS server; its
// address is in a non-public range, so the approval pins it with --allowed-ip (the proxy
// refuses non-public addresses otherwise).
//
// Needs: DOCKER_HOST, OCTW_TEST_DNS_ADDR, OCTW_TEST_OUTSIDE_ADDR, images OPENCLAW, EGRESS,
// POSTGRES. Missing = failure.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { AuditClient } from "@octw/audit";
import { OpenClawPlatform } from "@octw/pulumi";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseShipperConfig } from "../../packages/egress-audit/src/config";
import { startRunner } from "../../packages/egress-audit/src/runner";
import { RUN_LABEL, createRealizingMocks, newRunId, type RealizingMocks } from "../realize/index";
import { engine, requireEnv, valueOf } from "./env";
import { startFakeDns, type FakeDns } from "./fake-dns";
import { startFakeOutside, type FakeOutside } from "./fake-outside";
import { nodeProbe } from "./probe-exec";
import { octw } from "../../packages/cli/test/run-octw";

const NAME = "approve-me.octw.test";
const PORT = 18_443;
const TRIES = 7;

// CONNECT through the tenant's proxy; prints the status line and, when tunnelled, the reply's first line.
const CONNECT = `
const net = require("net"); const [proxy, target] = process.argv.slice(1); const [h, p] = proxy.split(":");
const s = net.connect(Number(p), h); let b = ""; let tunnelled = false;
s.on("connect", () => s.write("CONNECT " + target + " HTTP/1.1\\r\\nHost: " + target + "\\r\\n\\r\\n"));
s.on("data", d => { b += d;
  if (!tunnelled && b.includes("\\r\\n\\r\\n")) { const line = b.split("\\r\\n")[0];
    if (!/^HTTP\\/1\\.[01] 200/.test(line)) { console.log(JSON.stringify({ line })); s.destroy(); return; }
    tunnelled = true; b = ""; s.write("GET /probe HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"); return; }
  if (tunnelled && b.includes("\\n")) { console.log(JSON.stringify({ line: "HTTP/1.1 200 tunnelled", reply: b })); s.destroy(); } });
s.on("error", e => console.log(JSON.stringify({ line: "error " + e.code })));
s.setTimeout(10000, () => { console.log(JSON.stringify({ line: "timeout" })); s.destroy(); });`;

interface Realized {
  rm: RealizingMocks;
  runId: string;
  platform: OpenClawPlatform;
  gw: Record<string, { id: string; user: string; proxy: string }>;
}

let dk: Dockerode;
let dns: FakeDns;
let outside: FakeOutside;
let dir: string;
const realized: Realized[] = [];

/** The stack file's platform part that approvals edit: the tenants. */
const STACK_FILE = `# test stack: only the tenants matter to the approval
config:
  octw:platform:
    tenants:
      - id: alpha
        slot: 1
      - id: bravo
        slot: 2
`;

async function realize(tenants: unknown[]): Promise<Realized> {
  const runId = newRunId();
  const hh = (parseInt(runId.slice(-2), 16) % 200) + 20;
  const rm = createRealizingMocks({ runId, docker: dk, log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[realize] ${l}`) });
  await pulumi.runtime.setMocks(rm.mocks, `octw-approvals-${runId}`, "test", false);
  const platform = new OpenClawPlatform("p", {
    prefix: `octw-${runId}`,
    domain: "octw.test",
    addressPool: `10.247.${hh}.0/24`,
    egressSubnet: `10.248.${hh}.0/24`,
    controlSubnet: `10.249.${hh}.0/28`,
    images: { openclaw: requireEnv("OCTW_IMAGE_OPENCLAW"), egressProxy: requireEnv("OCTW_IMAGE_EGRESS"), postgres: requireEnv("OCTW_IMAGE_POSTGRES") },
    tenants: tenants as never,
    audit: { mode: "embedded", databaseName: `${runId}_audit` },
  });
  const r: Realized = { rm, runId, platform, gw: {} };
  realized.push(r);
  await rm.settled();
  const summary = await valueOf(platform.tenantSummary);
  for (const t of ["alpha", "bravo"]) {
    const list = await dk.listContainers({ filters: { label: [`octw.tenant=${t}`, "octw.component=gateway", `${RUN_LABEL}=${runId}`] } });
    if (list.length !== 1) throw new Error(`expected one gateway of ${t} in ${runId}, found ${list.length}`);
    const user = (await dk.getContainer(list[0]!.Id).inspect()).Config.User;
    r.gw[t] = { id: list[0]!.Id, user, proxy: summary[t]!.proxyUrl.replace("http://", "") };
  }
  return r;
}

const connect = (r: Realized, tenant: string) => nodeProbe<{ line: string; reply?: string }>(dk, r.gw[tenant]!.id, CONNECT, [r.gw[tenant]!.proxy, `${NAME}:${PORT}`], { user: r.gw[tenant]!.user, timeoutMs: 30_000 });

beforeAll(async () => {
  dk = await engine();
  const outsideAddr = requireEnv("OCTW_TEST_OUTSIDE_ADDR");
  dns = await startFakeDns(requireEnv("OCTW_TEST_DNS_ADDR"), { [NAME]: outsideAddr });
  outside = await startFakeOutside(outsideAddr, [PORT]);
  dir = mkdtempSync(path.join(tmpdir(), "approvals-realized-"));
  writeFileSync(path.join(dir, "Pulumi.test.yaml"), STACK_FILE);
}, 60_000);

afterAll(async () => {
  for (const r of realized.reverse()) await r.rm.destroyAll().catch(() => {});
  await dns?.close();
  await outside?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 300_000);

describe("approval of a blocked destination, on the realized stack", () => {
  it("denials → pending list → approve → realized again: reachable from alpha, still refused for bravo", async () => {
    const stack = path.join(dir, "Pulumi.test.yaml");
    const tenantsOf = () => (parseYaml(readFileSync(stack, "utf8")) as { config: { "octw:platform": { tenants: unknown[] } } }).config["octw:platform"].tenants;
    const first = await realize(tenantsOf());

    // 1. alpha's agent retries a blocked destination; the proxy refuses each time. Nothing arrives outside.
    for (let i = 0; i < TRIES; i++) expect((await connect(first, "alpha")).line).toMatch(/^HTTP\/1\.1 403/);
    expect(outside.hits.filter((h) => h.port === PORT)).toHaveLength(0);

    // 2. The shipper follows this run's proxies into the platform's audit store, as its own role.
    const shipper = await valueOf(first.platform.audit.services.shipper);
    const owner = await valueOf(first.platform.audit.owner);
    const url = (c: typeof shipper) => `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${c.host}:${c.port}/${c.database}`;
    const audit = new AuditClient({ connection: url(shipper), spoolPath: path.join(dir, "audit.spool"), batchIntervalMs: 10 });
    const runner = startRunner(parseShipperConfig({ dockerSocket: requireEnv("DOCKER_HOST").slice("unix://".length), labels: { [RUN_LABEL]: first.runId }, windowMs: 60_000, graceMs: 0, checkpointPath: path.join(dir, "cp.json") }), audit, () => {}, { timers: false });
    try {
      await runner.discover();
      // The gateways' own start-up fetches (OpenClaw's plugin feed) are refused too, so the
      // total is at least TRIES; wait until the count stops moving before closing the windows.
      const denials = () => [...runner.sources.values()].reduce((n, s) => n + s.stats.denials, 0);
      const end = Date.now() + 30_000;
      let last = -1;
      while ((denials() < TRIES || denials() !== last) && Date.now() < end) {
        last = denials();
        await new Promise((r) => setTimeout(r, 1_000));
      }
      expect(denials()).toBeGreaterThanOrEqual(TRIES);
      await runner.flush(Date.now() + 120_000);
    } finally {
      await runner.stop();
      await audit.close();
    }
    const env = { OCTW_AUDIT_DATABASE_URL: url(owner) };
    const list = await octw(["approvals", "list", "--json"], env);
    expect(list.stderr).toBe("");
    const pending = JSON.parse(list.stdout) as { tenant: string; destination: string; count: number }[];
    expect(pending).toEqual(expect.arrayContaining([expect.objectContaining({ tenant: "alpha", destination: `${NAME}:${PORT}`, count: TRIES })]));
    expect(pending.filter((p) => p.destination === `${NAME}:${PORT}`)).toHaveLength(1); // bravo never asked for it

    // 3. Approve into the stack file (the address is non-public: pinned).
    const before = readFileSync(stack, "utf8");
    const ok = await octw(["approvals", "approve", "alpha", `${NAME}:${PORT}`, "--stack-file", stack, "--allowed-ip", requireEnv("OCTW_TEST_OUTSIDE_ADDR"), "--reason", "conformance"], env);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    const after = readFileSync(stack, "utf8");
    expect(after).not.toBe(before);
    const left = JSON.parse((await octw(["approvals", "list", "--json"], env)).stdout) as { destination: string }[];
    expect(left.map((p) => p.destination)).not.toContain(`${NAME}:${PORT}`);

    // Positive control before re-realizing: alpha is still refused on the running stack.
    expect((await connect(first, "alpha")).line).toMatch(/^HTTP\/1\.1 403/);
    await first.rm.destroyAll();
    realized.splice(realized.indexOf(first), 1);

    // 4. Realize the stack from the approved file.
    const second = await realize(tenantsOf());
    const a = await connect(second, "alpha");
    expect(a.line).toBe("HTTP/1.1 200 tunnelled");
    expect(a.reply).toContain(`outside-ok ${PORT}`);
    expect((await connect(second, "bravo")).line).toMatch(/^HTTP\/1\.1 403/);
  }, 1_200_000);
});
