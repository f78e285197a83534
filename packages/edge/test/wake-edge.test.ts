// The edge with wake on request, over real HTTP: fake tenant gateways that can be "running",
// "paused" (accept connections, answer nothing, like a frozen container) or "stopped" (no name,
// connections refused, like a stopped container), and a fake waker over HTTP that checks the
// bearer token and flips them.
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { parseEdgeConfig, type EdgeConfigInput } from "@octw/contracts";
import { createEdge, type EdgeServer } from "../src/server";
import { AUDIENCE, ISSUER, MemoryAudit, claims, makeIssuer, type Issuer } from "./helpers";

const TOKEN = "w".repeat(40);
type GwState = "running" | "paused" | "stopped";

/** One tenant's gateway on its own loopback address (same port for all, as in the template). */
class FakeGateway {
  state: GwState = "stopped";
  server: http.Server | undefined;
  readonly held: (() => void)[] = [];
  readonly sockets = new Set<Socket>();
  requests = 0;
  constructor(
    readonly tenant: string,
    readonly address: string,
    readonly port: number,
  ) {}

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const answer = () => {
        if (req.url !== "/readyz") this.requests++;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ tenant: this.tenant, url: req.url }));
      };
      if (this.state === "paused") this.held.push(answer);
      else answer();
    });
    const wss = new WebSocketServer({ noServer: true });
    server.on("upgrade", (req, socket, head) => {
      const go = () => wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (d: Buffer) => ws.send(`${this.tenant}:${d.toString()}`)));
      if (this.state === "paused") this.held.push(go);
      else go();
    });
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(this.port, this.address, r));
    this.server = server;
  }

  async set(state: GwState): Promise<void> {
    const was = this.state;
    this.state = state;
    if (state === "stopped" && this.server) {
      for (const s of this.sockets) s.destroy();
      await new Promise<void>((r) => this.server!.close(() => r()));
      this.server = undefined;
      this.held.length = 0;
    }
    if (state !== "stopped" && !this.server) await this.start();
    if (was === "paused" && state === "running") for (const f of this.held.splice(0)) f();
  }
}

/** The waker's HTTP contract, faked: checks the token, flips the fake gateways. */
async function fakeWaker(gws: Map<string, FakeGateway>) {
  const calls: { op: string; tenant: string; query: string }[] = [];
  const self = { calls, startMs: 80, mode: "ok" as "ok" | "fail" | "hang", unauthorized: 0, url: "", close: async () => {} };
  const server = http.createServer((req, res) => {
    req.resume();
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      self.unauthorized++;
      res.writeHead(401).end();
      return;
    }
    const url = new URL(req.url ?? "", "http://w");
    const m = /^\/tenants\/([a-z0-9-]+)\/(wake|suspend)$/.exec(url.pathname);
    const gw = m ? gws.get(m[1]!) : undefined;
    if (!m || !gw || req.method !== "POST") {
      res.writeHead(404).end();
      return;
    }
    calls.push({ op: m[2]!, tenant: m[1]!, query: url.search });
    if (m[2] === "suspend") {
      void gw.set(url.searchParams.get("tier") === "paused" ? "paused" : "stopped").then(() => res.end("{}"));
      return;
    }
    if (self.mode === "hang") return;
    if (self.mode === "fail") {
      res.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ error: "engine call failed" }));
      return;
    }
    setTimeout(() => void gw.set("running").then(() => res.end(JSON.stringify({ tenant: m[1], state: "running" }))), self.startMs);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  self.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  self.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return self;
}

let issuer: Issuer;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  issuer = await makeIssuer("ES256");
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(wake: Partial<NonNullable<EdgeConfigInput["wake"]>> = {}, initial: GwState = "stopped", startWithoutWake = false) {
  // A free port on 127.0.0.21, then the same port on .22 and .23 (one port in the template).
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.21", r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const gws = new Map<string, FakeGateway>([
    ["a", new FakeGateway("a", "127.0.0.21", port)],
    ["b", new FakeGateway("b", "127.0.0.22", port)],
    ["c", new FakeGateway("c", "127.0.0.23", port)], // always on: not in the wake config
  ]);
  for (const g of gws.values()) await g.set(initial);
  await gws.get("c")!.set("running");
  cleanups.push(async () => {
    for (const g of gws.values()) await g.set("stopped");
  });
  const waker = await fakeWaker(gws);
  cleanups.push(() => waker.close());
  const lookups: string[] = [];
  // Like Docker's DNS: a stopped container has no name.
  const lookup = (host: string) => {
    lookups.push(host);
    const g = gws.get(/^gw-([a-z0-9-]+)\.test$/.exec(host)?.[1] ?? "");
    return Promise.resolve(g && g.state !== "stopped" ? g.address : undefined);
  };
  const audit = new MemoryAudit();
  const input = (withWake: boolean) => ({
    listen: { host: "127.0.0.1", port: 0, publicScheme: "https" as const },
    routing: { hostDomain: "octw.test", upstreamTemplate: `http://gw-{tenant}.test:${port}` },
    tenants: [],
    jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", jwks: [issuer.publicJwk] } },
    limits: { perSubject: { ratePerSec: 1000, burst: 1000 }, perTenant: { ratePerSec: 1000, burst: 1000 }, perClientIp: { ratePerSec: 1000, burst: 1000 } },
    ...(withWake ? { wake: { wakerUrl: waker.url, tokenFile: "/run/secrets/waker-token", tenants: { a: { pauseAfterS: 1, stopAfterS: 2 }, b: { stopAfterS: 1 } }, tickMs: 50, readyPollMs: 10, probeTimeoutMs: 200, ...wake } } : {}),
  });
  const config = parseEdgeConfig(input(!startWithoutWake));
  const tokenFiles: string[] = [];
  const token = { missing: false };
  const wakerToken = (f: string) => {
    if (token.missing) throw new Error(`wake.tokenFile: cannot read secret file ${f} (ENOENT)`);
    tokenFiles.push(f);
    return TOKEN;
  };
  const edge: EdgeServer = await createEdge(config, { audit, lookup, wakerToken });
  const addr = await edge.listen();
  cleanups.push(() => edge.close());
  const withWakeConfig = () => parseEdgeConfig(input(true));
  return { gws, waker, edge, port: addr.port, audit, tokenFiles, lookups, withWakeConfig, token };
}

interface Res { status: number; headers: http.IncomingHttpHeaders; body: string }
function get(port: number, host: string, token: string | undefined, headers: Record<string, string> = {}, path = "/x"): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, headers: { host, ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}
const tokenFor = (tenant: string) => issuer.sign(claims(tenant, "member"));
const wakes = (w: { calls: { op: string; tenant: string }[] }, t: string) => w.calls.filter((c) => c.op === "wake" && c.tenant === t).length;

describe("edge: wake on request", () => {
  it("50 concurrent requests to a stopped tenant: one wake call, all 50 answered by its gateway", async () => {
    const s = await setup();
    const t = await tokenFor("a");
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => get(s.port, "a.octw.test", t, {}, `/r${i}`)));
    expect(rs.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(rs.every((r, i) => (JSON.parse(r.body) as { url: string }).url === `/r${i}`)).toBe(true);
    expect(wakes(s.waker, "a")).toBe(1);
    expect(s.waker.calls[0]!.query).toBe("?wait=running&reason=request");
    expect(s.tokenFiles).toEqual(["/run/secrets/waker-token"]);
    expect(s.waker.unauthorized).toBe(0);
    // running now: the next request goes straight through
    expect((await get(s.port, "a.octw.test", t)).status).toBe(200);
    expect(wakes(s.waker, "a")).toBe(1);
  });

  it("a WebSocket upgrade to a stopped tenant is held, woken once, and answered", async () => {
    const s = await setup();
    const t = await tokenFor("b");
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`, { headers: { host: "b.octw.test", authorization: `Bearer ${t}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const msg = new Promise<string>((r) => ws.once("message", (d: Buffer) => r(d.toString())));
    ws.send("hi");
    expect(await msg).toBe("b:hi");
    expect(wakes(s.waker, "b")).toBe(1);
    ws.close();
  });

  it("nobody wakes a tenant without a valid token for it; an always-on tenant is never woken", async () => {
    const s = await setup();
    expect((await get(s.port, "a.octw.test", undefined)).status).toBe(401);
    expect((await get(s.port, "a.octw.test", await tokenFor("b"))).status).toBe(403);
    await s.gws.get("c")!.set("stopped");
    expect((await get(s.port, "c.octw.test", await tokenFor("c"))).status).toBe(404);
    expect(s.waker.calls).toEqual([]);
    // positive control: the same request with a's own token wakes a
    expect((await get(s.port, "a.octw.test", await tokenFor("a"))).status).toBe(200);
    expect(wakes(s.waker, "a")).toBe(1);
  });

  it("a failed wake answers 503 with Retry-After (JSON), and a browser gets the self-refreshing starting page", async () => {
    const s = await setup();
    s.waker.mode = "fail";
    const t = await tokenFor("a");
    const r = await get(s.port, "a.octw.test", t);
    expect(r.status).toBe(503);
    expect(r.headers["retry-after"]).toBe("5");
    expect(JSON.parse(r.body)).toEqual({ error: "unavailable" });
    const h = await get(s.port, "a.octw.test", t, { accept: "text/html,*/*;q=0.8" });
    expect(h.status).toBe(503);
    expect(h.headers["content-type"]).toMatch(/^text\/html/);
    expect(h.headers["retry-after"]).toBe("5");
    expect(h.body).toMatch(/<meta http-equiv="refresh" content="\d+">/);
    expect(wakes(s.waker, "a")).toBe(1); // the second came within Retry-After: no new wake
    expect(s.audit.events.some((e) => e.type === "edge.upstream.failed" && e.detail.reason === "wake_failed")).toBe(true);
  });

  it("a waker that never answers: held requests end in 503 at holdTimeoutMs, never a hang; a page request gets the starting page after htmlHoldMs", async () => {
    const s = await setup({ holdTimeoutMs: 400, htmlHoldMs: 150 });
    s.waker.mode = "hang";
    const t = await tokenFor("a");
    const t0 = Date.now();
    const [r, h] = await Promise.all([get(s.port, "a.octw.test", t), get(s.port, "a.octw.test", t, { accept: "text/html" })]);
    expect(r.status).toBe(503);
    expect(r.headers["retry-after"]).toBe("5");
    expect(h.status).toBe(503);
    expect(h.body).toContain("Starting your workspace");
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(wakes(s.waker, "a")).toBe(1);
  });

  it("after an edge restart, a tenant paused behind its back (accepts, never answers) is probed and woken by the first request", async () => {
    const s = await setup({}, "paused");
    const r = await get(s.port, "a.octw.test", await tokenFor("a"));
    expect(r.status).toBe(200);
    expect(wakes(s.waker, "a")).toBe(1);
  });

  it("a running tenant stopped behind the edge's back: the connect error answers 503 + Retry-After and starts one wake", async () => {
    const s = await setup({}, "running");
    const t = await tokenFor("a");
    expect((await get(s.port, "a.octw.test", t)).status).toBe(200); // probed ready, no wake
    expect(wakes(s.waker, "a")).toBe(0);
    await s.gws.get("a")!.set("stopped"); // the edge still has its address cached
    const r = await get(s.port, "a.octw.test", t);
    expect(r.status).toBe(503);
    expect(r.headers["retry-after"]).toBe("5");
    const r2 = await get(s.port, "a.octw.test", t);
    expect(r2.status).toBe(200);
    expect(wakes(s.waker, "a")).toBe(1);
  });
});

describe("edge: switching wake on by a config reload", () => {
  it("an edge started without `wake` wakes its tenants after a reload that adds it, without a restart", async () => {
    const s = await setup({}, "stopped", true);
    const t = await tokenFor("a");
    expect((await get(s.port, "a.octw.test", t)).status).toBe(404); // no wake: a stopped gateway has no name
    expect(s.waker.calls).toEqual([]);
    const r = await s.edge.reconfigure(s.withWakeConfig());
    expect(r.restartNeeded).toEqual([]);
    expect((await get(s.port, "a.octw.test", t)).status).toBe(200);
    expect(wakes(s.waker, "a")).toBe(1);
  });
});

describe("edge: the waker's token file", () => {
  it("is read at each call: a reload that names it before it exists is taken, and wakes work once it is there", async () => {
    const s = await setup({ retryAfterSec: 1 }, "stopped", true);
    s.token.missing = true;
    expect((await s.edge.reconfigure(s.withWakeConfig())).restartNeeded).toEqual([]);
    const t = await tokenFor("a");
    const r = await get(s.port, "a.octw.test", t);
    expect(r.status).toBe(503);
    expect(r.headers["retry-after"]).toBe("1");
    expect(s.waker.calls).toEqual([]); // nothing reached the waker without its token
    s.token.missing = false;
    await new Promise((res) => setTimeout(res, 1_000));
    expect((await get(s.port, "a.octw.test", t)).status).toBe(200);
    expect(wakes(s.waker, "a")).toBe(1);
  });
});

describe("edge: idle clock", () => {
  it("pauses then stops an idle tenant; an open WebSocket keeps its tenant awake", async () => {
    const s = await setup({ tenants: { a: { pauseAfterS: 1, stopAfterS: 2 }, b: { pauseAfterS: 1 } } }, "running");
    const ta = await tokenFor("a");
    const tb = await tokenFor("b");
    expect((await get(s.port, "a.octw.test", ta)).status).toBe(200);
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`, { headers: { host: "b.octw.test", authorization: `Bearer ${tb}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const suspends = () => s.waker.calls.filter((c) => c.op === "suspend").map((c) => `${c.tenant}${c.query}`);
    await new Promise((r) => setTimeout(r, 1_400));
    expect(suspends()).toEqual(["a?tier=paused&reason=idle&horizonS=2"]);
    expect(s.gws.get("a")!.state).toBe("paused");
    await new Promise((r) => setTimeout(r, 1_000));
    expect(suspends()).toEqual(["a?tier=paused&reason=idle&horizonS=2", "a?tier=stopped&reason=idle&horizonS=2"]);
    expect(s.gws.get("b")!.state).toBe("running"); // its WebSocket is open
    ws.close();
    await new Promise((r) => setTimeout(r, 1_400));
    expect(suspends()).toContain("b?tier=paused&reason=idle");
    // and a request wakes the stopped one again
    expect((await get(s.port, "a.octw.test", ta)).status).toBe(200);
    expect(wakes(s.waker, "a")).toBe(1);
  });
});
