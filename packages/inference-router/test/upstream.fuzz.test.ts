// A hostile model provider against the REAL router process (src/main.ts serve, keys from
// tenant_secrets, inference.call events through AuditClient into Postgres). Tenant A's provider
// is a raw TCP server that answers each forwarded request with a generated malformed response:
// bad status lines and reason phrases, header names/values node refuses, conflicting framing,
// truncated/endless/garbage chunking, trickled heads, oversized and too many headers, resets
// mid-SSE, silence. Meanwhile tenant B, whose provider is well-behaved, keeps calling. Asserted:
// the process never exits; every A request ends — a relayed answer (200..599), or the router's
// own 502/504, or (stream already started) a cut connection — within a bound; every request is
// one inference.call row, failed exactly when the client saw the router's error or a cut; and
// every B request succeeds throughout.
// Runs: OCTW_FUZZ_RUNS (default 50); OCTW_FUZZ_NODE picks the node binary of the router process. Needs OCTW_TEST_PG_URL (a missing server is a failure).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TenantSecrets } from "@octw/audit";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditDb, type TestAuditDb } from "../../audit/test/pg-support";
import { sha256 } from "./helpers";
import { freePort } from "../../../test/support/free-port";

const RUNS = Number(process.env.OCTW_FUZZ_RUNS ?? 50);
const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const A = { router: "127.0.16.3", net: "127.0.16.0/27", client: "127.0.16.5", token: randomBytes(24).toString("hex") };
const B = { router: "127.0.26.3", net: "127.0.26.0/27", client: "127.0.26.5", token: randomBytes(24).toString("hex") };
const KEY_A = `sk-A-${randomBytes(16).toString("hex")}`;
const KEY_B = `sk-B-${randomBytes(16).toString("hex")}`;
const LIMITS = { upstreamTimeoutMs: 800, upstreamIdleMs: 600, upstreamMaxMs: 2_500, maxErrorBodyBytes: 1_024, shutdownGraceMs: 200 };
/** Longest any A request may take: the whole-exchange deadline plus slack for a loaded 2-core machine. */
const A_BOUND_MS = LIMITS.upstreamMaxMs + 4_000;

// ---- the hostile provider: raw TCP, one generated plan per forwarded request ----------------

type Step = { write: Buffer } | { wait: number } | { trickle: Buffer; gapMs: number } | { endless: { gapMs: number } };
interface Plan {
  steps: Step[];
  end: "fin" | "reset" | "keep";
  label: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function hostileProvider() {
  const sockets = new Set<net.Socket>();
  const state = { plan: undefined as Plan | undefined, requests: 0 };
  async function perform(sock: net.Socket, plan: Plan): Promise<void> {
    const started = Date.now();
    // Every loop here stops when the router hangs up, and in any case after 10 s.
    const alive = () => !sock.destroyed && Date.now() - started < 10_000;
    for (const step of plan.steps) {
      if (!alive()) return;
      if ("write" in step) sock.write(step.write);
      else if ("wait" in step) await sleep(step.wait);
      else if ("trickle" in step) {
        for (const byte of step.trickle) {
          if (!alive()) return;
          sock.write(Buffer.from([byte]));
          await sleep(step.gapMs);
        }
      } else {
        for (let i = 0; alive(); i++) {
          sock.write(`6\r\nchunk${i % 10}\r\n`);
          await sleep(step.endless.gapMs);
        }
      }
    }
    if (plan.end === "fin") sock.end();
    else if (plan.end === "reset") sock.resetAndDestroy();
  }
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    let buf = Buffer.alloc(0);
    let busy = false;
    const drain = async () => {
      busy = true;
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) break;
        const head = buf.subarray(0, end).toString("latin1");
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) break;
        buf = buf.subarray(end + 4 + length);
        state.requests++;
        await perform(sock, state.plan!);
        if (sock.destroyed) break;
      }
      busy = false;
    };
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!busy) void drain();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    state,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ---- plans ------------------------------------------------------------------------------------

const latin1 = (s: string) => Buffer.from(s, "latin1");
const CODES = [200, 200, 200, 201, 204, 304, 400, 401, 403, 404, 429, 500, 503, 599, 100, 101, 102, 103, 199, 0, 1, 99, 600, 999];
const reason = fc.constantFrom("OK", "", "\x7f", "\x01bad", "caf\xe9", "A".repeat(9_000), "Bad\rReason", "tab\there");
const statusLine = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("HTTP/1.1 200 OK", "HTTP/1.1 500 Internal Server Error", "HTTP/1.1 429 Too Many Requests") },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...CODES), reason).map(([c, r]) => `HTTP/1.1 ${c} ${r}`) },
  { weight: 1, arbitrary: fc.constantFrom("HTTP/1.1 2000 OK", "HTTP/1.1 -1 X", "HTTP/1.1 20 X", "ICY 200 OK", "HTTP/1.1 200", "HTTP/9.9 200 OK", "HTTP/1.0 200 OK", "\x00\x01garbage", "HTTP/1.1 200 OK\n", "", "HTTP/1.1 2OO OK") },
);
const HEADER_POOL = [
  "Content-Type: application/json", "Content-Type: text/event-stream", "X-Request-Id: r1", "Set-Cookie: a=1", "Bad Name: v", "X-Ctl: a\x01b",
  "X-Obs: caf\xe9", `X-Long: ${"a".repeat(20_000)}`, "Connection: close", "Connection: upgrade", "Upgrade: websocket", "Content-Encoding: gzip",
  "Keep-Alive: timeout=1", ": novalue", "NoColon", "X-Fold: a\r\n continued", "Transfer-Encoding: gzip", "Date: garbage", "Trailer: x-t",
  "Content-Length: 5", "Content-Length: -1", "Content-Length: abc", "Content-Length: 3, 4", "Transfer-Encoding: chunked, chunked", "X-Nul: \x00",
  "Location: http://169.254.169.254/", "Content-Type: application/json; charset=utf-16",
];
const WELL_FORMED_HEADERS = ["Content-Type: application/json", "Content-Type: text/event-stream", "X-Request-Id: r1", "Set-Cookie: a=1", "Connection: close", "Keep-Alive: timeout=1", "Content-Encoding: gzip", "X-Obs: caf\xe9", "Date: garbage", "Location: http://169.254.169.254/"];
// Mostly well-formed heads, so the fuzz also reaches streams that start and then go wrong.
const headers = fc
  .tuple(
    fc.oneof({ weight: 3, arbitrary: fc.array(fc.constantFrom(...WELL_FORMED_HEADERS), { maxLength: 3 }) }, { weight: 2, arbitrary: fc.array(fc.constantFrom(...HEADER_POOL), { maxLength: 4 }) }),
    fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  )
  .map(([h, many]) => [...h, ...(many ? Array.from({ length: 150 }, (_, i) => `X-Many-${i}: v`) : [])]);
const FRAMINGS = ["length", "length-short", "length-long", "length-conflict", "length-and-chunked", "chunked", "chunked-truncated", "chunked-bad-size", "chunked-huge-size", "chunked-trailers", "chunked-endless", "until-close", "sse-then-reset", "none"] as const;
const framing = fc.constantFrom(...FRAMINGS);
const delivery = fc.constantFrom("all", "all", "split", "trickle", "never");
const ending = fc.constantFrom("fin", "reset", "keep");

/** What the generator draws (printed by fast-check on failure); `buildPlan` turns it into bytes. */
const planArb = fc.record({ statusLine, headers, framing, delivery, end: ending, stream: fc.boolean() });

function buildPlan(p: typeof planArb extends fc.Arbitrary<infer T> ? T : never): Plan & { stream: boolean } {
  const json = latin1(JSON.stringify({ id: "x", choices: [{ message: { content: "hi" } }] }));
  const sse = latin1('data: {"i":0}\n\ndata: {"i":1}\n\n');
  const chunk = (b: Buffer) => Buffer.concat([latin1(`${b.length.toString(16)}\r\n`), b, latin1("\r\n")]);
  const framingHeaders: Record<(typeof FRAMINGS)[number], string[]> = {
    length: [`Content-Length: ${json.length}`],
    "length-short": [`Content-Length: ${json.length + 50}`],
    "length-long": [`Content-Length: ${json.length - 10}`],
    "length-conflict": [`Content-Length: ${json.length}`, `Content-Length: ${json.length + 1}`],
    "length-and-chunked": [`Content-Length: ${json.length}`, "Transfer-Encoding: chunked"],
    chunked: ["Transfer-Encoding: chunked"],
    "chunked-truncated": ["Transfer-Encoding: chunked"],
    "chunked-bad-size": ["Transfer-Encoding: chunked"],
    "chunked-huge-size": ["Transfer-Encoding: chunked"],
    "chunked-trailers": ["Transfer-Encoding: chunked", "Trailer: x-t"],
    "chunked-endless": ["Transfer-Encoding: chunked"],
    "until-close": [],
    "sse-then-reset": ["Content-Type: text/event-stream", "Transfer-Encoding: chunked"],
    none: [],
  };
  const bodies: Record<(typeof FRAMINGS)[number], Step[]> = {
    length: [{ write: json }],
    "length-short": [{ write: json }],
    "length-long": [{ write: json }],
    "length-conflict": [{ write: json }],
    "length-and-chunked": [{ write: chunk(json) }, { write: latin1("0\r\n\r\n") }],
    chunked: [{ write: chunk(json.subarray(0, 10)) }, { wait: 10 }, { write: chunk(json.subarray(10)) }, { write: latin1("0\r\n\r\n") }],
    "chunked-truncated": [{ write: chunk(json.subarray(0, 10)) }, { write: latin1("20\r\nabc") }],
    "chunked-bad-size": [{ write: latin1("zz\r\nabc\r\n0\r\n\r\n") }],
    "chunked-huge-size": [{ write: latin1("ffffffffffffffffff\r\nabc") }],
    "chunked-trailers": [{ write: chunk(json) }, { write: latin1("0\r\nx-t: v\r\nX-Bad Trailer: \x01\r\n\r\n") }],
    "chunked-endless": [{ endless: { gapMs: 100 } }],
    "until-close": [{ write: json }],
    "sse-then-reset": [{ write: chunk(sse) }, { wait: 20 }, { write: chunk(sse) }],
    none: [],
  };
  const head = latin1(`${[p.statusLine, ...p.headers, ...framingHeaders[p.framing]].join("\r\n")}\r\n\r\n`);
  const headSteps: Step[] =
    p.delivery === "never" ? []
    : p.delivery === "trickle" ? [{ trickle: head, gapMs: 150 }]
    : p.delivery === "split" ? [{ write: head.subarray(0, 7) }, { wait: 20 }, { write: head.subarray(7) }]
    : [{ write: head }];
  const end = p.framing === "sse-then-reset" ? "reset" : p.end;
  const steps = p.delivery === "never" ? [] : [...headSteps, ...bodies[p.framing]];
  const label = JSON.stringify({ status: p.statusLine.slice(0, 40), headers: p.headers.map((h) => h.slice(0, 30)).slice(0, 6), many: p.headers.length > 100, framing: p.framing, delivery: p.delivery, end });
  return { steps, end, label, stream: p.stream };
}

/**
 * The router's own failure as the client sees it: a cut response, or an error with the
 * router's code. (`octw_upstream_error` is the provider's own error status relayed with the
 * router's wording because its body could not be checked for the key: a relayed answer.)
 */
const routerError = (o: Outcome) => !o.complete || (/"code":"octw_/.test(o.body) && !o.body.includes('"code":"octw_upstream_error"'));

// ---- clients ------------------------------------------------------------------------------------

interface Outcome {
  status: number;
  body: string;
  complete: boolean;
  ms: number;
  error?: string;
}

function ask(who: typeof A, model: string, stream: boolean, boundMs: number): Promise<Outcome> {
  const started = Date.now();
  const data = JSON.stringify({ model, stream, messages: [{ role: "user", content: "hi" }] });
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Omit<Outcome, "ms">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...o, ms: Date.now() - started });
    };
    const req = http.request(
      { host: who.router, port, localAddress: who.client, method: "POST", path: "/openai/v1/chat/completions", agent: false, headers: { authorization: `Bearer ${who.token}`, "content-type": "application/json", "content-length": String(Buffer.byteLength(data)) } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => done({ status: res.statusCode ?? 0, body, complete: res.complete }));
        res.on("error", () => done({ status: res.statusCode ?? 0, body, complete: false }));
        res.on("close", () => done({ status: res.statusCode ?? 0, body, complete: res.complete }));
      },
    );
    // The bound: a request still open by then is a hang, and fails the property.
    const timer = setTimeout(() => {
      req.destroy();
      done({ status: 0, body: "", complete: false, error: "hang" });
    }, boundMs);
    req.on("error", (e) => done({ status: 0, body: "", complete: false, error: e.message }));
    req.end(data);
  });
}

/** Tenant B's provider: a well-behaved HTTP server (JSON or a short SSE stream). */
async function goodProvider() {
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const { stream } = JSON.parse(body) as { stream: boolean };
      if (!stream) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ answer: "from-b" }));
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      let i = 0;
      const t = setInterval(() => {
        if (i === 3) {
          clearInterval(t);
          res.end("data: [DONE]\n\n");
          return;
        }
        res.write(`data: {"b":${i++}}\n\n`);
      }, 5);
      res.on("close", () => clearInterval(t));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

// ---- the process --------------------------------------------------------------------------------

let db: TestAuditDb;
let dir: string;
let port: number;
let child: ChildProcess;
let out = "";
let exitCode: number | null | undefined;
let hostile: Awaited<ReturnType<typeof hostileProvider>>;
let good: Awaited<ReturnType<typeof goodProvider>>;

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function auditRows(): Promise<{ tenant: string; decision: string; details: { reason: string; status: number } }[]> {
  const c = new pg.Client({ connectionString: db.superUrl });
  await c.connect();
  try {
    return (await c.query(`SELECT tenant, decision, details FROM octw.audit_events WHERE action = 'inference.call' ORDER BY seq`)).rows as never;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  db = await createAuditDb();
  const keyring = [{ version: 1, key: randomBytes(32) }];
  const setup = new pg.Pool({ connectionString: db.ownerUrl, max: 1 }); // the operator stores keys
  const store = new TenantSecrets({ db: setup, keyring });
  await store.set("a", "openai/api-key", KEY_A);
  await store.set("b", "openai/api-key", KEY_B);
  await setup.end();
  hostile = await hostileProvider();
  good = await goodProvider();
  dir = mkdtempSync(path.join(tmpdir(), "router-fuzz-"));
  port = await freePort();
  writeFileSync(path.join(dir, "db-url"), db.routerUrl);
  writeFileSync(path.join(dir, "keyring"), `1:${keyring[0]!.key.toString("base64")}\n`);
  chmodSync(path.join(dir, "db-url"), 0o400);
  chmodSync(path.join(dir, "keyring"), 0o400);
  const tenant = (t: typeof A, id: string, providerPort: number) => ({
    id, routerAddress: t.router, subnet: t.net, tokenSha256: sha256(t.token),
    providers: [{ name: "openai", api: "openai", baseUrl: `http://127.0.0.1:${providerPort}`, models: [`m-${id}`] }],
    limits: { rate: { ratePerSec: 1_000, burst: 1_000 }, maxConcurrent: 64 },
  });
  writeFileSync(path.join(dir, "config.json"), JSON.stringify({
    listen: { host: "0.0.0.0", port },
    allowInsecureProvidersForTests: ["127.0.0.1/32"],
    tenants: [tenant(A, "a", hostile.port), tenant(B, "b", good.port)],
    limits: LIMITS,
    keys: { connectionUrlFile: path.join(dir, "db-url"), keyringFile: path.join(dir, "keyring") },
    audit: { spoolPath: path.join(dir, "audit.spool") },
  }));
  // OCTW_FUZZ_NODE: another node binary for the router process (e.g. the router image's node 24).
  child = spawn(process.env.OCTW_FUZZ_NODE ?? process.execPath, ["--import", "tsx", MAIN, "serve"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", OCTW_ROUTER_CONFIG: path.join(dir, "config.json"), OCTW_ROUTER_CONFIG_POLL_MS: "100000", OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  child.on("exit", (code) => (exitCode = code));
  await until(() => out.includes('"msg":"listening"') || exitCode !== undefined, 30_000, "the router to listen");
  expect(exitCode, out).toBeUndefined();
}, 60_000);

afterAll(async () => {
  if (child && exitCode === undefined) {
    child.kill("SIGTERM");
    await until(() => exitCode !== undefined, 15_000, "the router to stop").catch(() => child.kill("SIGKILL"));
  }
  await hostile?.close();
  await good?.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`hostile upstream vs the real router process (${RUNS} runs)`, () => {
  it("stays up; every A request ends cleanly within its bound and is audited; B is served throughout", async () => {
    // B calls throughout the fuzz, sequentially, alternating plain and streamed requests.
    const bOutcomes: Outcome[] = [];
    let fuzzing = true;
    const bLoop = (async () => {
      for (let i = 0; fuzzing && i < 100_000; i++) {
        bOutcomes.push(await ask(B, "m-b", i % 2 === 1, 5_000));
        await sleep(20);
      }
    })();

    const aOutcomes: { o: Outcome; label: string }[] = [];
    const started = Date.now();
    try {
      await fc.assert(
        fc.asyncProperty(planArb, async (drawn) => {
          const plan = buildPlan(drawn);
          hostile.state.plan = plan;
          const o = await ask(A, "m-a", plan.stream, A_BOUND_MS);
          aOutcomes.push({ o, label: plan.label });
          expect(exitCode, `router exited during ${plan.label}\n${out.slice(-2_000)}`).toBeUndefined();
          expect(o.error, `${plan.label}: the client got no answer (${o.error})`).toBeUndefined();
          expect(o.status, plan.label).toBeGreaterThanOrEqual(200);
          expect(o.status, plan.label).toBeLessThanOrEqual(599);
          if (routerError(o) && o.complete) expect([502, 504], `${plan.label}: ${o.body.slice(0, 200)}`).toContain(o.status);
          // No key ever reaches the sandbox, whatever the provider did.
          expect(o.body).not.toContain(KEY_A.slice(-10));
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
    } finally {
      fuzzing = false;
      await bLoop;
    }
    const fuzzMs = Date.now() - started;

    // The process is still the one we started, and it still serves A after all that.
    expect(exitCode).toBeUndefined();
    expect(out).not.toMatch(/uncaught|unhandled|TypeError|RangeError/i);

    // B: every request during the fuzz was served, plain and streamed.
    expect(bOutcomes.length).toBeGreaterThan(10);
    for (const b of bOutcomes) {
      expect(b.status, JSON.stringify(b)).toBe(200);
      expect(b.complete).toBe(true);
      expect(b.body).toMatch(/from-b|\[DONE\]/);
    }

    // Audit: one inference.call per request; A's failed exactly when the client saw the router's error or a cut.
    const aFailed = aOutcomes.filter(({ o }) => routerError(o)).length;
    await until(async () => (await auditRows()).length >= aOutcomes.length + bOutcomes.length, 20_000, "the audit rows");
    const rows = await auditRows();
    const aRows = rows.filter((r) => r.tenant === "a");
    const bRows = rows.filter((r) => r.tenant === "b");
    expect(aRows).toHaveLength(aOutcomes.length);
    expect(bRows).toHaveLength(bOutcomes.length);
    expect(bRows.every((r) => r.decision === "allowed")).toBe(true);
    // A's requests were sequential, so its rows are in request order: each row matches its outcome.
    const mismatched = aOutcomes.flatMap(({ o, label }, i) => ((aRows[i]!.decision === "failed") === routerError(o) ? [] : [{ label, status: o.status, complete: o.complete, body: o.body.slice(0, 200), row: aRows[i] }]));
    expect(mismatched).toEqual([]);
    expect(aRows.filter((r) => r.decision === "failed")).toHaveLength(aFailed);
    expect(JSON.stringify(rows)).not.toContain(KEY_A);

    const statuses: Record<string, number> = {};
    for (const { o } of aOutcomes) {
      const k = !o.complete ? "cut" : routerError(o) ? `router ${o.status}` : `relayed ${o.status}`;
      statuses[k] = (statuses[k] ?? 0) + 1;
    }
    const reasons: Record<string, number> = {};
    for (const r of aRows) reasons[r.details.reason] = (reasons[r.details.reason] ?? 0) + 1;
    console.log(JSON.stringify({ runs: aOutcomes.length, fuzzMs, maxAMs: Math.max(...aOutcomes.map(({ o }) => o.ms)), bRequests: bOutcomes.length, maxBMs: Math.max(...bOutcomes.map((b) => b.ms)), providerRequests: hostile.state.requests, statuses, reasons }));
  }, 600_000);
});
