// Credentials outside the sandbox on the realized stack: OpenClawPlatform with two tenants whose
// policies bind the provider `fakeapi` (OpenShell's `credential_binding`) to an HTTPS API of the
// test's own (its own server, CA and network). Two `pulumi up` runs of the realizing deployment:
//  1. no secret stored yet: the proxy refuses every request to the bound endpoint (fail closed);
//  2. the operator stores each tenant's `fakeapi/API_TOKEN` in the audit store's tenant_secrets
//     (as `octw secrets set` does) and runs `pulumi up` again: EgressCredentials sees the new
//     versions, the proxy's include is rewritten and the proxy replaced; a request the gateway
//     sends with the placeholder `openshell:resolve:env:API_TOKEN` arrives at the API with that
//     tenant's secret, the other tenant's never; the gateway's environment and files hold only
//     the placeholder.
// Every probe runs inside the tenant's real OpenClaw gateway container, as its user, with the
// trust the platform gave it.
//
// Needs: DOCKER_HOST and the images OPENCLAW, EGRESS, POSTGRES. Missing = failure.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { OpenClawPlatform, type OpenClawPlatformArgs } from "@octw/pulumi";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newRunId } from "../realize/index";
import { createDeployment, type Deployment, type Plan } from "../realize/deployment";
import { engine, requireEnv, valueOf } from "./env";
import { API_HOST, API_PORT, RAW_HTTPS, addFakeServer, certMaker, startFakeApi, teardownFakeApi, tenantContainer, type Answer, type RawRequest } from "./l7-fake-api";
import { execIn, nodeProbe } from "./probe-exec";
import { storeProviderKeys } from "./tenant-keys";

const runId = newRunId();
const prefix = `octw-${runId}`;
const hh = (parseInt(runId.slice(-2), 16) % 200) + 20;
const API_SUBNET = `10.252.${hh}.0/28`;
const API_ADDR = `10.252.${hh}.6`;
/** Another allowed, intercepted, unbound endpoint (a server of the test's, the API's certificate): where a forged Host would send the secret if the proxy went by the tunnel. */
const OTHER_HOST = "other.code.example";
const OTHER_ADDR = `10.252.${hh}.7`;
const TENANTS = ["alpha", "bravo"] as const;
type Tenant = (typeof TENANTS)[number];
const PLACEHOLDER = "openshell:resolve:env:API_TOKEN";
// Each tenant's secret: random, so a match in a log or a file can only be this run's.
const SECRET: Record<Tenant, string> = { alpha: `alpha-${randomBytes(12).toString("hex")}`, bravo: `bravo-${randomBytes(12).toString("hex")}` };

/** The fake API: HTTPS; logs every request with the credential headers it arrived with. */
const API_SERVER = `
const fs = require("fs");
require("https").createServer({ cert: fs.readFileSync("/certs/api.pem"), key: fs.readFileSync("/certs/api.key") }, (req, res) => {
  console.log(JSON.stringify({ seen: req.method + " " + req.url, auth: req.headers.authorization || null, key: req.headers["x-api-key"] || null }));
  res.writeHead(200, { "content-type": "text/plain" }); res.end("ok");
}).listen(${API_PORT}, "0.0.0.0");`;

// OpenClaw's own HTTP client (the undici its package ships, the proxy from the environment), with headers.
const UNDICI_FETCH = `
const { fetch, EnvHttpProxyAgent } = require("/opt/openclaw/node_modules/undici");
const [url, headers] = process.argv.slice(1);
fetch(url, { headers: JSON.parse(headers), dispatcher: new EnvHttpProxyAgent() })
  .then(async (r) => { await r.text(); console.log(JSON.stringify({ status: r.status })); })
  .catch((e) => console.log(JSON.stringify({ error: String((e.cause && (e.cause.code || e.cause.message)) || e.message) })));`;

const policy = `
version: 1
network_policies:
  fakeapi:
    endpoints:
      - host: ${API_HOST}
        port: ${API_PORT}
        protocol: rest
        access: full
        allowed_ips: [${API_ADDR}]
        credential_binding:
          provider: fakeapi
      - host: ${OTHER_HOST}
        port: ${API_PORT}
        protocol: rest
        allowed_ips: [${OTHER_ADDR}]
        rules:
          - allow: { method: GET, path: "/**" }
`;

interface Seen {
  seen: string;
  auth: string | null;
  key: string | null;
}

let dk: Dockerode;
let dep: Deployment;
let platform: OpenClawPlatform;
let cfg: OpenClawPlatformArgs;
let dir: string;
let apiNet: Dockerode.Network | undefined;
let api: Dockerode.Container | undefined;
let other: Dockerode.Container | undefined;
const gw = {} as Record<Tenant, { id: string; user: string }>;
const proxy = {} as Record<Tenant, { id: string; user: string }>;
const plans: Plan[] = [];
/** What the first run's proxies answered, before any secret was stored. */
const beforeSecrets = {} as Record<Tenant, Answer[]>;
let seenBeforeSecrets: Seen[] = [];

const program = () => () => {
  platform = new OpenClawPlatform("p", cfg);
};
const send = (t: Tenant, reqs: RawRequest[]) => nodeProbe<Answer[]>(dk, gw[t].id, RAW_HTTPS, ["-", API_HOST, String(API_PORT), "-", JSON.stringify(reqs)], { user: gw[t].user, timeoutMs: 120_000 });
async function seenByApi(server = api): Promise<Seen[]> {
  const logs = (await server!.logs({ stdout: true, stderr: false })).toString("utf8");
  return [...logs.matchAll(/\{"seen":.*\}/g)].map((m) => JSON.parse(m[0]) as Seen);
}

const containerOf = (tenant: string, component: string) => tenantContainer(dk, runId, tenant, component);

/** Attaches each tenant's (current) proxy to the API network and waits until it answers `until`. */
async function attachAndWait(until: (a: Answer | undefined) => boolean, probe: RawRequest) {
  for (const t of TENANTS) {
    proxy[t] = await containerOf(t, "egress-proxy");
    gw[t] = await containerOf(t, "gateway");
    const nets = (await dk.getContainer(proxy[t].id).inspect()).NetworkSettings.Networks;
    if (!Object.keys(nets).includes(`${prefix}-api`)) await apiNet!.connect({ Container: proxy[t].id });
    const end = Date.now() + 120_000;
    for (;;) {
      const [a] = await send(t, [probe]);
      if (until(a)) break;
      if (Date.now() > end) {
        const logs = (await dk.getContainer(proxy[t].id).logs({ stdout: true, stderr: true, tail: 40 })).toString("utf8");
        throw new Error(`${t}'s proxy does not answer as expected: ${JSON.stringify(a)}\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

beforeAll(async () => {
  dk = await engine();
  const images = { openclaw: requireEnv("OCTW_IMAGE_OPENCLAW"), egressProxy: requireEnv("OCTW_IMAGE_EGRESS"), postgres: requireEnv("OCTW_IMAGE_POSTGRES") };
  dir = mkdtempSync(path.join(tmpdir(), "egress-cred-realized-"));
  const certs = certMaker(dir);
  certs.ca("upstream-ca", "octw-test-upstream-ca");
  certs.leaf("upstream-ca", "api", [OTHER_HOST]);
  writeFileSync(path.join(dir, "api-server.js"), API_SERVER);
  chmodSync(dir, 0o755);
  for (const f of ["api.pem", "api.key", "api-server.js"]) chmodSync(path.join(dir, f), 0o444);

  cfg = {
    prefix,
    domain: "octw.test",
    addressPool: `10.244.${hh}.0/24`,
    egressSubnet: `10.245.${hh}.0/24`,
    controlSubnet: `10.246.${hh}.0/28`,
    images,
    egressProxy: { upstreamCaCerts: [readFileSync(path.join(dir, "upstream-ca.pem"), "utf8")] },
    tenants: [
      { id: "alpha", slot: 1, policy },
      { id: "bravo", slot: 2, policy },
    ],
    audit: { mode: "embedded", databaseName: `${runId}_audit` },
  };
  dep = createDeployment({ runId, docker: dk, project: "octw", stack: "cred", log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[deploy] ${l}`) });
  plans.push(await dep.up(program()));

  ({ net: apiNet, api } = await startFakeApi(dk, { prefix, runId, dir, subnet: API_SUBNET, address: API_ADDR, image: images.openclaw }));
  other = await addFakeServer(dk, apiNet, { runId, dir, image: images.openclaw, name: `${prefix}-other-api`, address: OTHER_ADDR, alias: OTHER_HOST });

  // Run 1: nothing stored. The proxy answers (403) instead of forwarding.
  await attachAndWait((a) => a?.status === 403, { method: "GET", path: "/warmup" });
  for (const t of TENANTS) {
    beforeSecrets[t] = await send(t, [
      { method: "GET", path: `/before/${t}/placeholder`, headers: { Authorization: `Bearer ${PLACEHOLDER}` } },
      { method: "GET", path: `/before/${t}/plain` },
    ]);
  }
  seenBeforeSecrets = await seenByApi();

  // The operator stores the secrets and runs `pulumi up` again.
  await storeProviderKeys(platform, "fakeapi/API_TOKEN", SECRET);
  plans.push(await dep.up(program()));
  await attachAndWait((a) => a?.status === 200, { method: "GET", path: "/warmup", headers: { Authorization: `Bearer ${PLACEHOLDER}` } });
}, 1_200_000);

afterAll(async () => {
  await teardownFakeApi({ api, more: [other], net: apiNet, dir }, async () => {
    // `pulumi destroy` first (newest first: the audit roles before their embedded server), then the run's sweep.
    try {
      await dep?.destroy();
    } finally {
      await dep?.cleanup();
    }
  });
}, 300_000);

describe("realized platform: credential_binding, the secret put in by each tenant's own proxy", () => {
  it("the binding is reported enforced (nothing in notEnforced)", async () => {
    const summary = await valueOf(platform.tenantSummary);
    for (const t of TENANTS) expect(summary[t]!.notEnforced).toEqual([]);
  });

  it("before any secret is stored the bound endpoint is refused (fail closed) and the API sees nothing", () => {
    for (const t of TENANTS) expect(beforeSecrets[t]).toEqual([{ status: 403 }, { status: 403 }]);
    expect(seenBeforeSecrets).toEqual([]);
  });

  it("storing the secrets and running `pulumi up` again updates the reader and replaces only the two proxies and their include writers", () => {
    const second = plans[1]!;
    const changed = second.changed().filter((s) => s.custom).map((s) => `${s.op} ${s.name}`).sort();
    expect(changed).toEqual([
      "replace p-alpha-egress-ca-init",
      "replace p-alpha-proxy",
      "replace p-bravo-egress-ca-init",
      "replace p-bravo-proxy",
      "update p-alpha-egress-credentials",
      "update p-bravo-egress-credentials",
    ]);
  });

  it.each(TENANTS)("%s: the placeholder arrives at the API as the tenant's own secret, in each header form (positive control: a header without a placeholder arrives unchanged)", async (t) => {
    const before = (await seenByApi()).length;
    const answers = await send(t, [
      { method: "GET", path: `/${t}/bearer`, headers: { Authorization: `Bearer ${PLACEHOLDER}` } },
      { method: "POST", path: `/${t}/token`, headers: { Authorization: `token ${PLACEHOLDER}` } },
      { method: "GET", path: `/${t}/key`, headers: { "X-Api-Key": PLACEHOLDER } },
      { method: "GET", path: `/${t}/own`, headers: { Authorization: "Bearer own-value" } },
    ]);
    expect(answers).toEqual([{ status: 200 }, { status: 200 }, { status: 200 }, { status: 200 }]);
    expect((await seenByApi()).slice(before)).toEqual([
      { seen: `GET /${t}/bearer`, auth: `Bearer ${SECRET[t]}`, key: null },
      { seen: `POST /${t}/token`, auth: `token ${SECRET[t]}`, key: null },
      { seen: `GET /${t}/key`, auth: null, key: SECRET[t] },
      { seen: `GET /${t}/own`, auth: "Bearer own-value", key: null },
    ]);
  });

  it("through OpenClaw's own HTTP client (undici with the proxy from the environment) too", async () => {
    const before = (await seenByApi()).length;
    const r = await nodeProbe<Answer>(dk, gw.alpha.id, UNDICI_FETCH, [`https://${API_HOST}:${API_PORT}/alpha/undici`, JSON.stringify({ authorization: `Bearer ${PLACEHOLDER}` })], { user: gw.alpha.user, timeoutMs: 60_000 });
    expect(r).toEqual({ status: 200 });
    expect((await seenByApi()).slice(before)).toEqual([{ seen: "GET /alpha/undici", auth: `Bearer ${SECRET.alpha}`, key: null }]);
  });

  it("a placeholder the proxy cannot resolve is refused before the API sees it (control: a resolvable one passes on the same setup)", async () => {
    const before = (await seenByApi()).length;
    const answers = await send("alpha", [
      { method: "GET", path: "/alpha/unknown-key", headers: { Authorization: "Bearer openshell:resolve:env:NOT_STORED" } },
      { method: "GET", path: "/alpha/basic", headers: { Authorization: `Basic ${PLACEHOLDER}` } },
      { method: "GET", path: `/alpha/url?t=${PLACEHOLDER}` },
    ]);
    expect(answers).toEqual([{ status: 403 }, { status: 403 }, { status: 403 }]);
    expect((await seenByApi()).slice(before)).toEqual([]);
    expect(await send("alpha", [{ method: "GET", path: "/alpha/control", headers: { Authorization: `Bearer ${PLACEHOLDER}` } }])).toEqual([{ status: 200 }]);
  });

  it("a Host naming the bound endpoint inside another endpoint's tunnel sends the secret only to the bound endpoint's server, never through that tunnel", async () => {
    const before = (await seenByApi()).length;
    const answers = await send("alpha", [
      { method: "GET", path: "/alpha/forged-host", connect: `${OTHER_HOST}:${API_PORT}`, hostHeader: `${API_HOST}:${API_PORT}`, headers: { Authorization: `Bearer ${PLACEHOLDER}` } },
      { method: "GET", path: `https://${API_HOST}:${API_PORT}/alpha/absolute`, connect: `${OTHER_HOST}:${API_PORT}`, headers: { Authorization: `Bearer ${PLACEHOLDER}` } },
    ]);
    for (const a of answers) expect(a.status === undefined || a.status === 200 || a.status >= 400, JSON.stringify(a)).toBe(true);
    // Whatever was forwarded went to the bound API's server, with its secret; the other server got nothing.
    for (const s of (await seenByApi()).slice(before)) expect(s.auth).toBe(`Bearer ${SECRET.alpha}`);
    expect((await seenByApi(other)).filter((s) => s.seen.includes("/alpha/"))).toEqual([]);
    // Control: the other endpoint is reached through its own tunnel (its server logs it), and the placeholder leaves it as the placeholder.
    expect(await send("alpha", [{ method: "GET", path: "/alpha/other-control", connect: `${OTHER_HOST}:${API_PORT}`, hostHeader: `${OTHER_HOST}:${API_PORT}`, headers: { Authorization: `Bearer ${PLACEHOLDER}` } }])).toEqual([{ status: 200 }]);
    expect(await seenByApi(other)).toEqual([{ seen: "GET /alpha/other-control", auth: `Bearer ${PLACEHOLDER}`, key: null }]);
  });

  it("a tenant's secret never arrives on the other tenant's requests", async () => {
    const all = await seenByApi();
    expect(all.length).toBeGreaterThan(4);
    for (const s of all) {
      const text = JSON.stringify(s);
      if (text.includes(SECRET.alpha)) expect(s.seen).toMatch(/ \/(alpha\/|warmup)/);
      if (text.includes(SECRET.bravo)) expect(s.seen).toMatch(/ \/(bravo\/|warmup)/);
    }
    expect(all.some((s) => s.seen.includes("/bravo/") && JSON.stringify(s).includes(SECRET.alpha))).toBe(false);
    expect(all.some((s) => s.seen.includes("/alpha/") && JSON.stringify(s).includes(SECRET.bravo))).toBe(false);
  });

  it.each(TENANTS)("%s: the gateway's environment and files hold only the placeholder (control: the same search finds a file holding the placeholder)", async (t) => {
    const inspect = await dk.getContainer(gw[t].id).inspect();
    for (const s of Object.values(SECRET)) expect(JSON.stringify(inspect.Config)).not.toContain(s);
    const env = (await execIn(dk, gw[t].id, ["/bin/cat", "/proc/1/environ"], { user: gw[t].user })).stdout;
    for (const s of Object.values(SECRET)) expect(env).not.toContain(s);
    for (const d of ["/var/lib/openclaw", "/tmp", "/etc", "/home"]) {
      for (const s of Object.values(SECRET)) {
        const grep = await execIn(dk, gw[t].id, ["/usr/bin/grep", "-rlsF", "--", s, d], { user: gw[t].user, timeoutMs: 60_000 });
        expect(grep.stdout, `${t} ${d}`).toBe("");
      }
    }
    await execIn(dk, gw[t].id, ["/bin/sh", "-c", `printf 'API_TOKEN=%s\\n' '${PLACEHOLDER}' > /tmp/agent.env`], { user: gw[t].user });
    const found = await execIn(dk, gw[t].id, ["/usr/bin/grep", "-rlsF", "--", PLACEHOLDER, "/tmp"], { user: gw[t].user, timeoutMs: 60_000 });
    expect(found.stdout.trim()).toBe("/tmp/agent.env");
  });

  it.each(TENANTS)("%s: the secret is in the proxy only as its include, a 0400 file of the proxy's UID on a read-only mount, never in its environment", async (t) => {
    const uid = proxy[t].user.split(":")[0]!;
    const st = await execIn(dk, proxy[t].id, ["/usr/bin/stat", "-c", "%a %u", "/etc/octw-egress/credentials.conf"], { user: proxy[t].user });
    expect(st.stdout.trim()).toBe(`400 ${uid}`);
    const include = await execIn(dk, proxy[t].id, ["/bin/cat", "/etc/octw-egress/credentials.conf"], { user: proxy[t].user });
    expect(include.stdout).toContain(SECRET[t]);
    expect(include.stdout).not.toContain(SECRET[t === "alpha" ? "bravo" : "alpha"]);
    const inspect = await dk.getContainer(proxy[t].id).inspect();
    expect(inspect.Mounts.find((m) => m.Destination === "/etc/octw-egress")?.RW).toBe(false);
    for (const s of Object.values(SECRET)) expect(JSON.stringify(inspect.Config)).not.toContain(s);
    const penv = (await execIn(dk, proxy[t].id, ["/bin/cat", "/proc/1/environ"], { user: proxy[t].user })).stdout;
    for (const s of Object.values(SECRET)) expect(penv).not.toContain(s);
  });
});
