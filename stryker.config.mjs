// StrykerJS base config for `npm run mutation` (scripts/mutation.ts sets `mutate` and the
// test files per module). Slow, so it is not part of `npm test`. The machine is shared:
// one test runner at a time.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  plugins: ["@stryker-mutator/vitest-runner"],
  vitest: { configFile: "vitest.mutation.config.ts", related: true },
  coverageAnalysis: "perTest",
  concurrency: 1,
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  timeoutMS: 10_000,
  ignorePatterns: [".octw", "reports", "coverage", "docs", "images", "examples", "stacks", "bench", "test/conformance"],
  thresholds: { high: 90, low: 80, break: null },
};
