/**
 * One measured evaluation: `tsx child.ts <components|baseline|exact> <tenants> [records.json]`
 * declares a platform of N tenants under pulumi mocks and prints one JSON line: wall and CPU
 * time from the first declaration until every registration reached the mocks, peak RSS,
 * resources registered. Run in its own process so peak memory belongs to this evaluation alone.
 * `exact` replays the registrations `tsx child.ts capture <tenants> <records.json>` recorded
 * from the components (exact-baseline.ts); the file is read before the clock starts.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";

// The Pulumi SDK captures `new Error().stack` for every promise it creates (leak diagnostics);
// with tsx's source maps on, mapping those stacks dominates the run for both sides alike and
// hides what the components cost. Both sides run with source maps off.
process.setSourceMapsEnabled(false);
import { declareBaseline } from "./baseline.js";
import { captureWiring, declareExactBaseline, type Registration } from "./exact-baseline.js";
import { declareWithComponents } from "./with-components.js";
import { installBenchMocks } from "./mocks.js";

const MODES = ["components", "baseline", "exact", "capture", "check"];
const [mode = "", tenantsArg, recordsFile] = process.argv.slice(2);
const tenants = Number(tenantsArg);
if (!MODES.includes(mode) || !Number.isInteger(tenants) || tenants < 1 || (mode !== "components" && mode !== "baseline" && !recordsFile)) {
  console.error("usage: child.ts <components|baseline> <tenants> | child.ts <exact|capture|check> <tenants> <records.json>");
  process.exit(64);
}
const records: Registration[] = mode === "exact" || mode === "check" ? (JSON.parse(readFileSync(recordsFile!, "utf8")) as Registration[]) : [];
const captured: Registration[] = [];
// Which inputs were Outputs, and of what: recorded as the components declare (capture), and as
// the replay declares (check: the replay must wire what it replays).
const wiringOf = mode === "capture" || mode === "check" ? captureWiring() : undefined;

let inputKeys = 0;
const registered = await installBenchMocks(undefined, (args) => {
  if (args.custom === false) return;
  inputKeys += Object.keys(args.inputs as object).length;
  // Custom resources only: the exact baseline declares no components.
  if (mode === "capture" || mode === "check") captured.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown>, ...(args.provider ? { provider: args.provider } : {}) });
});

const start = process.hrtime.bigint();
const cpuStart = process.cpuUsage();
if (mode === "components" || mode === "capture") declareWithComponents(tenants);
else if (mode === "exact" || mode === "check") declareExactBaseline(records);
else declareBaseline(tenants);
await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
const ms = Number(process.hrtime.bigint() - start) / 1e6;
// CPU time of this process over the same span: on a loaded machine (other jobs on the 2 cores)
// wall time mostly measures the waiting; CPU time is what the evaluation itself costs.
const cpu = process.cpuUsage(cpuStart);
const cpuMs = (cpu.user + cpu.system) / 1000;
const withWiring = captured.map((r) => {
  const wiring = wiringOf?.(r.type, r.name);
  return wiring ? { ...r, wiring } : r;
});
if (mode === "capture") writeFileSync(recordsFile!, JSON.stringify(withWiring));
if (mode === "check") {
  // The replay must register what it replays: same types, names, inputs, wiring and provider (by name).
  const norm = (rs: Registration[]) => rs.map((r) => JSON.stringify({ ...r, provider: r.provider?.split("::")[3] })).sort();
  const [want, got] = [norm(records), norm(withWiring)];
  const missing = want.filter((r) => !got.includes(r));
  const extra = got.filter((r) => !want.includes(r));
  if (missing.length + extra.length > 0) {
    console.error(`exact baseline differs from the components' registrations:\n  missing ${missing.slice(0, 3).join("\n  missing ")}\n  extra ${extra.slice(0, 3).join("\n  extra ")}`);
    process.exit(1);
  }
}
console.log(JSON.stringify({ mode, tenants, ms, cpuMs, maxRssMb: process.resourceUsage().maxRSS / 1024, resources: registered(), inputKeys }));
