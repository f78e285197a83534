// `npm run mutation [-- <module>...]`: StrykerJS mutation testing of the security-critical
// modules, one module at a time (each judged only by its own test files), then a table:
// module | killed | survived | timeout | no-coverage | score. Slow, so not part of `npm test`.
// Surviving mutants are killed by a test or listed with a reason in docs/mutation-equivalents.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { setPriority } from "node:os";
import { Stryker } from "@stryker-mutator/core";
import type { MutantResult } from "@stryker-mutator/api/core";

interface Module {
  name: string;
  mutate: string;
  /** Test files that judge the module; tests needing Postgres end in `.pg.test.ts`. */
  tests: string[];
}

const MODULES: Module[] = [
  { name: "edge/token", mutate: "packages/edge/src/token.ts", tests: ["packages/edge/test/token.test.ts"] },
  { name: "edge/headers", mutate: "packages/edge/src/headers.ts", tests: ["packages/edge/test/headers.test.ts"] },
  { name: "edge/routing", mutate: "packages/edge/src/routing.ts", tests: ["packages/edge/test/routing.test.ts"] },
  { name: "inference-router/tenancy", mutate: "packages/inference-router/src/tenancy.ts", tests: ["packages/inference-router/test/tenancy.test.ts"] },
  { name: "contracts/inference-policy", mutate: "packages/contracts/src/inference-policy.ts", tests: ["packages/contracts/test/inference-policy.test.ts"] },
  { name: "contracts/provider-destination", mutate: "packages/contracts/src/provider-destination.ts", tests: ["packages/inference-router/test/destination.test.ts", "packages/inference-router/test/destination.edges.test.ts"] },
  { name: "inference-router/destination", mutate: "packages/inference-router/src/destination.ts", tests: ["packages/inference-router/test/destination.test.ts", "packages/inference-router/test/destination.guard.test.ts", "packages/inference-router/test/destination.edges.test.ts"] },
  { name: "audit/chain", mutate: "packages/audit/src/chain.ts", tests: ["packages/audit/test/chain.test.ts"] },
  { name: "audit/tenant-secrets", mutate: "packages/audit/src/tenant-secrets.ts", tests: ["packages/audit/test/tenant-secrets.test.ts"] },
  { name: "pulumi/squid-config", mutate: "packages/pulumi/src/planners/squid-config.ts", tests: ["packages/pulumi/test/squid-acl.test.ts", "packages/pulumi/test/planners.test.ts", "packages/pulumi/test/squid-config.test.ts", "packages/pulumi/test/squid-l7.test.ts"] },
  { name: "pulumi/seccomp-profile", mutate: "packages/pulumi/src/planners/seccomp-profile.ts", tests: ["packages/pulumi/test/planners.test.ts", "packages/pulumi/test/seccomp-profile.test.ts"] },
];

const THRESHOLD = 80;

interface Row {
  module: string;
  killed: number;
  survived: number;
  timeout: number;
  noCoverage: number;
  /** Mutants that did not compile or crashed the runtime: counted as detected, as Stryker does. */
  errors: number;
  score: number;
}

function tally(name: string, results: readonly MutantResult[]): Row {
  const n = (s: MutantResult["status"]): number => results.filter((r) => r.status === s).length;
  const killed = n("Killed");
  const survived = n("Survived");
  const timeout = n("Timeout");
  const noCoverage = n("NoCoverage");
  const errors = n("RuntimeError") + n("CompileError");
  const detected = killed + timeout;
  const valid = detected + survived + noCoverage;
  return { module: name, killed, survived, timeout, noCoverage, errors, score: valid === 0 ? 100 : (100 * detected) / valid };
}

function table(rows: readonly Row[]): string {
  const head = ["module", "killed", "survived", "timeout", "no-coverage", "score"];
  const body = rows.map((r) => [r.module, `${r.killed}`, `${r.survived}`, `${r.timeout}`, `${r.noCoverage}`, `${r.score.toFixed(2)} %`]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(" | ")} |`;
  return [line(head), `|${w.map((x) => "-".repeat(x + 2)).join("|")}|`, ...body.map(line)].join("\n");
}

async function main(): Promise<void> {
  // Shared machine: the lowest CPU priority, inherited by Stryker's test-runner children.
  setPriority(19);
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !MODULES.some((m) => m.name === w));
  if (unknown.length > 0) {
    throw new Error(`unknown module(s) ${unknown.join(", ")}; allowed: ${MODULES.map((m) => m.name).join(", ")}`);
  }
  const selected = wanted.length === 0 ? MODULES : MODULES.filter((m) => wanted.includes(m.name));
  const rows: Row[] = [];
  mkdirSync("reports/mutation", { recursive: true });
  for (const m of selected) {
    console.log(`\n== mutation: ${m.name} (${m.mutate})`);
    // Read by vitest.mutation.config.ts in Stryker's test-runner processes.
    process.env.OCTW_MUTATION_TESTS = m.tests.join(",");
    const slug = m.name.replace(/\//g, "-");
    const results = await new Stryker({
      configFile: "stryker.config.mjs",
      mutate: [process.env.OCTW_MUTATE_RANGE ?? m.mutate],
      jsonReporter: { fileName: `reports/mutation/${slug}.json` },
    }).runMutationTest();
    rows.push(tally(m.name, results));
  }
  writeFileSync("reports/mutation/summary.json", `${JSON.stringify(rows, null, 2)}\n`);
  console.log(`\n${table(rows)}`);
  const low = rows.filter((r) => r.score < THRESHOLD);
  if (low.length > 0) {
    console.log(`\nbelow ${THRESHOLD} %: ${low.map((r) => r.module).join(", ")}`);
    process.exitCode = 1;
  }
}

await main();
