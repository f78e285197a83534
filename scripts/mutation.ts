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
  { name: "edge/headers", mutate: "packages/edge/src/headers.ts", tests: ["packages/edge/test/headers.test.ts", "packages/edge/test/oidc/units.test.ts"] },
  { name: "edge/routing", mutate: "packages/edge/src/routing.ts", tests: ["packages/edge/test/routing.test.ts"] },
  { name: "inference-router/tenancy", mutate: "packages/inference-router/src/tenancy.ts", tests: ["packages/inference-router/test/tenancy.test.ts"] },
  { name: "contracts/inference-policy", mutate: "packages/contracts/src/inference-policy.ts", tests: ["packages/contracts/test/inference-policy.test.ts"] },
  { name: "contracts/provider-destination", mutate: "packages/contracts/src/provider-destination.ts", tests: ["packages/inference-router/test/destination.test.ts", "packages/inference-router/test/destination.edges.test.ts"] },
  { name: "inference-router/destination", mutate: "packages/inference-router/src/destination.ts", tests: ["packages/inference-router/test/destination.test.ts", "packages/inference-router/test/destination.guard.test.ts", "packages/inference-router/test/destination.edges.test.ts"] },
  { name: "audit/chain", mutate: "packages/audit/src/chain.ts", tests: ["packages/audit/test/chain.test.ts"] },
  { name: "audit/tenant-secrets", mutate: "packages/audit/src/tenant-secrets.ts", tests: ["packages/audit/test/tenant-secrets.test.ts"] },
  { name: "pulumi/squid-config", mutate: "packages/pulumi/src/planners/squid-config.ts", tests: ["packages/pulumi/test/squid-acl.test.ts", "packages/pulumi/test/planners.test.ts", "packages/pulumi/test/squid-config.test.ts", "packages/pulumi/test/squid-l7.test.ts"] },
  { name: "pulumi/seccomp-profile", mutate: "packages/pulumi/src/planners/seccomp-profile.ts", tests: ["packages/pulumi/test/planners.test.ts", "packages/pulumi/test/seccomp-profile.test.ts"] },
  { name: "contracts/l7-path", mutate: "packages/contracts/src/l7-path.ts", tests: ["packages/contracts/test/l7-path.test.ts", "packages/contracts/test/l7-path-edges.test.ts"] },
  { name: "edge/oidc-seal", mutate: "packages/edge/src/oidc/seal.ts", tests: ["packages/edge/test/oidc/units.test.ts", "packages/edge/test/oidc/relying-party.test.ts"] },
  { name: "edge/oidc-claims", mutate: "packages/edge/src/oidc/claims.ts", tests: ["packages/edge/test/oidc/units.test.ts", "packages/edge/test/oidc/relying-party.test.ts"] },
  { name: "waker/routes", mutate: "packages/waker/src/routes.ts", tests: ["packages/waker/test/routes.test.ts", "packages/waker/test/routes.edges.test.ts"] },
  { name: "waker/engine", mutate: "packages/waker/src/engine.ts", tests: ["packages/waker/test/waker.test.ts", "packages/waker/test/engine.test.ts"] },
  // Only the selection of the containers the waker may act on (its authorization); the rest of
  // waker.ts is the wake/suspend state machine, tested by the same file but not a security module.
  { name: "waker/containers", mutate: "packages/waker/src/waker.ts:94-107", tests: ["packages/waker/test/waker.test.ts"] },
  // Not judged by denial-path.test.ts: its properties take ~10 s a mutant (hours a module); they
  // run in `npm test` and, longer, in `npm run fuzz`.
  { name: "egress-audit/squid-log", mutate: "packages/egress-audit/src/squid-log.ts", tests: ["packages/egress-audit/test/squid-log.test.ts", "packages/egress-audit/test/squid-log.edges.test.ts"] },
  { name: "egress-audit/aggregator", mutate: "packages/egress-audit/src/aggregator.ts", tests: ["packages/egress-audit/test/aggregator.test.ts", "packages/egress-audit/test/aggregator.edges.test.ts"] },
  { name: "edge/oidc-relying-party", mutate: "packages/edge/src/oidc/relying-party.ts", tests: ["packages/edge/test/oidc/relying-party.units.test.ts", "packages/edge/test/oidc/relying-party.test.ts"] },
  { name: "edge/oidc-gate", mutate: "packages/edge/src/oidc/gate.ts", tests: ["packages/edge/test/oidc/gate.units.test.ts", "packages/edge/test/oidc/units.test.ts", "packages/edge/test/oidc/relying-party.test.ts"] },
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
