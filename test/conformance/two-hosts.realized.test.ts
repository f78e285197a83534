// One OpenClawPlatform on two hosts, realized: host "a" is the engine under test, host "b" a
// second dockerd in its own network namespace (test/realize/second-engine.ts: TLS with client
// certificates; a default route over its veth pair, so it reaches the first machine's addresses
// as a neighbouring host would; the suite's fake DNS as its --dns). Two tenants on each host; the
// audit store is an external Postgres serving TLS only with a certificate from a CA the test
// makes (test/realize/tls-postgres.ts), reached by every service with verify-full against
// `audit.caCertificate`. Then, from inside the tenants' gateways (docker exec as their own
// users), the attack suite's cross-tenant, egress and DNS probes on both hosts, and the
// cross-host probes: a tenant on A reaches nothing on B (B's engine API, B's edge's tenant-side
// addresses, B's tenants) and nothing of the audit store; audit events from both hosts' edges land
// in one verifiable chain per tenant; A's edge refuses B's tenant with 421. Every probe has a
// positive control (the same probe from a container that must get through).
//
// Traffic goes only to loopback, to the containers and namespaces this suite creates, and to the
// test environment's fake outside and DNS servers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import pg from "pg";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type Dockerode from "dockerode";
import { AUDIT_SCHEMA, readEvents, verifyAuditChain } from "@octw/audit";
import { OpenClawPlatform, planPlatform, type OpenClawPlatformArgs } from "@octw/pulumi";
import { createRealizingMocks, newRunId, RUN_LABEL, type RealizingMocks } from "../realize/index";
import { copyImage, startSecondEngine, type SecondEngine } from "../realize/second-engine";
import { startTlsPostgres, type TlsPostgres } from "../realize/tls-postgres";
import { engine, requireEnv } from "./env";
import { startFakeDns, type FakeDns } from "./fake-dns";
import { startFakeOutside, type FakeOutside } from "./fake-outside";
import { execIn, nodeProbe } from "./probe-exec";
import { ProbeTable } from "./report-table";
import * as P from "./probe-scripts";

const runId = newRunId();
const prefix = `octw-${runId}`;
const table = new ProbeTable();
const token = (what: string) => `${what}-${runId}-${randomBytes(4).toString("hex")}`;
const h = (parseInt(runId.slice(1, 3), 16) % 200) + 20;
const edgePort = 20000 + (parseInt(runId.slice(3, 7), 16) % 10000);
const auditPort = 25000 + (parseInt(runId.slice(-4), 16) % 5000);
const ISSUER = "https://issuer.conformance.test";
const AUDIENCE = "octw-edge";
const ALLOWED_PORT = 443;
const timings: Record<string, number> = {};

type HostName = "a" | "b";
interface Tenant {
  id: string;
  host: HostName;
  gateway: string;
  user: string;
  gatewayName: string;
  egressName: string;
  gatewayIp: string;
  egressIp: string;
  edgeIp: string;
}
interface Host {
  name: HostName;
  docker: Dockerode;
  edge: string; // container id
  ctlDnsOpen: string;
  tenants: [string, string];
}

let dk: Dockerode;
let b: SecondEngine | undefined;
let pgTls: TlsPostgres | undefined;
let rm: RealizingMocks | undefined;
let dns: FakeDns | undefined;
let outside: FakeOutside | undefined;
let outsideAddr = "";
let edgeKey: CryptoKey;
let databaseName = "";
const T: Record<string, Tenant> = {};
const H = {} as Record<HostName, Host>;
const started = Date.now();

function rows(label: string, results: boolean[]): void {
  expect(results.every(Boolean), `${label}: see the probe table`).toBe(true);
}

async function leftovers(d: Dockerode): Promise<string[]> {
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
  return [
    ...(await d.listContainers({ all: true })).filter((c) => c.Names.some((n) => n.includes(runId)) || c.Labels[RUN_LABEL] === runId).map((c) => `container ${c.Names[0]}`),
    ...(await d.listNetworks({ filters })).map((n) => `network ${n.Name}`),
    ...((await d.listVolumes()).Volumes ?? []).filter((v) => v.Name.includes(runId)).map((v) => `volume ${v.Name}`),
  ];
}

beforeAll(async () => {
  dk = await engine();
  const images = { openclaw: requireEnv("OCTW_IMAGE_OPENCLAW"), egressProxy: requireEnv("OCTW_IMAGE_EGRESS"), edge: requireEnv("OCTW_IMAGE_EDGE") };
  outsideAddr = requireEnv("OCTW_TEST_OUTSIDE_ADDR");
  const dnsAddr = requireEnv("OCTW_TEST_DNS_ADDR");
  let t = Date.now();
  b = await startSecondEngine(runId, undefined, 90_000, { dns: [dnsAddr], routeOut: true });
  timings.secondEngineMs = Date.now() - t;
  t = Date.now();
  for (const image of Object.values(images)) copyImage(image, b.socket);
  timings.copyImagesMs = Date.now() - t;
  t = Date.now();
  pgTls = await startTlsPostgres(dk, { runId, image: requireEnv("OCTW_IMAGE_POSTGRES"), address: b.peerAddress, port: auditPort });
  timings.auditServerMs = Date.now() - t;
  // the program verifies the audit server the way libpq does where `pulumi up` runs
  process.env.PGSSLROOTCERT = pgTls.caFile;

  const keys = await generateKeyPair("ES256", { extractable: true });
  edgeKey = keys.privateKey;
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: "conformance", alg: "ES256", use: "sig" };
  const outsidePolicy = { version: 1 as const, network_policies: { outside: { name: "fake-outside", endpoints: [{ host: "allowed.octw.test", port: ALLOWED_PORT, allowed_ips: [outsideAddr] }] } } };
  databaseName = `${runId}_audit`;
  const config: OpenClawPlatformArgs = {
    prefix,
    domain: "octw.test",
    addressPool: `10.200.${h}.0/24`,
    egressSubnet: `10.201.${h}.0/24`,
    controlSubnet: `10.202.${h}.0/28`,
    ingressSubnet: `10.204.${h}.0/28`,
    images,
    edge: { hostPort: edgePort, hostIp: "127.0.0.1", jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], jwks: [jwk] } },
    hosts: [{ name: "a" }, { name: "b", endpoint: b.host, tls: { ca: b.tls.ca, cert: b.tls.cert, key: pulumi.secret(b.tls.key) } }],
    tenants: [
      { id: "alpha", slot: 1, host: "a", policy: outsidePolicy },
      { id: "bravo", slot: 2, host: "a" },
      { id: "charlie", slot: 3, host: "b", policy: outsidePolicy },
      { id: "delta", slot: 4, host: "b" },
    ],
    audit: {
      mode: "external", host: pgTls.address, port: pgTls.port, adminUser: pgTls.adminUser, adminPassword: pulumi.secret(pgTls.adminPassword),
      sslMode: "verify-full", caCertificate: pgTls.ca, databaseName,
    },
  };
  const plan = planPlatform(config, "two-hosts platform");
  dns = await startFakeDns(dnsAddr, { "allowed.octw.test": outsideAddr, "notallowed.octw.test": outsideAddr });
  outside = await startFakeOutside(outsideAddr, [ALLOWED_PORT]);

  rm = createRealizingMocks({ runId, docker: dk, extraEngines: [b.host], log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[realize] ${l}`) });
  await pulumi.runtime.setMocks(rm.mocks, "octw-two-hosts", "test", false);
  const platform = new OpenClawPlatform("p", config);
  // Per host, the DNS control: a container with the engine's default DNS on a plain bridge, whose
  // lookups do reach the fake DNS — so "seen 0" for a tenant is the tenant's containment, not a
  // blind observer. (Not an internal network as in isolation.test.ts: on engine b, in its own
  // namespace, a lookup from an internal network without the fix was not forwarded at all —
  // measured in this suite's first run, ENOTFOUND on a vs EAI_AGAIN and nothing seen on b.)
  for (const name of ["a", "b"] as const) {
    const provider = platform.hosts[name]!.provider;
    const opts = provider ? { provider } : {};
    const net = new docker.Network(`ctl-plain-${name}`, { name: `${prefix}-ctl-plain`, driver: "bridge", internal: false, ipamConfigs: [{ subnet: `10.203.${h}.16/28` }] }, opts);
    new docker.Container(
      `ctl-dns-open-${name}`,
      { name: `${prefix}-ctl-dns-open`, image: images.openclaw, user: "4242:4242", command: ["sleep", "infinity"], networksAdvanced: [{ name: net.name }], destroyGraceSeconds: 0 },
      opts,
    );
  }
  t = Date.now();
  await rm.settled();
  timings.realizeMs = Date.now() - t;

  const engines = { a: dk, b: b.docker };
  for (const name of ["a", "b"] as const) {
    const d = engines[name];
    H[name] = {
      name,
      docker: d,
      edge: (await d.getContainer(`${prefix}-edge`).inspect()).Id,
      ctlDnsOpen: (await d.getContainer(`${prefix}-ctl-dns-open`).inspect()).Id,
      tenants: plan.placement.tenantsOf.get(name) as [string, string],
    };
  }
  for (const tp of plan.tenants) {
    const id = tp.config.id;
    const d = engines[tp.host as HostName];
    const g = await d.getContainer(`${prefix}-${id}-gateway`).inspect();
    T[id] = {
      id, host: tp.host as HostName, gateway: g.Id, user: g.Config.User,
      gatewayName: `${prefix}-${id}-gateway`, egressName: `${prefix}-${id}-egress`,
      gatewayIp: tp.addresses.gateway, egressIp: tp.addresses.egressProxy, edgeIp: tp.addresses.edge,
    };
  }
  console.log(`[two-hosts] deployed run ${runId}: ${JSON.stringify(timings)}`);
}, 600_000);

afterAll(async () => {
  console.log(`\n[two-hosts] run ${runId}: probe table\n${table.render()}\n`);
  const failures: unknown[] = [];
  await rm?.destroyAll().catch((e: unknown) => failures.push(e));
  await Promise.all([dns?.close(), outside?.close()]);
  if (pgTls) {
    // the audit database is retained on delete (the platform never drops audit history): the test drops its own
    const c = await pgTls.connect().catch(() => undefined);
    await c?.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`).catch((e: unknown) => failures.push(e));
    await c?.end();
  }
  await pgTls?.stop();
  delete process.env.PGSSLROOTCERT;
  const leftB = b ? await leftovers(b.docker).catch((e: unknown) => [`(second engine: ${String(e)})`]) : [];
  await b?.stop();
  const left = dk ? await leftovers(dk) : [];
  console.log(`[two-hosts] left after teardown: a ${left.join(", ") || "nothing"}; b ${leftB.join(", ") || "nothing"}; wall ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (failures.length) throw new AggregateError(failures, "teardown failed");
  expect(left).toEqual([]);
  expect(leftB).toEqual([]);
}, 300_000);

function sign(tenant: string, role = "member"): Promise<string> {
  const claims = new SignJWT({ tenant, role }).setProtectedHeader({ alg: "ES256", kid: "conformance" }).setIssuer(ISSUER).setAudience(AUDIENCE);
  return claims.setSubject(`user-of-${tenant}`).setIssuedAt().setExpirationTime("5m").sign(edgeKey);
}

/** A request to host a's edge (published on this machine's loopback). */
function edgeA(tenant: string, tok: string, path = "/healthz"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const rq = http.get(`http://127.0.0.1:${edgePort}${path}`, { headers: { host: `${tenant}.octw.test`, authorization: `Bearer ${tok}` }, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    rq.on("timeout", () => rq.destroy(new Error("timeout")));
    rq.on("error", reject);
  });
}

/** A request to host b's edge: published on loopback inside b's namespace (curl there; headers on stdin, not on a command line). */
function edgeB(tenant: string, tok: string, path = "/healthz"): { status: number; body: string } {
  const out = execFileSync("nsenter", [`--net=/run/netns/${b!.netns}`, "curl", "-s", "-m", "15", "-H", "@-", "-o", "-", "-w", "\n%{http_code}", `http://127.0.0.1:${edgePort}${path}`], {
    input: `Host: ${tenant}.octw.test\nAuthorization: Bearer ${tok}\n`,
    encoding: "utf8",
  });
  const cut = out.lastIndexOf("\n");
  return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
}

type Tcp = { ok: boolean; err?: string; data?: string };
const tcp = (d: Dockerode, id: string, host: string, port: number, user?: string, payload = ""): Promise<Tcp> =>
  nodeProbe<Tcp>(d, id, P.TCP_PROBE, [host, String(port), payload, "4000"], user ? { user } : {});
const fromTenant = (t: Tenant, host: string, port: number, payload = "") => tcp(H[t.host].docker, t.gateway, host, port, t.user, payload);
const fromEdge = (hn: HostName, host: string, port: number, payload = "") => tcp(H[hn].docker, H[hn].edge, host, port, undefined, payload);
const said = (r: Tcp) => (r.ok ? "connected" : `no connection (${r.err})`);

describe("the attack suite's probes on each host", () => {
  for (const hn of ["a", "b"] as const) {
    it(`host ${hn}: a tenant reaches neither its neighbour's gateway nor its egress proxy (control: the host's edge reaches the neighbour)`, async () => {
      const [me, other] = H[hn].tenants.map((id) => T[id]!);
      const targets: [string, string, number][] = [
        ["gateway by IP", other!.gatewayIp, 18789],
        ["gateway by name", other!.gatewayName, 18789],
        ["egress proxy by IP", other!.egressIp, 3128],
      ];
      const r: boolean[] = [];
      for (const [label, host, port] of targets) {
        const x = await fromTenant(me!, host, port);
        r.push(table.add(`${hn}1 ${me!.id} → ${other!.id} ${label}`, "no connection", said(x), !x.ok));
      }
      const ctl = await fromEdge(hn, other!.gatewayIp, 18789);
      r.push(table.add(`${hn}1 edge → ${other!.id} gateway (control)`, "connects", said(ctl), ctl.ok));
      const own = await fromTenant(me!, me!.egressIp, 3128);
      r.push(table.add(`${hn}1 ${me!.id} → own egress proxy (control)`, "connects", said(own), own.ok));
      rows(`host ${hn} cross-tenant`, r);
    });

    it(`host ${hn}: a tenant cannot reach the outside directly, and through its proxy only what is allowed`, async () => {
      const me = T[H[hn].tenants[0]]!;
      const tk = { direct: token(`${hn}-direct`), ctl: token(`${hn}-direct-ctl`), denied: token(`${hn}-px-no`), ok: token(`${hn}-px-ok`) };
      const req = (t: string) => Buffer.from(`GET /${t} HTTP/1.1\r\nHost: outside\r\nConnection: close\r\n\r\n`).toString("base64");
      const direct = await fromTenant(me, outsideAddr, ALLOWED_PORT, req(tk.direct));
      const ctl = await fromEdge(hn, outsideAddr, ALLOWED_PORT, req(tk.ctl));
      const via = (target: string, t: string) => nodeProbe<{ status: string; body?: string }>(H[hn].docker, me.gateway, P.CONNECT_PROBE, [me.egressIp, "3128", target, t, "10000"], { user: me.user });
      const denied = await via(`notallowed.octw.test:${ALLOWED_PORT}`, tk.denied);
      const ok = await via(`allowed.octw.test:${ALLOWED_PORT}`, tk.ok);
      rows(`host ${hn} egress`, [
        table.add(`${hn}2 ${me.id} → outside direct`, "no connection, nothing arrives", `${said(direct)}; arrived ${outside!.seen(tk.direct).length}`, !direct.ok && outside!.seen(tk.direct).length === 0),
        table.add(`${hn}2 edge → outside direct (control)`, "arrives (the host routes out)", `${said(ctl)}; arrived ${outside!.seen(tk.ctl).length}`, ctl.ok && outside!.seen(tk.ctl).length === 1),
        table.add(`${hn}2 ${me.id} CONNECT host not on its allowlist`, "403, nothing arrives", `${denied.status}; arrived ${outside!.seen(tk.denied).length}`, denied.status === "403" && outside!.seen(tk.denied).length === 0),
        table.add(`${hn}2 ${me.id} CONNECT allowlisted host (control)`, "200, arrives", `${ok.status}; arrived ${outside!.seen(tk.ok).length}`, ok.status === "200" && outside!.seen(tk.ok).length === 1),
      ]);
    });

    it(`host ${hn}: no DNS query leaves a tenant's network (control: the engine's default DNS path reaches the observer)`, async () => {
      const me = T[H[hn].tenants[0]]!;
      const tk = { t: token(`${hn}-exfil`), open: token(`${hn}-exfil-open`) };
      const look = (id: string, name: string, user?: string) => nodeProbe<{ ok: boolean; addr?: string; err?: string }>(H[hn].docker, id, P.DNS_PROBE, [name], user ? { user } : {});
      const [a, own, open] = await Promise.all([look(me.gateway, `${tk.t}.exfil.octw.test`, me.user), look(me.gateway, me.egressName, me.user), look(H[hn].ctlDnsOpen, `${tk.open}.exfil.octw.test`)]);
      await new Promise((r) => setTimeout(r, 500));
      rows(`host ${hn} dns`, [
        table.add(`${hn}8 ${me.id} looks up an outside name`, "no query reaches any DNS server", `${a.ok ? "resolved" : a.err}; seen ${dns!.seen(tk.t).length}`, dns!.seen(tk.t).length === 0),
        table.add(`${hn}8 ${me.id} resolves its own proxy (control)`, "container names resolve", own.ok ? String(own.addr) : String(own.err), own.ok && own.addr === me.egressIp),
        table.add(`${hn}8 plain bridge, default DNS (control)`, "query reaches the fake DNS: the observer sees this engine", `${open.ok ? "resolved" : open.err}; seen ${dns!.seen(tk.open).length}`, dns!.seen(tk.open).length > 0),
      ]);
    });
  }
});

describe("across the hosts", () => {
  it("a tenant on A reaches nothing on B: its engine API, its edge's tenant-side addresses, its tenants (controls from inside B and from A's edge)", async () => {
    const alpha = T.alpha!;
    const charlie = T.charlie!;
    const delta = T.delta!;
    const r: boolean[] = [];
    const api = await fromTenant(alpha, b!.address, 2376);
    const apiCtl = await fromEdge("a", b!.address, 2376);
    r.push(table.add("x1 alpha → B's engine API", "no connection", said(api), !api.ok));
    r.push(table.add("x1 A's edge → B's engine API (control)", "connects (TLS client auth guards it there)", said(apiCtl), apiCtl.ok));
    for (const t of [charlie, delta]) {
      const e = await fromTenant(alpha, t.edgeIp, 8443);
      const eCtl = await fromTenant(t, t.edgeIp, 8443);
      r.push(table.add(`x2 alpha → B's edge on ${t.id}'s network`, "no connection", said(e), !e.ok));
      r.push(table.add(`x2 ${t.id} → its edge (control)`, "connects", said(eCtl), eCtl.ok));
      const g = await fromTenant(alpha, t.gatewayIp, 18789);
      const gCtl = await fromEdge("b", t.gatewayIp, 18789);
      r.push(table.add(`x3 alpha → ${t.id}'s gateway`, "no connection", said(g), !g.ok));
      r.push(table.add(`x3 B's edge → ${t.id}'s gateway (control)`, "connects", said(gCtl), gCtl.ok));
    }
    // and the other way: a tenant on B reaches nothing of A's tenants
    const back = await fromTenant(charlie, alpha.gatewayIp, 18789);
    r.push(table.add("x3 charlie → alpha's gateway", "no connection", said(back), !back.ok));
    rows("cross-host", r);
  });

  it("no tenant on either host reaches the audit store; both edges do; a plaintext login is refused and a wrong CA is not trusted", async () => {
    const r: boolean[] = [];
    for (const id of ["alpha", "bravo", "charlie", "delta"]) {
      const x = await fromTenant(T[id]!, pgTls!.address, pgTls!.port);
      r.push(table.add(`x4 ${id} → audit store`, "no connection", said(x), !x.ok));
    }
    for (const hn of ["a", "b"] as const) {
      const x = await fromEdge(hn, pgTls!.address, pgTls!.port);
      r.push(table.add(`x4 ${hn}'s edge → audit store (control)`, "connects", said(x), x.ok));
    }
    const login = async (ssl: pg.ClientConfig["ssl"]) => {
      const c = new pg.Client({ host: pgTls!.address, port: pgTls!.port, user: pgTls!.adminUser, password: pgTls!.adminPassword, database: "postgres", ssl, connectionTimeoutMillis: 5_000 });
      try {
        await c.connect();
        await c.end();
        return "logged in";
      } catch (e) {
        return `refused: ${String((e as Error).message).slice(0, 80)}`;
      }
    };
    const plain = await login(false);
    const wrongCa = await login({ ca: b!.otherCa, rejectUnauthorized: true });
    const right = await login({ ca: pgTls!.ca, rejectUnauthorized: true });
    r.push(table.add("x5 plaintext login", "refused (hostssl only)", plain, /no encryption|pg_hba/.test(plain)));
    r.push(table.add("x5 TLS, server checked against another CA", "refused", wrongCa, wrongCa.startsWith("refused") && /certificate|self[- ]signed|verify/i.test(wrongCa)));
    r.push(table.add("x5 TLS verified against the platform's CA (control)", "logged in", right, right === "logged in"));
    rows("audit store", r);
  });

  it("A's edge refuses B's tenant with 421; B's edge serves it; both decisions are in one verifiable chain for that tenant", async () => {
    const charlieTok = await sign("charlie");
    const atA = await edgeA("charlie", charlieTok, "/healthz");
    const atB = edgeB("charlie", charlieTok, "/healthz");
    const alphaAtA = await edgeA("alpha", await sign("alpha"), "/healthz");
    const r: boolean[] = [
      table.add("x6 charlie's token at A's edge", "421, names nothing", `${atA.status} ${atA.body}`, atA.status === 421 && atA.body === JSON.stringify({ error: "misdirected_request" })),
      table.add("x6 charlie's token at B's edge (control)", "200 from charlie's gateway", `${atB.status} ${atB.body.slice(0, 40)}`, atB.status === 200 && atB.body.trim().startsWith("{")),
      table.add("x6 alpha's token at A's edge (control)", "200 from alpha's gateway", `${alphaAtA.status} ${alphaAtA.body.slice(0, 40)}`, alphaAtA.status === 200 && alphaAtA.body.trim().startsWith("{")),
    ];
    // the edges flush their audit buffers on their own schedule
    const c = await pgTls!.connect(databaseName);
    try {
      const deadline = Date.now() + 30_000;
      let events = await readEvents(c, { tenant: "charlie", limit: 1000 });
      const reason = (e: (typeof events)[number]) => (e.details as { reason?: string } | null)?.reason;
      const both = () => events.some((e) => reason(e) === "hosted_elsewhere" && e.decision === "denied") && events.some((e) => e.action === "edge.auth.allowed");
      while (!both() && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 500));
        events = await readEvents(c, { tenant: "charlie", limit: 1000 });
      }
      const report = await verifyAuditChain(c, { tenant: "charlie" });
      const alphaReport = await verifyAuditChain(c, { tenant: "alpha" });
      r.push(table.add("x7 charlie's trail: A's 421 and B's allow", "both recorded", events.map((e) => `${e.action}/${reason(e)}`).join(", "), both()));
      r.push(table.add("x7 charlie's chain verifies", "ok", JSON.stringify(report.tenants.map((x) => [x.tenant, x.verified, x.broken === null])), report.ok && report.tenants.length === 1 && report.tenants[0]!.verified >= events.length));
      r.push(table.add("x7 alpha's chain verifies (A only)", "ok", String(alphaReport.ok), alphaReport.ok && (await readEvents(c, { tenant: "alpha", limit: 10 })).length > 0));
      // the check itself notices a broken link (control): a copy of the chain with one event altered
      await c.query("BEGIN");
      try {
        await c.query(`SET LOCAL session_replication_role = replica`);
        const first = events[0]!;
        await c.query(`UPDATE ${AUDIT_SCHEMA}.audit_events SET actor = 'mallory' WHERE id = $1::bigint`, [first.id]);
        // inside this transaction (the altered row is seen only here and rolled back)
        const broken = await verifyAuditChain(c, { tenant: "charlie", withinTransaction: true });
        r.push(table.add("x7 an altered event breaks the chain (control)", "not ok", String(broken.ok), broken.ok === false));
      } finally {
        await c.query("ROLLBACK");
      }
    } finally {
      await c.end();
    }
    rows("421 and audit", r);
  });
});

describe("teardown checks", () => {
  it("the probe helpers ran against the engines of this run", () => {
    expect(Object.keys(T).sort()).toEqual(["alpha", "bravo", "charlie", "delta"]);
    expect(T.charlie!.host).toBe("b");
    // sanity that exec on b works as its tenants' users (the probes above would be vacuous otherwise)
    return execIn(b!.docker, T.charlie!.gateway, ["id", "-u"], { user: T.charlie!.user }).then((x) => expect(x.stdout.trim()).toBe(T.charlie!.user.split(":")[0]));
  });
});
