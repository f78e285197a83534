// npm run bench:inference — added latency and throughput of the inference router, measured in
// one run against calling the (fake) provider directly. Not a test: it prints numbers.
//
// Three processes on loopback: a fake SSE provider, the router (one tenant, keys in memory),
// and this load generator, which keeps BENCH_STREAMS streams open at all times for
// BENCH_SECONDS per round, alternating direct and routed rounds (BENCH_ROUNDS each) so that
// background load on the machine hits both alike. Time to first byte = request start to the
// first body chunk (the first SSE event), which the provider sends at once.
// Defaults model an LLM stream: 50 events, 20 ms apart (about 50 tokens/s, 1 s per stream).
// BENCH_CHUNKS / BENCH_CHUNK_GAP_MS change that (e.g. 20 / 5 for a CPU stress profile);
// BENCH_PROFILE=1 writes a V8 CPU profile of the router (and of the floor relay) to /tmp/ir-prof; BENCH_BASELINE_REF=<git ref>
// adds that commit's router to the same rounds (before/after under the same load); BENCH_FLOOR=1 adds
// a bare Node relay with no checks (what relaying alone costs here); BENCH_TENANTS=n
// configures n tenants (traffic from one) to show what a router serving a fleet pays per request.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { PROVIDER_HOST } from "./provider-host";

const STREAMS = Number(process.env.BENCH_STREAMS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TARGET_ADDED_P99_MS = 2;
const here = import.meta.dirname;
const repo = path.resolve(here, "../..");

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function startOnce(script: string, args: string[], timeoutMs: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(process.env.BENCH_PROFILE && (script.startsWith("router") || script.startsWith("floor")) ? ["--cpu-prof", "--cpu-prof-dir=/tmp/ir-prof"] : []), "--import", "tsx", path.join(here, script), ...args], { cwd: repo, stdio: ["ignore", "pipe", "inherit"] });
    const timer = setTimeout(() => {
      child.removeAllListeners("exit");
      child.kill("SIGKILL");
      reject(new Error(`${script} was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
    child.stdout.on("data", (d: Buffer) => {
      if (!d.toString().includes("ready")) return;
      clearTimeout(timer);
      resolve(child);
    });
  });
}

/**
 * Starts a helper process. On this shared machine a child now and then sits idle before its
 * first line (seen with the baseline router: no CPU used, never ready); one that is not ready
 * in 20 s is killed and started again, and the run says so.
 */
async function start(script: string, args: string[]): Promise<ChildProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(script, args, 20_000);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error) || !err.message.includes("not ready")) throw err;
      process.stderr.write(`${err.message}; starting it again (attempt ${attempt + 1})\n`);
    }
  }
}

interface Sample {
  ttfbMs: number;
  totalMs: number;
  bytes: number;
}

function oneStream(agent: http.Agent, host: string, port: number, reqPath: string, headers: Record<string, string>, body: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttfb = -1;
    let bytes = 0;
    const req = http.request({ host, port, method: "POST", path: reqPath, agent, headers: { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
      res.on("data", (c: Buffer) => {
        if (ttfb < 0) ttfb = performance.now() - t0;
        bytes += c.length;
      });
      res.on("end", () => resolve({ ttfbMs: ttfb, totalMs: performance.now() - t0, bytes }));
      res.on("error", reject);
    });
    req.on("error", reject);
    // A stream that stalls fails the run with a message instead of hanging it.
    req.setTimeout(30_000, () => req.destroy(new Error(`a stream through port ${port} stalled for 30 s (${ttfb < 0 ? "no body byte yet" : `${bytes} bytes received`})`)));
    req.end(body);
  });
}

async function round(host: string, port: number, reqPath: string, headers: Record<string, string>): Promise<{ samples: Sample[]; seconds: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: STREAMS });
  const body = JSON.stringify({ model: "bench-model", stream: true, messages: [{ role: "user", content: "hello" }] });
  const samples: Sample[] = [];
  const started = performance.now();
  const end = started + SECONDS * 1000;
  // Warm-up: open the connections once, not measured.
  await Promise.all(Array.from({ length: STREAMS }, () => oneStream(agent, host, port, reqPath, headers, body)));
  // Workers start spread over one stream's duration, as independent clients would; with
  // BENCH_STAGGER=0 they start together and every stream's end triggers a synchronized wave
  // of STREAMS new requests (a burst test, not steady load).
  const streamMs = Number(process.env.BENCH_CHUNKS ?? 50) * Number(process.env.BENCH_CHUNK_GAP_MS ?? 20);
  const stagger = process.env.BENCH_STAGGER !== "0";
  const worker = async (i: number) => {
    if (stagger) await new Promise((r) => setTimeout(r, (i / STREAMS) * streamMs));
    while (performance.now() < end) samples.push(await oneStream(agent, host, port, reqPath, headers, body));
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: STREAMS }, (_, i) => worker(i)));
  const seconds = (performance.now() - t) / 1000;
  agent.destroy();
  return { samples, seconds };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(rounds: { samples: Sample[]; seconds: number }[]) {
  const all = rounds.flatMap((r) => r.samples);
  const ttfb = all.map((s) => s.ttfbMs).sort((a, b) => a - b);
  const seconds = rounds.reduce((a, r) => a + r.seconds, 0);
  const bytes = all.reduce((a, s) => a + s.bytes, 0);
  return {
    streams: all.length,
    streamsPerSec: all.length / seconds,
    mbPerSec: bytes / seconds / 1e6,
    ttfbP50: pct(ttfb, 50),
    ttfbP90: pct(ttfb, 90),
    ttfbP99: pct(ttfb, 99),
  };
}

const loadBefore = os.loadavg();
const providerPort = await freePort();
const token = randomBytes(24).toString("hex");
const provider = await start("provider-process.ts", [String(providerPort)]);

interface RouterUnderTest {
  name: string;
  port: number;
  child: ChildProcess;
  rounds: { samples: Sample[]; seconds: number }[];
  cpuBefore: { cpuMs: number; sysMs: number; audited: number };
}

/** The router's CPU time so far (a figure that machine load does not distort) and its audit count. */
function routerStats(child: ChildProcess): Promise<{ cpuMs: number; sysMs: number; audited: number }> {
  return new Promise((resolve) => {
    child.stdout!.once("data", (b: Buffer) => resolve(JSON.parse(b.toString()) as { cpuMs: number; sysMs: number; audited: number }));
    child.kill("SIGUSR2");
  });
}

/**
 * BENCH_BASELINE_REF=<git ref>: also runs the router source of that commit, in the same
 * alternating rounds, so "before" and "after" are measured under the same machine load.
 */
function baselineSource(): string | undefined {
  const ref = process.env.BENCH_BASELINE_REF;
  if (!ref) return undefined;
  // Inside the repository (under .octw, ignored by git), so its imports resolve to node_modules.
  const dir = path.join(repo, ".octw", "bench-baseline", ref.replace(/[^A-Za-z0-9._-]/g, "_"));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync("bash", ["-c", `git archive "$1" packages/inference-router/src | tar -x -C "$2"`, "-", ref, dir], { cwd: repo });
  return path.join(dir, "packages/inference-router/src");
}

const routers: RouterUnderTest[] = [];
try {
  const base = baselineSource();
  const variants: { name: string; script?: string; args: string[] }[] = [
    ...(base ? [{ name: `router @ ${process.env.BENCH_BASELINE_REF}`, args: [base] }] : []),
    { name: base ? "router (this checkout)" : "through the router", args: [] },
    // BENCH_FLOOR=1: a bare Node relay with no checks (floor-proxy-process.ts), in the same rounds.
    ...(process.env.BENCH_FLOOR === "1" ? [{ name: "floor: bare Node relay, no checks", script: "floor-proxy-process.ts", args: [] }] : []),
  ];
  for (const v of variants) {
    const port = await freePort();
    const child = await start(v.script ?? "router-process.ts", [String(port), String(providerPort), token, ...v.args]);
    routers.push({ name: v.name, port, child, rounds: [], cpuBefore: { cpuMs: 0, sysMs: 0, audited: 0 } });
  }
  // CPU is counted from here: module loading and compiling at start-up are not per-stream costs.
  for (const r of routers) r.cpuBefore = await routerStats(r.child);
  const providerBefore = await routerStats(provider);
  const direct: { samples: Sample[]; seconds: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    direct.push(await round(PROVIDER_HOST, providerPort, "/v1/chat/completions", { authorization: "Bearer sk-bench-key" }));
    for (const r of routers) r.rounds.push(await round("127.0.0.1", r.port, "/openai/v1/chat/completions", { authorization: `Bearer ${token}` }));
  }
  const d = summary(direct);
  const f = (n: number) => n.toFixed(2);
  const lines = [
    `bench:inference — ${STREAMS} concurrent SSE streams, ${ROUNDS} alternating rounds of ${SECONDS} s, ${process.env.BENCH_TENANTS ?? 1} tenant(s) configured, ${os.cpus().length} CPUs, node ${process.version}`,
    `provider: ${process.env.BENCH_CHUNKS ?? 50} events per stream, ${process.env.BENCH_CHUNK_GAP_MS ?? 20} ms apart; clients ${process.env.BENCH_STAGGER === "0" ? "start together (bursts)" : "staggered over one stream's duration"}`,
    "",
    "| path | streams | streams/s | MB/s | TTFB p50 ms | p90 ms | p99 ms | added p50 ms | added p99 ms | throughput ratio | router CPU ms/stream |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    `| direct to provider | ${d.streams} | ${f(d.streamsPerSec)} | ${f(d.mbPerSec)} | ${f(d.ttfbP50)} | ${f(d.ttfbP90)} | ${f(d.ttfbP99)} | – | – | 1.00 | – |`,
  ];
  const verdicts: string[] = [];
  const summaries: string[] = [];
  for (const r of routers) {
    const s = summary(r.rounds);
    const after = await routerStats(r.child);
    const cpuMs = after.cpuMs - r.cpuBefore.cpuMs;
    // Kernel time (system) is mostly the loopback TCP stack run on the router's writes and
    // reads, one of each per relayed chunk; user time is what the router's own code costs.
    const sysMs = after.sysMs - r.cpuBefore.sysMs;
    // Warm-up streams are served by the router too, so they count for its CPU.
    const streams = r.rounds.reduce((a, x) => a + x.samples.length, 0) + ROUNDS * STREAMS;
    const addedP99 = s.ttfbP99 - d.ttfbP99;
    lines.push(`| ${r.name} | ${s.streams} | ${f(s.streamsPerSec)} | ${f(s.mbPerSec)} | ${f(s.ttfbP50)} | ${f(s.ttfbP90)} | ${f(s.ttfbP99)} | ${f(s.ttfbP50 - d.ttfbP50)} | ${f(addedP99)} | ${f(s.streamsPerSec / d.streamsPerSec)} | ${f(cpuMs / streams)} |`);
    // For `npm run bench` (bench/run-all.ts): what | value | baseline | ratio | target.
    summaries.push(
      `summary: added TTFB p50, ${r.name} | ${f(s.ttfbP50 - d.ttfbP50)} ms | direct ${f(d.ttfbP50)} ms | ${f(s.ttfbP50 / d.ttfbP50)} | ≤ 0.5 ms`,
      `summary: added TTFB p99, ${r.name} | ${f(addedP99)} ms | direct ${f(d.ttfbP99)} ms | ${f(s.ttfbP99 / d.ttfbP99)} | < ${TARGET_ADDED_P99_MS} ms`,
      `summary: router CPU per stream, ${r.name} | ${f(cpuMs / streams)} ms (user ${f((cpuMs - sysMs) / streams)}, system ${f(sysMs / streams)}) | – | – | ≤ 1 ms`,
      `summary: streams/s, ${r.name} | ${f(s.streamsPerSec)} | direct ${f(d.streamsPerSec)} | ${f(s.streamsPerSec / d.streamsPerSec)} | ≥ 1.00`,
    );
    verdicts.push(`${r.name}: added TTFB p99 ${f(addedP99)} ms (target < ${TARGET_ADDED_P99_MS} ms) → ${addedP99 < TARGET_ADDED_P99_MS ? "MET" : "NOT MET"}; ${f(cpuMs)} ms CPU after start-up for ${streams} streams; ${after.audited - r.cpuBefore.audited} audit events`);
  }
  {
    const after = await routerStats(provider);
    const streams = [direct, ...routers.map((r) => r.rounds)].reduce((a, rs) => a + rs.reduce((b, x) => b + x.samples.length, 0), 0) + ROUNDS * STREAMS * (1 + routers.length);
    const [cpu, sys] = [after.cpuMs - providerBefore.cpuMs, after.sysMs - providerBefore.sysMs];
    verdicts.push(`fake provider (writes the same chunks; reference): ${f(cpu / streams)} ms CPU per stream (user ${f((cpu - sys) / streams)}, system ${f(sys / streams)})`);
  }
  const loadAfter = os.loadavg();
  lines.push("", ...verdicts, ...summaries, `machine load average (1 min) before / after the run: ${f(loadBefore[0]!)} / ${f(loadAfter[0]!)} on ${os.cpus().length} CPUs`, "");
  process.stdout.write(lines.join("\n"));
} finally {
  provider.removeAllListeners("exit");
  provider.kill("SIGTERM");
  for (const r of routers) {
    r.child.removeAllListeners("exit");
    r.child.kill("SIGTERM");
  }
}
