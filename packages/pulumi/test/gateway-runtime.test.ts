import { spawnSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_COMPILE_CACHE_DIR, OPENCLAW_STATE_DIR, OpenClawPlatform, gatewayRuntimeEnv } from "../src/index.js";
import { MockRecorder, PINNED, TYPES, settle } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

describe("gateway runtime settings", () => {
  it("are exactly the measured ones, sorted, and nothing when lean is off", () => {
    expect(gatewayRuntimeEnv()).toEqual([
      `NODE_COMPILE_CACHE=${OPENCLAW_STATE_DIR}/.cache/node-compile-cache`,
      "NODE_OPTIONS=--max-semi-space-size=1",
      "OPENCLAW_NO_RESPAWN=1",
      "OPENCLAW_PACKAGED_COMPILE_CACHE_RESPAWNED=1",
    ]);
    expect(gatewayRuntimeEnv({ lean: false })).toEqual([]);
  });

  it("keep the compile cache inside the tenant's own state volume (the only writable place that survives a stop)", () => {
    expect(GATEWAY_COMPILE_CACHE_DIR.startsWith(`${OPENCLAW_STATE_DIR}/`)).toBe(true);
  });

  it("only use options node accepts in NODE_OPTIONS (others make node refuse to start)", () => {
    const nodeOptions = gatewayRuntimeEnv().find((e) => e.startsWith("NODE_OPTIONS="))!.slice("NODE_OPTIONS=".length);
    const run = (opts: string) => spawnSync(process.execPath, ["-e", "0"], { env: { PATH: process.env.PATH, NODE_OPTIONS: opts }, encoding: "utf8" });
    expect(run(nodeOptions)).toMatchObject({ status: 0, stderr: "" });
    // positive control: node does refuse a V8 flag outside its NODE_OPTIONS allow-list
    expect(run("--optimize-for-size")).toMatchObject({ status: 9, stderr: expect.stringMatching(/not allowed in NODE_OPTIONS/) as unknown });
  });

  it("reach every tenant's gateway container, and no other container", async () => {
    await settle();
    recorder.reset();
    new OpenClawPlatform("g1", { prefix: "octwtest", images: PINNED, tenants: [{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2 }], audit: { mode: "embedded" } });
    await settle();
    const containers = recorder.ofType(TYPES.container);
    const label = (c: { inputs: Record<string, unknown> }) => (c.inputs.labels as { label: string; value: string }[] | undefined)?.find((l) => l.label === "octw.component")?.value;
    const withSettings = containers.filter((c) => ((c.inputs.envs as string[] | undefined) ?? []).includes("NODE_OPTIONS=--max-semi-space-size=1"));
    expect(withSettings.map(label)).toEqual(["gateway", "gateway"]);
    for (const g of withSettings) expect(g.inputs.envs as string[]).toEqual(expect.arrayContaining(gatewayRuntimeEnv()));
  });
});
