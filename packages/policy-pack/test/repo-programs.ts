/**
 * The repository's own programs — stacks/index.ts and both examples — evaluated under mocks with
 * the config `pulumi up` would give them (packages/pulumi/test/repo-programs.ts, as
 * test/unit/programs.test.ts runs them), each returning the resources the engine would hand the
 * policy pack.
 */
import { runStackProgram } from "../../pulumi/test/repo-programs.js";
import type { EngineResource, StackRecorder } from "./stack-under-mocks.js";

export { configureRepoPrograms } from "../../pulumi/test/repo-programs.js";

export const REPO_PROGRAMS: Record<string, (s: StackRecorder) => Promise<EngineResource[]>> = {
  "stacks/index.ts": (s) =>
    s.evaluate(async () => {
      await runStackProgram();
    }),
  "examples/single-tenant": (s) => s.evaluate(() => import("../../../examples/single-tenant/index.js")),
  "examples/platform-external-postgres": (s) => s.evaluate(() => import("../../../examples/platform-external-postgres/index.js")),
};
