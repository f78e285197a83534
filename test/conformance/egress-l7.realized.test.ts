// L7 rules on the realized stack: OpenClawPlatform with two tenants whose policies allow only
// `GET /repos/**` on an HTTPS API, applied to the engine by the realizing mock. Each tenant's
// proxy intercepts with the tenant's own CA (EgressCa), whose certificate only that tenant's
// gateway trusts. The API is a fake of the test's own: HTTPS with the test's own upstream CA
// (which the platform hands to the proxies as `egressProxy.upstreamCaCerts`, and which no
// gateway trusts), in a container on a network the test creates and attaches the two proxies to.
// Every probe runs inside a tenant's real OpenClaw gateway container, as the gateway's user, with
// the trust the platform gave it (no CA passed by the probe).
//
// Needs: DOCKER_HOST and the images OPENCLAW, EGRESS, POSTGRES. Missing = failure.
import { X509Certificate } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { EGRESS_CA_CERT_PATH, OpenClawPlatform } from "@octw/pulumi";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRealizingMocks, newRunId, type RealizingMocks } from "../realize/index";
import { engine, requireEnv, valueOf } from "./env";
import { API_HOST, API_PORT, API_SERVER, BYPASS_FAMILIES, RAW_HTTPS, certMaker, startFakeApi, teardownFakeApi, tenantContainer, reposOnlyPolicy, seenBy, type Answer, type RawRequest } from "./l7-fake-api";
import { execIn, nodeProbe } from "./probe-exec";

const runId = newRunId();
const prefix = `octw-${runId}`;
const hh = (parseInt(runId.slice(-2), 16) % 200) + 20;
const API_SUBNET = `10.251.${hh}.0/28`;
const API_ADDR = `10.251.${hh}.6`;
const TENANTS = ["alpha", "bravo"] as const;
type Tenant = (typeof TENANTS)[number];

// OpenClaw's own HTTP client: the undici its package ships, with the proxy from the environment
// (EnvHttpProxyAgent, what OpenClaw uses for OPENCLAW_PROXY_URL/HTTPS_PROXY) and default trust.
const UNDICI_FETCH = `
const { fetch, EnvHttpProxyAgent } = require("/opt/openclaw/node_modules/undici");
const [url, reqsJson] = process.argv.slice(1);
const dispatcher = new EnvHttpProxyAgent();
(async () => {
  const out = [];
  for (const r of JSON.parse(reqsJson)) {
    try { const res = await fetch(url + r.path, { method: r.method, dispatcher }); await res.text(); out.push({ status: res.status }); }
    catch (e) { out.push({ error: String((e.cause && (e.cause.code || e.cause.message)) || e.message) }); }
  }
  console.log(JSON.stringify(out));
})();`;

// A TLS server on the gateway's own loopback presenting the given leaf, and a client with the
// gateway's default trust: does this gateway accept certificates this CA signs?
const TRUSTS = `
const tls = require("tls");
const [cert, key] = process.argv.slice(1);
const srv = tls.createServer({ cert, key }, (s) => s.end("hi"));
srv.listen(0, "127.0.0.1", () => {
  const c = tls.connect({ host: "127.0.0.1", port: srv.address().port, servername: "${API_HOST}" }, () => { console.log(JSON.stringify({ ok: true })); c.destroy(); srv.close(); });
  c.on("error", (e) => { console.log(JSON.stringify({ ok: false, code: e.code })); srv.close(); });
});`;


let dk: Dockerode;
let rm: RealizingMocks | undefined;
let platform: OpenClawPlatform;
let dir: string;
let certs: ReturnType<typeof certMaker>;
let apiNet: Dockerode.Network | undefined;
let api: Dockerode.Container | undefined;
const gw = {} as Record<Tenant, { id: string; user: string }>;
const proxy = {} as Record<Tenant, { id: string; user: string }>;
const ca = {} as Record<Tenant, { cert: string; key: string }>;

// Default trust ("-"): the probe brings no CA; the proxy is the gateway's HTTPS_PROXY ("-").
const send = (t: Tenant, reqs: RawRequest[]) => nodeProbe<Answer[]>(dk, gw[t].id, RAW_HTTPS, ["-", API_HOST, String(API_PORT), "-", JSON.stringify(reqs)], { user: gw[t].user, timeoutMs: 120_000 });
const seenByApi = () => seenBy(api!);

const containerOf = (tenant: string, component: string) => tenantContainer(dk, runId, tenant, component);

beforeAll(async () => {
  dk = await engine();
  const images = { openclaw: requireEnv("OCTW_IMAGE_OPENCLAW"), egressProxy: requireEnv("OCTW_IMAGE_EGRESS"), postgres: requireEnv("OCTW_IMAGE_POSTGRES") };
  dir = mkdtempSync(path.join(tmpdir(), "egress-l7-realized-"));
  certs = certMaker(dir);
  certs.ca("upstream-ca", "octw-test-upstream-ca");
  certs.leaf("upstream-ca", "api");
  writeFileSync(path.join(dir, "api-server.js"), API_SERVER);
  // Read by the API container's arbitrary UID (test files; no tenant container mounts them).
  chmodSync(dir, 0o755);
  for (const f of ["api.pem", "api.key", "api-server.js"]) chmodSync(path.join(dir, f), 0o444);

  rm = createRealizingMocks({ runId, docker: dk, log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[realize] ${l}`) });
  await pulumi.runtime.setMocks(rm.mocks, "octw-l7-realized", "test", false);
  platform = new OpenClawPlatform("p", {
    prefix,
    domain: "octw.test",
    addressPool: `10.244.${hh}.0/24`,
    egressSubnet: `10.245.${hh}.0/24`,
    controlSubnet: `10.246.${hh}.0/28`,
    images,
    egressProxy: { upstreamCaCerts: [readFileSync(path.join(dir, "upstream-ca.pem"), "utf8")] },
    tenants: [
      { id: "alpha", slot: 1, policy: reposOnlyPolicy(API_ADDR) },
      { id: "bravo", slot: 2, policy: reposOnlyPolicy(API_ADDR) },
    ],
    audit: { mode: "embedded", databaseName: `${runId}_audit` },
  });
  await rm.settled();
  for (const t of TENANTS) {
    gw[t] = await containerOf(t, "gateway");
    proxy[t] = await containerOf(t, "egress-proxy");
    // The operator's view of the CA (the Pulumi state): what the realizing mock's EgressCa produced.
    const rec = rm.records.find((r) => r.type === "pulumi-nodejs:dynamic:Resource" && r.name === `p-${t}-egress-ca`);
    if (!rec) throw new Error(`no EgressCa of ${t} was declared`);
    ca[t] = { cert: String(rec.outputs.certPem), key: String(rec.outputs.keyPem) };
    writeFileSync(path.join(dir, `${t}-ca.pem`), ca[t].cert);
    writeFileSync(path.join(dir, `${t}-ca.key`), ca[t].key, { mode: 0o600 });
  }

  // The fake API on a network of the test's own, which both tenants' proxies join.
  ({ net: apiNet, api } = await startFakeApi(dk, { prefix, runId, dir, subnet: API_SUBNET, address: API_ADDR, image: images.openclaw }));
  for (const t of TENANTS) await apiNet.connect({ Container: proxy[t].id });

  for (const t of TENANTS) {
    const end = Date.now() + 120_000;
    for (;;) {
      const [a] = await send(t, [{ method: "GET", path: "/repos/warmup" }]);
      if (a?.status === 200) break;
      if (Date.now() > end) {
        const logs = (await dk.getContainer(proxy[t].id).logs({ stdout: true, stderr: true, tail: 40 })).toString("utf8");
        throw new Error(`${t}'s proxy does not serve the allowed request: ${JSON.stringify(a)}\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}, 900_000);

afterAll(async () => {
  await teardownFakeApi({ api, net: apiNet, dir }, async () => {
    await rm?.destroyAll();
  });
}, 300_000);

describe("realized platform: REST rules enforced by each tenant's own intercepting proxy", () => {
  it("the rules are reported enforced: nothing in notEnforced, and the proxy's config intercepts only that endpoint", async () => {
    const summary = await valueOf(platform.tenantSummary);
    for (const t of TENANTS) expect(summary[t]!.notEnforced).toEqual([]);
    for (const t of TENANTS) {
      const env = (await dk.getContainer(proxy[t].id).inspect()).Config.Env;
      const squid = Buffer.from(env.find((e) => e.startsWith("OCTW_SQUID_CONFIG_B64="))!.slice(22), "base64").toString("utf8");
      expect(squid).toMatch(/^ssl_bump bump ep0_host ep0_port$/m);
      expect(squid).toMatch(/^ssl_bump splice all$/m);
    }
  });

  it.each(TENANTS)("%s: GET under /repos/ reaches the API (positive control, raw and through OpenClaw's undici); POST and a path outside are refused and never reach it", async (t) => {
    const before = (await seenByApi()).length;
    const [get, post, outside] = await send(t, [
      { method: "GET", path: `/repos/${t}/r/issues?state=open` },
      { method: "POST", path: `/repos/${t}/r` },
      { method: "GET", path: `/user/keys?${t}` },
    ]);
    expect(get).toEqual({ status: 200 });
    expect(post).toEqual({ status: 403 });
    expect(outside).toEqual({ status: 403 });
    const viaUndici = await nodeProbe<Answer[]>(dk, gw[t].id, UNDICI_FETCH, [`https://${API_HOST}:${API_PORT}`, JSON.stringify([{ method: "GET", path: `/repos/${t}/undici` }, { method: "POST", path: `/repos/${t}/undici` }, { method: "GET", path: `/gists/${t}` }])], { user: gw[t].user, timeoutMs: 60_000 });
    expect(viaUndici).toEqual([{ status: 200 }, { status: 403 }, { status: 403 }]);
    expect((await seenByApi()).slice(before)).toEqual([`GET /repos/${t}/r/issues?state=open`, `GET /repos/${t}/undici`]);
  });

  it.each([
    ...BYPASS_FAMILIES,
    ["absolute-form targets", [`https://${API_HOST}:${API_PORT}/user/keys`, `https://${API_HOST}:${API_PORT}/repos/../user/keys`]],
  ])("from alpha's gateway, %s are refused before the API sees them (control: an allowed path on the same setup passes)", async (_family, paths) => {
    const before = (await seenByApi()).length;
    const answers = await send("alpha", paths.map((p) => ({ method: "GET", path: p })));
    answers.forEach((a, i) => expect(a.status, `${paths[i]!}: ${JSON.stringify(a)}`).toBeGreaterThanOrEqual(400));
    expect((await seenByApi()).slice(before)).toEqual([]);
    expect(await send("alpha", [{ method: "GET", path: "/repos/control" }])).toEqual([{ status: 200 }]);
  });

  it("trailing dots and a foreign Host header do not widen the rule (control: the plain name passes)", async () => {
    const before = (await seenByApi()).length;
    const answers = await send("alpha", [
      { method: "GET", path: "/user/keys", connect: `${API_HOST}.:${API_PORT}` },
      { method: "GET", path: "/user/keys", hostHeader: `${API_HOST}.:${API_PORT}` },
      { method: "GET", path: "/user/keys", hostHeader: "other.example" },
    ]);
    for (const a of answers) expect(a.status === undefined || a.status >= 400, JSON.stringify(a)).toBe(true);
    expect((await seenByApi()).slice(before)).toEqual([]);
    expect(await send("alpha", [{ method: "GET", path: "/repos/dots-control" }])).toEqual([{ status: 200 }]);
  });

  it("each gateway trusts its own tenant's CA and no other, nor the API's upstream CA (node's trust store in the gateway)", async () => {
    for (const t of TENANTS) {
      const extra = await nodeProbe<string[]>(dk, gw[t].id, `console.log(JSON.stringify(require("tls").getCACertificates("extra")))`, [], { user: gw[t].user });
      const fingerprints = extra.map((p) => new X509Certificate(p).fingerprint256);
      expect(fingerprints).toEqual([new X509Certificate(ca[t].cert).fingerprint256]);
      const env = (await execIn(dk, gw[t].id, ["/bin/cat", "/proc/self/environ"], { user: gw[t].user })).stdout.split("\0");
      expect(env).toContain(`NODE_EXTRA_CA_CERTS=${EGRESS_CA_CERT_PATH}`);
    }
    expect(new X509Certificate(ca.alpha.cert).fingerprint256).not.toBe(new X509Certificate(ca.bravo.cert).fingerprint256);
  });

  it("alpha's gateway refuses a certificate bravo's CA signs, and vice versa (control: its own CA's is accepted)", async () => {
    certs.leaf("alpha-ca", "by-alpha");
    certs.leaf("bravo-ca", "by-bravo");
    const pem = (f: string) => readFileSync(path.join(dir, f), "utf8");
    for (const [t, own, other] of [["alpha", "by-alpha", "by-bravo"], ["bravo", "by-bravo", "by-alpha"]] as const) {
      const foreign = await nodeProbe<{ ok: boolean; code?: string }>(dk, gw[t].id, TRUSTS, [pem(`${other}.pem`), pem(`${other}.key`)], { user: gw[t].user });
      expect(foreign.ok, `${t} accepted ${other}`).toBe(false);
      expect(foreign.code).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN/);
      expect(await nodeProbe(dk, gw[t].id, TRUSTS, [pem(`${own}.pem`), pem(`${own}.key`)], { user: gw[t].user })).toEqual({ ok: true });
    }
  });

  it("the CA key is in the proxy only: a 0400 file of the proxy's UID on a read-only mount, not in its environment, and nowhere in the gateway", async () => {
    for (const t of TENANTS) {
      const uid = proxy[t].user.split(":")[0]!;
      const st = await execIn(dk, proxy[t].id, ["/usr/bin/stat", "-c", "%a %u", "/etc/octw-egress/ca.key", "/etc/octw-egress"], { user: proxy[t].user });
      expect(st.stdout.trim().split("\n")).toEqual([`400 ${uid}`, `700 ${uid}`]);
      const mount = (await dk.getContainer(proxy[t].id).inspect()).Mounts.find((m) => m.Destination === "/etc/octw-egress");
      expect(mount?.RW).toBe(false);
      const keyBody = ca[t].key.split("\n")[5]!;
      expect(keyBody.length).toBeGreaterThan(40);
      const penv = (await execIn(dk, proxy[t].id, ["/bin/cat", "/proc/1/environ"], { user: proxy[t].user })).stdout;
      expect(penv).not.toContain("PRIVATE KEY");
      expect(penv).not.toContain(keyBody);
      const genv = (await execIn(dk, gw[t].id, ["/bin/cat", "/proc/1/environ"], { user: gw[t].user })).stdout;
      expect(genv).not.toContain("PRIVATE KEY");
      for (const d of ["/var/lib/openclaw", "/tmp", "/etc"]) {
        const grep = await execIn(dk, gw[t].id, ["/usr/bin/grep", "-rlsF", "--", keyBody, d], { user: gw[t].user, timeoutMs: 60_000 });
        expect(grep.stdout, `${t} ${d}`).toBe("");
      }
      // Control: the same grep finds the certificate the gateway does hold.
      const certLine = ca[t].cert.split("\n")[3]!;
      const found = await execIn(dk, gw[t].id, ["/usr/bin/grep", "-rlsF", "--", certLine, "/var/lib/openclaw"], { user: gw[t].user, timeoutMs: 60_000 });
      expect(found.stdout.trim()).toBe(EGRESS_CA_CERT_PATH);
    }
  });
});
