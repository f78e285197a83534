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
// BENCH_PROFILE=1 writes a V8 CPU profile of the router to /tmp/ir-prof.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";

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

function start(script: string, args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(process.env.BENCH_PROFILE && script.startsWith("router") ? ["--cpu-prof", "--cpu-prof-dir=/tmp/ir-prof"] : []), "--import", "tsx", path.join(here, script), ...args], { cwd: repo, stdio: ["ignore", "pipe", "inherit"] });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve(child);
    });
  });
}

interface Sample {
  ttfbMs: number;
  totalMs: number;
  bytes: number;
}

function oneStream(agent: http.Agent, port: number, reqPath: string, headers: Record<string, string>, body: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttfb = -1;
    let bytes = 0;
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: reqPath, agent, headers: { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
      res.on("data", (c: Buffer) => {
        if (ttfb < 0) ttfb = performance.now() - t0;
        bytes += c.length;
      });
      res.on("end", () => resolve({ ttfbMs: ttfb, totalMs: performance.now() - t0, bytes }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function round(port: number, reqPath: string, headers: Record<string, string>): Promise<{ samples: Sample[]; seconds: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: STREAMS });
  const body = JSON.stringify({ model: "bench-model", stream: true, messages: [{ role: "user", content: "hello" }] });
  const samples: Sample[] = [];
  const started = performance.now();
  const end = started + SECONDS * 1000;
  // Warm-up: open the connections once, not measured.
  await Promise.all(Array.from({ length: STREAMS }, () => oneStream(agent, port, reqPath, headers, body)));
  // Workers start spread over one stream's duration, as independent clients would; with
  // BENCH_STAGGER=0 they start together and every stream's end triggers a synchronized wave
  // of STREAMS new requests (a burst test, not steady load).
  const streamMs = Number(process.env.BENCH_CHUNKS ?? 50) * Number(process.env.BENCH_CHUNK_GAP_MS ?? 20);
  const stagger = process.env.BENCH_STAGGER !== "0";
  const worker = async (i: number) => {
    if (stagger) await new Promise((r) => setTimeout(r, (i / STREAMS) * streamMs));
    while (performance.now() < end) samples.push(await oneStream(agent, port, reqPath, headers, body));
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

const providerPort = await freePort();
const routerPort = await freePort();
const token = randomBytes(24).toString("hex");
const provider = await start("provider-process.ts", [String(providerPort)]);
const router = await start("router-process.ts", [String(routerPort), String(providerPort), token]);
try {
  const direct: { samples: Sample[]; seconds: number }[] = [];
  const routed: { samples: Sample[]; seconds: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    direct.push(await round(providerPort, "/v1/chat/completions", { authorization: "Bearer sk-bench-key" }));
    routed.push(await round(routerPort, "/openai/v1/chat/completions", { authorization: `Bearer ${token}` }));
  }
  const d = summary(direct);
  const r = summary(routed);
  const stats = await new Promise<{ cpuMs: number; audited: number }>((resolve) => {
    router.stdout!.once("data", (b: Buffer) => resolve(JSON.parse(b.toString()) as { cpuMs: number; audited: number }));
    router.kill("SIGUSR2");
  });
  const routedStreams = routed.reduce((a, x) => a + x.samples.length, 0) + ROUNDS * STREAMS;
  const f = (n: number) => n.toFixed(2);
  process.stdout.write(
    [
      `bench:inference — ${STREAMS} concurrent SSE streams, ${ROUNDS} alternating rounds of ${SECONDS} s, ${os.cpus().length} CPUs, node ${process.version}`,
      `provider: ${process.env.BENCH_CHUNKS ?? 50} events per stream, ${process.env.BENCH_CHUNK_GAP_MS ?? 20} ms apart; clients ${process.env.BENCH_STAGGER === "0" ? "start together (bursts)" : "staggered over one stream's duration"}`,
      "",
      "| path | streams | streams/s | MB/s | TTFB p50 ms | p90 ms | p99 ms |",
      "|---|---|---|---|---|---|---|",
      `| direct to provider | ${d.streams} | ${f(d.streamsPerSec)} | ${f(d.mbPerSec)} | ${f(d.ttfbP50)} | ${f(d.ttfbP90)} | ${f(d.ttfbP99)} |`,
      `| through the router | ${r.streams} | ${f(r.streamsPerSec)} | ${f(r.mbPerSec)} | ${f(r.ttfbP50)} | ${f(r.ttfbP90)} | ${f(r.ttfbP99)} |`,
      "",
      `added TTFB: p50 ${f(r.ttfbP50 - d.ttfbP50)} ms, p99 ${f(r.ttfbP99 - d.ttfbP99)} ms (target: p99 < ${TARGET_ADDED_P99_MS} ms) → ${r.ttfbP99 - d.ttfbP99 < TARGET_ADDED_P99_MS ? "MET" : "NOT MET"}`,
      `throughput ratio (router / direct): ${f(r.streamsPerSec / d.streamsPerSec)}`,
      `router CPU: ${f(stats.cpuMs)} ms for ${routedStreams} streams (incl. warm-up) = ${f(stats.cpuMs / routedStreams)} ms per stream; ${stats.audited} audit events`,
      `machine load average during the run (1/5 min): ${os.loadavg().slice(0, 2).map((x) => x.toFixed(2)).join(" / ")} on ${os.cpus().length} CPUs`,
      "",
    ].join("\n"),
  );
} finally {
  provider.removeAllListeners("exit");
  router.removeAllListeners("exit");
  provider.kill("SIGTERM");
  router.kill("SIGTERM");
}
