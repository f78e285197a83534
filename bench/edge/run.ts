// npm run bench:edge — throughput and added latency of the edge with JWT verification, measured
// in one run against (a) the upstream directly and (b) HAProxy from Debian doing the same
// ES256 signature check (jwt_verify), claim checks and routing. Not a test: it prints numbers.
//
// Needs Debian's `haproxy` (≥ 2.5, for jwt_verify) and `wrk`: apt-get install haproxy wrk.
// Everything listens on 127.0.0.1; the upstream is a tiny HAProxy that answers 200 itself, so
// the upstream costs little next to what is measured.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { SignJWT, exportSPKI, generateKeyPair } from "jose";
import { fixedRate, summarize, type FixedRateResult } from "./fixed-rate";
import { autoWorkers } from "../../packages/edge/src/cpu-limit";

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const RATE = Number(process.env.BENCH_RATE ?? 500);
// The multi-worker edge is compared with HAProxy at the same number of threads: by default
// what the edge would pick here ("auto", the CPU limit), else BENCH_EDGE_WORKERS.
const WORKERS = Number(process.env.BENCH_EDGE_WORKERS ?? autoWorkers());
const ISSUER = "https://issuer.bench";
const AUDIENCE = "octw-edge";
const repo = path.resolve(import.meta.dirname, "../..");

function need(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    throw new Error(`bench:edge needs haproxy and wrk from Debian (apt-get install haproxy wrk); "${cmd} ${args.join(" ")}" failed`);
  }
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, "127.0.0.1");
      s.on("connect", () => (s.destroy(), r(true)));
      s.on("error", () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function status(port: number, headers: Record<string, string>): Promise<number> {
  // node:http, not fetch: fetch does not let a caller set Host, and routing is by Host.
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/", headers, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

interface WrkResult { rps: number; p50Ms: number; p99Ms: number; non2xx: number }

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "s" ? n * 1000 : n;
}

function wrk(port: number, headers: Record<string, string>, seconds: number): WrkResult {
  const args = ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency"];
  // Capitalised: wrk adds its own "Host" unless it sees exactly that spelling, and two Host
  // headers make every request a 400.
  const cap = (k: string) => k.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${cap(k)}: ${v}`);
  args.push(`http://127.0.0.1:${port}/`);
  const out = execFileSync("wrk", args, { encoding: "utf8" });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = /\s50%\s+(\S+)/.exec(out)?.[1] ?? "";
  const p99 = /\s99%\s+(\S+)/.exec(out)?.[1] ?? "";
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return { rps, p50Ms: toMs(p50), p99Ms: toMs(p99), non2xx };
}

function haproxyUpstream(port: number): string {
  return `global
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend upstream
  bind 127.0.0.1:${port}
  http-request return status 200 content-type application/json string "{\\"ok\\":true}"
`;
}

/** The same decisions the edge makes, in HAProxy's language (2.5+: jwt_verify, jwt_*_query). */
function haproxyEdge(port: number, upstreamPort: number, pubPem: string, threads: number): string {
  return `global
  nbthread ${threads}
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend edge
  bind 127.0.0.1:${port}
  http-request del-header x-openclaw-scopes
  http-request del-header x-octw-user
  http-request del-header x-forwarded-for
  http-request deny deny_status 401 unless { http_auth_bearer -m found }
  http-request set-var(txn.alg) http_auth_bearer,jwt_header_query('$.alg')
  http-request deny deny_status 401 unless { var(txn.alg) -m str ES256 }
  http-request deny deny_status 401 unless { http_auth_bearer,jwt_verify(txn.alg,"${pubPem}") -m int 1 }
  http-request set-var(txn.iss) http_auth_bearer,jwt_payload_query('$.iss')
  http-request deny deny_status 401 unless { var(txn.iss) -m str ${ISSUER} }
  http-request set-var(txn.aud) http_auth_bearer,jwt_payload_query('$.aud')
  http-request deny deny_status 401 unless { var(txn.aud) -m str ${AUDIENCE} }
  http-request set-var(txn.now) date
  http-request set-var(txn.ttl) http_auth_bearer,jwt_payload_query('$.exp','int'),sub(txn.now)
  http-request deny deny_status 401 unless { var(txn.ttl) -m int gt 0 }
  http-request set-var(txn.tenant) http_auth_bearer,jwt_payload_query('$.tenant')
  http-request set-var(txn.htenant) req.hdr(host),field(1,.)
  http-request deny deny_status 403 unless { var(txn.tenant),strcmp(txn.htenant) eq 0 }
  http-request set-var(txn.role) http_auth_bearer,jwt_payload_query('$.role')
  http-request set-header x-openclaw-scopes operator.read if { var(txn.role) -m str viewer }
  http-request set-header x-openclaw-scopes operator.read,operator.write if { var(txn.role) -m str member }
  http-request deny deny_status 403 unless { req.hdr(x-openclaw-scopes) -m found }
  http-request set-header x-octw-user %[http_auth_bearer,jwt_payload_query('$.sub')]
  http-request set-header x-forwarded-for %[src]
  http-request del-header authorization
  use_backend tenant_a if { var(txn.tenant) -m str a }
  default_backend unknown
backend tenant_a
  http-reuse always
  server gw 127.0.0.1:${upstreamPort}
backend unknown
  http-request deny deny_status 404
`;
}

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

async function main(): Promise<void> {
  const version = need("haproxy", ["-v"]);
  const m = /version (\d+)\.(\d+)/.exec(version);
  if (!m || Number(m[1]) * 100 + Number(m[2]) < 205) throw new Error(`bench:edge needs HAProxy >= 2.5 for jwt_verify; found: ${version.split("\n")[0]}`);
  need("sh", ["-c", "command -v wrk"]); // wrk has no --version that exits 0
  const dir = mkdtempSync(path.join(os.tmpdir(), "octw-bench-edge-"));
  const children: ChildProcess[] = [];
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const pubPem = path.join(dir, "pub.pem");
    writeFileSync(pubPem, await exportSPKI(publicKey));
    const token = await new SignJWT({ tenant: "a", role: "viewer" })
      .setProtectedHeader({ alg: "ES256", kid: "bench" })
      .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject("bench@example.test").setIssuedAt().setExpirationTime("2h")
      .sign(privateKey);
    const otherKey = await generateKeyPair("ES256");
    const forged = await new SignJWT({ tenant: "a", role: "viewer" })
      .setProtectedHeader({ alg: "ES256", kid: "bench" })
      .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject("x").setExpirationTime("2h").sign(otherKey.privateKey);

    const [upPort, edgePort, edgeWPort, edgeNcPort, hap1Port, hap2Port] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const start = (name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => {
      const c = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], cwd: repo });
      let err = "";
      c.stderr?.on("data", (d: Buffer) => (err += d.toString("utf8")));
      c.on("exit", (code) => { if (code && code !== 0 && code !== 143) process.stderr.write(`${name} exited ${code}: ${err}\n`); });
      children.push(c);
    };
    writeFileSync(path.join(dir, "up.cfg"), haproxyUpstream(upPort));
    writeFileSync(path.join(dir, "hap1.cfg"), haproxyEdge(hap1Port, upPort, pubPem, 1));
    writeFileSync(path.join(dir, "hap2.cfg"), haproxyEdge(hap2Port, upPort, pubPem, WORKERS));
    start("upstream", "haproxy", ["-db", "-f", path.join(dir, "up.cfg")]);
    start("haproxy-1t", "haproxy", ["-db", "-f", path.join(dir, "hap1.cfg")]);
    start("haproxy-nt", "haproxy", ["-db", "-f", path.join(dir, "hap2.cfg")]);
    const edgeConfig = {
      listen: { host: "127.0.0.1", port: edgePort, publicScheme: "https" },
      routing: { hostDomain: "octw.test", pathRouting: true },
      tenants: [{ id: "a", upstream: `http://127.0.0.1:${upPort}` }, { id: "b", upstream: `http://127.0.0.1:${upPort}` }],
      jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", pems: [{ pem: await exportSPKI(publicKey), alg: "ES256", kid: "bench" }] } },
      limits: {
        perTenant: { ratePerSec: 1e6, burst: 1e6 },
        perSubject: { ratePerSec: 1e6, burst: 1e6 },
        perClientIp: { ratePerSec: 1e6, burst: 1e6 },
      },
      audit: { bufferMax: 1_000_000 },
    };
    writeFileSync(path.join(dir, "edge.json"), JSON.stringify(edgeConfig));
    writeFileSync(path.join(dir, "edge-workers.json"), JSON.stringify({ ...edgeConfig, listen: { ...edgeConfig.listen, port: edgeWPort } }));
    // The same edge with its verified-token cache off: every request pays the ES256 check, as in HAProxy.
    writeFileSync(path.join(dir, "edge-nocache.json"), JSON.stringify({ ...edgeConfig, listen: { ...edgeConfig.listen, port: edgeNcPort }, jwt: { ...edgeConfig.jwt, verifiedCacheSec: 0 } }));
    for (const [name, file, workers] of [["edge", "edge.json", 1], ["edge-workers", "edge-workers.json", WORKERS], ["edge-nocache", "edge-nocache.json", WORKERS]] as const) {
      start(name, process.execPath, ["--import", "tsx", path.join(repo, "bench/edge/edge-process.ts")], { ...process.env, BENCH_EDGE_CONFIG: path.join(dir, file), BENCH_EDGE_WORKERS: String(workers), NODE_ENV: "production" });
    }
    await Promise.all([upPort, edgePort, edgeWPort, edgeNcPort, hap1Port, hap2Port].map((p) => waitForPort(p)));

    const good = { host: "a.octw.test", authorization: `Bearer ${token}` };
    const targets = [
      { name: "direct", port: upPort },
      { name: "octw edge, 1 process", port: edgePort },
      { name: `octw edge, ${WORKERS} workers`, port: edgeWPort },
      { name: `octw edge, ${WORKERS} workers, no token cache`, port: edgeNcPort },
      { name: "haproxy 1 thread", port: hap1Port },
      { name: `haproxy ${WORKERS} threads`, port: hap2Port },
    ];
    // Both proxies must really check: valid → 200, forged signature → 401, tenant b's host → 403.
    for (const t of targets.slice(1)) {
      const got = [await status(t.port, good), await status(t.port, { ...good, authorization: `Bearer ${forged}` }), await status(t.port, { ...good, host: "b.octw.test" })];
      if (got.join() !== "200,401,403") throw new Error(`${t.name} does not check tokens as expected: got ${got.join(",")} for valid,forged,cross-tenant`);
    }
    process.stdout.write(`sanity: both proxies answer valid 200, forged 401, cross-tenant 403\n`);

    const loadBefore = os.loadavg().map((l) => l.toFixed(1)).join(" ");
    // The machine is shared with other work that comes and goes, so targets are measured in
    // interleaved rounds (each round: every target once) and the rounds are merged: a burst of
    // outside load then hits every target alike instead of whichever ran at that moment.
    const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
    const slice = Math.max(1, Math.round(DURATION_S / ROUNDS));
    for (const t of targets) wrk(t.port, good, 2); // warm-up (JIT, keep-alive pools)
    const wrkRuns = new Map<string, WrkResult[]>(targets.map((t) => [t.name, []]));
    const fixedRuns = new Map<string, FixedRateResult[]>(targets.map((t) => [t.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const t of targets) wrkRuns.get(t.name)!.push(wrk(t.port, good, slice));
      for (const t of targets) fixedRuns.get(t.name)!.push(await fixedRate(`http://127.0.0.1:${t.port}/`, good, RATE, slice));
      process.stdout.write(`round ${r + 1}/${ROUNDS} done\n`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const results: Record<string, { wrk: WrkResult; fixed: FixedRateResult }> = {};
    for (const t of targets) {
      const ws = wrkRuns.get(t.name)!;
      const w: WrkResult = {
        rps: median(ws.map((x) => x.rps)),
        p50Ms: median(ws.map((x) => x.p50Ms)),
        p99Ms: median(ws.map((x) => x.p99Ms)),
        non2xx: ws.reduce((n, x) => n + x.non2xx, 0),
      };
      const f = summarize(fixedRuns.get(t.name)!);
      results[t.name] = { wrk: w, fixed: f };
      process.stdout.write(`${t.name}: median ${fmt(w.rps, 0)} req/s (rounds ${ws.map((x) => fmt(x.rps, 0)).join(" ")}, non-2xx ${w.non2xx}); at ${RATE} req/s p50 ${fmt(f.p50Ms, 3)} ms p99 ${fmt(f.p99Ms, 3)} ms (errors ${f.errors})\n`);
    }
    const d = results.direct!;
    const e = results["octw edge, 1 process"]!;
    const ew = results[`octw edge, ${WORKERS} workers`]!;
    const enc = results[`octw edge, ${WORKERS} workers, no token cache`]!;
    const h1 = results["haproxy 1 thread"]!;
    const h2 = results[`haproxy ${WORKERS} threads`]!;
    const rows = targets.map((t) => {
      const r = results[t.name]!;
      return `| ${t.name} | ${fmt(r.wrk.rps, 0)} | ${fmt(r.wrk.p50Ms, 3)} | ${fmt(r.wrk.p99Ms, 3)} | ${fmt(r.fixed.p50Ms, 3)} | ${fmt(r.fixed.p99Ms, 3)} | ${t.name === "direct" ? "–" : fmt(r.fixed.p50Ms - d.fixed.p50Ms, 3)} | ${t.name === "direct" ? "–" : fmt(r.fixed.p99Ms - d.fixed.p99Ms, 3)} |`;
    });
    const summary = [
      "",
      `## bench:edge (${new Date().toISOString()}, ${os.cpus().length} CPUs, load average before ${loadBefore}, after ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}; ${ROUNDS} interleaved rounds of wrk -t1 -c${CONNECTIONS} ${slice}s (median) and ${RATE} req/s for ${slice}s (merged))`,
      "The machine is shared: a load average above the CPU count means other work competed with every target.",
      "| target | max req/s | p50 ms (max load) | p99 ms (max load) | p50 ms @rate | p99 ms @rate | added p50 ms | added p99 ms |",
      "|---|---|---|---|---|---|---|---|",
      ...rows,
      "",
      `edge ${WORKERS} workers / haproxy(${WORKERS} threads) throughput: ${fmt(ew.wrk.rps / h2.wrk.rps)}  (target ≥ 1.0)`,
      `edge 1 process / haproxy(1 thread) throughput: ${fmt(e.wrk.rps / h1.wrk.rps)}; edge 1 process / haproxy(${WORKERS} threads): ${fmt(e.wrk.rps / h2.wrk.rps)} (before: one process)`,
      `edge ${WORKERS} workers / edge 1 process throughput: ${fmt(ew.wrk.rps / e.wrk.rps)}`,
      `edge ${WORKERS} workers without token cache / haproxy(${WORKERS} threads) throughput: ${fmt(enc.wrk.rps / h2.wrk.rps)}`,
      `edge ${WORKERS} workers / direct throughput: ${fmt(ew.wrk.rps / d.wrk.rps)}`,
      `summary: edge throughput, ${WORKERS} workers | ${fmt(ew.wrk.rps, 0)} req/s | haproxy ${WORKERS} threads ${fmt(h2.wrk.rps, 0)} req/s | ${fmt(ew.wrk.rps / h2.wrk.rps)} | ≥ 1.0`,
      `summary: edge throughput, 1 process | ${fmt(e.wrk.rps, 0)} req/s | haproxy 1 thread ${fmt(h1.wrk.rps, 0)} req/s | ${fmt(e.wrk.rps / h1.wrk.rps)} | –`,
      `summary: edge added p99 at ${RATE} req/s, ${WORKERS} workers | ${fmt(ew.fixed.p99Ms - d.fixed.p99Ms, 3)} ms | direct ${fmt(d.fixed.p99Ms, 3)} ms | ${fmt(ew.fixed.p99Ms / d.fixed.p99Ms)} | < 1 ms`,
      `added p99 at ${RATE} req/s (target < 1 ms): edge ${WORKERS} workers ${fmt(ew.fixed.p99Ms - d.fixed.p99Ms, 3)} ms, edge 1 process ${fmt(e.fixed.p99Ms - d.fixed.p99Ms, 3)} ms, haproxy(1 thread) ${fmt(h1.fixed.p99Ms - d.fixed.p99Ms, 3)} ms`,
      "",
    ].join("\n");
    process.stdout.write(summary);
    const outDir = path.join(repo, ".octw", "bench");
    mkdirSync(outDir, { recursive: true });
    const slim = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { wrk: v.wrk, fixed: { ...v.fixed, latencies: undefined } }]));
    writeFileSync(path.join(outDir, "edge.json"), JSON.stringify({ at: new Date().toISOString(), rate: RATE, seconds: DURATION_S, connections: CONNECTIONS, results: slim }, null, 2));
  } finally {
    cleanup();
  }
}

await main();
