/**
 * The repository's own programs (stacks/index.ts and the examples) as `pulumi up` would run
 * them: config from the stack file, images from the environment (`env:` references), the
 * stack in a working directory with its own dev issuer. Shared by test/unit/programs.test.ts
 * (what the programs declare) and the policy pack's tests (what the pack says of them).
 */
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDevIssuer, type DevIssuerKeys } from "@octw/edge";
import { parse } from "yaml";
import { PINNED } from "./harness.js";

const stackFile = parse(readFileSync(new URL("../../../stacks/Pulumi.local.yaml", import.meta.url), "utf8")) as { config: Record<string, unknown> };

/** The environment and stack config the programs read (call before setMocks and the imports). */
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

/**
 * Runs stacks/index.ts. It reads the dev issuer's public key relative to the working
 * directory, as `npm run up` runs it: it gets a fresh one in a scratch directory, which stays
 * the working directory until `settle` (if given) has resolved. Returns the issuer's keys.
 */
export async function runStackProgram(settle?: () => Promise<void>): Promise<DevIssuerKeys> {
  const scratch = mkdtempSync(join(tmpdir(), "octw-stack-"));
  const keys = await ensureDevIssuer(join(scratch, ".octw", "dev-issuer"));
  const cwd = process.cwd();
  process.chdir(scratch);
  try {
    await import("../../../stacks/index.js");
    await settle?.();
  } finally {
    process.chdir(cwd);
  }
  return keys;
}
