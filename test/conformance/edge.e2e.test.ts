// End to end: the edge image in front of two REAL OpenClaw gateways (the locally built image),
// each on its own internal tenant network with the edge attached at offset .2 (the only
// address its gateway trusts), audit into a real Postgres (octw/postgres). Roles are checked by
// OpenClaw itself: the edge only sets x-openclaw-scopes, and OpenClaw's own method scope checks
// answer. Every outcome is then looked up in audit_events.
//
// Two deployments of the same edge:
//  1. "contract": built here with the Docker API from packages/edge/README.md's container
//     contract, with OpenClaw's admin-http-rpc plugin on, so read, write and admin methods are
//     each checked by OpenClaw;
//  2. "realized": OpenClawPlatform with its Edge, applied to the engine by the realizing mock,
//     exactly as the platform declares it (no admin-http-rpc there: /tools/invoke, always on and
//     requiring operator.write, tells the roles apart at the write level).
import { randomBytes } from "node:crypto";
import http from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import pg from "pg";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import * as pulumi from "@pulumi/pulumi";
import { applyGrants, applyMigrations, readEvents, requiredGrants, type StoredEvent } from "@octw/audit";
import { OpenClawPlatform } from "@octw/pulumi";
import { createRealizingMocks, newRunId, type RealizingMocks } from "../realize/index";
import { tarArchive } from "../realize/tar-archive";
import { engine, requireEnv, valueOf } from "./env";
import { until } from "./until";

const run = `e2e${randomBytes(3).toString("hex")}`;
const h = (parseInt(run.slice(3, 5), 16) % 200) + 20;
const NET = {
  ingress: { name: `${run}-ingress`, subnet: `10.232.${h}.0/28` },
  control: { name: `${run}-control`, subnet: `10.233.${h}.0/28`, pg: `10.233.${h}.5`, edge: `10.233.${h}.2` },
  a: { name: `${run}-a`, subnet: `10.234.${h}.0/27`, edge: `10.234.${h}.2`, gateway: `10.234.${h}.5` },
  b: { name: `${run}-b`, subnet: `10.234.${h}.32/27`, edge: `10.234.${h}.34`, gateway: `10.234.${h}.37` },
};
const DOMAIN = "octw.test";
const ISSUER = "https://issuer.e2e.test";
const AUDIENCE = "octw-edge";

let dk: Dockerode;
let edgePort = 0;
let key: CryptoKey;
let pgSuperUrl = "";
const created = { containers: [] as string[], networks: [] as string[], volumes: [] as string[] };

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function call(o: { tenantHost: string; path: string; method?: string; headers?: Record<string, string>; body?: string; port?: number }): Promise<Reply> {
  const port = o.port ?? edgePort;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: o.path, method: o.method ?? "GET", headers: { host: `${o.tenantHost}:${port}`, ...o.headers }, agent: false, timeout: 60_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

async function token(tenant: string, role: string | undefined, sub: string): Promise<string> {
  return new SignJWT({ tenant, ...(role ? { role } : {}) })
    .setProtectedHeader({ alg: "ES256", kid: "e2e" })
    .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(sub).setIssuedAt().setExpirationTime("30m")
    .sign(key);
}

/** POST /api/v1/admin/rpc (OpenClaw's admin-http-rpc plugin) through the edge. */
async function rpc(tenant: string, bearer: string, method: string, params: unknown = {}, extra: Record<string, string> = {}) {
  const r = await call({
    tenantHost: `${tenant}.${DOMAIN}`,
    path: "/api/v1/admin/rpc",
    method: "POST",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json", ...extra },
    body: JSON.stringify({ method, params }),
  });
  let json: { ok?: boolean; error?: { details?: { missingScope?: string } } } = {};
  try {
    json = JSON.parse(r.body) as typeof json;
  } catch {
    /* the edge's own refusals are JSON too; anything else stays {} */
  }
  return { status: r.status, ok: json.ok === true, missingScope: json.error?.details?.missingScope, body: r.body };
}

async function upload(containerId: string, dir: string, files: { name: string; content: string; mode: number; uid: number }[]): Promise<void> {
  const tar = tarArchive(files.map((f) => ({ name: f.name, content: Buffer.from(f.content), mode: f.mode, uid: f.uid, gid: f.uid })));
  await dk.getContainer(containerId).putArchive(tar, { path: dir });
}

/** The hardening every container of the platform gets (docs/contracts.md, "Images"). */
const hardened = (tmpfs: Record<string, string>) => ({
  ReadonlyRootfs: true,
  CapDrop: ["ALL"],
  SecurityOpt: ["no-new-privileges"],
  Tmpfs: tmpfs,
  Dns: ["127.0.0.1"],
});

async function createContainer(spec: Dockerode.ContainerCreateOptions): Promise<string> {
  const c = await dk.createContainer({ ...spec, Labels: { "octw.test.run": run } });
  created.containers.push(c.id);
  return c.id;
}

function openclawConfig(edgeAddress: string, tenant: string): string {
  return JSON.stringify({
    gateway: {
      mode: "local",
      bind: "lan",
      port: 18789,
      trustedProxies: [edgeAddress],
      // Both test users get operator.admin from the gateway itself on WebSocket sessions: what a
      // session really holds is then decided by the edge's scope cap alone.
      auth: { mode: "trusted-proxy", trustedProxy: { userHeader: "x-octw-user" }, identityScopes: { "vera@a": ["operator.admin"], "ada@a": ["operator.admin"] } },
      controlUi: { allowedOrigins: [`http://${tenant}.${DOMAIN}:${edgePort}`] },
    },
    update: { checkOnStart: false },
    // The HTTP surface for Gateway RPC methods, with the same scope checks as WebSocket RPC.
    plugins: { entries: { "admin-http-rpc": { enabled: true } } },
  });
}

// ---------------------------------------------------------------------------------------------
// 1. Deployed from the container contract with the Docker API.
describe("edge deployed from its container contract (Docker API)", () => {
  beforeAll(async () => {
    dk = await engine();
    const images = {
      edge: requireEnv("OCTW_IMAGE_EDGE"),
      openclaw: requireEnv("OCTW_IMAGE_OPENCLAW"),
      postgres: requireEnv("OCTW_IMAGE_POSTGRES"),
      base: requireEnv("OCTW_IMAGE_BASE"),
    };
    const kp = await generateKeyPair("ES256", { extractable: true });
    key = kp.privateKey;
    const jwk = { ...(await exportJWK(kp.publicKey)), kid: "e2e", alg: "ES256" };

    for (const [n, internal] of [[NET.ingress, false], [NET.control, false], [NET.a, true], [NET.b, true]] as const) {
      await dk.createNetwork({ Name: n.name, Driver: "bridge", Internal: internal, IPAM: { Config: [{ Subnet: n.subnet }] }, Labels: { "octw.test.run": run } });
      created.networks.push(n.name);
    }
    for (const v of ["pg", "gw-a", "gw-b", "edge"]) {
      await dk.createVolume({ Name: `${run}-${v}`, Labels: { "octw.test.run": run } });
      created.volumes.push(`${run}-${v}`);
    }
    // A free host port for the edge: bind, read, release.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    edgePort = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));

    // Postgres for the audit trail, on the control network (the host reaches it on the bridge).
    const pgPassword = randomBytes(18).toString("hex");
    const pgId = await createContainer({
      name: `${run}-pg`,
      Image: images.postgres,
      Env: ["POSTGRES_PASSWORD_FILE=/var/lib/postgresql/data/.pw"],
      User: "5432:5432",
      HostConfig: { ...hardened({ "/run/postgresql": "rw,nosuid,nodev,size=4m,mode=0700,uid=5432,gid=5432", "/tmp": "rw,nosuid,nodev,size=64m,mode=1777" }), Binds: [`${run}-pg:/var/lib/postgresql/data`], NetworkMode: NET.control.name, Memory: 512 * 1024 * 1024 },
      NetworkingConfig: { EndpointsConfig: { [NET.control.name]: { IPAMConfig: { IPv4Address: NET.control.pg } } } },
    });
    await upload(pgId, "/var/lib/postgresql/data", [{ name: ".pw", content: pgPassword, mode: 0o400, uid: 5432 }]);
    await dk.getContainer(pgId).start();
    pgSuperUrl = `postgres://postgres:${pgPassword}@${NET.control.pg}:5432/postgres`;
    await until("postgres", 120_000, async () => {
      const c = new pg.Client({ connectionString: pgSuperUrl, connectionTimeoutMillis: 2_000 });
      await c.connect();
      await c.end();
      return true;
    });
    // The edge appends as its own role, which may append only the edge's event types.
    const roles = { owner: "audit_owner", reader: "audit_reader", edge: "audit_edge", router: "audit_router", shipper: "audit_shipper", waker: "audit_waker" };
    const edgePw = randomBytes(18).toString("hex");
    const su = new pg.Client({ connectionString: pgSuperUrl });
    await su.connect();
    await su.query(`CREATE ROLE audit_owner LOGIN PASSWORD '${randomBytes(12).toString("hex")}'`);
    await su.query(`CREATE ROLE audit_edge LOGIN PASSWORD '${edgePw}'`);
    await su.query(`CREATE ROLE audit_router NOLOGIN`);
    await su.query(`CREATE ROLE audit_shipper NOLOGIN`);
    await su.query(`CREATE ROLE audit_waker NOLOGIN`);
    await su.query(`CREATE ROLE audit_reader NOLOGIN`);
    await su.query(`CREATE DATABASE audit OWNER audit_owner`);
    await su.end();
    const auditSu = new pg.Client({ connectionString: pgSuperUrl.replace(/\/postgres$/, "/audit") });
    await auditSu.connect();
    await auditSu.query("SET ROLE audit_owner");
    await applyMigrations(auditSu, roles);
    await applyGrants(auditSu, requiredGrants(roles), "audit");
    await auditSu.end();
    pgSuperUrl = pgSuperUrl.replace(/\/postgres$/, "/audit");

    // The two gateways, each alone on its tenant network, trusting only the edge's address there.
    for (const t of ["a", "b"] as const) {
      const n = NET[t];
      // The image has no state dir (so copy-up cannot reset the owner): a one-shot init container
      // gives the fresh volume to the gateway's UID, as TenantGateway's state-init does.
      const init = await createContainer({
        name: `${run}-gw-${t}-init`,
        Image: images.base,
        User: "0:0",
        Cmd: ["/bin/sh", "-c", "chown 10001:10001 /state && chmod 0700 /state"],
        HostConfig: { NetworkMode: "none", CapDrop: ["ALL"], CapAdd: ["CHOWN", "FOWNER"], SecurityOpt: ["no-new-privileges"], Binds: [`${run}-gw-${t}:/state`] },
      });
      await dk.getContainer(init).start();
      const done = (await dk.getContainer(init).wait()) as { StatusCode: number };
      if (done.StatusCode !== 0) throw new Error(`state-init of gateway ${t} exited ${done.StatusCode}`);
      const id = await createContainer({
        name: `${run}-gw-${t}`,
        Image: images.openclaw,
        Hostname: `${run}-gw-${t}`,
        Env: ["OPENCLAW_OFFLINE=1"],
        User: "10001:10001",
        HostConfig: {
          ...hardened({ "/tmp": "rw,nosuid,nodev,size=256m" }),
          Binds: [`${run}-gw-${t}:/var/lib/openclaw`],
          NetworkMode: n.name,
          Memory: 1024 * 1024 * 1024,
        },
        NetworkingConfig: { EndpointsConfig: { [n.name]: { IPAMConfig: { IPv4Address: n.gateway } } } },
      });
      await upload(id, "/var/lib/openclaw", [{ name: "openclaw.json", content: openclawConfig(n.edge, t), mode: 0o600, uid: 10001 }]);
      await dk.getContainer(id).start();
    }

    // The edge: published on loopback, attached to control and both tenant networks.
    const edgeConfig = {
      listen: { host: "0.0.0.0", port: 8443, publicScheme: "http" },
      // As the Edge component configures it: gateways found by container name, which resolves
      // only on the tenant networks the edge is attached to (and the edge's DNS is sunk).
      routing: { hostDomain: DOMAIN, pathRouting: true, upstreamTemplate: `http://${run}-gw-{tenant}:18789` },
      tenants: [],
      jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", jwks: [jwk] } },
      audit: { connectionUrlFile: "/var/lib/octw-edge/audit-db-url", spoolPath: "/var/lib/octw-edge/audit.spool" },
    };
    const edgeId = await createContainer({
      name: `${run}-edge`,
      Image: images.edge,
      Env: ["OCTW_EDGE_CONFIG=/var/lib/octw-edge/config.json"],
      ExposedPorts: { "8443/tcp": {} },
      User: "10002:10002",
      HostConfig: {
        ...hardened({ "/tmp": "rw,nosuid,nodev,noexec,size=64m" }),
        Binds: [`${run}-edge:/var/lib/octw-edge`],
        NetworkMode: NET.ingress.name,
        PortBindings: { "8443/tcp": [{ HostIp: "127.0.0.1", HostPort: String(edgePort) }] },
        Memory: 512 * 1024 * 1024,
      },
    });
    await upload(edgeId, "/var/lib/octw-edge", [
      { name: "config.json", content: JSON.stringify(edgeConfig), mode: 0o400, uid: 10002 },
      { name: "audit-db-url", content: `postgres://audit_edge:${edgePw}@${NET.control.pg}:5432/audit`, mode: 0o400, uid: 10002 },
    ]);
    await dk.getNetwork(NET.control.name).connect({ Container: edgeId, EndpointConfig: { IPAMConfig: { IPv4Address: NET.control.edge } } });
    await dk.getNetwork(NET.a.name).connect({ Container: edgeId, EndpointConfig: { IPAMConfig: { IPv4Address: NET.a.edge } } });
    await dk.getNetwork(NET.b.name).connect({ Container: edgeId, EndpointConfig: { IPAMConfig: { IPv4Address: NET.b.edge } } });
    await dk.getContainer(edgeId).start();

    await until("edge health", 60_000, async () => ((await call({ tenantHost: "x", path: "/_edge/healthz" })).status === 200 ? true : undefined));
    // Both gateways answer through the edge (liveness needs no scope, but the edge still wants a token).
    for (const t of ["a", "b"]) {
      const bearer = await token(t, "viewer", `probe@${t}`);
      let last = "";
      // /readyz, not /healthz: OpenClaw answers RPCs reliably only once it reports ready.
      await until(`gateway ${t}`, 240_000, async () => {
        const r = await call({ tenantHost: `${t}.${DOMAIN}`, path: "/readyz", headers: { authorization: `Bearer ${bearer}` } });
        last = `${r.status} ${r.body.slice(0, 200)}`;
        return r.status === 200 && (await rpc(t, bearer, "health")).ok ? true : undefined;
      }).catch((e: Error) => {
        throw new Error(`${e.message}; last answer through the edge: ${last}`);
      });
    }
  }, 600_000);

  afterAll(async () => {
    if (process.env.OCTW_E2E_KEEP) return; // debugging: leave the run's containers for inspection
    for (const id of created.containers.reverse()) await dk?.getContainer(id).remove({ force: true, v: false }).catch(() => {});
    for (const n of created.networks) await dk?.getNetwork(n).remove().catch(() => {});
    for (const v of created.volumes) await dk?.getVolume(v).remove().catch(() => {});
  }, 120_000);

  async function auditRows(): Promise<StoredEvent[]> {
    const c = new pg.Client({ connectionString: pgSuperUrl });
    await c.connect();
    try {
      return await readEvents(c, { limit: 10_000 });
    } finally {
      await c.end();
    }
  }

  describe("roles reach a real OpenClaw gateway as scopes, and OpenClaw enforces them", () => {
    it("viewer: a read RPC is answered, a write RPC is refused by OpenClaw (missing operator.write)", async () => {
      const v = await token("a", "viewer", "vera@a");
      expect(await rpc("a", v, "agents.list")).toMatchObject({ status: 200, ok: true });
      expect(await rpc("a", v, "tasks.cancel", { taskId: "none" })).toMatchObject({ ok: false, missingScope: "operator.write" });
    });

    it("member: can write, cannot call an admin method (missing operator.admin)", async () => {
      const m = await token("a", "member", "max@a");
      expect(await rpc("a", m, "tasks.cancel", { taskId: "none" })).toMatchObject({ status: 200, ok: true });
      expect(await rpc("a", m, "update.status")).toMatchObject({ ok: false, missingScope: "operator.admin" });
    });

    it("admin: the admin method is answered", async () => {
      expect(await rpc("a", await token("a", "admin", "ada@a"), "update.status")).toMatchObject({ status: 200, ok: true });
    });

    it("client-sent scopes and user headers are stripped: a viewer claiming admin is still a viewer", async () => {
      const v = await token("a", "viewer", "vera@a");
      const r = await rpc("a", v, "update.status", {}, { "x-openclaw-scopes": "operator.admin", "x-octw-user": "ada@a", "x-forwarded-for": "127.0.0.1" });
      expect(r).toMatchObject({ ok: false, missingScope: "operator.admin" });
    });

    it("no role, unknown role: refused by the edge before any gateway (never the default full scope set)", async () => {
      expect((await rpc("a", await token("a", undefined, "nobody@a"), "update.status")).status).toBe(403);
      expect((await rpc("a", await token("a", "owner", "owner@a"), "update.status")).status).toBe(403);
    });
  });

  describe("tenant isolation at the edge", () => {
    it("a token for A never reaches B over HTTP (host and path routes); B's own token does (control)", async () => {
      const adminA = await token("a", "admin", "ada@a");
      expect((await rpc("b", adminA, "agents.list")).status).toBe(403);
      const viaPath = await call({ tenantHost: DOMAIN, path: "/t/b/api/v1/admin/rpc", method: "POST", headers: { authorization: `Bearer ${adminA}`, "content-type": "application/json" }, body: '{"method":"agents.list"}' });
      expect(viaPath.status).toBe(403);
      expect(await rpc("b", await token("b", "viewer", "bob@b"), "agents.list")).toMatchObject({ status: 200, ok: true });
    });

    it("a token for A never reaches B over a WebSocket upgrade; on A it gets OpenClaw's connect challenge", async () => {
      const adminA = await token("a", "admin", "ada@a");
      const open = (tenant: string) =>
        new Promise<{ status?: number; first?: string }>((resolve) => {
          const ws = new WebSocket(`ws://127.0.0.1:${edgePort}/`, {
            headers: { host: `${tenant}.${DOMAIN}:${edgePort}`, authorization: `Bearer ${adminA}`, origin: `http://${tenant}.${DOMAIN}:${edgePort}` },
          });
          ws.once("unexpected-response", (_q, res) => {
            resolve({ status: res.statusCode });
            res.resume();
          });
          ws.once("message", (d: Buffer) => {
            resolve({ status: 101, first: d.toString("utf8") });
            ws.close();
          });
          ws.once("error", () => resolve({ status: -1 }));
        });
      expect(await open("b")).toEqual({ status: 403 });
      const a = await open("a");
      expect(a.status).toBe(101);
      expect(JSON.parse(a.first!)).toMatchObject({ type: "event", event: "connect.challenge" });
    });
  });

  describe("unknown tenants", () => {
    it("a token for a tenant that has no gateway gets 404, answered within seconds", async () => {
      const started = Date.now();
      const r = await rpc("zz", await token("zz", "admin", "zed@zz"), "agents.list");
      expect(r.status).toBe(404);
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });

  describe("WebSocket RPC: the edge's scope header caps what a session holds", () => {
    /** Control UI handshake through the edge; returns the hello-ok scopes and the answer to one method. */
    async function wsSession(tenant: string, bearer: string, method: string, buildId = "e2e"): Promise<{ helloScopes?: string[]; ok?: boolean; missingScope?: string; gatewayBuildId?: string; raw: string[] }> {
      const raw: string[] = [];
      return new Promise((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${edgePort}/`, {
          headers: { host: `${tenant}.${DOMAIN}:${edgePort}`, cookie: `octw_session=${bearer}`, origin: `http://${tenant}.${DOMAIN}:${edgePort}` },
        });
        let helloScopes: string[] | undefined;
        let finished = false;
        const done = (r: { ok?: boolean; missingScope?: string; gatewayBuildId?: string }) => {
          if (finished) return;
          finished = true;
          ws.close();
          resolve({ helloScopes, ...r, raw });
        };
        setTimeout(() => done({}), 20_000);
        ws.on("message", (d: Buffer) => {
          const text = d.toString("utf8");
          raw.push(text.slice(0, 300));
          const f = JSON.parse(text) as { type: string; event?: string; id?: string; ok?: boolean; payload?: { auth?: { scopes?: string[] } }; error?: { details?: { missingScope?: string; gatewayBuildId?: string } } };
          if (f.type === "event" && f.event === "connect.challenge") {
            ws.send(JSON.stringify({
              type: "req",
              id: "c1",
              method: "connect",
              params: {
                minProtocol: 4,
                maxProtocol: 4,
                client: { id: "openclaw-control-ui", version: "e2e", platform: "test", mode: "webchat", buildId },
                role: "operator",
                scopes: ["operator.admin", "operator.read", "operator.write"],
                caps: [],
              },
            }));
          } else if (f.type === "res" && f.id === "c1") {
            if (!f.ok) return done({ ok: false, gatewayBuildId: f.error?.details?.gatewayBuildId });
            helloScopes = f.payload?.auth?.scopes;
            ws.send(JSON.stringify({ type: "req", id: "m1", method, params: {} }));
          } else if (f.type === "res" && f.id === "m1") {
            done({ ok: f.ok === true, missingScope: f.error?.details?.missingScope });
          }
        });
        ws.once("unexpected-response", (_q, res) => {
          raw.push(`HTTP ${res.statusCode}`);
          res.resume();
          done({});
        });
      });
    }

    it("viewer granted admin by the gateway is capped to read by the edge; admin keeps admin (control)", async () => {
      // The Control UI must match the gateway's build (else "reload this page"): learn it once.
      const build = (await wsSession("a", await token("a", "member", "max@a"), "health")).gatewayBuildId;
      expect(build).toBeDefined();
      const viewer = await wsSession("a", await token("a", "viewer", "vera@a"), "update.status", build);
      const admin = await wsSession("a", await token("a", "admin", "ada@a"), "update.status", build);
      expect(admin, JSON.stringify(admin.raw)).toMatchObject({ ok: true });
      expect(admin.helloScopes).toContain("operator.admin");
      expect(viewer, JSON.stringify(viewer.raw)).toMatchObject({ ok: false, missingScope: "operator.admin" });
      expect(viewer.helloScopes ?? []).not.toContain("operator.admin");
    });
  });

  describe("Control UI through the edge", () => {
    it("loads with the session cookie the edge issues, and not without it", async () => {
      const m = await token("a", "member", "max@a");
      const s = await call({ tenantHost: `a.${DOMAIN}`, path: "/_edge/session", method: "POST", headers: { authorization: `Bearer ${m}` } });
      expect(s.status).toBe(204);
      const cookie = s.headers["set-cookie"]![0]!.split(";")[0]!;
      expect(s.headers["set-cookie"]![0]).toMatch(/HttpOnly; SameSite=Strict/);
      const ui = await call({ tenantHost: `a.${DOMAIN}`, path: "/", headers: { cookie } });
      expect(ui.status).toBe(200);
      expect(ui.headers["content-type"]).toMatch(/text\/html/);
      expect(ui.body).toContain("<title>OpenClaw Control");
      // Its script loads through the edge too (the UI is more than its index page).
      const script = /<script[^>]+src="(\/assets\/[^"]+\.js)"/.exec(ui.body)?.[1];
      expect(script).toBeDefined();
      const js = await call({ tenantHost: `a.${DOMAIN}`, path: script!, headers: { cookie } });
      expect(js.status).toBe(200);
      expect(js.headers["content-type"]).toMatch(/javascript/);
      expect(js.body.length).toBeGreaterThan(0);
      expect((await call({ tenantHost: `a.${DOMAIN}`, path: "/" })).status).toBe(401);
    });
  });

  describe("audit", () => {
    it("every outcome above is a row in audit_events, without the tokens", async () => {
      const end = Date.now() + 30_000;
      let rows: StoredEvent[] = [];
      const want = [
        { tenant: "a", actor: "vera@a", action: "edge.auth.allowed", role: "viewer" },
        { tenant: "a", actor: "max@a", action: "edge.auth.allowed", role: "member" },
        { tenant: "a", actor: "ada@a", action: "edge.auth.allowed", role: "admin" },
        { tenant: "a", actor: "nobody@a", action: "edge.auth.denied", reason: "missing_role" },
        { tenant: "a", actor: "owner@a", action: "edge.auth.denied", reason: "unknown_role" },
        { tenant: "b", actor: "ada@a", action: "edge.auth.denied", reason: "tenant_mismatch" },
        { tenant: "b", actor: "bob@b", action: "edge.auth.allowed", role: "viewer" },
        { tenant: "a", actor: "anonymous", action: "edge.auth.denied", reason: "no_token" },
        { tenant: "octw:edge", actor: "zed@zz", action: "edge.auth.denied", reason: "unknown_tenant" },
      ];
      const matches = (r: StoredEvent, w: (typeof want)[number]) => {
        const d = (r.details ?? {}) as { role?: string; reason?: string };
        return r.tenant === w.tenant && r.actor === w.actor && r.action === w.action && (w.role === undefined || d.role === w.role) && (w.reason === undefined || d.reason === w.reason);
      };
      while (Date.now() < end) {
        rows = await auditRows();
        if (want.every((w) => rows.some((r) => matches(r, w)))) break;
        await new Promise((r) => setTimeout(r, 1_000));
      }
      for (const w of want) expect(rows.some((r) => matches(r, w)), JSON.stringify(w)).toBe(true);
      // WebSocket decisions are there too.
      expect(rows.some((r) => r.tenant === "b" && (r.details as { transport?: string }).transport === "ws" && r.action === "edge.auth.denied")).toBe(true);
      expect(JSON.stringify(rows)).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/); // no JWT anywhere
    });
  });

});

// ---------------------------------------------------------------------------------------------
// 2. The realized platform: OpenClawPlatform + Edge through the realizing mock.
describe("realized OpenClawPlatform with its Edge", () => {
  const runId = newRunId();
  const prefix = `octw-${runId}`;
  const hh = (parseInt(runId.slice(-2), 16) % 200) + 20;
  let rm: RealizingMocks | undefined;
  let port = 0;
  let readers: Record<string, { host: string; port: number; database: string; user: string; password: string }> = {};

  const invoke = async (tenant: string, bearer: string, extra: Record<string, string> = {}) => {
    const r = await call({
      port,
      tenantHost: `${tenant}.${DOMAIN}`,
      path: "/tools/invoke",
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json", ...extra },
      body: JSON.stringify({ tool: "session_status", args: {} }),
    });
    let missingScope: string | undefined;
    let ok = false;
    try {
      const j = JSON.parse(r.body) as { ok?: boolean; error?: { details?: { missingScope?: string } } };
      ok = j.ok === true;
      missingScope = j.error?.details?.missingScope;
    } catch {
      /* not JSON: left undefined */
    }
    return { status: r.status, ok, missingScope };
  };

  beforeAll(async () => {
    dk ??= await engine();
    const images = {
      openclaw: requireEnv("OCTW_IMAGE_OPENCLAW"),
      egressProxy: requireEnv("OCTW_IMAGE_EGRESS"),
      postgres: requireEnv("OCTW_IMAGE_POSTGRES"),
      edge: requireEnv("OCTW_IMAGE_EDGE"),
    };
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const kp = await generateKeyPair("ES256", { extractable: true });
    key = kp.privateKey;
    const jwk = { ...(await exportJWK(kp.publicKey)), kid: "e2e", alg: "ES256", use: "sig" };

    rm = createRealizingMocks({ runId, docker: dk, log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[realize] ${l}`) });
    await pulumi.runtime.setMocks(rm.mocks, "octw-edge-e2e", "test", false);
    const platform = new OpenClawPlatform("p", {
      prefix,
      domain: DOMAIN,
      addressPool: `10.240.${hh}.0/24`,
      egressSubnet: `10.241.${hh}.0/24`,
      controlSubnet: `10.242.${hh}.0/28`,
      ingressSubnet: `10.243.${hh}.0/28`,
      images,
      edge: { hostPort: port, hostIp: "127.0.0.1", jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], jwks: [jwk] } },
      tenants: [
        { id: "alpha", slot: 1 },
        { id: "bravo", slot: 2 },
      ],
      audit: { mode: "embedded", databaseName: `${runId}_audit` },
    });
    await rm.settled();
    readers = await valueOf(platform.auditReaders);
    for (const t of ["alpha", "bravo"]) {
      const bearer = await token(t, "member", `probe@${t}`);
      await until(`realized gateway ${t}`, 240_000, async () => {
        const r = await call({ port, tenantHost: `${t}.${DOMAIN}`, path: "/readyz", headers: { authorization: `Bearer ${bearer}` } });
        return r.status === 200 && (await invoke(t, bearer)).ok ? true : undefined;
      });
    }
  }, 600_000);

  afterAll(async () => {
    await rm?.destroyAll();
  }, 180_000);

  it("member: OpenClaw accepts the edge as its trusted proxy and runs a write-scoped tool", async () => {
    expect(await invoke("alpha", await token("alpha", "member", "mia@alpha"))).toMatchObject({ status: 200, ok: true });
  });

  it("viewer: OpenClaw refuses the same call (missing operator.write), also when the client claims admin scopes", async () => {
    const v = await token("alpha", "viewer", "vic@alpha");
    expect(await invoke("alpha", v)).toMatchObject({ status: 403, missingScope: "operator.write" });
    expect(await invoke("alpha", v, { "x-openclaw-scopes": "operator.admin", "x-octw-user": "mia@alpha" })).toMatchObject({ status: 403, missingScope: "operator.write" });
  });

  it("a token for alpha never reaches bravo (HTTP and WebSocket); bravo's own member does (control)", async () => {
    const a = await token("alpha", "admin", "ada@alpha");
    expect((await invoke("bravo", a)).status).toBe(403);
    const ws = await new Promise<number | undefined>((resolve) => {
      const sock = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: `bravo.${DOMAIN}:${port}`, authorization: `Bearer ${a}` } });
      sock.once("unexpected-response", (_q, res) => {
        resolve(res.statusCode);
        res.resume();
      });
      sock.once("open", () => {
        resolve(101);
        sock.close();
      });
      sock.once("error", () => resolve(undefined));
    });
    expect(ws).toBe(403);
    expect(await invoke("bravo", await token("bravo", "member", "bea@bravo"))).toMatchObject({ status: 200, ok: true });
  });

  it("the Control UI loads through the edge with its cookie", async () => {
    const s = await call({ port, tenantHost: `alpha.${DOMAIN}`, path: "/_edge/session", method: "POST", headers: { authorization: `Bearer ${await token("alpha", "member", "mia@alpha")}` } });
    expect(s.status).toBe(204);
    const ui = await call({ port, tenantHost: `alpha.${DOMAIN}`, path: "/", headers: { cookie: s.headers["set-cookie"]![0]!.split(";")[0]! } });
    expect(ui.status).toBe(200);
    expect(ui.body).toContain("<title>OpenClaw Control");
  });

  it("each tenant's audit reader sees its own decisions (and not the other tenant's)", async () => {
    const rowsOf = async (t: string) => {
      const r = readers[t]!;
      const c = new pg.Client({ host: r.host, port: r.port, database: r.database, user: r.user, password: r.password });
      await c.connect();
      try {
        return await readEvents(c, { limit: 10_000 });
      } finally {
        await c.end();
      }
    };
    const has = (rows: StoredEvent[], actor: string, action: string, reason?: string) =>
      rows.some((r) => r.actor === actor && r.action === action && (reason === undefined || (r.details as { reason?: string }).reason === reason));
    const end = Date.now() + 30_000;
    let alpha: StoredEvent[] = [];
    let bravo: StoredEvent[] = [];
    while (Date.now() < end) {
      [alpha, bravo] = [await rowsOf("alpha"), await rowsOf("bravo")];
      if (has(alpha, "mia@alpha", "edge.auth.allowed") && has(bravo, "ada@alpha", "edge.auth.denied", "tenant_mismatch")) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(has(alpha, "mia@alpha", "edge.auth.allowed")).toBe(true);
    expect(has(alpha, "vic@alpha", "edge.auth.allowed")).toBe(true); // the edge let the viewer through; OpenClaw refused
    expect(has(bravo, "ada@alpha", "edge.auth.denied", "tenant_mismatch")).toBe(true);
    expect(has(bravo, "bea@bravo", "edge.auth.allowed")).toBe(true);
    expect(alpha.every((r) => r.tenant === "alpha")).toBe(true);
    expect(bravo.every((r) => r.tenant === "bravo")).toBe(true);
  });
});
