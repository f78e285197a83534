// npm run bench — every benchmark of the repository (every `bench:*` script of package.json),
// one after the other, each against the baseline it measures in its own run. Records the
// machine's load average before and after each, keeps each one's full output under
// .octw/bench/<name>.log, and prints one table of the lines the benchmarks mark as their
// summary ("summary: <what> | <value> | <baseline> | <ratio> | <target>"), so a regression is
// visible in one place. BENCH_ONLY=inference,audit runs a subset. Not a test: it prints numbers.
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const repo = path.resolve(import.meta.dirname, "..");
const scripts = (JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim()).filter(Boolean);
const names = Object.keys(scripts)
  .filter((k) => k.startsWith("bench:"))
  .map((k) => k.slice("bench:".length))
  .filter((n) => !only || only.includes(n));
const unknown = (only ?? []).filter((n) => !names.includes(n));
if (unknown.length > 0) throw new Error(`BENCH_ONLY: no bench:${unknown.join(", bench:")} script in package.json (there are: ${Object.keys(scripts).filter((k) => k.startsWith("bench:")).join(", ")})`);

const logDir = path.join(repo, ".octw", "bench");
mkdirSync(logDir, { recursive: true });
const load = () => os.loadavg()[0]!.toFixed(2);

interface Outcome {
  name: string;
  code: number | null;
  seconds: number;
  loadBefore: string;
  loadAfter: string;
  summaries: string[][];
}

function runOne(name: string): Promise<Outcome> {
  const loadBefore = load();
  const t0 = performance.now();
  const log = createWriteStream(path.join(logDir, `${name}.log`));
  const summaries: string[][] = [];
  return new Promise((resolve) => {
    const child = spawn("npm", ["run", "--silent", `bench:${name}`], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    let pending = "";
    child.stdout.on("data", (d: Buffer) => {
      process.stdout.write(d);
      log.write(d);
      pending += d.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const l of lines) if (l.startsWith("summary: ")) summaries.push(l.slice("summary: ".length).split("|").map((x) => x.trim()));
    });
    child.stderr.on("data", (d: Buffer) => {
      process.stderr.write(d);
      log.write(d);
    });
    child.on("close", (code) => {
      log.end();
      resolve({ name, code, seconds: (performance.now() - t0) / 1000, loadBefore, loadAfter: load(), summaries });
    });
  });
}

const outcomes: Outcome[] = [];
for (const name of names) {
  process.stdout.write(`\n===== bench:${name} (load ${load()}) =====\n`);
  outcomes.push(await runOne(name));
}

const rows = [
  "| bench | what | value | baseline | ratio | target | exit | s | load before → after |",
  "|---|---|---|---|---|---|---|---|---|",
];
for (const o of outcomes) {
  const tail = `${o.code ?? "killed"} | ${o.seconds.toFixed(0)} | ${o.loadBefore} → ${o.loadAfter}`;
  if (o.summaries.length === 0) rows.push(`| ${o.name} | (no summary line; see .octw/bench/${o.name}.log) | | | | | ${tail} |`);
  for (const [what = "", value = "", baseline = "", ratio = "", target = ""] of o.summaries) rows.push(`| ${o.name} | ${what} | ${value} | ${baseline} | ${ratio} | ${target} | ${tail} |`);
}
process.stdout.write(`\nnpm run bench — ${os.cpus().length} CPUs, node ${process.version}, ${new Date().toISOString()}\n${rows.join("\n")}\n`);
if (outcomes.some((o) => o.code !== 0)) process.exitCode = 1;
