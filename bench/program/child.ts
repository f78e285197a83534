/**
 * One measured evaluation: `tsx child.ts <components|baseline> <tenants>` declares a platform
 * of N tenants under pulumi mocks and prints one JSON line: wall and CPU time from the first
 * declaration until every registration reached the mocks, peak RSS, resources registered.
 * Run in its own process so peak memory belongs to this evaluation alone.
 */
import * as pulumi from "@pulumi/pulumi";

// The Pulumi SDK captures `new Error().stack` for every promise it creates (leak diagnostics);
// with tsx's source maps on, mapping those stacks dominates the run for both sides alike and
// hides what the components cost. Both sides run with source maps off.
process.setSourceMapsEnabled(false);
import { declareBaseline } from "./baseline.js";
import { declareWithComponents } from "./with-components.js";
import { installBenchMocks } from "./mocks.js";

const [mode, tenantsArg] = process.argv.slice(2);
const tenants = Number(tenantsArg);
if ((mode !== "components" && mode !== "baseline") || !Number.isInteger(tenants) || tenants < 1) {
  console.error("usage: child.ts <components|baseline> <tenants>");
  process.exit(64);
}

const registered = await installBenchMocks();

const start = process.hrtime.bigint();
const cpuStart = process.cpuUsage();
if (mode === "components") declareWithComponents(tenants);
else declareBaseline(tenants);
await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
const ms = Number(process.hrtime.bigint() - start) / 1e6;
// CPU time of this process over the same span: on a loaded machine (other jobs on the 2 cores)
// wall time mostly measures the waiting; CPU time is what the evaluation itself costs.
const cpu = process.cpuUsage(cpuStart);
const cpuMs = (cpu.user + cpu.system) / 1000;
console.log(JSON.stringify({ mode, tenants, ms, cpuMs, maxRssMb: process.resourceUsage().maxRSS / 1024, resources: registered() }));
