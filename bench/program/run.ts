/**
 * `npm run bench:program`: evaluates the platform under pulumi mocks for 1, 100 and 1000
 * tenants, with the components and with the baseline (the same resources declared directly),
 * each in a fresh process, alternating, several rounds; prints medians, per-tenant costs and
 * the component/baseline ratios measured in this run.
 */
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";

const child = fileURLToPath(new URL("./child.ts", import.meta.url));
const sizes = (process.env.OCTW_BENCH_TENANTS ?? "1,100,1000").split(",").map(Number);
const rounds = Number(process.env.OCTW_BENCH_ROUNDS ?? 3);

interface Sample { mode: string; tenants: number; ms: number; cpuMs: number; maxRssMb: number; resources: number }
const run = (mode: string, n: number): Sample =>
  JSON.parse(execFileSync(process.execPath, ["--max-old-space-size=6144", "--import", "tsx", child, mode, String(n)], { encoding: "utf8", maxBuffer: 1 << 20 }).trim().split("\n").at(-1)!) as Sample;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows: { n: number; comp: Sample; base: Sample }[] = [];
for (const n of sizes) {
  const comp: Sample[] = [];
  const base: Sample[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate the order so drift on the machine hits both sides alike.
    if (r % 2 === 0) { comp.push(run("components", n)); base.push(run("baseline", n)); }
    else { base.push(run("baseline", n)); comp.push(run("components", n)); }
    process.stderr.write(`  n=${n} round ${r + 1}/${rounds}: components ${comp.at(-1)!.ms.toFixed(0)} ms (cpu ${comp.at(-1)!.cpuMs.toFixed(0)}), baseline ${base.at(-1)!.ms.toFixed(0)} ms (cpu ${base.at(-1)!.cpuMs.toFixed(0)})\n`);
  }
  const pick = (xs: Sample[]): Sample => ({ ...xs[0]!, ms: median(xs.map((x) => x.ms)), cpuMs: median(xs.map((x) => x.cpuMs)), maxRssMb: median(xs.map((x) => x.maxRssMb)) });
  rows.push({ n, comp: pick(comp), base: pick(base) });
}

const f = (x: number, d = 1) => x.toFixed(d);
console.log(`\nbench:program — medians of ${rounds} runs, each in a fresh process (node ${process.version})`);
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(" ")} (wall time waits for the other jobs; the CPU ratio is what the components cost)`);
console.log("tenants | components: ms  ms/tenant  cpu ms  peak MiB  resources (per tenant) | baseline: ms  ms/tenant  cpu ms  peak MiB  resources (per tenant) | time ratio  cpu ratio  memory ratio");
for (const { n, comp, base } of rows) {
  console.log(
    [
      String(n).padStart(7),
      `${f(comp.ms, 0).padStart(15)} ${f(comp.ms / n, 2).padStart(10)} ${f(comp.cpuMs, 0).padStart(7)} ${f(comp.maxRssMb).padStart(9)} ${String(comp.resources).padStart(10)} (${f(comp.resources / n, 1)})`,
      `${f(base.ms, 0).padStart(13)} ${f(base.ms / n, 2).padStart(10)} ${f(base.cpuMs, 0).padStart(7)} ${f(base.maxRssMb).padStart(9)} ${String(base.resources).padStart(10)} (${f(base.resources / n, 1)})`,
      `${f(comp.ms / base.ms, 2).padStart(10)}x ${f(comp.cpuMs / base.cpuMs, 2).padStart(9)}x ${f(comp.maxRssMb / base.maxRssMb, 2).padStart(12)}x`,
    ].join(" | "),
  );
}
if (rows.length >= 2) {
  const [a, b] = [rows.at(-2)!, rows.at(-1)!];
  console.log(`linearity (components): ms/tenant at ${b.n} vs ${a.n} = ${f(b.comp.ms / b.n / (a.comp.ms / a.n), 2)}x (cpu ${f(b.comp.cpuMs / b.n / (a.comp.cpuMs / a.n), 2)}x); baseline ${f(b.base.ms / b.n / (a.base.ms / a.n), 2)}x (cpu ${f(b.base.cpuMs / b.n / (a.base.cpuMs / a.n), 2)}x)`);
}
