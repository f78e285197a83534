import { defineConfig } from "vitest/config";

// The vitest config StrykerJS runs (scripts/mutation.ts): one flat project, because the
// vitest runner drives a single project. Which test files belong to the module under mutation
// comes from OCTW_MUTATION_TESTS (comma-separated globs), so a mutant is judged only by the
// tests written for its module, never by a slow conformance stack.
const include = (process.env.OCTW_MUTATION_TESTS ?? "").split(",").filter((g) => g !== "");
if (include.length === 0) throw new Error("OCTW_MUTATION_TESTS: set it to the test files of the module under mutation (run `npm run mutation`)");

export default defineConfig({
  test: {
    include,
    exclude: ["**/node_modules/**"],
    testTimeout: 30_000,
    // Postgres tests share one server: never in parallel (as in the postgres project).
    fileParallelism: !include.some((g) => g.includes(".pg.")),
  },
});
