// Attacker 4 against the REAL edge process (main.ts, as the container runs it): tenant "a"'s
// gateway is a raw TCP server answering generated malformed responses — bad status lines and
// reason phrases, headers Node refuses, conflicting framing, truncated/endless chunking,
// trickles, resets, upstreams that never answer, broken WebSocket handshakes and frames. While
// it runs, tenant "b"'s well-behaved gateway is used over HTTP and a WebSocket.
// For every generated answer: the edge process stays up and healthy, the client gets a clean
// 502/504 (or, once a valid head was relayed, a cut connection) within a bound — never a hang —,
// the audit spool holds an edge.upstream.failed event for it, and tenant b is served throughout.
// OCTW_FUZZ_RUNS sets the number of generated cases (default 50; `npm run fuzz` uses 1000).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { hostileUpstream, type HostileUpstream, type Step } from "./hostile-upstream";
import { AUDIENCE, ISSUER, claims, makeIssuer, recordingUpstream, type RecordingUpstream } from "./helpers";
import { freePort } from "../../../test/support/free-port";

const RUNS = Number(process.env.OCTW_FUZZ_RUNS ?? 50);
const MAIN = path.resolve(import.meta.dirname, "../src/main.ts");
/** The edge's bounds in this test (small, so timeouts are cheap to reach). */
const HEAD_TIMEOUT_MS = 600;
const BODY_TIMEOUT_MS = 1_200;
/** A client outcome later than this is a hang. */
const HANG_MS = HEAD_TIMEOUT_MS + BODY_TIMEOUT_MS + 3_000;

// ---- generated upstream behaviour ----

type Expect =
  /** Malformed/absent head: exactly 502 or 504, audited. */
  | { kind: "fail"; status: 502 | 504 }
  /** A valid head then a broken body: the head (200) relayed then the connection cut, or 502; audited. */
  | { kind: "cut" }
  /** Arbitrary bytes: any clean outcome; a 502/504 must be audited. */
  | { kind: "any" }
  /** Control: relayed as is. */
  | { kind: "relay"; status: number; body: string }
  /** WebSocket upgrade refused with this status, audited. */
  | { kind: "ws-refused"; status: number | "502|504" }
  /** WebSocket opened, then the upstream broke the protocol: the client gets close 1014, audited. */
  | { kind: "ws-1014" }
  /** Control: a valid frame is relayed. */
  | { kind: "ws-relay"; message: string };

interface Scenario {
  transport: "http" | "ws";
  route: "host" | "path";
  steps: readonly Step[];
  expect: Expect;
}

const b = (s: string) => Buffer.from(s, "latin1");
const write = (s: string | Buffer): Step => ({ kind: "write", data: typeof s === "string" ? b(s) : s });
const END: Step = { kind: "end" };
const RESET: Step = { kind: "reset" };
const head = (statusLine: string, lines: string[]) => `${statusLine}\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n`;

/** A control character Node refuses in a header or reason phrase (not HTAB; not CR/LF, which end the line). */
const ctl = fc.constantFrom(...[...Array(32).keys()].filter((c) => c !== 9 && c !== 10 && c !== 13).concat(127)).map((c) => String.fromCharCode(c));
const printable = fc.string({ maxLength: 8 }).map((s) => s.replace(/[^\x20-\x7e]/g, "x"));

const badStatusLine = fc.oneof(
  fc.integer({ min: 0, max: 99 }).map((c) => `HTTP/1.1 ${String(c).padStart(3, "0")} X`),
  fc.integer({ min: 100, max: 199 }).map((c) => `HTTP/1.1 ${c} Interim`),
  fc.integer({ min: 600, max: 999 }).map((c) => `HTTP/1.1 ${c} Odd`),
  fc.constantFrom("HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 abc OK", "HTTP/1.1 -1 OK", "HTTP/1.1  200 OK", "HTTP/1.1 200OK", "HTTP/9.9 200 OK", "ICY 200 OK", "HTTP/1.1", ""),
  fc.tuple(fc.integer({ min: 200, max: 599 }), printable, ctl, printable).map(([c, p, x, s]) => `HTTP/1.1 ${c} ${p}${x}${s}`),
);

const badHeaderLines: fc.Arbitrary<string[]> = fc.oneof(
  fc.constantFrom(
    ["X Bad: 1"], ["X-Bad : 1"], [": empty-name"], ["NoColon"], ["X-A: 1", " folded"], ["X-A: 1", "\tfolded"],
    ["Content-Length: 2", "Content-Length: 3"], ["Content-Length: 2", "Content-Length: 2"], ["Content-Length: 2", "Transfer-Encoding: chunked"],
    ["Transfer-Encoding: chunked", "Content-Length: 2"], ["Content-Length: -1"], ["Content-Length: 1x"], ["Content-Length: 0x2"],
    ["Content-Length: 99999999999999999999999"],
    [`X-Huge: ${"a".repeat(20_000)}`], Array.from({ length: 3_000 }, (_, i) => `X-N${i}: 1`),
  ),
  fc.tuple(printable, ctl, printable).map(([p, x, s]) => [`X-Ctl: ${p}${x}${s}`]),
  fc.tuple(ctl, printable).map(([x, s]) => [`X${x}Name: ${s}`]),
  fc.integer({ min: 128, max: 255 }).map((c) => [`X-${String.fromCharCode(c)}: 1`]),
);

const validHeaderLines = fc.array(
  fc.oneof(
    fc.constantFrom("Content-Type: text/plain", "Set-Cookie: ui=1; Path=/; Domain=octw.test", "Set-Cookie: octw_session=forged; Path=/", "Service-Worker-Allowed: /", "Clear-Site-Data: \"cookies\"", "Connection: close", "Keep-Alive: timeout=1", "Alt-Svc: h2=\":1\""),
    fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/), printable).map(([n, v]) => `X-${n}: ${v}`),
  ),
  { maxLength: 4 },
);

const malformedHead: fc.Arbitrary<Omit<Scenario, "route">> = fc.oneof(
  fc.tuple(badStatusLine, validHeaderLines, fc.boolean()).map(([sl, hs, rst]) => ({
    transport: "http" as const,
    steps: [write(head(sl, [...hs, "Content-Length: 2"]) + "ok"), rst ? RESET : END],
    expect: { kind: "fail" as const, status: 502 as const },
  })),
  fc.tuple(badHeaderLines, validHeaderLines).map(([bad, hs]) => ({
    transport: "http" as const,
    steps: [write(head("HTTP/1.1 200 OK", [...hs, ...bad])), write("ok"), END],
    expect: { kind: "fail" as const, status: 502 as const },
  })),
  // 101 Switching Protocols to a request that asked for no upgrade.
  fc.constant({ transport: "http" as const, steps: [write(head("HTTP/1.1 101 Switching Protocols", ["Upgrade: websocket", "Connection: Upgrade"])), write("\x81\x02hi")], expect: { kind: "fail" as const, status: 502 as const } }),
  // Never answers, answers half a head, trickles a head, endless 1xx: 504 at the head deadline.
  fc.constantFrom<Step[]>([], [write("HTTP/1.1 200 OK\r\nX-A: 1\r\n")], [{ kind: "trickle", data: b("HTTP/1.1 200 OK\r\nX-Trickle: aaaaaaaaaaaaaaaa"), everyMs: 40 }], [{ kind: "trickle", data: b("HTTP/1.1 100 Continue\r\n\r\n"), everyMs: 5 }]).map((steps) => ({
    transport: "http" as const,
    steps,
    expect: { kind: "fail" as const, status: 504 as const },
  })),
  // Closed or reset before or during the head.
  fc.tuple(fc.constantFrom("", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 2", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"), fc.boolean()).map(([partial, rst]) => ({
    transport: "http" as const,
    steps: [write(partial), rst ? RESET : END],
    expect: { kind: "fail" as const, status: 502 as const },
  })),
);

const brokenBody: fc.Arbitrary<Omit<Scenario, "route">> = fc
  .tuple(
    fc.constantFrom<[string[], Step[]]>(
      [["Content-Length: 10"], [write("abc"), END]],
      [["Content-Length: 10"], [write("abc"), RESET]],
      [["Content-Length: 10"], [write("abc")]], // then silence: idle bound
      [["Transfer-Encoding: chunked"], [write("5\r\nhel"), END]],
      [["Transfer-Encoding: chunked"], [write("zz\r\nhello\r\n0\r\n\r\n")]],
      [["Transfer-Encoding: chunked"], [write("5\r\nhello\r\n")]], // then silence
      [["Transfer-Encoding: chunked"], [write("5\r\nhelloXX\r\n"), END]],
      [["Transfer-Encoding: chunked"], [write("fffffffffffffffffff\r\n")]],
      [["Transfer-Encoding: chunked"], [{ kind: "trickle", data: b("1\r\na\r\n"), everyMs: 30 }]], // endless: total bound
      [["Content-Length: 100000000"], [{ kind: "trickle", data: b("abcdefgh"), everyMs: 30 }]],
    ),
    validHeaderLines,
  )
  .map(([[framing, body], hs]) => ({
    transport: "http" as const,
    steps: [write(head("HTTP/1.1 200 OK", [...hs.filter((h) => !/^connection|^keep-alive/i.test(h)), ...framing])), ...body],
    expect: { kind: "cut" as const },
  }));

const garbage: fc.Arbitrary<Omit<Scenario, "route">> = fc
  .tuple(fc.uint8Array({ maxLength: 300 }), fc.constantFrom<Step[]>([END], [RESET], []))
  .map(([bytes, tail]) => ({ transport: "http" as const, steps: [write(Buffer.from(bytes)), ...tail], expect: { kind: "any" as const } }));

/** One WebSocket frame as a server sends it (unmasked unless `mask`). */
function frame(first: number, payload: Buffer, opts: { mask?: boolean; len?: Buffer } = {}): Buffer {
  const maskBit = opts.mask ? 0x80 : 0;
  let lenBytes: Buffer;
  if (opts.len) lenBytes = opts.len;
  else if (payload.length < 126) lenBytes = Buffer.from([maskBit | payload.length]);
  else lenBytes = Buffer.from([maskBit | 126, payload.length >> 8, payload.length & 0xff]);
  const key = opts.mask ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0);
  const body = opts.mask ? Buffer.from(payload.map((x, i) => x ^ key[i % 4]!)) : payload;
  return Buffer.concat([Buffer.from([first]), lenBytes, key, body]);
}

const invalidFrame = fc.oneof(
  fc.integer({ min: 1, max: 7 }).map((rsv) => frame(0x80 | (rsv << 4) | 0x1, b("hi"))), // RSV bits without an extension
  fc.constantFrom(0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf).map((op) => frame(0x80 | op, b("x"))), // reserved opcodes
  fc.constant(frame(0x81, b("masked"), { mask: true })), // a server must not mask
  fc.constant(frame(0x89, Buffer.alloc(126))), // control frame > 125 bytes
  fc.constant(frame(0x09, b("p"))), // fragmented control frame
  fc.constant(frame(0x81, Buffer.from([0xc3, 0x28]))), // invalid UTF-8 text
  fc.constant(frame(0x80, b("a"))), // continuation without a start
  fc.constant(frame(0x88, Buffer.from([0x03, 0xed]))), // close code 1005 on the wire
  fc.constant(frame(0x88, Buffer.from([0x00]))), // close payload of 1 byte
  fc.constant(frame(0x82, Buffer.alloc(0), { len: Buffer.from([127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) })), // 2^63-1 bytes announced
  fc.constant(frame(0x82, Buffer.alloc(0), { len: Buffer.from([127, 0, 0, 0, 0, 0x10, 0, 0, 0]) })), // beyond maxPayload
);

const wsScenario: fc.Arbitrary<Omit<Scenario, "route">> = fc.oneof(
  fc.constantFrom<[Step[], number | "502|504"]>(
    [[{ kind: "handshake", accept: "wrong", extra: [] }], 502],
    [[{ kind: "handshake", accept: "none", extra: [] }], 502],
    [[{ kind: "handshake", accept: "valid", extra: ["Sec-WebSocket-Protocol: not-offered"] }], 502],
    [[{ kind: "handshake", accept: "valid", extra: ["Sec-WebSocket-Extensions: permessage-deflate"] }], 502],
    [[write(head("HTTP/1.1 101 Switching Protocols", ["Connection: Upgrade"]))], 502],
    [[write("HTTP/1.1 101 Sw\x01itching\r\n\r\n"), END], 502],
    [[write(head("HTTP/1.1 200 OK", ["Content-Length: 0"])), END], 502],
    [[write(head("HTTP/1.1 302 Found", ["Location: http://127.0.0.1:1/", "Content-Length: 0"])), END], 502],
    [[write(head("HTTP/1.1 999 Odd", ["Content-Length: 0"])), END], 502],
    [[write(head("HTTP/1.1 000 Zero", ["Content-Length: 0"])), END], 502],
    [[write(head("HTTP/1.1 403 Forbidden", ["Content-Length: 0"])), END], 403],
    [[write(head("HTTP/1.1 503 Busy", ["Content-Length: 0"])), END], 503],
    [[], "502|504"],
    [[{ kind: "trickle", data: b("HTTP/1.1 101 Switching Protocols\r\nX: aaaaaaaa"), everyMs: 40 }], "502|504"],
    [[RESET], 502],
    [[write("HTTP/1.1 101 Swi"), RESET], 502],
  ).map(([steps, status]) => ({ transport: "ws" as const, steps, expect: { kind: "ws-refused" as const, status } })),
  fc.tuple(fc.boolean(), invalidFrame, fc.uint8Array({ maxLength: 64 })).map(([validFirst, bad, tail]) => ({
    transport: "ws" as const,
    steps: [{ kind: "handshake" as const, accept: "valid" as const, extra: [] }, ...(validFirst ? [write(frame(0x81, b("fine")))] : []), write(Buffer.concat([bad, Buffer.from(tail)]))],
    expect: { kind: "ws-1014" as const },
  })),
);

const controls: fc.Arbitrary<Omit<Scenario, "route">> = fc.oneof(
  fc.constant({ transport: "http" as const, steps: [write(head("HTTP/1.1 200 OK", ["Content-Length: 5"]) + "hello"), END], expect: { kind: "relay" as const, status: 200, body: "hello" } }),
  fc.constant({ transport: "http" as const, steps: [write(head("HTTP/1.1 404 Not Found", ["Transfer-Encoding: chunked"]) + "3\r\nnop\r\n0\r\n\r\n"), END], expect: { kind: "relay" as const, status: 404, body: "nop" } }),
  fc.constant({ transport: "ws" as const, steps: [{ kind: "handshake" as const, accept: "valid" as const, extra: [] }, write(frame(0x81, b("hello-ws")))], expect: { kind: "ws-relay" as const, message: "hello-ws" } }),
);

const scenario: fc.Arbitrary<Scenario> = fc
  .tuple(
    fc.oneof({ weight: 5, arbitrary: malformedHead }, { weight: 3, arbitrary: brokenBody }, { weight: 2, arbitrary: garbage }, { weight: 3, arbitrary: wsScenario }, { weight: 1, arbitrary: controls }),
    fc.constantFrom<"host" | "path">("host", "path"),
  )
  .map(([s, route]) => ({ ...s, route }));

// ---- the edge process and its clients ----

let dir: string;
let spool: string;
let edge: ChildProcess;
let edgeOut = "";
let port: number;
let hostile: HostileUpstream;
let good: RecordingUpstream;
let tokenA: string;
let tokenB: string;

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The process tree's descriptors: with several workers (listen.workers), they hold the connections. */
function openFds(pid: number | undefined): number {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").split(" ").filter(Boolean).map(Number));
  return readdirSync(`/proc/${pid}/fd`).length + children.reduce((n, c) => n + openFds(c), 0);
}

interface HttpOutcome { status?: number; body: string; complete: boolean; error?: string; ms: number }

function httpGet(host: string, urlPath: string, token: string, agent: http.Agent | false = false): Promise<HttpOutcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    let status: number | undefined;
    let body = "";
    let doneFlag = false;
    const finish = (o: Omit<HttpOutcome, "ms" | "status" | "body">) => {
      if (doneFlag) return;
      doneFlag = true;
      clearTimeout(hang);
      resolve({ status, body, ...o, ms: Date.now() - started });
    };
    const hang = setTimeout(() => {
      req.destroy();
      finish({ complete: false, error: "HANG" });
    }, HANG_MS);
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, headers: { host, authorization: `Bearer ${token}` }, agent }, (res) => {
      status = res.statusCode;
      res.setEncoding("latin1");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => finish({ complete: res.complete }));
      res.on("error", (e) => finish({ complete: false, error: e.message }));
      res.on("aborted", () => finish({ complete: false, error: "aborted" }));
    });
    req.on("error", (e) => finish({ complete: false, error: e.message }));
    req.end();
  });
}

type WsOutcome =
  | { kind: "refused"; status: number; ms: number }
  | { kind: "opened"; messages: string[]; close?: number; ms: number }
  | { kind: "error"; error: string; ms: number };

function wsOpen(host: string, urlPath: string, token: string, holdMs: number): Promise<WsOutcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${urlPath}`, { headers: { host, authorization: `Bearer ${token}` } });
    const messages: string[] = [];
    let settled = false;
    const finish = (o: WsOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(hang);
      resolve(o);
    };
    const hang = setTimeout(() => {
      ws.terminate();
      finish({ kind: "error", error: "HANG", ms: Date.now() - started });
    }, HANG_MS);
    ws.on("unexpected-response", (_req, res) => {
      res.resume();
      finish({ kind: "refused", status: res.statusCode ?? 0, ms: Date.now() - started });
    });
    ws.on("error", (e) => finish({ kind: "error", error: e.message, ms: Date.now() - started }));
    ws.on("message", (d: Buffer) => messages.push(d.toString("utf8")));
    ws.on("close", (code) => finish({ kind: "opened", messages, close: code, ms: Date.now() - started }));
    ws.on("open", () => {
      // A control stays open: give it time to relay, then end it ourselves.
      setTimeout(() => {
        if (!settled) {
          finish({ kind: "opened", messages, ms: Date.now() - started });
          ws.close();
        }
      }, holdMs);
    });
  });
}

function spoolEvents(): { action: string; target: string | null; details: Record<string, unknown> | null }[] {
  if (!existsSync(spool)) return [];
  return readFileSync(spool, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as never);
}

async function health(): Promise<number> {
  const r = await httpGet("octw.test", "/_edge/healthz", "x");
  return r.status ?? 0;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "edge-fuzz-"));
  spool = path.join(dir, "audit.spool");
  hostile = await hostileUpstream();
  good = await recordingUpstream("B");
  const issuer = await makeIssuer("ES256");
  tokenA = await issuer.sign(claims("a", "member", "fuzz-a@example.test"), { expSec: 3_600 });
  tokenB = await issuer.sign(claims("b", "member", "steady-b@example.test"), { expSec: 3_600 });
  const secret = path.join(dir, "audit-url");
  // Nothing listens on port 1: the AuditClient spools every event (JSON lines), which the test reads.
  writeFileSync(secret, "postgres://edge:pw@127.0.0.1:1/audit\n", { mode: 0o400 });
  port = await freePort();
  const cfg = path.join(dir, "config.json");
  const lots = { ratePerSec: 1_000_000, burst: 1_000_000 };
  writeFileSync(cfg, JSON.stringify({
    listen: { host: "127.0.0.1", port, publicScheme: "http" },
    routing: { hostDomain: "octw.test", pathRouting: true },
    tenants: [{ id: "a", upstream: hostile.url }, { id: "b", upstream: good.url }],
    jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", jwks: [issuer.publicJwk] } },
    limits: { upstreamTimeoutMs: HEAD_TIMEOUT_MS, upstreamBodyTimeoutMs: BODY_TIMEOUT_MS, perClientIp: lots, perSubject: lots, perTenant: lots },
    audit: { connectionUrlFile: secret, spoolPath: spool },
  }));
  edge = spawn(process.execPath, ["--import", "tsx", MAIN], { env: { ...process.env, OCTW_EDGE_CONFIG: cfg }, stdio: ["ignore", "pipe", "pipe"] });
  edge.stdout!.on("data", (d: Buffer) => (edgeOut += d.toString("utf8")));
  edge.stderr!.on("data", (d: Buffer) => (edgeOut += d.toString("utf8")));
  const deadline = Date.now() + 20_000;
  while (!edgeOut.includes('"listening"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(edgeOut).toContain('"listening"');
}, 30_000);

afterAll(async () => {
  if (edge && alive(edge.pid)) {
    const exited = new Promise((r) => edge.once("exit", r));
    edge.kill("SIGTERM");
    await exited;
  }
  await hostile?.close();
  await good?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("hostile upstream vs the real edge process", () => {
  it("positive controls: the liveness check sees a dead process; the harness reaches the hostile upstream", async () => {
    const child = spawn(process.execPath, ["-e", ""]);
    await new Promise((r) => child.once("exit", r));
    expect(alive(child.pid)).toBe(false);
    expect(alive(edge.pid)).toBe(true);
    hostile.scripts.set("control", [write(head("HTTP/1.1 200 OK", ["Content-Length: 2", "Set-Cookie: x=1; Path=/; Domain=octw.test"]) + "ok"), END]);
    const r = await httpGet("octw.test", "/t/a/fuzz/control", tokenA);
    expect(r).toMatchObject({ status: 200, body: "ok", complete: true });
    expect(hostile.seen.has("control")).toBe(true);
  });

  it(`${RUNS} generated hostile answers: edge up, clean 502/504 or cut, audited, tenant b served throughout`, async () => {
    // Tenant b, concurrently: HTTP every 25 ms over keep-alive, and one WebSocket echoing.
    const bAgent = new http.Agent({ keepAlive: true });
    const bFailures: string[] = [];
    let bOk = 0;
    let stop = false;
    const bHttp = (async () => {
      while (!stop) {
        const r = await httpGet("b.octw.test", "/steady", tokenB, bAgent);
        if (r.status === 200 && r.complete && r.body.includes('"upstream":"B"')) bOk++;
        else bFailures.push(`http ${r.status} ${r.error ?? ""}`);
        await new Promise((res) => setTimeout(res, 25));
      }
    })();
    const bWs = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host: "b.octw.test", authorization: `Bearer ${tokenB}` } });
    await new Promise<void>((res, rej) => {
      bWs.once("open", () => res());
      bWs.once("error", rej);
    });
    let bWsEchoes = 0;
    bWs.on("message", (d: Buffer) => {
      if (d.toString() === "B:ping") bWsEchoes++;
    });
    bWs.on("close", (code) => bFailures.push(`ws closed ${code}`));
    const pinger = setInterval(() => bWs.readyState === WebSocket.OPEN && bWs.send("ping"), 100);

    const fdsBefore = openFds(edge.pid);
    const expected: { id: string; label: string }[] = [];
    const labels = new Map<string, string>();
    const findings: string[] = [];
    let n = 0;
    const started = Date.now();
    try {
      await fc.assert(
        fc.asyncProperty(scenario, async (sc) => {
          const id = `r${n++}`;
          hostile.scripts.set(id, sc.steps);
          labels.set(id, `${sc.transport} ${sc.expect.kind} ${JSON.stringify(sc.steps).slice(0, 200)}`);
          const host = sc.route === "host" ? "a.octw.test" : "octw.test";
          const p = sc.route === "host" ? `/fuzz/${id}` : `/t/a/fuzz/${id}`;
          const e = sc.expect;
          let audited = false;
          if (sc.transport === "http") {
            const r = await httpGet(host, p, tokenA);
            expect(r.error, `hang on ${JSON.stringify(sc.steps).slice(0, 300)}`).not.toBe("HANG");
            if (e.kind === "fail") {
              expect(r.status, JSON.stringify(sc.steps).slice(0, 300)).toBe(e.status);
              expect(JSON.parse(r.body)).toEqual({ error: e.status === 502 ? "bad_gateway" : "gateway_timeout" });
              audited = true;
            } else if (e.kind === "cut") {
              // The head was valid and relayed; the body broke: the client must learn the body is incomplete.
              expect(r.status === 200 ? !r.complete : r.status === 502 || r.status === undefined, JSON.stringify({ r, steps: sc.steps }).slice(0, 400)).toBe(true);
              audited = true;
            } else if (e.kind === "relay") {
              expect(r).toMatchObject({ status: e.status, body: e.body, complete: true });
            } else {
              audited = r.status === 502 || r.status === 504;
            }
          } else {
            const r = await wsOpen(host, p, tokenA, 400);
            expect(r.kind === "error" ? r.error : "", `ws hang on ${JSON.stringify(sc.steps).slice(0, 300)}`).not.toBe("HANG");
            if (e.kind === "ws-refused") {
              expect(r.kind, JSON.stringify({ r, steps: sc.steps }).slice(0, 300)).toBe("refused");
              const status = (r as { status: number }).status;
              if (e.status === "502|504") expect([502, 504]).toContain(status);
              else expect(status).toBe(e.status);
              audited = true;
            } else if (e.kind === "ws-1014") {
              expect(r, JSON.stringify(sc.steps).slice(0, 300)).toMatchObject({ kind: "opened", close: 1014 });
              audited = true;
            } else if (e.kind === "ws-relay") {
              expect(r).toMatchObject({ kind: "opened", messages: [e.message] });
            }
          }
          if (audited) expected.push({ id, label: JSON.stringify(sc.steps).slice(0, 200) });
          expect(alive(edge.pid), `edge died on ${JSON.stringify(sc.steps).slice(0, 300)}\n${edgeOut.slice(-2_000)}`).toBe(true);
          // A worker of the multi-worker edge must not die either (the primary would replace it).
          expect(edgeOut, `a worker died on ${JSON.stringify(sc.steps).slice(0, 300)}`).not.toContain('"worker exited"');
          expect(await health()).toBe(200);
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
    } catch (err) {
      findings.push(err instanceof Error ? err.message : String(err));
    } finally {
      stop = true;
      clearInterval(pinger);
      await bHttp;
    }
    const elapsedMs = Date.now() - started;
    expect(findings, findings.join("\n").slice(0, 4_000)).toEqual([]);

    // Tenant b was served the whole time, and its WebSocket survived every hostile case.
    expect(bFailures).toEqual([]);
    expect(bOk).toBeGreaterThan(Math.min(20, RUNS));
    expect(bWsEchoes).toBeGreaterThan(0);
    expect(bWs.readyState).toBe(WebSocket.OPEN);
    bWs.close();
    bAgent.destroy();

    // Every failure is in the audit trail (the spool of the real AuditClient), under tenant a.
    const until = Date.now() + 10_000;
    let missing = expected;
    while (Date.now() < until) {
      const failed = spoolEvents().filter((ev) => ev.action === "edge.upstream.failed");
      missing = expected.filter(({ id }) => !failed.some((ev) => ev.target?.endsWith(`/fuzz/${id}`)));
      if (missing.length === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(missing.map((m) => `${m.id} ${m.label}`)).toEqual([]);
    const failed = spoolEvents().filter((ev) => ev.action === "edge.upstream.failed");
    expect(failed.every((ev) => (ev as unknown as { tenant: string }).tenant === "a")).toBe(true);
    expect(JSON.stringify(spoolEvents())).not.toContain(tokenA);
    expect(alive(edge.pid)).toBe(true);
    // Nothing leaks: the edge let go of every hostile connection, and holds no more descriptors
    // than before (slack for keep-alive sockets and the audit client's retries).
    const leakUntil = Date.now() + 5_000;
    while (hostile.openConnections > 0 && Date.now() < leakUntil) await new Promise((r) => setTimeout(r, 100));
    expect(hostile.openIds().map((id) => `${id} ${labels.get(id) ?? ""}`)).toEqual([]);
    const fdsAfter = openFds(edge.pid);
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore + 16);
    process.stdout.write(`hostile-upstream fuzz: ${RUNS} runs in ${elapsedMs} ms, ${expected.length} audited failures, tenant b: ${bOk} requests, ${bWsEchoes} ws echoes, edge fds ${fdsBefore} -> ${fdsAfter}\n`);
  }, RUNS * 4_000 + 60_000);
});
