// The embedded audit store of a two-host platform, published over TLS (audit.publish), realized:
// host "a" is the engine under test and runs the store; host "b" is a second dockerd in its own
// network namespace (test/realize/second-engine.ts: TLS with client certificates, a default route
// over its veth pair, so it reaches the first machine's addresses as a neighbouring host would).
// The store's port is published on the first machine's side of that veth pair only, with a
// certificate for that address from a CA the test makes (test/support/audit-tls-pki.ts). Checked:
// B's edge writes through it (its events land, the tenant's chain verifies); from B's side a
// plaintext login and a server checked against another CA are refused (control: verify-full
// against the platform's CA logs in); from the store's own machine a plaintext login through the
// published port is refused too (the gateway rule of its pg_hba); no tenant on A or B reaches the
// store's port (controls: each host's edge does). The program itself (the @pulumi/postgresql
// provider through PGSSLROOTCERT, the migrations, the reader bindings) connects with verify-full.
// B also runs a waker (a tenant there is suspendable): it sits on B's internal control network,
// where no store is, so it reaches the published store through B's egress network (commit
// 0ebf583). Asked from B's edge to suspend that tenant (the call of the edge's idle clock), B's
// engine pauses it and the waker's `tenant.suspended` lands in that tenant's chain over
// verify-full (control: without the egress network — the layout before that fix — the waker does
// not reach the store at all).
//
// Traffic goes only to loopback and to the containers and namespaces this suite creates.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";
import pg from "pg";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import * as pulumi from "@pulumi/pulumi";
import type Dockerode from "dockerode";
import { AUDIT_SCHEMA, readEvents, verifyAuditChain } from "@octw/audit";
import { OpenClawPlatform, planPlatform, WAKER_PORT, WAKER_UID, type OpenClawPlatformArgs } from "@octw/pulumi";
import { createRealizingMocks, newRunId, RUN_LABEL, type RealizingMocks } from "../realize/index";
import { copyImage, startSecondEngine, type SecondEngine } from "../realize/second-engine";
import { makeAuditTlsPki, type AuditTlsPki } from "../support/audit-tls-pki";
import { engine, imagesFromEnv, requireEnv, valueOf } from "./env";
import { execIn, nodeProbe } from "./probe-exec";
import { ProbeTable } from "./report-table";
import * as P from "./probe-scripts";

const runId = newRunId();
const prefix = `octw-${runId}`;
const table = new ProbeTable();
const h = (parseInt(runId.slice(1, 3), 16) % 200) + 20;
const edgePort = 20000 + (parseInt(runId.slice(3, 7), 16) % 10000);
const auditPort = 25000 + (parseInt(runId.slice(-4), 16) % 5000);
const ISSUER = "https://issuer.conformance.test";
const AUDIENCE = "octw-edge";
const timings: Record<string, number> = {};
/**
 * delta's idle threshold (s): longer than the suite, so the idle clock never fires by itself. A
 * threshold of seconds runs from the edge's start, and the waker then pauses a gateway that is
 * still starting, whose health wait fails the deploy (seen: "p.b-delta-gateway not healthy within
 * 180s"); the test asks for the suspend itself, as the idle clock would.
 */
const PAUSE_S = 3600;
const started = Date.now();

let dk: Dockerode;
let b: SecondEngine | undefined;
let rm: RealizingMocks | undefined;
let pki: AuditTlsPki;
let dir = "";
let edgeKey: CryptoKey;
let platform: OpenClawPlatform;
let storeAddress = ""; // the published address: the first machine's side of the veth pair
let controlAddress = ""; // the store's address on a's control network
let superuser = { user: "postgres", password: "" };
let owner = { user: "", password: "" };
const ids: Record<string, string> = {}; // container ids: edgeA, edgeB, wakerB, alpha, charlie, delta
const users: Record<string, string> = {};

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
  const images = imagesFromEnv("openclaw", "egressProxy", "edge", "postgres", "waker");
  let t = Date.now();
  // the engine's --dns: the suite's test address (nothing here resolves outside names)
  b = await startSecondEngine(runId, undefined, 90_000, { dns: [requireEnv("OCTW_TEST_DNS_ADDR")], routeOut: true });
  timings.secondEngineMs = Date.now() - t;
  t = Date.now();
  for (const image of [images.openclaw, images.egressProxy, images.edge, images.waker]) copyImage(image, b.socket);
  timings.copyImagesMs = Date.now() - t;
  storeAddress = b.peerAddress;
  pki = makeAuditTlsPki(storeAddress);
  dir = mkdtempSync(join(tmpdir(), "octw-audit-tls-test-"));
  writeFileSync(join(dir, "ca.pem"), pki.ca);
  writeFileSync(join(dir, "other-ca.pem"), pki.otherCa);
  // the program verifies the store the way libpq does where `pulumi up` runs
  process.env.PGSSLROOTCERT = join(dir, "ca.pem");

  const keys = await generateKeyPair("ES256", { extractable: true });
  edgeKey = keys.privateKey;
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: "conformance", alg: "ES256", use: "sig" };
  const config: OpenClawPlatformArgs = {
    prefix,
    domain: "octw.test",
    addressPool: `10.216.${h}.0/24`,
    egressSubnet: `10.217.${h}.0/24`,
    controlSubnet: `10.218.${h}.0/28`,
    ingressSubnet: `10.219.${h}.0/28`,
    images,
    edge: { hostPort: edgePort, hostIp: "127.0.0.1", jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], jwks: [jwk] } },
    hosts: [{ name: "a" }, { name: "b", endpoint: b.host, tls: { ca: b.tls.ca, cert: b.tls.cert, key: pulumi.secret(b.tls.key) } }],
    tenants: [
      { id: "alpha", slot: 1, host: "a" },
      { id: "charlie", slot: 3, host: "b" },
      // the only suspendable tenant, so the only waker is b's: the waker's socket settings are the
      // platform's, one path for every host, and on this one machine a waker on a would mount b's socket
      { id: "delta", slot: 4, host: "b", suspend: { pauseAfterS: PAUSE_S } },
    ],
    waker: { dockerSocketGid: statSync(b.socket).gid, dockerSocketPath: b.socket },
    audit: {
      mode: "embedded",
      databaseName: `${runId}_audit`,
      caCertificate: pki.ca,
      publish: { address: storeAddress, port: auditPort, certificate: pki.cert, key: pulumi.secret(pki.key) },
    },
  };
  const plan = planPlatform(config, "audit-tls platform");
  controlAddress = plan.auditAddress;

  rm = createRealizingMocks({ runId, docker: dk, extraEngines: [b.host], log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[realize] ${l}`) });
  await pulumi.runtime.setMocks(rm.mocks, "octw-audit-tls", "test", false);
  platform = new OpenClawPlatform("p", config);
  t = Date.now();
  await rm.settled();
  timings.realizeMs = Date.now() - t;

  superuser = { user: "postgres", password: String(rm.find("pulumi:providers:postgresql", "p-audit-admin")!.inputs.password) };
  const o = await valueOf(platform.audit.owner);
  owner = { user: o.user, password: o.password };
  ids.edgeA = (await dk.getContainer(`${prefix}-edge`).inspect()).Id;
  ids.edgeB = (await b.docker.getContainer(`${prefix}-edge`).inspect()).Id;
  ids.wakerB = (await b.docker.getContainer(`${prefix}-waker`).inspect()).Id;
  for (const [id, d] of [["alpha", dk], ["charlie", b.docker], ["delta", b.docker]] as const) {
    const g = await d.getContainer(`${prefix}-${id}-gateway`).inspect();
    ids[id] = g.Id;
    users[id] = g.Config.User;
  }
  console.log(`[audit-tls] deployed run ${runId}: ${JSON.stringify(timings)}`);
}, 600_000);

afterAll(async () => {
  console.log(`\n[audit-tls] run ${runId}: probe table\n${table.render()}\n`);
  const failures: unknown[] = [];
  await rm?.destroyAll().catch((e: unknown) => failures.push(e));
  delete process.env.PGSSLROOTCERT;
  if (dir) rmSync(dir, { recursive: true, force: true });
  const leftB = b ? await leftovers(b.docker).catch((e: unknown) => [`(second engine: ${String(e)})`]) : [];
  await b?.stop();
  const left = dk ? await leftovers(dk) : [];
  console.log(`[audit-tls] left after teardown: a ${left.join(", ") || "nothing"}; b ${leftB.join(", ") || "nothing"}; wall ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (failures.length) throw new AggregateError(failures, "teardown failed");
  expect(left).toEqual([]);
  expect(leftB).toEqual([]);
}, 300_000);

function sign(tenant: string): Promise<string> {
  return new SignJWT({ tenant, role: "member" }).setProtectedHeader({ alg: "ES256", kid: "conformance" }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(`user-of-${tenant}`).setIssuedAt().setExpirationTime("5m").sign(edgeKey);
}

/** A request to a's edge (published on this machine's loopback). */
function edgeA(tenant: string, tok: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const rq = http.get(`http://127.0.0.1:${edgePort}/healthz`, { headers: { host: `${tenant}.octw.test`, authorization: `Bearer ${tok}` }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    rq.on("timeout", () => rq.destroy(new Error("timeout")));
    rq.on("error", reject);
  });
}

/** A request to b's edge: published on loopback inside b's namespace (curl there; the token on stdin, not on a command line). */
function edgeB(tenant: string, tok: string): number {
  const out = execFileSync("nsenter", [`--net=/run/netns/${b!.netns}`, "curl", "-s", "-m", "15", "-H", "@-", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${edgePort}/healthz`], {
    input: `Host: ${tenant}.octw.test\nAuthorization: Bearer ${tok}\n`,
    encoding: "utf8",
  });
  return Number(out.trim());
}

/**
 * A psql login (`select 1`) with the given sslmode and root certificate, run in b's network
 * namespace (`from: "b"`) or on this machine; the password goes through the environment.
 */
function psqlLogin(from: "a" | "b", who: { user: string; password: string }, sslmode: string, rootCert?: string): string {
  const conn = [`host=${storeAddress}`, `port=${auditPort}`, "dbname=postgres", `user=${who.user}`, `sslmode=${sslmode}`, "connect_timeout=5", ...(rootCert ? [`sslrootcert=${rootCert}`] : [])].join(" ");
  const cmd = ["psql", "-X", "-w", "-A", "-t", "-c", "select 1", conn];
  const r = from === "b" ? spawnSync("nsenter", [`--net=/run/netns/${b!.netns}`, ...cmd], { encoding: "utf8", env: { ...process.env, PGPASSWORD: who.password }, timeout: 20_000 }) : spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", env: { ...process.env, PGPASSWORD: who.password }, timeout: 20_000 });
  // the reason's tail is what tells the refusals apart (libpq prefixes it with the address)
  return r.status === 0 && r.stdout.trim() === "1" ? "logged in" : `refused: ${(r.stderr || r.stdout || String(r.error)).replace(/\s+/g, " ").replace(/^.*? failed: /, "").trim()}`;
}

/** A POST with the bearer token read from a file in the container (never on a command line). */
const SUSPEND_CALL = `
const [url, tokenFile] = process.argv.slice(1);
const token = require("fs").readFileSync(tokenFile, "utf8").trim();
fetch(url, { method: "POST", headers: { authorization: "Bearer " + token }, signal: AbortSignal.timeout(50000) })
  .then(async (r) => console.log(JSON.stringify({ status: r.status, body: (await r.text()).slice(0, 200) })))
  .catch((e) => console.log(JSON.stringify({ error: String(e.cause?.code ?? e.name) })));
`;

type Tcp = { ok: boolean; err?: string };
const tcp = (d: Dockerode, id: string, host: string, port: number, user?: string): Promise<Tcp> => nodeProbe<Tcp>(d, id, P.TCP_PROBE, [host, String(port), "", "4000"], user ? { user } : {});
const said = (r: Tcp) => (r.ok ? "connected" : `no connection (${r.err})`);

describe("the embedded store served over TLS to the other host", () => {
  it("is published on the named address only, with its key 0400 owned by the postgres uid in its own volume", async () => {
    const pgc = await dk.getContainer(`${prefix}-audit-postgres`).inspect();
    const bindings = pgc.HostConfig.PortBindings as Record<string, { HostIp: string; HostPort: string }[]>;
    const key = await execIn(dk, pgc.Id, ["stat", "-c", "%a %u", "/var/lib/postgresql/tls/server.key"]);
    const ssl = await execIn(dk, pgc.Id, ["sh", "-c", "ls /var/lib/postgresql/tls && id -u"]);
    rows("publication", [
      table.add("p1 published port", `only ${storeAddress}:${auditPort}`, JSON.stringify(bindings), JSON.stringify(bindings) === JSON.stringify({ "5432/tcp": [{ HostIp: storeAddress, HostPort: String(auditPort) }] })),
      table.add("p1 server key in the TLS volume", "400 5432", key.stdout.trim(), key.stdout.trim() === "400 5432"),
      table.add("p1 TLS volume holds", "pg_hba.conf server.crt server.key", ssl.stdout.replace(/\s+/g, " ").trim(), /pg_hba\.conf server\.crt server\.key 5432/.test(ssl.stdout.replace(/\s+/g, " "))),
    ]);
  });

  it("from b's side: plaintext refused, another CA refused, verify-full against the platform's CA logs in (control); the same from a's machine through the published port", () => {
    const caFile = join(dir, "ca.pem");
    const otherFile = join(dir, "other-ca.pem");
    const r: boolean[] = [];
    for (const from of ["b", "a"] as const) {
      for (const who of [owner, superuser]) {
        const plain = psqlLogin(from, who, "disable");
        // require with a root file that does not exist: TLS without verification (libpq verifies
        // under require whenever the root file exists, so the other CA's file cannot serve here)
        const prefer = psqlLogin(from, who, "require", `/nonexistent-${runId}/root.crt`);
        const wrong = psqlLogin(from, who, "verify-full", otherFile);
        const right = psqlLogin(from, who, "verify-full", caFile);
        const u = who === superuser ? "superuser" : "owner";
        r.push(table.add(`t1 ${from}: ${u} plaintext`, "refused (no pg_hba entry without encryption)", plain, plain.startsWith("refused") && /no encryption/.test(plain)));
        // control for the wrong-CA probe: TLS itself works with that file when nothing is verified
        r.push(table.add(`t1 ${from}: ${u} TLS unverified (control)`, "logged in", prefer, prefer === "logged in"));
        r.push(table.add(`t1 ${from}: ${u} verify-full, another CA`, "refused (certificate verify failed)", wrong, wrong.startsWith("refused") && /certificate verify failed/.test(wrong)));
        r.push(table.add(`t1 ${from}: ${u} verify-full, platform CA (control)`, "logged in", right, right === "logged in"));
      }
    }
    rows("TLS from outside the control network", r);
  });

  it("b's edge writes through it (verify-full against the CA): its events land and the tenant's chain verifies; a's edge writes on the control network", async () => {
    const url = (await execIn(b!.docker, ids.edgeB!, ["cat", "/var/lib/octw-edge/secrets/audit-db-url"])).stdout.trim();
    const parsed = new URL(url);
    const atB = edgeB("charlie", await sign("charlie"));
    const atA = await edgeA("alpha", await sign("alpha"));
    const r: boolean[] = [
      table.add("t2 b's edge audit URL", `${storeAddress}:${auditPort} verify-full, sslrootcert`, `${parsed.hostname}:${parsed.port} ${parsed.searchParams.get("sslmode")} ${parsed.searchParams.get("sslrootcert") ? "sslrootcert" : "-"}`, parsed.hostname === storeAddress && parsed.port === String(auditPort) && parsed.searchParams.get("sslmode") === "verify-full" && !!parsed.searchParams.get("sslrootcert")),
      table.add("t2 charlie's token at b's edge", "200", String(atB), atB === 200),
      table.add("t2 alpha's token at a's edge", "200", String(atA), atA === 200),
    ];
    const c = new pg.Client({ host: storeAddress, port: auditPort, user: superuser.user, password: superuser.password, database: `${runId}_audit`, ssl: { ca: pki.ca, rejectUnauthorized: true }, connectionTimeoutMillis: 5_000 });
    await c.connect();
    try {
      const deadline = Date.now() + 30_000;
      const landed = async (tenant: string) => (await readEvents(c, { tenant, limit: 1000 })).filter((e) => e.action === "edge.auth.allowed");
      let charlie = await landed("charlie");
      let alpha = await landed("alpha");
      while ((charlie.length === 0 || alpha.length === 0) && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 500));
        charlie = await landed("charlie");
        alpha = await landed("alpha");
      }
      // the edges' sessions: b's arrives from outside the control network, so (pg_hba) only over TLS
      const sessions = await c.query<{ usename: string; ssl: boolean; client_addr: string }>(
        "SELECT a.usename, s.ssl, host(a.client_addr) AS client_addr FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename LIKE '%audit_edge'",
      );
      const remote = sessions.rows.filter((x) => x.client_addr !== null && !x.client_addr.startsWith(`10.218.${h}.`));
      const report = await verifyAuditChain(c, { tenant: "charlie" });
      r.push(table.add("t2 charlie's edge.auth.allowed from b", "landed", String(charlie.length), charlie.length > 0));
      r.push(table.add("t2 alpha's edge.auth.allowed from a (control)", "landed", String(alpha.length), alpha.length > 0));
      r.push(table.add("t2 b's edge sessions", "all TLS", JSON.stringify(remote.map((x) => [x.client_addr, x.ssl])), remote.length > 0 && remote.every((x) => x.ssl)));
      r.push(table.add("t2 charlie's chain verifies", "ok", JSON.stringify(report.tenants.map((x) => [x.tenant, x.verified, x.broken === null])), report.ok && report.tenants.length === 1 && report.tenants[0]!.verified >= charlie.length));
      // the check notices a broken link (control): one event altered inside a transaction that is rolled back
      await c.query("BEGIN");
      try {
        await c.query("SET LOCAL session_replication_role = replica");
        await c.query(`UPDATE ${AUDIT_SCHEMA}.audit_events SET actor = 'mallory' WHERE id = $1::bigint`, [charlie[0]!.id]);
        const broken = await verifyAuditChain(c, { tenant: "charlie", withinTransaction: true });
        r.push(table.add("t2 an altered event breaks the chain (control)", "not ok", String(broken.ok), broken.ok === false));
      } finally {
        await c.query("ROLLBACK");
      }
    } finally {
      await c.end();
    }
    // the tenant's own reader (a binding the program made over verify-full) reads its rows through the published port
    const reader = (await valueOf(platform.auditReaders)).charlie!;
    const rc = new pg.Client({ host: reader.host, port: reader.port, user: reader.user, password: reader.password, database: reader.database, ssl: { ca: pki.ca, rejectUnauthorized: true }, connectionTimeoutMillis: 5_000 });
    await rc.connect();
    try {
      const seen = await readEvents(rc, { limit: 1000 });
      r.push(table.add("t2 charlie's reader (verify-full) sees only charlie", "charlie's rows", `${seen.length} rows, tenants ${[...new Set(seen.map((e) => e.tenant))].join(",")}`, reader.sslMode === "verify-full" && seen.length > 0 && seen.every((e) => e.tenant === "charlie")));
    } finally {
      await rc.end();
    }
    rows("writes from b", r);
  });

  it("no tenant on a or b reaches the store's port (controls: a container in a's host network, b's edge, a's edge on the control network)", async () => {
    const r: boolean[] = [];
    // a's positive control for the published port: the same probe from a container in the host's
    // own network namespace (what the program and a neighbouring host's traffic arrive as)
    const hostNet = await dk.createContainer({
      name: `${prefix}-hostnet-probe`, Image: requireEnv("OCTW_IMAGE_OPENCLAW"), User: "4242:4242", Entrypoint: ["sleep", "infinity"],
      Labels: { [RUN_LABEL]: runId }, HostConfig: { NetworkMode: "host", AutoRemove: false },
    });
    await hostNet.start();
    const alphaPub = await tcp(dk, ids.alpha!, storeAddress, auditPort, users.alpha);
    const alphaCtl = await tcp(dk, ids.alpha!, controlAddress, 5432, users.alpha);
    const charliePub = await tcp(b!.docker, ids.charlie!, storeAddress, auditPort, users.charlie);
    const hostPub = await tcp(dk, hostNet.id, storeAddress, auditPort);
    await hostNet.remove({ force: true });
    const edgeACtl = await tcp(dk, ids.edgeA!, controlAddress, 5432);
    const edgeBPub = await tcp(b!.docker, ids.edgeB!, storeAddress, auditPort);
    r.push(table.add("t3 alpha (a) → published port", "no connection", said(alphaPub), !alphaPub.ok));
    r.push(table.add("t3 alpha (a) → store on the control network", "no connection", said(alphaCtl), !alphaCtl.ok));
    r.push(table.add("t3 charlie (b) → published port", "no connection", said(charliePub), !charliePub.ok));
    r.push(table.add("t3 a's host network → published port (control)", "connects", said(hostPub), hostPub.ok));
    r.push(table.add("t3 a's edge → store on the control network (control)", "connects", said(edgeACtl), edgeACtl.ok));
    r.push(table.add("t3 b's edge → published port (control)", "connects", said(edgeBPub), edgeBPub.ok));
    rows("tenants and the store", r);
  });

  it("b's waker pauses delta on b's engine and its tenant.suspended lands in delta's chain over verify-full (controls: no such event for the always-on tenants; no route to the store without b's egress network)", async () => {
    const r: boolean[] = [];
    const waker = await b!.docker.getContainer(ids.wakerB!).inspect();
    const networks = Object.keys(waker.NetworkSettings.Networks).sort();
    r.push(table.add("w1 b's waker networks", "control, egress", networks.join(", "), JSON.stringify(networks) === JSON.stringify([`${prefix}-control`, `${prefix}-egress`].sort())));
    // its files are the waker uid's, 0400 (the container starts as root without capabilities and drops to it)
    const asWaker = { user: String(WAKER_UID) };
    const url = new URL((await execIn(b!.docker, ids.wakerB!, ["cat", "/var/lib/octw-waker/secrets/audit-db-url"], asWaker)).stdout.trim());
    const caFile = url.searchParams.get("sslrootcert") ?? "";
    const ca = caFile ? (await execIn(b!.docker, ids.wakerB!, ["cat", caFile], asWaker)).stdout.trim() : "";
    r.push(table.add("w1 b's waker audit URL", `${storeAddress}:${auditPort} verify-full, sslrootcert: the platform's CA`, `${url.hostname}:${url.port} ${url.searchParams.get("sslmode")} ${ca === pki.ca.trim() ? "the platform's CA" : caFile ? "another file" : "-"}`, url.hostname === storeAddress && url.port === String(auditPort) && url.searchParams.get("sslmode") === "verify-full" && ca === pki.ca.trim()));

    // What b's edge's idle clock sends once delta's threshold has passed (packages/edge/src/waker-client.ts),
    // from b's edge (the waker's only caller, on the control network), with the edge's token file.
    const t0 = Date.now();
    const wakerIp = waker.NetworkSettings.Networks[`${prefix}-control`]?.IPAddress ?? "";
    const asked = await nodeProbe<{ status?: number; body?: string; error?: string }>(b!.docker, ids.edgeB!, SUSPEND_CALL, [`http://${wakerIp}:${WAKER_PORT}/tenants/delta/suspend?tier=paused&reason=idle`, "/var/lib/octw-edge/secrets/waker-token"], { timeoutMs: 60_000 });
    r.push(table.add("w2 b's edge asks b's waker to pause delta", "200", asked.status !== undefined ? `${asked.status} ${asked.body ?? ""}` : `error ${asked.error}`, asked.status === 200));
    let state = "";
    while (Date.now() - t0 < 30_000) {
      state = (await b!.docker.getContainer(ids.delta!).inspect()).State.Status;
      if (state === "paused") break;
      await new Promise((res) => setTimeout(res, 500));
    }
    const charlieState = (await b!.docker.getContainer(ids.charlie!).inspect()).State.Status;
    r.push(table.add("w2 delta's gateway on b's engine", "paused", state, state === "paused"));
    r.push(table.add("w2 charlie's gateway (always on, control)", "running", charlieState, charlieState === "running"));

    const c = new pg.Client({ host: storeAddress, port: auditPort, user: superuser.user, password: superuser.password, database: `${runId}_audit`, ssl: { ca: pki.ca, rejectUnauthorized: true }, connectionTimeoutMillis: 5_000 });
    await c.connect();
    try {
      const suspended = async (tenant: string) => (await readEvents(c, { tenant, limit: 1000 })).filter((e) => e.action === "tenant.suspended");
      const deadline = Date.now() + 30_000;
      let delta = await suspended("delta");
      while (delta.length === 0 && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 500));
        delta = await suspended("delta");
      }
      timings.pausedLandedMs = Date.now() - t0;
      const [charlie, alpha] = [await suspended("charlie"), await suspended("alpha")];
      const report = await verifyAuditChain(c, { tenant: "delta" });
      const first = delta[0];
      r.push(table.add("w3 delta's tenant.suspended from b's waker", "landed: actor waker, paused, reason idle", first ? `${delta.length}: ${first.actor} ${first.decision} ${String((first.details as { reason?: unknown }).reason)}` : "none", first !== undefined && first.actor === "waker" && first.decision === "paused" && (first.details as { reason?: unknown }).reason === "idle"));
      r.push(table.add("w3 the same query for charlie (b, always on; control)", "none", String(charlie.length), charlie.length === 0));
      r.push(table.add("w3 the same query for alpha (a, always on; control)", "none", String(alpha.length), alpha.length === 0));
      r.push(table.add("w3 delta's chain verifies", "ok", JSON.stringify(report.tenants.map((x) => [x.tenant, x.verified, x.broken === null])), report.ok && report.tenants.length === 1 && report.tenants[0]!.verified >= delta.length));
    } finally {
      await c.end();
    }

    // The layout before 0ebf583 (the control network only) does not reach the store at all: the
    // same probe from the waker with and without b's egress network; reconnected after.
    const egress = b!.docker.getNetwork(`${prefix}-egress`);
    const withRoute = await tcp(b!.docker, ids.wakerB!, storeAddress, auditPort);
    await egress.disconnect({ Container: ids.wakerB! });
    let controlOnly: Tcp;
    try {
      controlOnly = await tcp(b!.docker, ids.wakerB!, storeAddress, auditPort);
    } finally {
      await egress.connect({ Container: ids.wakerB! });
    }
    r.push(table.add("w4 b's waker → published port", "connects", said(withRoute), withRoute.ok));
    r.push(table.add("w4 b's waker, control network only (before 0ebf583) → published port", "no connection", said(controlOnly), !controlOnly.ok));
    console.log(`[audit-tls] b's waker: paused and landed within ${timings.pausedLandedMs} ms of the request`);
    rows("b's waker and the store", r);
  }, 180_000);
});
