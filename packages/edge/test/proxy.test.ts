// The edge as a process: real sockets, a loopback upstream per tenant that records exactly
// which headers arrive, and the token matrix end to end over HTTP and WebSocket.
import http from "node:http";
import net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { parseEdgeConfig, type EdgeConfigInput } from "@octw/contracts";
import { createEdge, WS_CLOSE, type EdgeServer } from "../src/server";
import { AUDIENCE, ISSUER, MemoryAudit, claims, makeIssuer, recordingUpstream, tamper, unsignedToken, type Issuer, type RecordingUpstream } from "./helpers";

interface Res { status: number; headers: http.IncomingHttpHeaders; body: string }

function request(port: number, o: { path?: string; host?: string; method?: string; headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[] }): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: o.path ?? "/", method: o.method ?? "GET", headers: { host: o.host ?? "edge.test", ...o.headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (o.chunks) {
      for (const c of o.chunks) req.write(c);
      req.end();
    } else req.end(o.body);
  });
}

function wsConnect(port: number, path: string, headers: Record<string, string>, protocols: string[] = []): Promise<{ ws?: WebSocket; status?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols, { headers });
    ws.once("open", () => resolve({ ws }));
    ws.once("unexpected-response", (_req, res) => {
      resolve({ status: res.statusCode });
      res.resume();
    });
    ws.once("error", () => resolve({ status: -1 }));
  });
}

const nextMessage = (ws: WebSocket) => new Promise<string>((r) => ws.once("message", (d: Buffer) => r(d.toString("utf8"))));
const closed = (ws: WebSocket) => new Promise<{ code: number; reason: string }>((r) => ws.once("close", (code, reason) => r({ code, reason: reason.toString() })));

let issuer: Issuer;
let a: RecordingUpstream;
let b: RecordingUpstream;
let edge: EdgeServer;
let audit: MemoryAudit;
let port: number;

async function startEdge(overrides: Partial<EdgeConfigInput> = {}, sink?: MemoryAudit, lookup?: (host: string) => Promise<string | undefined>): Promise<{ edge: EdgeServer; port: number; audit: MemoryAudit }> {
  const au = sink ?? new MemoryAudit();
  const config = parseEdgeConfig({
    listen: { host: "127.0.0.1", port: 0, publicScheme: "https" },
    routing: { hostDomain: "octw.test", pathRouting: true },
    tenants: [
      { id: "a", upstream: a.url },
      { id: "b", upstream: b.url },
    ],
    jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", jwks: [issuer.publicJwk] } },
    ...overrides,
  });
  const e = await createEdge(config, { audit: au, lookup });
  const addr = await e.listen();
  return { edge: e, port: addr.port, audit: au };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  issuer = await makeIssuer("ES256");
  a = await recordingUpstream("A");
  b = await recordingUpstream("B");
  ({ edge, port, audit } = await startEdge({ limits: { perSubject: { ratePerSec: 1000, burst: 1000 }, perTenant: { ratePerSec: 1000, burst: 1000 }, perClientIp: { ratePerSec: 1000, burst: 1000 } } }));
});
afterAll(async () => {
  await edge.close();
  await a.close();
  await b.close();
});
afterEach(() => {
  a.requests.length = 0;
  b.requests.length = 0;
  a.upgrades.length = 0;
  b.upgrades.length = 0;
});

describe("HTTP: roles become the gateway's identity headers", () => {
  for (const [role, scopes] of [
    ["viewer", "operator.read"],
    ["member", "operator.read,operator.write"],
    ["admin", "operator.admin,operator.approvals,operator.pairing,operator.read,operator.write"],
  ] as const) {
    it(`${role}: by host, the gateway gets user ${role} scopes and nothing the client claimed`, async () => {
      const t = await issuer.sign(claims("a", role, `${role}@example.test`));
      const r = await request(port, {
        host: "a.octw.test",
        path: "/api/thing?x=1",
        headers: {
          ...bearer(t),
          "x-openclaw-scopes": "operator.admin",
          "x-octw-user": "root",
          "x-forwarded-for": "127.0.0.1",
          "x-forwarded-user": "root",
          forwarded: "for=127.0.0.1",
          "x-real-ip": "127.0.0.1",
          cookie: `octw_session=${t}; theme=dark`,
        },
      });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ upstream: "A", url: "/api/thing?x=1" });
      expect(b.requests).toHaveLength(0);
      const got = a.requests[0]!.headers;
      expect(got["x-octw-user"]).toBe(`${role}@example.test`);
      expect(got["x-openclaw-scopes"]).toBe(scopes);
      expect(got["x-forwarded-for"]).toBe("127.0.0.1"); // the real peer, set by the edge
      expect(got["x-forwarded-proto"]).toBe("https");
      expect(got["x-forwarded-user"]).toBeUndefined();
      expect(got.forwarded).toBeUndefined();
      expect(got["x-real-ip"]).toBeUndefined();
      expect(got.authorization).toBeUndefined();
      expect(got.cookie).toBe("theme=dark");
      const ev = await audit.waitFor((e) => e.type === "edge.auth.allowed" && e.actor === `${role}@example.test`);
      expect(ev).toMatchObject({ tenant: "a", detail: { role, route: "a.octw.test/api/thing", reason: "ok", transport: "http", method: "GET" } });
      expect(JSON.stringify(audit.events)).not.toContain(t);
    });
  }

  it("spoofed identity headers sent alone (no token) are refused, never forwarded", async () => {
    const r = await request(port, { host: "a.octw.test", headers: { "x-octw-user": "admin", "x-openclaw-scopes": "operator.admin" } });
    expect(r.status).toBe(401);
    expect(a.requests).toHaveLength(0);
  });

  it("routes by path prefix and strips it", async () => {
    const t = await issuer.sign(claims("b", "viewer"));
    const r = await request(port, { host: "octw.test", path: "/t/b/status?q=1", headers: bearer(t) });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ upstream: "B", url: "/status?q=1" });
  });

  it("confines upstream cookies to the tenant: Domain stripped, edge session cookie dropped, Path under /t/<tenant>/ on path routes", async () => {
    const t = await issuer.sign(claims("a", "viewer"));
    const r = await request(port, { host: "a.octw.test", headers: bearer(t) });
    expect(r.headers["set-cookie"]).toEqual(["ok_cookie=1; Path=/", "evil=1; Path=/"]);
    const p = await request(port, { host: "octw.test", path: "/t/a/", headers: bearer(t) });
    expect(p.status).toBe(200);
    expect(p.headers["set-cookie"]).toEqual(["ok_cookie=1; Path=/t/a/", "evil=1; Path=/t/a/"]);
  });
});

describe("HTTP: the token matrix at the edge", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases: [string, () => Promise<Record<string, string>>, number, string][] = [
    ["no token", () => Promise.resolve({}), 401, "no_token"],
    ["expired", async () => bearer(await issuer.sign(claims("a", "viewer"), { expSec: -120 })), 401, "token_expired"],
    ["not yet valid", async () => bearer(await issuer.sign(claims("a", "viewer"), { nbf: now() + 600 })), 401, "token_not_yet_valid"],
    ["wrong issuer", async () => bearer(await issuer.sign(claims("a", "viewer"), { iss: "https://evil.test" })), 401, "wrong_issuer"],
    ["wrong audience", async () => bearer(await issuer.sign(claims("a", "viewer"), { aud: "nope" })), 401, "wrong_audience"],
    ["alg none", () => Promise.resolve(bearer(unsignedToken({ ...claims("a", "admin"), iss: ISSUER, aud: AUDIENCE, exp: now() + 60 }))), 401, "algorithm_not_allowed"],
    ["unknown kid", async () => bearer(await (await makeIssuer("ES256", "other")).sign(claims("a", "admin"))), 401, "unknown_key"],
    ["tampered payload", async () => bearer(tamper(await issuer.sign(claims("a", "viewer")), { ...claims("a", "admin"), iss: ISSUER, aud: AUDIENCE, exp: now() + 60 })), 401, "bad_signature"],
    ["missing tenant claim", async () => bearer(await issuer.sign(claims(undefined, "admin"))), 401, "missing_tenant"],
    ["tenant B token on A's route", async () => bearer(await issuer.sign(claims("b", "admin"))), 403, "tenant_mismatch"],
    ["missing role", async () => bearer(await issuer.sign(claims("a", undefined))), 403, "missing_role"],
    ["unknown role", async () => bearer(await issuer.sign(claims("a", "owner"))), 403, "unknown_role"],
  ];
  for (const [name, headers, status, reason] of cases) {
    it(`${name} → ${status}, audited as ${reason}, nothing reaches a gateway`, async () => {
      const h = await headers();
      const r = await request(port, { host: "a.octw.test", path: `/probe-${reason}`, headers: h });
      expect(r.status).toBe(status);
      expect(a.requests).toHaveLength(0);
      expect(b.requests).toHaveLength(0);
      const ev = await audit.waitFor((e) => e.detail.route === `a.octw.test/probe-${reason}`);
      expect(ev).toMatchObject({ type: "edge.auth.denied", tenant: "a", detail: { reason, status } });
      if (h.authorization) expect(JSON.stringify(audit.events)).not.toContain(h.authorization.slice(7));
    });
  }

  it("positive control for the matrix: the same route with a valid token is answered by A", async () => {
    const r = await request(port, { host: "a.octw.test", path: "/probe-ok", headers: bearer(await issuer.sign(claims("a", "viewer"))) });
    expect(r.status).toBe(200);
    expect(a.requests.map((q) => q.url)).toEqual(["/probe-ok"]);
  });

  it("tenant A token on B's path route → 403, audited under B", async () => {
    const r = await request(port, { host: "octw.test", path: "/t/b/x", headers: bearer(await issuer.sign(claims("a", "admin"))) });
    expect(r.status).toBe(403);
    expect(b.requests).toHaveLength(0);
    const ev = await audit.waitFor((e) => e.detail.route === "octw.test/t/b/x");
    expect(ev).toMatchObject({ type: "edge.auth.denied", tenant: "b", detail: { reason: "tenant_mismatch" } });
  });

  it("unknown tenant → 404 identical to no route; without a token every route looks alike (401)", async () => {
    const t = bearer(await issuer.sign(claims("a", "admin")));
    const unknownHost = await request(port, { host: "zzz.octw.test", headers: t });
    const unknownPath = await request(port, { host: "octw.test", path: "/t/zzz/", headers: t });
    const noRoute = await request(port, { host: "edge.test", path: "/nothing", headers: t });
    expect([unknownHost.status, unknownPath.status, noRoute.status]).toEqual([404, 404, 404]);
    expect(new Set([unknownHost.body, unknownPath.body, noRoute.body]).size).toBe(1);
    const anonKnown = await request(port, { host: "b.octw.test" });
    const anonUnknown = await request(port, { host: "zzz.octw.test" });
    expect([anonKnown.status, anonUnknown.status]).toEqual([401, 401]);
    expect(anonKnown.body).toBe(anonUnknown.body);
    const ev = await audit.waitFor((e) => e.detail.route === "zzz.octw.test/");
    expect(ev.tenant).toBeNull();
  });
});

describe("what is checked is what is forwarded", () => {
  async function raw(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, "127.0.0.1");
      let out = "";
      sock.on("data", (d: Buffer) => (out += d.toString("latin1")));
      sock.on("error", reject);
      sock.on("connect", () => sock.write(text));
      setTimeout(() => {
        sock.destroy();
        resolve(out);
      }, 500);
    });
  }
  it("a path route on another host than the domain's own is no route (the tenant is named by one place)", async () => {
    const t = bearer(await issuer.sign(claims("b", "viewer")));
    expect((await request(port, { host: "evil.example", path: "/t/b/x", headers: t })).status).toBe(404);
    expect((await request(port, { host: "octw.test", path: "/t/b/x", headers: t })).status).toBe(200); // control
    expect(b.requests.map((r) => r.url)).toEqual(["/x"]);
  });
  it("two Host headers → 400, audited, nothing forwarded; one Host (control) → 200", async () => {
    const t = await issuer.sign(claims("a", "viewer", "dup@example.test"));
    const reply = await raw(`GET /dup HTTP/1.1\r\nHost: a.octw.test\r\nHost: b.octw.test\r\nAuthorization: Bearer ${t}\r\nConnection: close\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(a.requests).toHaveLength(0);
    expect(b.requests).toHaveLength(0);
    await audit.waitFor((e) => e.detail.reason === "duplicate_host" && e.detail.status === 400);
    expect(await raw(`GET /dup HTTP/1.1\r\nHost: a.octw.test\r\nAuthorization: Bearer ${t}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 200 /);
  });
  it("absolute-form, dot-segment, backslash targets → 400 before any token work; over WebSocket too", async () => {
    const t = await issuer.sign(claims("a", "admin", "target@example.test"));
    for (const target of ["http://b.octw.test/x", "/t/a/../b/x", "/t/a/%2e%2e/b/x", "/t/a/.%2E/b/", "/t/a/..\\b/x", "/t/a/%5c../b/"]) {
      const reply = await raw(`GET ${target} HTTP/1.1\r\nHost: octw.test\r\nAuthorization: Bearer ${t}\r\nConnection: close\r\n\r\n`);
      expect(reply, target).toMatch(/^HTTP\/1\.1 400 /);
    }
    // Raw: a WebSocket client would normalize the URL itself before sending it.
    const upgrade = (target: string) =>
      raw(`GET ${target} HTTP/1.1\r\nHost: octw.test\r\nAuthorization: Bearer ${t}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    expect(await upgrade("/t/a/../b/ws")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await upgrade("/t/b/ws")).toMatch(/^HTTP\/1\.1 403 /); // control: the normalized target is a tenant mismatch
    expect(a.requests).toHaveLength(0);
    expect(b.requests).toHaveLength(0);
    expect(b.upgrades).toHaveLength(0);
    // Control: the same request with an ordinary target is served.
    expect(await raw(`GET /t/a/x HTTP/1.1\r\nHost: octw.test\r\nAuthorization: Bearer ${t}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 200 /);
  });
  it("the gateway gets the Host the edge routed on, normalized", async () => {
    const t = bearer(await issuer.sign(claims("a", "viewer")));
    expect((await request(port, { host: "A.OCTW.TEST.:8443", path: "/h", headers: t })).status).toBe(200);
    expect(a.requests[0]!.headers).toMatchObject({ host: "a.octw.test:8443", "x-forwarded-host": "a.octw.test:8443" });
  });
});

describe("request framing (no smuggling past the edge)", () => {
  async function raw(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, "127.0.0.1");
      let out = "";
      sock.on("data", (d: Buffer) => (out += d.toString("latin1")));
      sock.on("error", reject);
      sock.on("connect", () => sock.write(text));
      setTimeout(() => {
        sock.destroy();
        resolve(out);
      }, 700);
    });
  }
  const smuggled = "GET /smuggled HTTP/1.1\r\nHost: a.octw.test\r\nx-octw-user: root\r\nx-openclaw-scopes: operator.admin\r\n\r\n";

  for (const method of ["GET", "DELETE", "POST"]) {
    it(`a chunked ${method} body reaches the gateway framed as a body, never as a second request`, async () => {
      const t = await issuer.sign(claims("a", "viewer", "smuggler@example.test"));
      const chunk = Buffer.byteLength(smuggled).toString(16);
      const reply = await raw(
        `${method} /first HTTP/1.1\r\nHost: a.octw.test\r\nAuthorization: Bearer ${t}\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}\r\n${smuggled}\r\n0\r\n\r\n`,
      );
      expect(reply).toMatch(/^HTTP\/1\.1 200/);
      expect(a.requests.map((r) => r.url)).toEqual(["/first"]);
      expect(a.requests[0]!.body).toBe(smuggled); // delivered, as the body it was
    });
  }

  it("a GET without a body sends none (positive control for the framing)", async () => {
    const t = await issuer.sign(claims("a", "viewer", "plain@example.test"));
    const reply = await raw(`GET /plain HTTP/1.1\r\nHost: a.octw.test\r\nAuthorization: Bearer ${t}\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(a.requests.map((r) => [r.url, r.body])).toEqual([["/plain", ""]]);
  });
});

describe("cookie (Control UI)", () => {
  it("issues the session cookie, then authenticates with it and hides it from the gateway", async () => {
    const t = await issuer.sign(claims("a", "member"));
    const s = await request(port, { host: "a.octw.test", path: "/_edge/session", method: "POST", headers: bearer(t) });
    expect(s.status).toBe(204);
    const setCookie = s.headers["set-cookie"]![0]!;
    expect(setCookie).toMatch(/^octw_session=[^;]+; Max-Age=\d+; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
    const r = await request(port, { host: "a.octw.test", path: "/ui", headers: { cookie: setCookie.split(";")[0]!, origin: "https://a.octw.test" } });
    expect(r.status).toBe(200);
    expect(a.requests[0]!.headers["x-openclaw-scopes"]).toBe("operator.read,operator.write");
    expect(a.requests[0]!.headers.cookie).toBeUndefined();
  });
  it("scopes the path-route cookie to the tenant's prefix", async () => {
    const s = await request(port, { host: "octw.test", path: "/t/b/_edge/session", method: "POST", headers: bearer(await issuer.sign(claims("b", "viewer"))) });
    expect(s.headers["set-cookie"]![0]).toContain("Path=/t/b/;");
  });
  it("the edge cookie is useless on another tenant's origin: host-only, and its token is bound to its tenant", async () => {
    const t = await issuer.sign(claims("a", "admin", "cookie-a@example.test"));
    const s = await request(port, { host: "a.octw.test", path: "/_edge/session", method: "POST", headers: bearer(t) });
    const cookie = s.headers["set-cookie"]![0]!;
    expect(cookie).not.toMatch(/domain/i); // host-only: a browser never sends it to b.octw.test
    const pair = cookie.split(";")[0]!;
    // Even replayed by hand on B's origin (or B's path route), it opens nothing there.
    expect((await request(port, { host: "b.octw.test", path: "/x", headers: { cookie: pair, origin: "https://b.octw.test" } })).status).toBe(403);
    expect((await request(port, { host: "octw.test", path: "/t/b/x", headers: { cookie: pair, origin: "https://octw.test" } })).status).toBe(403);
    expect(b.requests).toHaveLength(0);
    // Control: on its own origin it works.
    expect((await request(port, { host: "a.octw.test", path: "/x", headers: { cookie: pair, origin: "https://a.octw.test" } })).status).toBe(200);
  });
  it("refuses a cookie-authenticated request from another origin", async () => {
    const t = await issuer.sign(claims("a", "admin"));
    const r = await request(port, { host: "a.octw.test", method: "POST", path: "/x", headers: { cookie: `octw_session=${t}`, origin: "https://evil.test" } });
    expect(r.status).toBe(403);
    expect(a.requests).toHaveLength(0);
  });
});

describe("WebSocket upgrades", () => {
  it("relays both ways with the role's headers on the upgrade, and the subprotocol", async () => {
    const t = await issuer.sign(claims("a", "viewer"));
    const { ws, status } = await wsConnect(port, "/ws", { host: "a.octw.test", ...bearer(t), "x-openclaw-scopes": "operator.admin", "x-octw-user": "root" }, ["openclaw"]);
    expect(status).toBeUndefined();
    expect(ws!.protocol).toBe("openclaw");
    ws!.send("hello");
    expect(await nextMessage(ws!)).toBe("A:hello");
    const up = a.upgrades[0]!.headers;
    expect(up["x-openclaw-scopes"]).toBe("operator.read");
    expect(up["x-octw-user"]).toBe("alice@example.test");
    expect(up.authorization).toBeUndefined();
    expect(edge.openWebSockets).toBe(1);
    const c = closed(ws!);
    ws!.close(1000, "bye");
    expect((await c).code).toBe(1000);
    await audit.waitFor((e) => e.detail.transport === "ws" && e.type === "edge.auth.allowed");
  });

  it("a token for A never reaches B over a WebSocket upgrade (host and path routes)", async () => {
    const t = await issuer.sign(claims("a", "admin"));
    expect((await wsConnect(port, "/ws", { host: "b.octw.test", ...bearer(t) })).status).toBe(403);
    expect((await wsConnect(port, "/t/b/ws", { host: "octw.test", ...bearer(t) })).status).toBe(403);
    expect(b.upgrades).toHaveLength(0);
    // positive control
    const ok = await wsConnect(port, "/t/a/ws", { host: "octw.test", ...bearer(t) });
    expect(ok.ws).toBeDefined();
    ok.ws!.close();
    expect(a.upgrades).toHaveLength(1);
  });

  it("refuses upgrades without a valid token or role", async () => {
    expect((await wsConnect(port, "/ws", { host: "a.octw.test" })).status).toBe(401);
    expect((await wsConnect(port, "/ws", { host: "a.octw.test", ...bearer(await issuer.sign(claims("a", undefined))) })).status).toBe(403);
    expect(a.upgrades).toHaveLength(0);
  });

  it("refuses a cookie upgrade from another origin (cross-site WebSocket hijacking)", async () => {
    const t = await issuer.sign(claims("a", "admin"));
    expect((await wsConnect(port, "/ws", { host: "a.octw.test", cookie: `octw_session=${t}`, origin: "https://evil.test" })).status).toBe(403);
    const ok = await wsConnect(port, "/ws", { host: "a.octw.test", cookie: `octw_session=${t}`, origin: "http://a.octw.test" });
    expect(ok.ws).toBeDefined();
    ok.ws!.close();
  });
});

describe("limits", () => {
  let l: { edge: EdgeServer; port: number; audit: MemoryAudit };
  beforeAll(async () => {
    l = await startEdge({
      limits: {
        maxBodyBytes: 1024,
        maxHeaderBytes: 2048,
        perSubject: { ratePerSec: 1, burst: 3 },
        perTenant: { ratePerSec: 1, burst: 5 },
        perClientIp: { ratePerSec: 1000, burst: 1000 },
        wsIdleTimeoutMs: 1_000,
        wsMaxLifetimeMs: 2_500,
      },
    });
  });
  afterAll(() => l.edge.close());


  it("caps request bodies by Content-Length and while streaming", async () => {
    const t = bearer(await issuer.sign(claims("a", "member", "body@example.test")));
    const ok = await request(l.port, { host: "a.octw.test", method: "POST", path: "/small", headers: t, body: "x".repeat(1000) });
    expect(ok.status).toBe(200);
    const big = await request(l.port, { host: "a.octw.test", method: "POST", path: "/big", headers: t, body: "x".repeat(2000) });
    expect(big.status).toBe(413);
    const streamed = await request(l.port, { host: "a.octw.test", method: "POST", path: "/stream", headers: t, chunks: [Buffer.alloc(700), Buffer.alloc(700)] });
    expect(streamed.status).toBe(413);
    expect(a.requests.map((r) => r.url)).toEqual(["/small"]);
  });

  it("caps header size (431)", async () => {
    const t = bearer(await issuer.sign(claims("a", "member", "hdr@example.test")));
    const r = await request(l.port, { host: "a.octw.test", headers: { ...t, "x-big": "y".repeat(3000) } });
    expect(r.status).toBe(431);
  });

  it("rate-limits per subject, then per tenant (429 with Retry-After, audited once)", async () => {
    const t1 = bearer(await issuer.sign(claims("b", "viewer", "rate1@example.test")));
    const s1 = [];
    for (let i = 0; i < 5; i++) s1.push((await request(l.port, { host: "b.octw.test", path: "/r", headers: t1 })).status);
    expect(s1).toEqual([200, 200, 200, 429, 429]);
    // Another subject of the same tenant still has its own bucket, until the tenant's runs out.
    const t2 = bearer(await issuer.sign(claims("b", "viewer", "rate2@example.test")));
    const s2 = [];
    for (let i = 0; i < 4; i++) s2.push((await request(l.port, { host: "b.octw.test", path: "/r", headers: t2 })).status);
    expect(s2).toEqual([200, 200, 429, 429]);
    const r = await request(l.port, { host: "b.octw.test", path: "/r", headers: t2 });
    expect(r.headers["retry-after"]).toBe("1");
    const limited = l.audit.events.filter((e) => e.detail.reason === "rate_limited");
    // Five 429s over three keys (rate1's bucket, the tenant's, rate2's): one event per key per second.
    expect(limited.map((e) => e.actor).sort()).toEqual(["rate1@example.test", "rate2@example.test", "rate2@example.test"]);
  });

  it("closes idle WebSockets", async () => {
    const t = await issuer.sign(claims("a", "viewer", "idle@example.test"));
    const { ws } = await wsConnect(l.port, "/ws", { host: "a.octw.test", ...bearer(t) });
    const started = Date.now();
    const c = await closed(ws!);
    expect(c.code).toBe(WS_CLOSE.idle);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.sockets.size).toBe(0);
  });

  it("closes busy WebSockets at the absolute lifetime", async () => {
    const t = await issuer.sign(claims("a", "viewer", "life@example.test"));
    const { ws } = await wsConnect(l.port, "/ws", { host: "a.octw.test", ...bearer(t) });
    const started = Date.now();
    const keepBusy = setInterval(() => ws!.send("ping"), 300);
    const c = await closed(ws!);
    clearInterval(keepBusy);
    expect(c.code).toBe(WS_CLOSE.lifetime);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_300);
  });

  it("closes a WebSocket when its token expires", async () => {
    const t = await issuer.sign(claims("a", "viewer", "exp@example.test"), { expSec: -29 }); // inside the 30 s skew
    const { ws } = await wsConnect(l.port, "/ws", { host: "a.octw.test", ...bearer(t) });
    const keepBusy = setInterval(() => ws!.send("ping"), 200); // so the idle timeout is not what fires
    const c = await closed(ws!);
    clearInterval(keepBusy);
    expect(c.code).toBe(WS_CLOSE.tokenExpired);
  });
});

describe("upstream timeout and WebSocket payload limit", () => {
  let u: { edge: EdgeServer; port: number; audit: MemoryAudit };
  beforeAll(async () => {
    u = await startEdge({ limits: { wsMaxPayloadBytes: 1_024, upstreamTimeoutMs: 200 } });
  });
  afterAll(() => u.edge.close());

  it("answers 504 when the gateway does not answer in time", async () => {
    const t = bearer(await issuer.sign(claims("a", "viewer", "slow@example.test")));
    a.slowMs = 600;
    expect((await request(u.port, { host: "a.octw.test", path: "/slow", headers: t })).status).toBe(504);
    a.slowMs = 50;
    expect((await request(u.port, { host: "a.octw.test", path: "/slow", headers: t })).status).toBe(200);
    a.slowMs = 300;
  });

  it("closes a WebSocket whose message exceeds the payload limit (1009), and relays one within it", async () => {
    const t = await issuer.sign(claims("a", "viewer", "big@example.test"));
    const { ws } = await wsConnect(u.port, "/ws", { host: "a.octw.test", ...bearer(t) });
    ws!.send("x".repeat(1_000));
    expect(await nextMessage(ws!)).toBe(`A:${"x".repeat(1_000)}`);
    const c = closed(ws!);
    ws!.send("y".repeat(2_000));
    expect((await c).code).toBe(1009);
  });
});

describe("audit fails closed", () => {
  it("refuses requests (503) once the audit buffer is full, and recovers when the store is back", async () => {
    const sink = new MemoryAudit();
    sink.failing = true;
    const f = await startEdge({ audit: { bufferMax: 3 } }, sink);
    const t = bearer(await issuer.sign(claims("a", "viewer", "audit@example.test")));
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await request(f.port, { host: "a.octw.test", path: "/au", headers: t })).status);
    expect(statuses).toEqual([200, 200, 200, 503, 503]);
    expect((await request(f.port, { path: "/_edge/healthz" })).status).toBe(503);
    sink.failing = false;
    await sink.waitFor(() => sink.events.length === 3, 5_000);
    expect((await request(f.port, { host: "a.octw.test", path: "/au", headers: t })).status).toBe(200);
    await f.edge.close();
  });
});

describe("reconfigure (tenants come and go without a restart)", () => {
  it("adds a tenant, then removes one: its WebSockets end, other tenants' stay, new requests get 404", async () => {
    const r = await startEdge({ tenants: [{ id: "a", upstream: a.url }] });
    const base = parseEdgeConfig({
      listen: { host: "127.0.0.1", port: 0, publicScheme: "https" },
      routing: { hostDomain: "octw.test", pathRouting: true },
      tenants: [{ id: "a", upstream: a.url }],
      jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", jwks: [issuer.publicJwk] } },
    });
    const tb = bearer(await issuer.sign(claims("b", "viewer", "rb@example.test")));
    const ta = bearer(await issuer.sign(claims("a", "viewer", "ra@example.test")));
    expect((await request(r.port, { host: "b.octw.test", headers: tb })).status).toBe(404);
    const added = await r.edge.reconfigure({ ...base, tenants: [...base.tenants, { id: "b", upstream: b.url }] });
    expect(added).toEqual({ restartNeeded: [], closedSockets: 0 });
    expect((await request(r.port, { host: "b.octw.test", headers: tb })).status).toBe(200);

    const wsA = (await wsConnect(r.port, "/ws", { host: "a.octw.test", ...ta })).ws!;
    const wsB = (await wsConnect(r.port, "/ws", { host: "b.octw.test", ...tb })).ws!;
    const aClosed = closed(wsA);
    const removed = await r.edge.reconfigure({ ...base, tenants: [{ id: "b", upstream: b.url }] });
    expect(removed.closedSockets).toBe(1);
    expect((await aClosed).code).toBe(WS_CLOSE.shutdown);
    expect(wsB.readyState).toBe(WebSocket.OPEN);
    wsB.send("still");
    expect(await nextMessage(wsB)).toBe("B:still");
    expect((await request(r.port, { host: "a.octw.test", headers: ta })).status).toBe(404);
    expect((await r.edge.reconfigure({ ...base, listen: { ...base.listen, port: 1 } })).restartNeeded).toEqual(["listen"]);
    wsB.close();
    await r.edge.close();
  });
});

describe("upstream template (tenants found by name, no config change per tenant)", () => {
  it("routes a tenant whose gateway name resolves, 404s one whose name does not, and caches lookups", async () => {
    const lookups: string[] = [];
    // Stand-in for Docker's embedded DNS: no test may query the machine's resolver.
    const names: Record<string, string> = { "gw-a.test": "127.0.0.1" };
    const lookup = async (host: string) => {
      lookups.push(host);
      await new Promise((res) => setTimeout(res, 50)); // a lookup takes a while
      if (host === "gw-broken.test") throw new Error("resolver exploded");
      return names[host];
    };
    const r = await startEdge({ tenants: [], routing: { hostDomain: "octw.test", pathRouting: true, upstreamTemplate: `http://gw-{tenant}.test:${a.port}` } }, undefined, lookup);
    const ta = bearer(await issuer.sign(claims("a", "member", "tpl@example.test")));
    const tz = bearer(await issuer.sign(claims("zz", "member", "tpl@example.test")));
    expect((await request(r.port, { host: "a.octw.test", path: "/via-template", headers: ta })).status).toBe(200);
    expect(a.requests.at(-1)).toMatchObject({ url: "/via-template", headers: { "x-openclaw-scopes": "operator.read,operator.write", host: "a.octw.test" } });
    expect((await request(r.port, { host: "a.octw.test", headers: ta })).status).toBe(200);
    expect((await request(r.port, { host: "zz.octw.test", headers: tz })).status).toBe(404);
    expect((await request(r.port, { host: "zz.octw.test", headers: tz })).status).toBe(404);
    expect(lookups).toEqual(["gw-a.test", "gw-zz.test"]); // each name once (cached both ways)
    // Concurrent requests for a name not yet looked up share one lookup; a failing lookup is a 404.
    names["gw-slow.test"] = "127.0.0.1";
    const ts = bearer(await issuer.sign(claims("slow", "member", "tpl@example.test")));
    const statuses = await Promise.all([1, 2, 3, 4, 5].map(() => request(r.port, { host: "slow.octw.test", headers: ts })));
    expect(statuses.map((x) => x.status)).toEqual([200, 200, 200, 200, 200]);
    expect(lookups.filter((l) => l === "gw-slow.test")).toHaveLength(1);
    const tbroken = bearer(await issuer.sign(claims("broken", "member", "tpl@example.test")));
    expect((await request(r.port, { host: "broken.octw.test", headers: tbroken })).status).toBe(404);
    // Cross-tenant with templated tenants is still 403 once the target exists.
    expect((await request(r.port, { host: "a.octw.test", headers: tz })).status).toBe(403);
    await r.edge.close();
  });
  it("a denial on a cold lookup cache is the tenant's when its name resolves, no tenant's when it does not (FINDINGS.md 10)", async () => {
    // Stand-in for Docker's embedded DNS: no test may query the machine's resolver.
    const names: Record<string, string> = { "gw-a.test": "127.0.0.1" };
    const lookups: string[] = [];
    const lookup = (host: string): Promise<string | undefined> => {
      lookups.push(host);
      return Promise.resolve(names[host]);
    };
    const r = await startEdge({ tenants: [], routing: { hostDomain: "octw.test", pathRouting: true, upstreamTemplate: `http://gw-{tenant}.test:${a.port}` } }, undefined, lookup);
    // The first requests for each name: nothing was looked up before (an idle spell has the same cold cache).
    expect((await request(r.port, { host: "a.octw.test", path: "/cold-anon" })).status).toBe(401);
    expect((await request(r.port, { host: "zz.octw.test", path: "/cold-anon" })).status).toBe(401);
    const known = await r.audit.waitFor((e) => e.detail.route === "a.octw.test/cold-anon");
    const unknown = await r.audit.waitFor((e) => e.detail.route === "zz.octw.test/cold-anon");
    expect(known).toMatchObject({ type: "edge.auth.denied", tenant: "a", detail: { reason: "no_token" } });
    expect(unknown).toMatchObject({ type: "edge.auth.denied", tenant: null, detail: { reason: "no_token" } });
    // Both answers look alike to the client, and each name was looked up once.
    expect(lookups).toEqual(["gw-a.test", "gw-zz.test"]);
    await r.edge.close();
  });
  it("rejects a template without {tenant}", () => {
    const base = { jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", jwks: [issuer.publicJwk] } } };
    expect(() => parseEdgeConfig({ ...base, tenants: [], routing: { upstreamTemplate: "http://gw:18789" } })).toThrow(/routing\.upstreamTemplate: http:\/\/<host containing \{tenant\}>/);
  });
});

describe("graceful shutdown", () => {
  it("lets an in-flight request finish, closes WebSockets with 1001, refuses new connections", async () => {
    const g = await startEdge();
    const t = bearer(await issuer.sign(claims("a", "viewer", "drain@example.test")));
    const { ws } = await wsConnect(g.port, "/ws", { host: "a.octw.test", ...bearer(await issuer.sign(claims("a", "viewer"))) });
    const wsClosed = closed(ws!);
    a.slowMs = 500;
    const slow = request(g.port, { host: "a.octw.test", path: "/slow", headers: t });
    await new Promise((r) => setTimeout(r, 100));
    const closing = g.edge.close();
    expect((await wsClosed).code).toBe(WS_CLOSE.shutdown);
    const r = await slow;
    expect(r.status).toBe(200);
    await closing;
    await expect(new Promise((resolve, reject) => {
      const s = net.connect(g.port, "127.0.0.1");
      s.on("connect", () => resolve("connected"));
      s.on("error", reject);
    })).rejects.toThrow(/ECONNREFUSED/);
  });
});
