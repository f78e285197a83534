/**
 * `npm run bench:program:per-host`: the per-host stack layout's promise in numbers — evaluating
 * one host's stack of 100 tenants when the platform has 1,000 (10 hosts) costs about what a
 * 100-tenant program costs, not what the 1,000-tenant single stack costs. Under pulumi mocks,
 * each evaluation in a fresh process (per-host-child.ts), alternating, several rounds; medians.
 * Compared with: bench/program's baseline of 100 tenants (the same resources declared directly),
 * the same host stack when the platform has only its 100 (what planning the other 900 costs),
 * and the single stack of all 1,000 (one round; OCTW_BENCH_SINGLE=0 skips it).
 */
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";

const child = fileURLToPath(new URL("./per-host-child.ts", import.meta.url));
const perHost = Number(process.env.OCTW_BENCH_HOST_TENANTS ?? 100);
const platform = Number(process.env.OCTW_BENCH_PLATFORM_TENANTS ?? 1000);
const rounds = Number(process.env.OCTW_BENCH_ROUNDS ?? 3);

interface Sample { mode: string; tenants: number; ms: number; cpuMs: number; maxRssMb: number; resources: number }
const run = (mode: string, n: number, of: number): Sample =>
  JSON.parse(execFileSync(process.execPath, ["--max-old-space-size=6144", "--import", "tsx", child, mode, String(n), String(of)], { encoding: "utf8", maxBuffer: 1 << 20 }).trim().split("\n").at(-1)!) as Sample;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const kinds = [
  { key: "host", label: `one host's stack: ${perHost} of ${platform} tenants`, mode: "host", of: platform },
  { key: "alone", label: `the same host's stack, platform of ${perHost}`, mode: "host", of: perHost },
  { key: "baseline", label: `baseline: ${perHost} tenants declared directly`, mode: "baseline", of: perHost },
];
const samples = new Map<string, Sample[]>(kinds.map((k) => [k.key, []]));
const loads: string[] = [];
for (let r = 0; r < rounds; r++) {
  // rotate the order so drift on the machine hits every side alike
  for (let i = 0; i < kinds.length; i++) {
    const k = kinds[(i + r) % kinds.length]!;
    samples.get(k.key)!.push(run(k.mode, perHost, k.of));
  }
  loads.push(loadavg()[0]!.toFixed(1));
  process.stderr.write(`  round ${r + 1}/${rounds}: ${kinds.map((k) => `${k.key} ${samples.get(k.key)!.at(-1)!.ms.toFixed(0)} ms (cpu ${samples.get(k.key)!.at(-1)!.cpuMs.toFixed(0)})`).join(", ")}\n`);
}
const pick = (xs: Sample[]): Sample => ({ ...xs[0]!, ms: median(xs.map((x) => x.ms)), cpuMs: median(xs.map((x) => x.cpuMs)), maxRssMb: median(xs.map((x) => x.maxRssMb)) });
const rows = kinds.map((k) => ({ label: k.label, s: pick(samples.get(k.key)!) }));
if (process.env.OCTW_BENCH_SINGLE !== "0") rows.push({ label: `single stack: all ${platform} tenants (1 run)`, s: run("single", perHost, platform) });

const f = (x: number, d = 0) => x.toFixed(d);
const base = rows[2]!.s;
console.log(`\nbench:program:per-host — medians of ${rounds} runs, each in a fresh process (node ${process.version}); load average (1 min) after each round: ${loads.join(", ")}, at the end: ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
console.log("evaluation                                         |      ms |  cpu ms | peak MiB | resources | cpu vs baseline");
for (const { label, s } of rows) {
  console.log(`${label.padEnd(50)} | ${f(s.ms).padStart(7)} | ${f(s.cpuMs).padStart(7)} | ${f(s.maxRssMb, 1).padStart(8)} | ${String(s.resources).padStart(9)} | ${f(s.cpuMs / base.cpuMs, 2)}x`);
}
const host = rows[0]!.s;
console.log(`summary: one host's stack (${perHost} of ${platform} tenants), cpu ms | ${f(host.cpuMs)} | ${f(base.cpuMs)} (baseline, ${perHost} tenants) | ${f(host.cpuMs / base.cpuMs, 2)}x | per-host evaluation independent of the platform's size`);
