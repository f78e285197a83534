/**
 * `npm run bench:program`: evaluates the platform under pulumi mocks for 1, 100 and 1000
 * tenants with the components and with two baselines, each in a fresh process, alternating,
 * several rounds; prints medians, per-tenant costs and the component/baseline ratios measured
 * in this run (README.md says what each baseline is).
 *   baseline — hand-written: the same kinds of resources declared directly, with fewer inputs
 *              than the components declare (the historical baseline);
 *   exact    — the components' own registrations replayed as raw resources (exact-baseline.ts):
 *              the same resources with the same inputs and Output wiring, generated, so it
 *              cannot drift.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const child = fileURLToPath(new URL("./child.ts", import.meta.url));
const sizes = (process.env.OCTW_BENCH_TENANTS ?? "1,100,1000").split(",").map(Number);
const rounds = Number(process.env.OCTW_BENCH_ROUNDS ?? 3);
const work = mkdtempSync(join(tmpdir(), "octw-bench-program-"));

interface Sample { mode: string; tenants: number; ms: number; cpuMs: number; maxRssMb: number; resources: number; inputKeys: number }
const run = (mode: string, n: number, records?: string): Sample =>
  JSON.parse(
    execFileSync(process.execPath, ["--max-old-space-size=6144", "--import", "tsx", child, mode, String(n), ...(records ? [records] : [])], { encoding: "utf8", maxBuffer: 1 << 20 }).trim().split("\n").at(-1)!,
  ) as Sample;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const MODES = ["components", "baseline", "exact"] as const;
type Mode = (typeof MODES)[number];

const rows: ({ n: number } & Record<Mode, Sample>)[] = [];
try {
  for (const [i, n] of sizes.entries()) {
    // The exact baseline's input: what the components register for n tenants (recorded untimed).
    const records = join(work, `records-${n}.json`);
    run("capture", n, records);
    // The replay registers exactly what was recorded (child.ts check fails otherwise).
    if (i === 0) run("check", n, records);
    const samples: Record<Mode, Sample[]> = { components: [], baseline: [], exact: [] };
    for (let r = 0; r < rounds; r++) {
      // Rotate the order so drift on the machine hits every side alike.
      for (let k = 0; k < MODES.length; k++) {
        const mode = MODES[(k + r) % MODES.length]!;
        samples[mode].push(run(mode, n, mode === "exact" ? records : undefined));
      }
      const line = MODES.map((m) => `${m} ${samples[m].at(-1)!.ms.toFixed(0)} ms (cpu ${samples[m].at(-1)!.cpuMs.toFixed(0)})`).join(", ");
      process.stderr.write(`  n=${n} round ${r + 1}/${rounds}: ${line}\n`);
    }
    const pick = (xs: Sample[]): Sample => ({ ...xs[0]!, ms: median(xs.map((x) => x.ms)), cpuMs: median(xs.map((x) => x.cpuMs)), maxRssMb: median(xs.map((x) => x.maxRssMb)) });
    rows.push({ n, components: pick(samples.components), baseline: pick(samples.baseline), exact: pick(samples.exact) });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const f = (x: number, d = 1) => x.toFixed(d);
console.log(`\nbench:program — medians of ${rounds} runs, each in a fresh process (node ${process.version})`);
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(" ")} (wall time waits for the other jobs; the CPU ratio is what the components cost)`);
console.log("baseline: hand-written, fewer inputs than the components declare; exact: the components' own registrations replayed as raw resources (same resources, same inputs, same Output wiring)");
console.log("tenants | side        ms  ms/tenant  cpu ms  cpu ms/tenant  peak MiB  resources (per tenant)  input keys (per tenant)");
for (const row of rows) {
  for (const m of MODES) {
    const s = row[m];
    console.log(
      `${String(row.n).padStart(7)} | ${m.padEnd(10)} ${f(s.ms, 0).padStart(7)} ${f(s.ms / row.n, 2).padStart(10)} ${f(s.cpuMs, 0).padStart(7)} ${f(s.cpuMs / row.n, 2).padStart(14)} ${f(s.maxRssMb).padStart(9)} ${String(s.resources).padStart(10)} (${f(s.resources / row.n, 1)}) ${String(s.inputKeys).padStart(12)} (${f(s.inputKeys / row.n, 1)})`,
    );
  }
}
console.log("tenants | components vs baseline: time  cpu  memory | components vs exact: time  cpu  memory");
for (const { n, components: c, baseline: b, exact: e } of rows) {
  const ratios = (x: Sample) => `${f(c.ms / x.ms, 2).padStart(5)}x ${f(c.cpuMs / x.cpuMs, 2).padStart(5)}x ${f(c.maxRssMb / x.maxRssMb, 2).padStart(5)}x`;
  console.log(`${String(n).padStart(7)} | ${" ".repeat(24)}${ratios(b)} | ${" ".repeat(21)}${ratios(e)}`);
}
if (rows.length >= 2) {
  const [a, b] = [rows.at(-2)!, rows.at(-1)!];
  const lin = (m: Mode) => `${f(b[m].ms / b.n / (a[m].ms / a.n), 2)}x (cpu ${f(b[m].cpuMs / b.n / (a[m].cpuMs / a.n), 2)}x)`;
  console.log(`linearity, ms/tenant at ${b.n} vs ${a.n}: components ${lin("components")}; baseline ${lin("baseline")}; exact ${lin("exact")}`);
}
