// L7 rules with the real parts: the egress proxy image (Squid with OpenSSL) running the config
// SandboxPolicy's planner renders for an OpenShell-format policy with `GET /repos/**`, a fake
// HTTPS API of the test's own (its own upstream CA) on the test network, and a client container
// speaking raw HTTP inside the intercepted tunnel, so every byte of a bypass attempt is the one
// sent. The interception CA here is made by the test (openssl); the platform makes one per tenant
// (EgressCa), proven on the realized stack by egress-l7.realized.test.ts. No traffic leaves the
// test's internal network.
//
// Needs: DOCKER_HOST, OCTW_IMAGE_EGRESS (built with squid-openssl), OCTW_IMAGE_OPENCLAW. Missing = failure.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { mergePolicyDocuments, parsePolicyDocument, planEnforcement, renderSquidConfig } from "@octw/pulumi";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine, requireEnv } from "./env";
import { API_HOST, API_PORT, API_SERVER, BYPASS_FAMILIES, RAW_HTTPS, certMaker, reposOnlyPolicy, seenBy, type Answer } from "./l7-fake-api";
import { nodeProbe } from "./probe-exec";
import { egressProxyContainer, idleNodeContainer, internalNetwork, labContainer } from "./proxy-lab";

const RUN = `octwt-l7-${randomBytes(3).toString("hex")}`;
const SUBNET = "10.250.19.0/27";
const PROXY = "10.250.19.4";
const CLIENT = "10.250.19.5";
const API = "10.250.19.6";
const POLICY = reposOnlyPolicy(API);

let docker: Dockerode;
let network: Dockerode.Network;
const containers: Dockerode.Container[] = [];
let dir: string;
let client: Dockerode.Container;
let api: Dockerode.Container;

async function send(caFile: string, reqs: { method: string; path: string }[]): Promise<Answer[]> {
  return nodeProbe<Answer[]>(docker, client.id, RAW_HTTPS, [`${PROXY}:3128`, API_HOST, String(API_PORT), `/certs/${caFile}`, JSON.stringify(reqs)], { timeoutMs: 120_000 });
}

const seenByApi = () => seenBy(api);

beforeAll(async () => {
  docker = await engine();
  const egressImage = requireEnv("OCTW_IMAGE_EGRESS");
  const openclawImage = requireEnv("OCTW_IMAGE_OPENCLAW");
  dir = mkdtempSync(path.join(tmpdir(), "egress-l7-"));
  const certs = certMaker(dir);
  certs.ca("alpha-ca");
  certs.ca("bravo-ca");
  certs.ca("upstream-ca");
  certs.leaf("upstream-ca", "api");
  writeFileSync(path.join(dir, "api-server.js"), API_SERVER);
  // Test files, read by containers running as arbitrary UIDs (in the platform the key would be the proxy's alone).
  chmodSync(dir, 0o755);
  for (const f of ["alpha-ca.pem", "alpha-ca.key", "bravo-ca.pem", "upstream-ca.pem", "api.pem", "api.key", "api-server.js"]) chmodSync(path.join(dir, f), 0o444);

  const doc = mergePolicyDocuments([parsePolicyDocument({ version: 1 }, "base"), parsePolicyDocument(POLICY, "t")], "t");
  const plan = planEnforcement(doc, [], "t", "policy", { l7Rest: true });
  expect(plan.egress[0]!.l7).toBeDefined();
  const config = renderSquidConfig({
    tenantId: "alpha",
    rules: plan.egress,
    tlsInterception: { caCertFile: "/certs/alpha-ca.pem", caKeyFile: "/certs/alpha-ca.key", certDbDir: "/var/spool/squid/ssl_db", upstreamCaFile: "/certs/upstream-ca.pem" },
  });

  network = await internalNetwork(docker, RUN, SUBNET);
  const binds = [`${dir}:/certs:ro`];
  const proxy = await egressProxyContainer(docker, network, { run: RUN, image: egressImage, user: "200105:200105", ip: PROXY, squidConfig: config, binds });
  api = await labContainer(docker, network, { run: RUN, name: "api", image: openclawImage, user: "200106:200106", ip: API, cmd: ["/usr/local/bin/node", "/certs/api-server.js"], binds, aliases: [API_HOST] });
  client = await idleNodeContainer(docker, network, { run: RUN, name: "client", image: openclawImage, user: "200104:200104", ip: CLIENT, binds });
  containers.push(proxy, api, client);
  for (const c of containers) await c.start();
  const end = Date.now() + 60_000;
  for (;;) {
    const [a] = await send("alpha-ca.pem", [{ method: "GET", path: "/repos/warmup" }]);
    if (a?.status === 200) break;
    if (Date.now() > end) {
      const logs = (await proxy.logs({ stdout: true, stderr: true, tail: 40 })).toString("utf8");
      throw new Error(`the proxy does not serve the allowed request: ${JSON.stringify(a)}\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}, 180_000);

afterAll(async () => {
  for (const c of containers) await c.remove({ force: true }).catch(() => {});
  await network?.remove().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("L7 rules enforced by the tenant's egress proxy (real Squid, TLS interception)", () => {
  it("GET under /repos/ reaches the API (positive control); POST and a path outside are refused and never reach it", async () => {
    const [get, post, outside] = await send("alpha-ca.pem", [
      { method: "GET", path: "/repos/o/r/issues?state=open" },
      { method: "POST", path: "/repos/o/r" },
      { method: "GET", path: "/user/keys" },
    ]);
    expect(get).toEqual({ status: 200 });
    expect(post).toEqual({ status: 403 });
    expect(outside).toEqual({ status: 403 });
    const seen = await seenByApi();
    expect(seen).toContain("GET /repos/o/r/issues?state=open");
    expect(seen).not.toContain("POST /repos/o/r");
    expect(seen.some((s) => s.includes("/user/keys"))).toBe(false);
  });

  it.each(BYPASS_FAMILIES)("%s are refused before the API sees them", async (_family, paths) => {
    const before = (await seenByApi()).length;
    const answers = await send("alpha-ca.pem", paths.map((p) => ({ method: "GET", path: p })));
    answers.forEach((a, i) => expect(a.status, `${paths[i]!}: ${JSON.stringify(a)}`).toBeGreaterThanOrEqual(400));
    expect((await seenByApi()).length).toBe(before);
    // Control: the same connection setup with an allowed path still reaches it.
    expect(await send("alpha-ca.pem", [{ method: "GET", path: "/repos/control" }])).toEqual([{ status: 200 }]);
  });

  it("percent-encoded unreserved bytes: Squid matches the RFC 3986 equivalent (decoded) path and forwards the bytes as sent; nothing else passes", async () => {
    const before = (await seenByApi()).length;
    expect(await send("alpha-ca.pem", [{ method: "GET", path: "/%72epos/enc" }, { method: "GET", path: "/%72epos/../user/keys" }])).toEqual([{ status: 200 }, { status: 403 }]);
    const seen = (await seenByApi()).slice(before);
    // Observed: the API gets "/%72epos/enc". Under RFC 3986 §6.2.2.2 that is /repos/enc, the path
    // the rule matched; an upstream that does not decode unreserved bytes sees the encoded spelling.
    const decodeUnreserved = (s: string) => s.replace(/%([0-9A-Fa-f]{2})/g, (m: string, h: string) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(parseInt(h, 16))) ? String.fromCharCode(parseInt(h, 16)) : m));
    expect(seen.map(decodeUnreserved)).toEqual(["GET /repos/enc"]);
  });

  it("a client that trusts another tenant's CA does not accept this proxy's interception (control: its own CA does)", async () => {
    const [other] = await send("bravo-ca.pem", [{ method: "GET", path: "/repos/x" }]);
    expect(other!.tls).toBeDefined();
    expect(other!.status).toBeUndefined();
    expect(await send("alpha-ca.pem", [{ method: "GET", path: "/repos/x" }])).toEqual([{ status: 200 }]);
  });
});
