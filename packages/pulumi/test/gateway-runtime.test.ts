import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import {
  GATEWAY_COMPILE_CACHE_DIR,
  GATEWAY_CONTROL_UI_RETENTION_PATH,
  OPENCLAW_STATE_DIR,
  OpenClawPlatform,
  gatewayRuntimeEnv,
  gatewayStartPrelude,
} from "../src/index.js";
import { MockRecorder, PINNED, TYPES, settle } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

describe("gateway runtime settings", () => {
  it("are exactly the measured ones, sorted, and nothing when lean is off", () => {
    expect(gatewayRuntimeEnv()).toEqual([
      "GLIBC_TUNABLES=glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2",
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

  it("set glibc malloc tunables that glibc (Debian 12's, the image's) actually applies", () => {
    const tunables = gatewayRuntimeEnv().find((e) => e.startsWith("GLIBC_TUNABLES="))!.slice("GLIBC_TUNABLES=".length);
    const listed = (env: Record<string, string>): Record<string, number> => {
      const r = spawnSync("/lib64/ld-linux-x86-64.so.2", ["--list-tunables"], { env, encoding: "utf8" });
      expect(r.status).toBe(0);
      return Object.fromEntries([...r.stdout.matchAll(/^glibc\.malloc\.(trim_threshold|mmap_threshold|arena_max): (0x[0-9a-f]+)/gm)].map((m) => [m[1]!, Number(m[2])] as const));
    };
    expect(listed({ GLIBC_TUNABLES: tunables })).toEqual({ trim_threshold: 131072, mmap_threshold: 131072, arena_max: 2 });
    // control: without them glibc reports its dynamic defaults (0), so the listing tells them apart
    expect(listed({})).toEqual({ trim_threshold: 0, mmap_threshold: 0, arena_max: 0 });
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

describe("gateway start prelude (no retained Control UI asset copies)", () => {
  // OpenClaw 2026.9.6's first step of its asset retention (src/gateway/control-ui-asset-retention.ts,
  // createControlUiAssetRetention().prepare): everything after it is skipped when it rejects.
  const openclawPrepares = (stateDir: string) => mkdir(join(stateDir, "cache", "control-ui-assets"), { recursive: true, mode: 0o700 });
  const runPrelude = (stateDir: string) => spawnSync("/bin/sh", ["-c", `${gatewayStartPrelude({}, stateDir)} echo started`], { encoding: "utf8" });
  const withStateDir = async (f: (dir: string) => Promise<void>) => {
    const dir = await mkdtemp(join(tmpdir(), "octw-prelude-"));
    try {
      await f(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it("names OpenClaw's retention path inside the state volume, and is nothing when lean is off", () => {
    expect(GATEWAY_CONTROL_UI_RETENTION_PATH).toBe(`${OPENCLAW_STATE_DIR}/cache/control-ui-assets`);
    expect(gatewayStartPrelude()).toContain(GATEWAY_CONTROL_UI_RETENTION_PATH);
    expect(gatewayStartPrelude({ lean: false })).toBe("");
  });

  it("on a fresh volume: OpenClaw's retention step fails at once; without the prelude it succeeds (control)", () =>
    withStateDir(async (dir) => {
      await expect(openclawPrepares(dir)).resolves.not.toThrow(); // control: no prelude, OpenClaw retains
      await rm(join(dir, "cache"), { recursive: true });
      expect(runPrelude(dir)).toMatchObject({ status: 0, stdout: "started\n", stderr: "" });
      const file = await stat(join(dir, "cache", "control-ui-assets"));
      expect(file.isFile() && file.size === 0 && (file.mode & 0o777) === 0o400).toBe(true);
      expect((await stat(join(dir, "cache"))).mode & 0o777).toBe(0o700);
      await expect(openclawPrepares(dir)).rejects.toMatchObject({ code: expect.stringMatching(/^(EEXIST|ENOTDIR)$/) as unknown });
    }));

  it("removes a copy OpenClaw retained before, and a symlink put in its place", () =>
    withStateDir(async (dir) => {
      const gen = join(dir, "cache", "control-ui-assets", "a".repeat(64), "assets");
      await mkdir(gen, { recursive: true });
      await writeFile(join(gen, "index-x.js"), "x");
      expect(runPrelude(dir).status).toBe(0);
      expect((await stat(join(dir, "cache", "control-ui-assets"))).isFile()).toBe(true);
      await rm(join(dir, "cache", "control-ui-assets"));
      await mkdir(join(dir, "elsewhere"));
      await symlink(join(dir, "elsewhere"), join(dir, "cache", "control-ui-assets"));
      expect(runPrelude(dir).status).toBe(0);
      expect((await stat(join(dir, "cache", "control-ui-assets"))).isFile()).toBe(true);
      expect(await readdir(join(dir, "elsewhere"))).toEqual([]); // the link's target is left alone
    }));

  it("leaves the marker of an earlier start as it is, and never stops the gateway from starting", () =>
    withStateDir(async (dir) => {
      expect(runPrelude(dir).status).toBe(0);
      const before = await stat(join(dir, "cache", "control-ui-assets"));
      expect(runPrelude(dir)).toMatchObject({ status: 0, stdout: "started\n" });
      expect((await stat(join(dir, "cache", "control-ui-assets"))).mtimeMs).toBe(before.mtimeMs);
      // a state dir whose "cache" is a file: the prelude fails (mkdir), the start goes on
      const other = join(dir, "other");
      await mkdir(other);
      await writeFile(join(other, "cache"), "");
      expect(runPrelude(other)).toMatchObject({ status: 0, stdout: "started\n", stderr: expect.stringMatching(/mkdir/) as unknown });
    }));

  it("refuses a state dir that is not a plain absolute path (it is pasted into a shell command)", () => {
    for (const bad of ["relative/dir", "/tmp/x; rm -rf /", "/tmp/$(id)", "/tmp/a b"]) {
      expect(() => gatewayStartPrelude({}, bad)).toThrow(/stateDir: must be an absolute path/);
    }
  });

  it("runs in every tenant gateway's command, before OpenClaw starts", async () => {
    await settle();
    recorder.reset();
    new OpenClawPlatform("g2", { prefix: "octwtest", images: PINNED, tenants: [{ id: "alpha", slot: 1 }], audit: { mode: "embedded" } });
    await settle();
    const gateways = recorder
      .ofType(TYPES.container)
      .filter((c) => (c.inputs.labels as { label: string; value: string }[] | undefined)?.some((l) => l.label === "octw.component" && l.value === "gateway"));
    expect(gateways).toHaveLength(1);
    const script = (gateways[0]!.inputs.command as string[]).at(-1)!;
    expect(script.indexOf(gatewayStartPrelude())).toBeGreaterThan(0);
    expect(script.indexOf(gatewayStartPrelude())).toBeLessThan(script.indexOf("exec openclaw gateway run"));
  });
});
