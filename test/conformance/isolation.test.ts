// The attack suite: a 2-tenant OpenClawPlatform (alpha, bravo) deployed through the realizing
// mock onto the real engine; then, from inside alpha's gateway (docker exec as its own user),
// every way out and every way up is tried. Each probe has a positive control: the same probe
// where the control is off (a control container of the same image without that hardening), or
// the allowed path — so a probe cannot pass because it is broken.
//
// Traffic goes only to loopback and to containers/addresses this suite or the test environment
// created: the "outside" is a server on OCTW_TEST_OUTSIDE_ADDR, DNS is a server on
// OCTW_TEST_DNS_ADDR (the engine's --dns).
import { loopbackGet } from "./loopback-get";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import net from "node:net";
import http from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type Dockerode from "dockerode";
import { OctwConfigError, OpenClawPlatform, planPlatform, ROUTER_TOKEN_PATH, type OpenClawPlatformArgs } from "@octw/pulumi";
import { createRealizingMocks, demuxDockerStream, newRunId, sweepDeadRuns, type RealizingMocks } from "../realize/index";
import { engine, requireEnv } from "./env";
import { startFakeDns, type FakeDns } from "./fake-dns";
import { startFakeOutside, type FakeOutside } from "./fake-outside";
import { execIn, nodeProbe, type ExecResult } from "./probe-exec";
import { ProbeTable } from "./report-table";
import * as P from "./probe-scripts";

const runId = newRunId();
const prefix = `octw-${runId}`;
const table = new ProbeTable();
const token = (what: string) => `${what}-${runId}-${randomBytes(4).toString("hex")}`;
const ALLOWED_PORT = 443;
const UNLISTED_PORT = 8443;

let dk: Dockerode;
let rm: RealizingMocks;
let dns: FakeDns | undefined;
let outside: FakeOutside | undefined;
// Class 5's stand-in for 169.254.169.254: a listener the suite binds on the test environment's
// DNS address (port 443), which the egress proxy can route to like the fake outside server. A
// container would not do: the engine isolates bridge networks from each other (and the egress
// network has icc off), so "nothing arrived" there would hold even with the hole open.
let forbidden: FakeOutside | undefined;
let outsideAddr: string;
let dnsAddr: string;
let config: OpenClawPlatformArgs;
let started = 0;
let auditAddress = "";
// the shared edge: published on loopback, attached to every tenant network at offset .2
const EDGE_ISSUER = "https://issuer.conformance.test";
const EDGE_AUDIENCE = "octw-edge";
const edgeHostPort = 20000 + (parseInt(runId.slice(3, 7), 16) % 10000);
let edgeKey: CryptoKey;
let foreignKey: CryptoKey;
let edgeId = "";
const edgeAddr = { alpha: "", bravo: "" };

interface Tenant {
  id: string;
  gateway: string; // container id
  egress: string;
  gatewayName: string;
  egressName: string;
  gatewayIp: string;
  egressIp: string;
  uid: number;
  gid: number;
  user: string;
  volume: string;
}
const T: Record<"alpha" | "bravo", Tenant> = {} as never;
const ctl = { a: "", b: "", out: "", dnsOpen: "", dnsFixed: "" }; // control container ids

const h = (parseInt(runId.slice(1, 3), 16) % 200) + 20;

async function containerByName(name: string): Promise<Dockerode.ContainerInspectInfo> {
  return dk.getContainer(name).inspect();
}

function rows(label: string, results: boolean[]): void {
  // every row of this probe must pass; the table shows which did not
  expect(results.every(Boolean), `${label}: see the probe table`).toBe(true);
}

beforeAll(async () => {
  started = Date.now();
  dk = await engine();
  const swept = await sweepDeadRuns(dk);
  if (swept.length) console.log(`[conformance] removed leftovers of dead runs: ${swept.join(", ")}`);
  const images = {
    openclaw: requireEnv("OCTW_IMAGE_OPENCLAW"),
    egressProxy: requireEnv("OCTW_IMAGE_EGRESS"),
    postgres: requireEnv("OCTW_IMAGE_POSTGRES"),
    edge: requireEnv("OCTW_IMAGE_EDGE"),
  };
  const keys = await generateKeyPair("ES256", { extractable: true });
  edgeKey = keys.privateKey;
  foreignKey = (await generateKeyPair("ES256")).privateKey;
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: "conformance", alg: "ES256", use: "sig" };
  outsideAddr = requireEnv("OCTW_TEST_OUTSIDE_ADDR");
  dnsAddr = requireEnv("OCTW_TEST_DNS_ADDR");

  rm = createRealizingMocks({ runId, docker: dk, log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[realize] ${l}`) });
  await pulumi.runtime.setMocks(rm.mocks, "octw-conformance", "test", false);

  config = {
    prefix,
    domain: "octw.test",
    addressPool: `10.200.${h}.0/24`,
    egressSubnet: `10.201.${h}.0/24`,
    controlSubnet: `10.202.${h}.0/28`,
    ingressSubnet: `10.204.${h}.0/28`,
    images,
    edge: {
      hostPort: edgeHostPort,
      hostIp: "127.0.0.1",
      jwt: { issuer: EDGE_ISSUER, audience: EDGE_AUDIENCE, algorithms: ["ES256"], jwks: [jwk] },
    },
    tenants: [
      {
        id: "alpha",
        slot: 1,
        policy: {
          version: 1,
          network_policies: {
            outside: {
              name: "fake-outside",
              endpoints: [
                { host: "allowed.octw.test", port: ALLOWED_PORT, allowed_ips: [outsideAddr] },
                { host: "private.octw.test", port: ALLOWED_PORT },
              ],
            },
            // class 5: names pinned to the fake outside server's address; and (control only) a
            // name pinned to the forbidden stand-in, to show the proxy can reach it when allowed
            pinned: {
              name: "pinned",
              endpoints: [
                { host: "*.pinned.octw.test", port: ALLOWED_PORT, allowed_ips: [outsideAddr] },
                { host: "reach.octw.test", port: ALLOWED_PORT, allowed_ips: [dnsAddr] },
              ],
            },
          },
        },
      },
      { id: "bravo", slot: 2 },
    ],
    audit: { mode: "embedded", databaseName: `${runId}_audit` },
  };
  const planned = planPlatform(config, "conformance platform");
  const plan = (id: string) => planned.tenants.find((t) => t.config.id === id)!;
  auditAddress = planned.auditAddress;
  const alpha = plan("alpha");
  const bravo = plan("bravo");
  edgeAddr.alpha = alpha.addresses.edge;
  edgeAddr.bravo = bravo.addresses.edge;

  // DNS answers for the proxy probes: the allowed name points at the fake outside server, the
  // "private" name at bravo's gateway (a container of this run), the unlisted name exists too
  // so that its denial is the proxy's decision, not a failed lookup.
  dns = await startFakeDns(dnsAddr, {
    "allowed.octw.test": outsideAddr,
    "notallowed.octw.test": outsideAddr,
    "private.octw.test": bravo.addresses.gateway,
    // class 5: an allowlisted name answering the allowed AND the forbidden address, both orders
    "mixed.pinned.octw.test": [dnsAddr, outsideAddr],
    "mixed2.pinned.octw.test": [outsideAddr, dnsAddr],
    "only.pinned.octw.test": [outsideAddr],
    "reach.octw.test": [dnsAddr],
  });
  outside = await startFakeOutside(outsideAddr, [ALLOWED_PORT, UNLISTED_PORT]);
  forbidden = await startFakeOutside(dnsAddr, [ALLOWED_PORT]);

  const platform = new OpenClawPlatform("p", config);

  // Control containers: the gateway image without the hardening under test.
  const ctlNet = new docker.Network("ctl-net", {
    name: `${prefix}-ctl`,
    driver: "bridge",
    ipamConfigs: [{ subnet: `10.203.${h}.0/28` }],
  });
  const loose = (uid: number, gid: number) => ({
    image: images.openclaw,
    user: `${uid}:${gid}`,
    command: ["sleep", "infinity"],
    securityOpts: ["seccomp=unconfined"],
    tmpfs: { "/tmp": "rw,exec,size=64m,mode=1777" },
    destroyGraceSeconds: 0,
  });
  new docker.Container("ctl-a", {
    name: `${prefix}-ctl-alpha`,
    ...loose(alpha.identity.gatewayUid, alpha.identity.gatewayGid),
    networksAdvanced: [{ name: platform.tenants.alpha!.network.networkName }],
  });
  new docker.Container("ctl-b", {
    name: `${prefix}-ctl-bravo`,
    ...loose(bravo.identity.gatewayUid, bravo.identity.gatewayGid),
    networksAdvanced: [{ name: platform.tenants.bravo!.network.networkName }],
  });
  // DNS controls: an internal network like a tenant's but with a host address on its bridge,
  // so the engine's forwarding path exists; one container with the fix, one without.
  const ctlInternal = new docker.Network("ctl-internal", {
    name: `${prefix}-ctl-internal`,
    driver: "bridge",
    internal: true,
    ipamConfigs: [{ subnet: `10.203.${h}.16/28` }],
  });
  new docker.Container("ctl-dns-open", {
    name: `${prefix}-ctl-dns-open`,
    ...loose(alpha.identity.gatewayUid, alpha.identity.gatewayGid),
    networksAdvanced: [{ name: ctlInternal.name }],
  });
  new docker.Container("ctl-dns-fixed", {
    name: `${prefix}-ctl-dns-fixed`,
    ...loose(alpha.identity.gatewayUid, alpha.identity.gatewayGid),
    dns: ["127.0.0.1"],
    networksAdvanced: [{ name: ctlInternal.name }],
  });
  new docker.Container("ctl-out", {
    name: `${prefix}-ctl-out`,
    ...loose(0, 0),
    securityOpts: [],
    networksAdvanced: [{ name: ctlNet.name }],
  });

  await rm.settled();

  for (const [key, p] of [["alpha", alpha], ["bravo", bravo]] as const) {
    const gatewayName = `${prefix}-${key}-gateway`;
    const egressName = `${prefix}-${key}-egress`;
    const g = await containerByName(gatewayName);
    const e = await containerByName(egressName);
    const [uid, gid] = g.Config.User.split(":").map(Number) as [number, number];
    const vol = g.Mounts.find((m) => m.Destination === "/var/lib/openclaw");
    T[key] = {
      id: key,
      gateway: g.Id,
      egress: e.Id,
      gatewayName,
      egressName,
      gatewayIp: p.addresses.gateway,
      egressIp: p.addresses.egressProxy,
      uid,
      gid,
      user: g.Config.User,
      volume: vol?.Name ?? "",
    };
  }
  edgeId = (await dk.listContainers({ all: true, filters: JSON.stringify({ label: ["octw.component=edge"], name: [prefix] }) }))[0]?.Id ?? "";
  ctl.a = (await containerByName(`${prefix}-ctl-alpha`)).Id;
  ctl.b = (await containerByName(`${prefix}-ctl-bravo`)).Id;
  ctl.out = (await containerByName(`${prefix}-ctl-out`)).Id;
  ctl.dnsOpen = (await containerByName(`${prefix}-ctl-dns-open`)).Id;
  ctl.dnsFixed = (await containerByName(`${prefix}-ctl-dns-fixed`)).Id;
  const slow = [...rm.records].filter((r) => r.custom).sort((x, y) => y.ms - x.ms).slice(0, 6);
  console.log(`[conformance] slowest resources: ${slow.map((r) => `${r.name} ${(r.ms / 1000).toFixed(1)} s`).join(", ")}`);
  console.log(`[conformance] deployed run ${runId} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 300_000);

afterAll(async () => {
  console.log(`\n[conformance] run ${runId}: probe table\n${table.render()}\n`);
  const failures: unknown[] = [];
  try {
    await rm?.destroyAll();
  } catch (e) {
    failures.push(e);
  }
  await dns?.close();
  await outside?.close();
  await forbidden?.close();
  // nothing of this run may survive it
  if (dk) {
    const left = [
      ...(await dk.listContainers({ all: true })).filter((c) => c.Names.some((n) => n.includes(runId))).map((c) => c.Names[0]),
      ...(await dk.listNetworks()).filter((n) => n.Name.includes(runId)).map((n) => n.Name),
      ...((await dk.listVolumes()).Volumes ?? []).filter((v) => v.Name.includes(runId)).map((v) => v.Name),
    ];
    console.log(`[conformance] left on the engine after teardown: ${left.length ? left.join(", ") : "nothing"}`);
    if (left.length) failures.push(new Error(`teardown left ${left.join(", ")}`));
  }
  console.log(`[conformance] wall time ${((Date.now() - started) / 1000).toFixed(1)} s (deploy, probes, teardown)`);
  if (failures.length) throw new AggregateError(failures, "teardown failed");
}, 180_000);

function sign(key: CryptoKey, tenant: string, role: string): Promise<string> {
  return new SignJWT({ tenant, role })
    .setProtectedHeader({ alg: "ES256", kid: "conformance" })
    .setIssuer(EDGE_ISSUER)
    .setAudience(EDGE_AUDIENCE)
    .setSubject(`user-of-${tenant}`)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key);
}

/** GET on loopback (the edge's published port) from the test process. */
function hostGet(url: string, token: string, host?: string): Promise<{ status: number; body: string }> {
  return loopbackGet(url, { authorization: `Bearer ${token}`, ...(host ? { host } : {}) }, 8000);
}

/** Any request to the edge's published port from the test process; headers as given. */
function edgeRequest(method: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const rq = http.request(`http://127.0.0.1:${edgeHostPort}${path}`, { method, headers, timeout: 8000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    rq.on("timeout", () => rq.destroy(new Error("timeout")));
    rq.on("error", reject);
    rq.end();
  });
}

const A = () => T.alpha;
const B = () => T.bravo;
const inA = (cmd: string, timeoutMs?: number) => execIn(dk, A().gateway, ["/bin/sh", "-c", cmd], { user: A().user, ...(timeoutMs ? { timeoutMs } : {}) });
const inCtl = (id: string, cmd: string, user?: string) => execIn(dk, id, ["/bin/sh", "-c", cmd], user ? { user } : {});
const b64 = (s: string) => Buffer.from(s).toString("base64");
const show = (r: ExecResult) => `${r.stdout} ${r.stderr}`.trim();

describe("isolation of the realized 2-tenant platform (attacker = alpha's gateway)", () => {
  it("the attacker runs as alpha's own non-root UID, distinct from bravo's", () => {
    rows("identity", [
      table.add("0 identity", "A runs as its tenant UID ≠ B's, ≥ 1000", `A ${A().user}, B ${B().user}`, A().uid >= 1000 && A().uid !== B().uid && A().gid !== B().gid),
    ]);
  });

  it("1. cannot reach bravo's gateway or egress proxy by IP or by name, nor its state volume", async () => {
    const targets: [string, string, number][] = [
      ["B gateway by IP", B().gatewayIp, 18789],
      ["B gateway by name", B().gatewayName, 18789],
      ["B egress by IP", B().egressIp, 3128],
      ["B egress by name", B().egressName, 3128],
    ];
    const fromA = await Promise.all(targets.map(([, host, port]) => nodeProbe<{ ok: boolean; err?: string }>(dk, A().gateway, P.TCP_PROBE, [host, String(port), "", "4000"], { user: A().user })));
    const fromCtlB = await Promise.all(targets.map(([, host, port]) => nodeProbe<{ ok: boolean; err?: string }>(dk, ctl.b, P.TCP_PROBE, [host, String(port), "", "4000"])));
    const own = await nodeProbe<{ ok: boolean; err?: string }>(dk, A().gateway, P.TCP_PROBE, [A().egressIp, "3128", "", "4000"], { user: A().user });
    const r: boolean[] = [];
    targets.forEach(([label], i) => {
      r.push(table.add(`1 ${label}`, "A: no connection", fromA[i]!.ok ? "connected" : `refused: ${fromA[i]!.err}`, !fromA[i]!.ok));
      r.push(table.add(`1 ${label} (control)`, "container on B's network connects", fromCtlB[i]!.ok ? "connected" : `failed: ${fromCtlB[i]!.err}`, fromCtlB[i]!.ok));
    });
    r.push(table.add("1 own egress proxy (control)", "A connects to its own proxy", own.ok ? "connected" : `failed: ${own.err}`, own.ok));
    // the shared audit Postgres (control network) and B's gateway through A's own proxy
    const pgA = await nodeProbe<{ ok: boolean; err?: string }>(dk, A().gateway, P.TCP_PROBE, [auditAddress, "5432", "", "4000"], { user: A().user });
    const pgHost = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: auditAddress, port: 5432 });
      s.setTimeout(4000, () => (s.destroy(), resolve(false)));
      s.on("connect", () => (s.destroy(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    r.push(table.add("1 audit Postgres from A", "no connection", pgA.ok ? "connected" : `refused: ${pgA.err}`, !pgA.ok));
    r.push(table.add("1 audit Postgres (control)", "reachable from the host (where pulumi runs)", pgHost ? "connected" : "failed", pgHost));
    const viaProxy = await nodeProbe<{ status: string }>(dk, A().gateway, P.CONNECT_PROBE, [A().egressIp, "3128", `${B().gatewayIp}:18789`, token("px-b"), "8000"], { user: A().user });
    r.push(table.add("1 B gateway through A's proxy", "403", viaProxy.status, viaProxy.status === "403"));
    // B's state volume: not mounted in A, not reachable through the host path.
    const mounts = await inA(`cat /proc/self/mountinfo; ls /var/lib/docker/volumes/${B().volume}/_data 2>&1; echo "rc=$?"`);
    const seesB = mounts.stdout.includes(B().volume) && !mounts.stdout.includes(`ls: cannot access`);
    r.push(table.add("1 B state volume from A", "not mounted, path absent", seesB ? "visible" : `absent (${mounts.stdout.trim().split("\n").pop()})`, !mounts.stdout.split("\n").some((l) => l.includes(B().volume) && !l.startsWith("ls:")) && /rc=[12]/.test(mounts.stdout)));
    // The shared edge sits on both tenant networks. From A it is reachable (it must reach A's
    // gateway), but reaching B through it takes a valid token for B.
    const edgeInfo = await dk.getContainer(edgeId).inspect();
    const edgeNets = Object.values(edgeInfo.NetworkSettings.Networks).map((n) => n.IPAddress);
    r.push(table.add("1 edge on both tenant networks (control)", `edge at ${edgeAddr.alpha} and ${edgeAddr.bravo}`, edgeNets.join(", "), edgeNets.includes(edgeAddr.alpha) && edgeNets.includes(edgeAddr.bravo)));
    const forged = await sign(foreignKey, "bravo", "admin");
    // One origin per tenant (host routing, the default): bravo is bravo.<domain>.
    const req = (auth?: string) => b64(`GET /healthz HTTP/1.1\r\nHost: bravo.octw.test\r\n${auth ? `Authorization: Bearer ${auth}\r\n` : ""}x-octw-user: mallory\r\nx-openclaw-scopes: operator.admin\r\nConnection: close\r\n\r\n`);
    const viaEdge = (payload: string) => nodeProbe<{ ok: boolean; data?: string; err?: string }>(dk, A().gateway, P.TCP_PROBE, [edgeAddr.alpha, "8443", payload, "6000"], { user: A().user });
    const [noToken, forgedToken] = await Promise.all([viaEdge(req()), viaEdge(req(forged))]);
    const status = (x: { ok: boolean; data?: string; err?: string }) => (x.ok ? (x.data ?? "").split(" ")[1] ?? "?" : `no connection (${x.err})`);
    r.push(table.add("1 A → edge → B, no token (spoofed headers)", "401", status(noToken), status(noToken) === "401"));
    r.push(table.add("1 A → edge → B, token of a foreign key", "401", status(forgedToken), status(forgedToken) === "401"));
    const valid = await hostGet(`http://127.0.0.1:${edgeHostPort}/healthz`, await sign(edgeKey, "bravo", "viewer"), "bravo.octw.test");
    r.push(table.add("1 edge → B with a valid B token (control)", "200 from B's gateway", `${valid.status} ${valid.body.slice(0, 60)}`, valid.status === 200 && valid.body.trim().startsWith("{")));
    const bOwn = await execIn(dk, B().gateway, ["stat", "-c", "%a %u", "/var/lib/openclaw"], { user: B().user });
    r.push(table.add("1 B state volume (control)", "B sees its own volume", bOwn.stdout.trim(), bOwn.stdout.trim() === `700 ${B().uid}`));
    rows("cross-tenant reachability", r);
  });

  it("2. cannot reach the outside directly (fake outside server on the host)", async () => {
    const tA = token("direct-a");
    const tC = token("direct-ctl");
    const req = (t: string) => b64(`GET /${t} HTTP/1.1\r\nHost: outside\r\nConnection: close\r\n\r\n`);
    const [a443, a8443] = await Promise.all([ALLOWED_PORT, UNLISTED_PORT].map((port) => nodeProbe<{ ok: boolean; err?: string; data?: string }>(dk, A().gateway, P.TCP_PROBE, [outsideAddr, String(port), req(tA), "4000"], { user: A().user })));
    const c = await nodeProbe<{ ok: boolean; err?: string; data?: string }>(dk, ctl.out, P.TCP_PROBE, [outsideAddr, String(UNLISTED_PORT), req(tC), "4000"]);
    rows("direct egress", [
      table.add(`2 A → outside:${ALLOWED_PORT} direct`, "no connection, nothing arrives", `${a443!.ok ? "connected" : a443!.err}; arrived: ${outside!.seen(tA).length}`, !a443!.ok && outside!.seen(tA).length === 0),
      table.add(`2 A → outside:${UNLISTED_PORT} direct`, "no connection, nothing arrives", `${a8443!.ok ? "connected" : a8443!.err}; arrived: ${outside!.seen(tA).length}`, !a8443!.ok && outside!.seen(tA).length === 0),
      table.add("2 direct (control)", "container on a plain bridge reaches it", `${c.ok ? "connected" : c.err}; arrived: ${outside!.seen(tC).length}`, c.ok && (c.data ?? "").includes("outside-ok") && outside!.seen(tC).length === 1),
    ]);
  });

  it("3. egress proxy: only allowlisted name:port via its allowed IPs", async () => {
    const via = (target: string, t: string) => nodeProbe<{ status: string; body?: string; err?: string }>(dk, A().gateway, P.CONNECT_PROBE, [A().egressIp, "3128", target, t, "8000"], { user: A().user });
    const t = { notListed: token("px-host"), ip: token("px-ip"), priv: token("px-priv"), port: token("px-port"), ok: token("px-ok"), plain: token("px-plain") };
    const notListed = await via(`notallowed.octw.test:${ALLOWED_PORT}`, t.notListed);
    const ipLiteral = await via(`${outsideAddr}:${ALLOWED_PORT}`, t.ip);
    const priv = await via(`private.octw.test:${ALLOWED_PORT}`, t.priv);
    const badPort = await via(`allowed.octw.test:${UNLISTED_PORT}`, t.port);
    const ok = await via(`allowed.octw.test:${ALLOWED_PORT}`, t.ok);
    const plain = await nodeProbe<{ status: string }>(dk, A().gateway, P.PLAIN_PROXY_PROBE, [A().egressIp, "3128", `allowed.octw.test:${ALLOWED_PORT}`, t.plain], { user: A().user });
    const bReach = await nodeProbe<{ ok: boolean; err?: string }>(dk, ctl.b, P.TCP_PROBE, [B().gatewayIp, "18789", "", "4000"]);
    const denied = (r: { status: string }, tk: string) => r.status === "403" && outside!.seen(tk).length === 0;
    rows("egress proxy", [
      table.add("3 CONNECT host not on allowlist", "403, nothing arrives", `${notListed.status}; arrived ${outside!.seen(t.notListed).length}`, denied(notListed, t.notListed)),
      table.add("3 CONNECT IP literal", "403, nothing arrives", `${ipLiteral.status}; arrived ${outside!.seen(t.ip).length}`, denied(ipLiteral, t.ip)),
      table.add("3 CONNECT allowlisted name → private IP", "403 (B's gateway not reached)", `${priv.status}; squid asked DNS: ${dns!.seen("private.octw.test").length > 0}`, priv.status === "403"),
      table.add("3 CONNECT allowlisted host, unlisted port", "403, nothing arrives", `${badPort.status}; arrived ${outside!.seen(t.port).length}`, denied(badPort, t.port)),
      table.add("3 plain-HTTP proxying", "403 (CONNECT only)", plain.status, plain.status === "403" && outside!.seen(t.plain).length === 0),
      table.add("3 CONNECT allowlisted host:port (control)", "200, fake outside answers", `${ok.status}; ${(ok.body ?? "").trim().split("\n").pop()}`, ok.status === "200" && (ok.body ?? "").includes("outside-ok") && outside!.seen(t.ok).length === 1),
      table.add("3 private target reachable (control)", "B's gateway answers on its network", bReach.ok ? "connected" : String(bReach.err), bReach.ok),
    ]);
  });

  it("3a. class 5: an allowlisted name is no path to a forbidden address (allowed_ips, several A records)", async () => {
    // Squid's `dst` ACL matches when ANY address of a name matches; the rendered config refuses
    // a name as soon as one address is outside allowed_ips (`!epN_outside`). Same rule
    // (*.pinned.octw.test via the fake outside's address) for the probes and the first control.
    const via = (target: string, t: string) => nodeProbe<{ status: string; body?: string; err?: string }>(dk, A().gateway, P.CONNECT_PROBE, [A().egressIp, "3128", target, t, "8000"], { user: A().user });
    const t = { mixed: token("c5-mixed"), mixed2: token("c5-mixed2"), only: token("c5-only"), reach: token("c5-reach") };
    const before = forbidden!.hits.length;
    const mixed = await via(`mixed.pinned.octw.test:${ALLOWED_PORT}`, t.mixed);
    const mixed2 = await via(`mixed2.pinned.octw.test:${ALLOWED_PORT}`, t.mixed2);
    const atForbidden = forbidden!.hits.length - before;
    const only = await via(`only.pinned.octw.test:${ALLOWED_PORT}`, t.only);
    const reach = await via(`reach.octw.test:${ALLOWED_PORT}`, t.reach);
    const asked = (name: string) => dns!.queries.filter((q) => q.name === name && q.type === 1).length;
    const refused = (r: { status: string }, tk: string, name: string) =>
      r.status === "403" && atForbidden === 0 && outside!.seen(tk).length === 0 && asked(name) > 0;
    const seenAt = (r: { status: string }, tk: string, name: string) => `${r.status}; connections to the forbidden stand-in: ${atForbidden}; arrived at the allowed one: ${outside!.seen(tk).length}; squid asked DNS: ${asked(name)}`;
    const answered = (r: { body?: string }) => (r.body ?? "").trim().split("\n").pop() ?? "";
    rows("class 5: allowlisted name → forbidden address", [
      table.add("c5 CONNECT allowlisted name → [forbidden, allowed]", "403, no connection to the forbidden address", seenAt(mixed, t.mixed, "mixed.pinned.octw.test"), refused(mixed, t.mixed, "mixed.pinned.octw.test")),
      table.add("c5 CONNECT allowlisted name → [allowed, forbidden]", "403, no connection to the forbidden address", seenAt(mixed2, t.mixed2, "mixed2.pinned.octw.test"), refused(mixed2, t.mixed2, "mixed2.pinned.octw.test")),
      table.add("c5 same rule, name → [allowed] only (control)", "200, the allowed server answers", `${only.status}; ${answered(only)}`, only.status === "200" && answered(only) === `outside-ok ${ALLOWED_PORT} /${t.only}` && outside!.seen(t.only).length === 1),
      table.add("c5 forbidden stand-in via the proxy when allowed (control)", "200, the stand-in answers: reachable, recorded", `${reach.status}; ${answered(reach)}; from ${forbidden!.seen(t.reach).map((x) => x.from).join(",")}`, reach.status === "200" && answered(reach) === `outside-ok ${ALLOWED_PORT} /${t.reach}` && forbidden!.seen(t.reach).length === 1),
    ]);
  });

  it("3b. class 6: an inference provider baseUrl must pass the SSRF guard (config time: nothing is contacted)", async () => {
    // Only configuration is judged here; no traffic goes to these addresses. The router's
    // connect-time guard (every resolved address public and outside the platform, the socket
    // pinned to the checked address) is packages/inference-router/test/destination.guard.test.ts.
    const FIELD = "tenants[0].policy.inference.providers[0].baseUrl";
    const withProvider = (baseUrl: string): OpenClawPlatformArgs => {
      const c = structuredClone(config);
      const a = c.tenants[0]!;
      expect(a.id).toBe("alpha");
      return {
        ...c,
        prefix: `c6${runId.slice(1)}`,
        images: { ...c.images, inferenceRouter: requireEnv("OCTW_IMAGE_INFERENCE_ROUTER") },
        tenants: [{ ...a, policy: { ...(a.policy as { version: 1 }), inference: { providers: [{ name: "models", api: "openai", baseUrl, models: ["model-1"] }] } } }, ...c.tenants.slice(1)],
      };
    };
    const refusal = (f: () => unknown): OctwConfigError | string => {
      try {
        f();
        return "accepted";
      } catch (e) {
        return e instanceof OctwConfigError ? e : `threw ${String(e)}`;
      }
    };
    const cases: [string, string, string][] = [
      ["c6 baseUrl → control-network Postgres", `https://${auditAddress}:5432/v1`, auditAddress],
      ["c6 baseUrl → B's gateway", `https://${B().gatewayIp}:18789/v1`, B().gatewayIp],
      ["c6 baseUrl http:// on a public name", "http://models.example.com/v1", "models.example.com"],
      ["c6 baseUrl → 169.254.169.254", "https://169.254.169.254/latest", "169.254.169.254"],
    ];
    const r: boolean[] = [];
    for (const [i, [label, baseUrl, host]] of cases.entries()) {
      const cfg = withProvider(baseUrl);
      const planned = refusal(() => planPlatform(cfg, "class 6 probe"));
      const name = `c6-${i}-${runId}`;
      const declared = refusal(() => new OpenClawPlatform(name, cfg));
      await rm.settled();
      const registered = rm.records.filter((x) => x.name.startsWith(name)).length;
      const problem = (e: OctwConfigError | string) => (typeof e === "string" ? undefined : e.problems.find((p) => p.path === FIELD));
      const ok = (e: OctwConfigError | string) => problem(e) !== undefined && typeof e !== "string" && !e.message.includes(host);
      r.push(
        table.add(
          label,
          `refused naming ${FIELD}, value not echoed, nothing registered`,
          `${problem(planned)?.message ?? String(planned)}; constructor: ${problem(declared) ? "refused" : String(declared)}; registered ${registered}`,
          ok(planned) && ok(declared) && registered === 0,
        ),
      );
    }
    const good = "https://models.example.com/v1";
    const accepted = planPlatform(withProvider(good), "class 6 control");
    const inference = accepted.tenants.find((x) => x.config.id === "alpha")?.policy.inference;
    r.push(table.add("c6 https baseUrl on a public name (control)", "accepted (not contacted)", inference ? `accepted: ${inference.providers.length} provider` : "no inference section", inference?.providers[0]?.baseUrl === good));
    rows("class 6: provider baseUrl guard", r);
  });

  it("3c. class 8: tenants do not share a browser origin (host routing; the session cookie stays on its tenant)", async () => {
    // Upstream Set-Cookie / Service-Worker-Allowed / Clear-Site-Data confinement needs an upstream
    // that sends them; the gateway image does not, so it is tested against fake upstreams in
    // packages/edge/test/headers.test.ts, proxy.test.ts and hostile-upstream.fuzz.test.ts.
    const aTok = await sign(edgeKey, "alpha", "viewer");
    const bTok = await sign(edgeKey, "bravo", "viewer");
    const bearer = (tk: string) => ({ authorization: `Bearer ${tk}` });
    const [apexPath, ipPath, hostRoute] = await Promise.all([
      edgeRequest("GET", "/t/bravo/healthz", { host: "octw.test", ...bearer(bTok) }),
      edgeRequest("GET", "/t/bravo/healthz", bearer(bTok)),
      edgeRequest("GET", "/healthz", { host: "bravo.octw.test", ...bearer(bTok) }),
    ]);
    const session = await edgeRequest("POST", "/_edge/session", { host: "alpha.octw.test", origin: "https://alpha.octw.test", "content-length": "0", ...bearer(aTok) });
    const setCookie = [session.headers["set-cookie"] ?? []].flat().find((c) => c.startsWith("octw_session="));
    const attrs = (setCookie ?? "").split(";").slice(1).map((x) => x.trim().toLowerCase());
    const value = setCookie?.split(";")[0]!.slice("octw_session=".length) ?? "";
    const replay = (tenant: string, origin: boolean) =>
      edgeRequest("GET", "/healthz", { host: `${tenant}.octw.test`, cookie: `octw_session=${value}`, ...(origin ? { origin: `https://${tenant}.octw.test` } : {}) });
    const [toB, toBNoOrigin, toA] = await Promise.all([replay("bravo", true), replay("bravo", false), replay("alpha", true)]);
    const json = (x: { status: number; body: string }) => x.status === 200 && x.body.trim().startsWith("{");
    rows("class 8: one origin per tenant", [
      table.add("c8 path route /t/bravo/ on the apex host (B token)", "404: path routing is off", `${apexPath.status}`, apexPath.status === 404),
      table.add("c8 path route /t/bravo/ on the published IP (B token)", "404: path routing is off", `${ipPath.status}`, ipPath.status === 404),
      table.add("c8 bravo.octw.test /healthz, same token (control)", "200 from B's gateway", `${hostRoute.status} ${hostRoute.body.slice(0, 40)}`, json(hostRoute)),
      table.add("c8 session cookie set on alpha's host", "204; no Domain; Path=/; Secure; HttpOnly; SameSite=Strict", `${session.status}; ${attrs.join("; ")}`, session.status === 204 && value === aTok && !attrs.some((x) => x.startsWith("domain")) && ["path=/", "secure", "httponly", "samesite=strict"].every((x) => attrs.includes(x))),
      table.add("c8 alpha's cookie replayed on bravo.octw.test", "403 (with and without a same-origin Origin)", `${toB.status} / ${toBNoOrigin.status}`, toB.status === 403 && toBNoOrigin.status === 403),
      table.add("c8 alpha's cookie on alpha.octw.test (control)", "200 from A's gateway: the cookie is a credential", `${toA.status} ${toA.body.slice(0, 40)}`, json(toA)),
    ]);
  });

  it("4. cannot write outside its read-write paths; /tmp is noexec", async () => {
    const paths = ["/usr/probe-w", "/etc/probe-w", "/lib/probe-w", "/opt/openclaw/probe-w", "/tmp/probe-w", "/var/lib/openclaw/probe-w"];
    const a = await nodeProbe<Record<string, string>>(dk, A().gateway, P.WRITE_PROBE, paths, { user: A().user });
    const c = await nodeProbe<Record<string, string>>(dk, ctl.out, P.WRITE_PROBE, paths.slice(0, 4));
    const r: boolean[] = [];
    for (const p of paths.slice(0, 4)) {
      r.push(table.add(`4 write ${p.replace("/probe-w", "")}`, "EROFS", String(a[p]), a[p] === "EROFS"));
    }
    r.push(table.add("4 write read-write paths (control)", "/tmp and state dir writable", `/tmp ${a["/tmp/probe-w"]}, state ${a["/var/lib/openclaw/probe-w"]}`, a["/tmp/probe-w"] === "written" && a["/var/lib/openclaw/probe-w"] === "written"));
    r.push(table.add("4 write system paths (control)", "writable without read-only root", JSON.stringify(c), Object.values(c).every((v) => v === "written")));
    const ex = await inA(P.NOEXEC_PROBE);
    const exCtl = await inCtl(ctl.a, P.NOEXEC_PROBE);
    r.push(table.add("4 exec what it wrote to /tmp", "permission denied (noexec)", show(ex), /Permission denied/.test(ex.stdout) && /rc=126/.test(ex.stdout)));
    r.push(table.add("4 exec from /tmp (control)", "runs where /tmp is exec", show(exCtl), /^ran$/m.test(exCtl.stdout) && /rc=0/.test(exCtl.stdout)));
    rows("filesystem", r);
  });

  it("5. cannot gain privileges", async () => {
    const r: boolean[] = [];
    const uidLine = (s: string) => /^Uid:\s*(\d+)\s+(\d+)/m.exec(s);
    const su = await inA(P.SETUID_PROBE);
    const suCtl = await inCtl(ctl.a, P.SETUID_PROBE);
    const suA = uidLine(su.stdout);
    const suC = uidLine(suCtl.stdout);
    r.push(table.add("5 setuid-root binary (su)", "no-new-privs: euid stays tenant UID", show(su), /NoNewPrivs:\s*1/.test(su.stdout) && suA !== null && suA[2] === String(A().uid)));
    r.push(table.add("5 setuid-root binary (control)", "euid 0 without no-new-privs", show(suCtl), suC !== null && suC[2] === "0"));

    for (const [label, script] of [["unshare -U", P.UNSHARE_USER_PROBE], ["unshare -Urn (net ns)", P.UNSHARE_NET_PROBE]] as const) {
      const x = await inA(script);
      const c = await inCtl(ctl.a, script);
      r.push(table.add(`5 ${label}`, "refused", show(x), !/rc=0/.test(x.stdout)));
      r.push(table.add(`5 ${label} (control)`, "works without the seccomp profile", show(c), /rc=0/.test(c.stdout)));
    }
    const m = await inA(P.MOUNT_PROBE);
    const mc = await inCtl(ctl.a, P.MOUNT_PROBE);
    const rcs = (x: ExecResult) => x.stdout.split("\n").filter((l) => /rc=/.test(l)).join("; ");
    r.push(table.add("5 mount (direct, in userns)", "both refused", rcs(m), !/direct rc=0/.test(m.stdout) && !/userns rc=0/.test(m.stdout)));
    r.push(table.add("5 mount (control)", "mount in a user namespace works", rcs(mc), /userns rc=0/.test(mc.stdout)));

    const pid = (await inA(P.GATEWAY_PID)).stdout.trim();
    const pt = await inA(`perl -e '${P.PTRACE_PERL}' ${pid}`);
    const ptCtl = await inCtl(ctl.a, `sleep 30 & p=$!; perl -e '${P.PTRACE_PERL}' $p; kill $p`);
    r.push(table.add(`5 ptrace the gateway (pid ${pid || "?"})`, "attach refused", show(pt), /^\d+$/.test(pid) && /attach=-1/.test(pt.stdout)));
    r.push(table.add("5 ptrace (control)", "attach works without the profile", show(ptCtl), /attach=0/.test(ptCtl.stdout)));

    const raw = await inA(P.RAW_SOCKET_PROBE);
    const rawCtl = await inCtl(ctl.out, P.RAW_SOCKET_PROBE);
    r.push(table.add("5 raw socket", "refused", show(raw), /raw=fail/.test(raw.stdout)));
    r.push(table.add("5 raw socket (control)", "works with CAP_NET_RAW", show(rawCtl), /raw=ok/.test(rawCtl.stdout)));

    const ch = await inA(P.CHOWN_PROBE(B().uid));
    const chCtl = await inCtl(ctl.out, P.CHOWN_PROBE(B().uid));
    r.push(table.add("5 chown to root / to B's UID", "both refused", show(ch), !/root rc=0/.test(ch.stdout) && !/other rc=0/.test(ch.stdout)));
    r.push(table.add("5 chown (control)", "works with CAP_CHOWN", show(chCtl), /root rc=0/.test(chCtl.stdout) && /other rc=0/.test(chCtl.stdout)));

    const su2 = await inA(P.SETUID_CALL_PROBE(B().uid));
    const su2Ctl = await inCtl(ctl.out, P.SETUID_CALL_PROBE(B().uid));
    r.push(table.add("5 change own UID (to 0, to B's)", "both refused", show(su2), !/root rc=0/.test(su2.stdout) && !/other rc=0/.test(su2.stdout)));
    r.push(table.add("5 change UID (control)", "works with CAP_SETUID", show(su2Ctl), /root rc=0/.test(su2Ctl.stdout) && new RegExp(`^${B().uid}$`, "m").test(su2Ctl.stdout)));
    rows("privileges", r);
  });

  it("6. state volume is 0700 and its own; no secret in its environment or in docker inspect", async () => {
    const st = await inA("stat -c '%a %u %g' /var/lib/openclaw");
    const secrets = new Set<string>();
    for (const rec of rm.records) {
      for (const p of rec.secretPaths) {
        let v: unknown = rec.inputs;
        for (const k of p.split(".")) v = (v as Record<string, unknown> | undefined)?.[k];
        const add = (x: unknown) => typeof x === "string" && x.length >= 12 && secrets.add(x);
        if (Array.isArray(v)) v.forEach(add);
        else add(v);
      }
      if (rec.type === "random:index/randomPassword:RandomPassword") secrets.add(String(rec.outputs.result));
      if (rec.type === "random:index/randomBytes:RandomBytes") {
        secrets.add(String(rec.outputs.base64));
        secrets.add(String(rec.outputs.hex));
      }
    }
    const env = await inA("cat /proc/self/environ /proc/1/environ 2>/dev/null | tr '\\0' '\\n'");
    const inspect = JSON.stringify(await dk.getContainer(A().gateway).inspect());
    const leakedEnv = [...secrets].filter((s) => env.stdout.includes(s));
    const leakedInspect = [...secrets].filter((s) => inspect.includes(s));
    const tokenFile = await inA(`cat ${ROUTER_TOKEN_PATH}`);
    rows("state and secrets", [
      table.add("6 state volume mode/owner", `700 ${A().uid} ${A().gid}`, st.stdout.trim(), st.stdout.trim() === `700 ${A().uid} ${A().gid}`),
      table.add("6 secrets in /proc/*/environ", "none", `${leakedEnv.length} of ${secrets.size} known secrets`, leakedEnv.length === 0),
      table.add("6 secrets in docker inspect", "none", `${leakedInspect.length} of ${secrets.size} known secrets`, leakedInspect.length === 0),
      table.add("6 secret search works (control)", "router token found in its 0400 file", `${secrets.has(tokenFile.stdout.trim()) ? "found" : "not found"}; env has OPENCLAW_STATE_DIR: ${env.stdout.includes("OPENCLAW_STATE_DIR=")}`, secrets.size > 0 && secrets.has(tokenFile.stdout.trim()) && env.stdout.includes("OPENCLAW_STATE_DIR=")),
    ]);
  });

  it("7. exhausting processes and memory in alpha leaves bravo serving", async () => {
    const bHealth = () => nodeProbe<{ ok: boolean; status?: number; err?: string }>(dk, ctl.b, P.HEALTH_PROBE, [`http://${B().gatewayIp}:18789/healthz`]);
    const bSpawn = () => execIn(dk, B().gateway, ["/bin/sh", "-c", "echo spawned"], { user: B().user });
    const n = 700;
    const forkStart = Date.now();
    const fork = await inA(P.FORK_PROBE(n, 8), 60_000);
    const [hDuringFork, sDuringFork] = await Promise.all([bHealth(), bSpawn()]);
    // the children live 8 s; A's UID is at its limit until they are gone
    await new Promise((r) => setTimeout(r, Math.max(0, forkStart + 9_000 - Date.now())));
    const forkCtl = await inCtl(ctl.a, P.FORK_PROBE(n, 2));
    const forked = Number(/forked=(\d+)/.exec(fork.stdout)?.[1] ?? -1);

    const before = await dk.getContainer(A().gateway).inspect();
    const memLimit = before.HostConfig.Memory ?? 0;
    const chunks = Math.ceil((memLimit * 1.6) / (64 * 1024 * 1024));
    const memA = inA(`/usr/local/bin/node -e '${P.MEMORY_PROBE(chunks)}'; echo "rc=$?"`, 120_000);
    await new Promise((r) => setTimeout(r, 1500));
    const [hDuringMem, sDuringMem] = await Promise.all([bHealth(), bSpawn()]);
    const mem = await memA;
    const memCtl = await inCtl(ctl.a, `/usr/local/bin/node -e '${P.MEMORY_PROBE(chunks)}'; echo "rc=$?"`);
    // The OOM killer may pick A's gateway (the largest process) instead of the probe: then A's
    // container restarts — A hurt itself, which is the limit working.
    const aRestarts = (await dk.getContainer(A().gateway).inspect()).RestartCount - before.RestartCount;
    const memObserved = `${show(mem) || "(exec ended with its container)"}; A restarts: ${aRestarts}`;
    rows("exhaustion", [
      table.add(`7 fork ${n} in A`, "stopped by nproc (EAGAIN)", fork.stdout.trim(), forked >= 0 && forked < n && /Resource temporarily unavailable/.test(fork.stdout)),
      table.add(`7 fork ${n} (control)`, "all forked without the limit", forkCtl.stdout.trim(), new RegExp(`forked=${n} err=none`).test(forkCtl.stdout)),
      table.add("7 B during A's fork storm", "B healthy and can spawn", `health ${hDuringFork.ok ? "ok" : hDuringFork.err ?? hDuringFork.status}; spawn ${sDuringFork.stdout.trim() || sDuringFork.stderr}`, hDuringFork.ok && sDuringFork.stdout.trim() === "spawned"),
      table.add(`7 allocate ${chunks * 64} MiB in A`, `killed/refused at ${Math.round(memLimit / 1048576)} MiB`, memObserved, !/allocated|Cannot fork/.test(mem.stdout) && (/rc=(137|134)|alloc-error/.test(mem.stdout) || aRestarts > 0)),
      table.add(`7 allocate ${chunks * 64} MiB (control)`, "succeeds without the limit", show(memCtl), /allocated/.test(memCtl.stdout)),
      table.add("7 B during A's memory storm", "B healthy and can spawn", `health ${hDuringMem.ok ? "ok" : hDuringMem.err ?? hDuringMem.status}; spawn ${sDuringMem.stdout.trim() || sDuringMem.stderr}`, hDuringMem.ok && sDuringMem.stdout.trim() === "spawned"),
    ]);
  });

  it("8. no DNS leaves alpha's network (the engine's upstream is the suite's DNS server)", async () => {
    const t = { a: token("exfil-a"), aCtl: token("exfil-actl"), open: token("exfil-open"), fixed: token("exfil-fixed") };
    const look = (id: string, name: string, user?: string) => nodeProbe<{ ok: boolean; addr?: string; err?: string; ms?: number }>(dk, id, P.DNS_PROBE, [name], user ? { user } : {});
    const [a, own, aCtl, open, fixed] = await Promise.all([
      look(A().gateway, `${t.a}.exfil.octw.test`, A().user),
      look(A().gateway, A().egressName, A().user),
      look(ctl.a, `${t.aCtl}.exfil.octw.test`),
      look(ctl.dnsOpen, `${t.open}.exfil.octw.test`),
      look(ctl.dnsFixed, `${t.fixed}.exfil.octw.test`),
    ]);
    await new Promise((r) => setTimeout(r, 500));
    const seen = (k: keyof typeof t) => dns!.seen(t[k]).length;
    rows("dns", [
      table.add("8 A looks up an outside name", "no query reaches any DNS server", `${a.ok ? "resolved" : a.err} after ${a.ms} ms; queries seen: ${seen("a")}`, seen("a") === 0),
      table.add("8 A resolves its own proxy's name (control)", "container names still resolve", own.ok ? `${own.addr}` : String(own.err), own.ok && own.addr === A().egressIp),
      table.add("8 internal network, default DNS (control)", "query reaches the upstream: channel exists", `${open.ok ? "resolved" : open.err}; queries seen: ${seen("open")}`, seen("open") > 0),
      table.add("8 internal network, dns 127.0.0.1", "the fix alone closes it", `${fixed.ok ? "resolved" : fixed.err}; queries seen: ${seen("fixed")}`, seen("fixed") === 0),
      table.add("8 A's network without the fix", "no query (no host address on the bridge)", `${aCtl.ok ? "resolved" : aCtl.err}; queries seen: ${seen("aCtl")}`, seen("aCtl") === 0),
    ]);
  });

  it("9. after SIGKILL of its gateway process, alpha serves again within 30 s with its state", async () => {
    // start from a serving gateway (the memory probe may have restarted it)
    const ready = Date.now();
    while (Date.now() - ready < 150_000) {
      const hc = await nodeProbe<{ ok: boolean }>(dk, ctl.a, P.HEALTH_PROBE, [`http://${A().gatewayIp}:18789/healthz`]).catch(() => ({ ok: false }));
      if (hc.ok) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const marker = token("state");
    await inA(`echo ${marker} > /var/lib/openclaw/probe-marker`);
    const pid = (await inA(P.GATEWAY_PID)).stdout.trim();
    const killedAt = Date.now();
    const kill = await inA(`kill -9 ${pid}; echo "rc=$?"`).catch((e: unknown) => ({ exitCode: null, stdout: String(e), stderr: "" }));
    let back = -1;
    // the container goes down with its process; a fresh one must be serving within 30 s
    await new Promise((r) => setTimeout(r, 1000));
    while (Date.now() - killedAt < 30_000) {
      try {
        const hc = await nodeProbe<{ ok: boolean }>(dk, ctl.a, P.HEALTH_PROBE, [`http://${A().gatewayIp}:18789/healthz`]);
        if (hc.ok) {
          back = Date.now() - killedAt;
          break;
        }
      } catch {
        // control container hiccup: retry
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const info = await dk.getContainer(A().gateway).inspect();
    const restartedAfter = (Date.parse(info.State.StartedAt) - killedAt) / 1000;
    const m = back >= 0 ? await inA("cat /var/lib/openclaw/probe-marker") : { stdout: "" };
    if (back < 0) {
      await new Promise((r) => setTimeout(r, 30_000));
      const later = await nodeProbe<{ ok: boolean }>(dk, ctl.a, P.HEALTH_PROBE, [`http://${A().gatewayIp}:18789/healthz`]).catch(() => ({ ok: false }));
      console.log(`[conformance] alpha serving 60 s after SIGKILL: ${later.ok}`);
      const logs = await dk.getContainer(A().gateway).logs({ stdout: true, stderr: true, tail: 40 });
      console.log(`[conformance] alpha gateway log tail after SIGKILL:\n${demuxDockerStream(logs)}`);
    }
    rows("restart", [
      table.add("9 SIGKILL gateway process", "process dies, container restarts", `pid ${pid}; ${show(kill)}; restarts ${info.RestartCount}`, /^\d+$/.test(pid) && info.RestartCount >= 1),
      table.add("9 serving again", "≤ 30 s", `${back >= 0 ? `${(back / 1000).toFixed(1)} s` : "not within 30 s"} (container restarted after ${restartedAfter.toFixed(1)} s)`, back >= 0 && back <= 30_000),
      table.add("9 state intact", "marker file still there", m.stdout.trim() === marker ? "intact" : `got "${m.stdout.trim()}"`, m.stdout.trim() === marker),
    ]);
  });
});
