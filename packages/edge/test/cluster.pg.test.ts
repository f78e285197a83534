// The multi-worker edge as the container runs it (main.ts, listen.workers 2), against a real
// Postgres: a rate limit is exact across workers, a worker killed mid-stream cuts only its own
// clients while the others keep serving and no audit event is lost or doubled, a reload
// (SIGHUP) reaches every worker, and wake on request runs once per tenant with one idle clock.
// Every claim about "several workers" has its control: health answers on fresh connections
// come from more than one worker, so the requests in each test really were spread.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { readEvents } from "@octw/audit";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAuditDb, type TestAuditDb } from "../../audit/test/pg-support";
import { AUDIENCE, ISSUER, claims, freePort, makeIssuer, type Issuer } from "./helpers";

const MAIN = path.resolve(import.meta.dirname, "../src/main.ts");
const WORKERS = 2;

let db: TestAuditDb;
let dir: string;
let issuer: Issuer;
let auditUrlFile: string;
let gateway: { url: string; close(): Promise<void>; ready: boolean; seen: string[] };
const started: ChildProcess[] = [];

/** A tenant gateway: /stream/* answers 200 and then a chunk every 100 ms for `streamMs`; /healthz follows `ready`. */
async function fakeGateway(streamMs = 4_000): Promise<typeof gateway> {
  const self = { ready: true, seen: [] as string[] };
  const server = http.createServer((req, res) => {
    const url = req.url ?? "";
    if (url === "/healthz") {
      res.writeHead(self.ready ? 200 : 503).end();
      return;
    }
    self.seen.push(url);
    if (url.startsWith("/stream/")) {
      res.writeHead(200, { "content-type": "text/plain" });
      const t = setInterval(() => res.write("chunk\n"), 100);
      setTimeout(() => {
        clearInterval(t);
        res.end("end\n");
      }, streamMs);
      res.on("close", () => clearInterval(t));
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return Object.assign(self, {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
}

interface Edge {
  child: ChildProcess;
  port: number;
  out: () => string;
  cfg: string;
  write(tenants: string[], extra?: Record<string, unknown>): void;
}

async function startEdge(name: string, tenants: string[], extra: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<Edge> {
  const port = await freePort();
  const cfg = path.join(dir, `${name}.json`);
  const write = (ts: string[], more: Record<string, unknown> = extra) =>
    writeFileSync(cfg, JSON.stringify({
      listen: { host: "127.0.0.1", port, publicScheme: "http", workers: WORKERS },
      routing: { hostDomain: "octw.test" },
      tenants: ts.map((id) => ({ id, upstream: gateway.url })),
      jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", jwks: [issuer.publicJwk] } },
      audit: { connectionUrlFile: auditUrlFile, spoolPath: path.join(dir, `${name}.spool`) },
      ...more,
    }));
  write(tenants);
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], { env: { ...process.env, OCTW_EDGE_CONFIG: cfg, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  started.push(child);
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
  child.stderr.on("data", (d: Buffer) => (out += d.toString("utf8")));
  const deadline = Date.now() + 30_000;
  while (!out.includes('"listening"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(out, out.slice(-2_000)).toContain('"listening"');
  expect(out).toContain(`"workers":${WORKERS}`);
  return { child, port, out: () => out, cfg, write };
}

async function stopEdge(e: Edge): Promise<void> {
  if (e.child.exitCode !== null || e.child.signalCode !== null) return;
  const exited = new Promise<number | null>((r) => e.child.once("exit", (code) => r(code)));
  e.child.kill("SIGTERM");
  expect(await exited).toBe(0);
}

type Res = { status: number; body: string; complete: boolean; error?: string };

/** One request on its own connection (agent: false): the kernel picks the worker for each. */
function request(port: number, o: { host: string; path: string; token?: string; agent?: http.Agent; timeoutMs?: number }): Promise<Res> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: o.path, agent: o.agent ?? false, headers: { host: o.host, ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) } },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString("utf8")));
        res.on("error", () => {});
        res.on("close", () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete }));
      },
    );
    req.setTimeout(o.timeoutMs ?? 15_000, () => req.destroy(new Error("HANG")));
    req.on("error", (err) => resolve({ status: 0, body: "", complete: false, error: err.message }));
    req.end();
  });
}

async function workerOf(port: number, agent?: http.Agent): Promise<number> {
  const r = await request(port, { host: "x", path: "/_edge/healthz", ...(agent ? { agent } : {}) });
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as { worker: number }).worker;
}

/** Positive control: fresh connections land on more than one worker. */
async function workersSeen(port: number, n = 24): Promise<Set<number>> {
  return new Set(await Promise.all(Array.from({ length: n }, () => workerOf(port))));
}

/** The edge's worker processes (children running main.ts; not tsx's helper processes). */
function workerPids(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`)
    .flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").split(" ").filter(Boolean).map(Number))
    .filter((c) => readFileSync(`/proc/${c}/cmdline`, "utf8").includes("main.ts"));
}

async function rows(): Promise<{ action: string; target: string; tenant: string; idempotencyKey: string }[]> {
  const pool = new pg.Pool({ connectionString: db.superUrl });
  try {
    return (await readEvents(pool, { limit: 100_000 })).map((r) => ({ action: r.action, target: r.target ?? "", tenant: r.tenant, idempotencyKey: r.idempotencyKey }));
  } finally {
    await pool.end();
  }
}

beforeAll(async () => {
  db = await createAuditDb();
  dir = mkdtempSync(path.join(tmpdir(), "edge-cluster-"));
  issuer = await makeIssuer("ES256");
  auditUrlFile = path.join(dir, "audit-url");
  writeFileSync(auditUrlFile, `${db.edgeUrl}\n`, { mode: 0o400 });
  gateway = await fakeGateway();
});
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});
afterAll(async () => {
  await gateway?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the edge on several workers", () => {
  it("a per-subject rate limit is exact across workers: burst 5 admits exactly 5 of 20 spread requests", async () => {
    const edge = await startEdge("rate", ["a"], { limits: { perSubject: { ratePerSec: 0.01, burst: 5 } } });
    expect((await workersSeen(edge.port)).size).toBe(WORKERS);
    const token = await issuer.sign(claims("a", "viewer", "rita@example.test"));
    const got = await Promise.all(Array.from({ length: 20 }, (_, i) => request(edge.port, { host: "a.octw.test", path: `/r/${i}`, token })));
    const statuses = got.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    // Another subject has its own budget (the limit is per subject, not a broken edge).
    const other = await issuer.sign(claims("a", "viewer", "otto@example.test"));
    expect((await request(edge.port, { host: "a.octw.test", path: "/r/other", token: other })).status).toBe(200);
    await stopEdge(edge);
  });

  it("with plenty left (tokens lent to workers in leases) the total never exceeds the burst and falls short by at most (workers − 1) × 31: 600 requests against burst 400", async () => {
    const edge = await startEdge("lease", ["a"], { limits: { perTenant: { ratePerSec: 0.01, burst: 400 }, perSubject: { ratePerSec: 1e6, burst: 1e6 }, perClientIp: { ratePerSec: 1e6, burst: 1e6 } } });
    const token = await issuer.sign(claims("a", "viewer", "lea@example.test"));
    const agents = Array.from({ length: 24 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const owner = await Promise.all(agents.map((a) => workerOf(edge.port, a)));
    expect(new Set(owner).size).toBe(WORKERS);
    const statuses = (
      await Promise.all(agents.map(async (agent, c) => {
        const got: number[] = [];
        for (let i = 0; i < 25; i++) got.push((await request(edge.port, { host: "a.octw.test", path: `/l/${c}/${i}`, token, agent })).status);
        return got;
      }))
    ).flat();
    for (const a of agents) a.destroy();
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok + statuses.filter((s) => s === 429).length).toBe(600);
    expect(ok).toBeLessThanOrEqual(400);
    expect(ok).toBeGreaterThanOrEqual(400 - (WORKERS - 1) * 31);
    await stopEdge(edge);
  });

  it("a worker killed mid-stream: its clients get a cut response, the other worker's streams finish, new requests are served, and Postgres holds every decision exactly once", async () => {
    const edge = await startEdge("kill", ["a"]);
    const token = await issuer.sign(claims("a", "viewer", "kim@example.test"));
    // Each stream on its own keep-alive connection, whose worker the health answer names first.
    const N = 8;
    const agents = Array.from({ length: N }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const owner = await Promise.all(agents.map((a) => workerOf(edge.port, a)));
    expect(new Set(owner).size).toBe(WORKERS);
    const streams = agents.map((agent, i) => request(edge.port, { host: "a.octw.test", path: `/stream/${i}`, token, agent, timeoutMs: 20_000 }));
    await new Promise((r) => setTimeout(r, 800)); // every stream has begun
    const pids = workerPids(edge.child.pid!);
    expect(pids).toHaveLength(WORKERS);
    process.kill(pids[0]!, "SIGKILL");
    const done = await Promise.all(streams);
    for (const a of agents) a.destroy();
    for (const [i, r] of done.entries()) expect(r.error ?? "", `stream ${i} must not hang`).not.toBe("HANG");
    // Exactly the streams of one worker were cut (its clients see an incomplete response, never
    // a hang); every stream of the other finished.
    const cutWorkers = new Set(owner.filter((_, i) => !done[i]!.complete));
    expect(cutWorkers.size).toBe(1);
    const [victim] = [...cutWorkers];
    for (const [i, r] of done.entries()) {
      if (owner[i] === victim) expect(r.complete, `stream ${i} on the killed worker`).toBe(false);
      else expect(r, `stream ${i} on the surviving worker`).toMatchObject({ status: 200, complete: true });
    }
    // The other worker (and the replacement) keep serving.
    const after = await Promise.all(Array.from({ length: 12 }, (_, i) => request(edge.port, { host: "a.octw.test", path: `/after/${i}`, token })));
    expect(after.map((r) => r.status)).toEqual(Array(12).fill(200));
    await new Promise((r) => setTimeout(r, 1_000));
    expect(edge.out()).toContain('"worker exited"');
    await stopEdge(edge);
    // Every decision once: the 8 streams (handed to the primary before they were forwarded) and the 12 after.
    const allowed = (await rows()).filter((r) => r.action === "edge.auth.allowed" && /\/(stream|after)\/\d+$/.test(r.target));
    const targets = allowed.map((r) => r.target).sort();
    const expected = [...Array.from({ length: N }, (_, i) => `a.octw.test/stream/${i}`), ...Array.from({ length: 12 }, (_, i) => `a.octw.test/after/${i}`)].sort();
    expect(targets).toEqual(expected);
    expect(new Set(allowed.map((r) => r.idempotencyKey)).size).toBe(allowed.length);
  });

  it("a reload (SIGHUP) reaches every worker: a new tenant is served on every connection", async () => {
    // File polling is slowed to ten minutes: only the SIGHUP can bring the change.
    const edge = await startEdge("reload", ["a"], {}, { OCTW_EDGE_CONFIG_POLL_MS: "600000" });
    const token = await issuer.sign(claims("b", "viewer", "bo@example.test"));
    expect((await workersSeen(edge.port)).size).toBe(WORKERS);
    const before = await Promise.all(Array.from({ length: 16 }, (_, i) => request(edge.port, { host: "b.octw.test", path: `/b/${i}`, token })));
    expect(before.map((r) => r.status)).toEqual(Array(16).fill(404));
    edge.write(["a", "b"]);
    edge.child.kill("SIGHUP");
    const until = Date.now() + 10_000;
    while (!edge.out().includes('"config reloaded"') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(edge.out()).toMatch(/"config reloaded".*"workers":2,"reloadedWorkers":2/);
    const after = await Promise.all(Array.from({ length: 16 }, (_, i) => request(edge.port, { host: "b.octw.test", path: `/b/${i}`, token })));
    expect(after.map((r) => r.status)).toEqual(Array(16).fill(200));
    await stopEdge(edge);
  });

  it("wake on request: one wake for concurrent requests on every worker; an open stream on one worker keeps the tenant awake; idle on all, it is paused once", async () => {
    const waker = { wakes: 0, suspends: [] as string[] };
    const wakerServer = http.createServer((req, res) => {
      if (req.headers.authorization !== "Bearer waker-secret") return void res.writeHead(401).end();
      const url = req.url ?? "";
      if (url.includes("/wake")) {
        waker.wakes++;
        setTimeout(() => {
          gateway.ready = true;
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        }, 300);
      } else {
        waker.suspends.push(new URL(url, "http://x").searchParams.get("tier") ?? "");
        gateway.ready = false;
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      }
    });
    await new Promise<void>((r) => wakerServer.listen(0, "127.0.0.1", r));
    const tokenFile = path.join(dir, "waker-token");
    writeFileSync(tokenFile, "waker-secret", { mode: 0o400 });
    gateway.ready = false; // suspended: its health path does not answer 200 until the waker ran
    try {
      const edge = await startEdge("wake", ["s"], {
        wake: {
          wakerUrl: `http://127.0.0.1:${(wakerServer.address() as net.AddressInfo).port}`,
          tokenFile,
          tenants: { s: { pauseAfterS: 2 } },
          tickMs: 100,
          probeTimeoutMs: 200,
          readyPollMs: 50,
          holdTimeoutMs: 10_000,
        },
      });
      expect((await workersSeen(edge.port)).size).toBe(WORKERS);
      const token = await issuer.sign(claims("s", "viewer", "sam@example.test"));
      // Held together with the short requests (so it is in use from before the wake): a 4 s
      // stream on one worker, nothing on the other once the short ones are done.
      const stream = request(edge.port, { host: "s.octw.test", path: "/stream/keep", token, timeoutMs: 30_000 });
      const held = await Promise.all(Array.from({ length: 12 }, (_, i) => request(edge.port, { host: "s.octw.test", path: `/w/${i}`, token })));
      expect(held.map((r) => r.status)).toEqual(Array(12).fill(200));
      expect(waker.wakes).toBe(1);
      // (A suspend before the wake is the idle clock's start: nobody used the tenant for 2 s
      // while the workers started on a loaded machine.)
      waker.suspends.length = 0;
      // The 2 s idle threshold passes while the stream runs: no suspend.
      const shortDone = Date.now();
      expect(await stream).toMatchObject({ status: 200, complete: true });
      expect(Date.now() - shortDone).toBeGreaterThan(2_500);
      expect(waker.suspends).toEqual([]);
      // Control: idle on every worker now, so it is paused (once), 2 s after the stream ended.
      const until = Date.now() + 8_000;
      while (waker.suspends.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(waker.suspends).toEqual(["paused"]);
      await new Promise((r) => setTimeout(r, 500));
      expect(waker.suspends).toEqual(["paused"]);
      await stopEdge(edge);
    } finally {
      gateway.ready = true;
      wakerServer.closeAllConnections();
      await new Promise<void>((r) => wakerServer.close(() => r()));
    }
  });
});
