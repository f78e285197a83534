/**
 * The repository's own programs — stacks/index.ts and both examples — evaluated under mocks with
 * the config `pulumi up` would give them (as test/unit/programs.test.ts does), each returning
 * the resources the engine would hand the policy pack.
 */
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDevIssuer } from "@octw/edge";
import { parse } from "yaml";
import { PINNED } from "../../pulumi/test/harness.js";
import type { EngineResource, StackRecorder } from "./stack-under-mocks.js";

const stackFile = parse(readFileSync(new URL("../../../stacks/Pulumi.local.yaml", import.meta.url), "utf8")) as { config: Record<string, unknown> };

export function configureRepoPrograms(): void {
  process.env.OCTW_IMAGE_OPENCLAW = PINNED.openclaw;
  process.env.OCTW_IMAGE_EGRESS = PINNED.egressProxy;
  process.env.OCTW_IMAGE_POSTGRES = PINNED.postgres;
  process.env.OCTW_IMAGE_EDGE = `sha256:${"e".repeat(64)}`;
  process.env.OCTW_IMAGE_INFERENCE_ROUTER = `sha256:${"f".repeat(64)}`;
  pulumi.runtime.setAllConfig(
    {
      "octw:platform": JSON.stringify(stackFile.config["octw:platform"]),
      "octw:images": JSON.stringify(PINNED),
      "db:host": "db.example.com",
      "db:adminUser": "octw_admin",
      "db:adminPassword": "s3cret-admin",
    },
    ["db:adminPassword"],
  );
}

export const REPO_PROGRAMS: Record<string, (s: StackRecorder) => Promise<EngineResource[]>> = {
  "stacks/index.ts": (s) =>
    s.evaluate(async () => {
      // The stack reads the dev issuer's public key relative to the working directory.
      const scratch = mkdtempSync(join(tmpdir(), "octw-policy-stack-"));
      await ensureDevIssuer(join(scratch, ".octw", "dev-issuer"));
      const cwd = process.cwd();
      process.chdir(scratch);
      try {
        await import("../../../stacks/index.js");
      } finally {
        process.chdir(cwd);
      }
    }),
  "examples/single-tenant": (s) => s.evaluate(() => import("../../../examples/single-tenant/index.js")),
  "examples/platform-external-postgres": (s) => s.evaluate(() => import("../../../examples/platform-external-postgres/index.js")),
};
