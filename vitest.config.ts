import { defineConfig } from "vitest/config";

// Three projects, because they need different things from the machine:
//  - unit:        pure planners and components under pulumi.runtime.setMocks; nothing external.
//  - postgres:    @octw/audit against a real Postgres server (scripts/test-env.sh starts it).
//  - conformance: the realized stack on a real Docker engine (scripts/test-env.sh starts it).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "test/unit/**/*.test.ts"],
          exclude: ["**/*.pg.test.ts", "**/node_modules/**"],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "postgres",
          include: ["packages/*/test/**/*.pg.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "conformance",
          include: ["test/conformance/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
