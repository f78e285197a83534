// The shell as a real process: command dispatch and exit codes, a failed start, secret files,
// heartbeat health, config reload (applied and refused) and the drain on SIGTERM.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const FIXTURE = path.resolve(import.meta.dirname, "fixture-service.ts");
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "octw-shell-"));
  writeFileSync(path.join(dir, "config.json"), JSON.stringify({ tenants: ["a"] }));
  writeFileSync(path.join(dir, "secret"), "do-not-print-me\n", { mode: 0o400 });
  env = { ...process.env, FIXTURE_CONFIG: path.join(dir, "config.json"), FIXTURE_SECRET: path.join(dir, "secret"), FIXTURE_HEARTBEAT: path.join(dir, "hb") };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, ["--import", "tsx", FIXTURE, ...args], { env: { ...env, ...extra }, timeout: 20_000, encoding: "utf8" });

/** Starts the fixture, waits for "listening", runs `body`, and always kills the process after. */
async function withRunning(extra: NodeJS.ProcessEnv, body: (p: { child: ChildProcess; exited: Promise<number | null>; out: () => string }) => Promise<void>): Promise<void> {
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE], { env: { ...env, ...extra }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    await until(() => out.includes('"msg":"listening"'));
    await body({ child, exited, out: () => out });
  } finally {
    child.kill("SIGKILL");
  }
}

async function until(check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("runService", () => {
  it("an unknown command exits 2 and shows only the start of it", () => {
    const long = `bogus-${"x".repeat(200)}`;
    const r = run([long]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("octw-fixture: unknown command \"bogus-");
    expect(r.stderr).toContain("(allowed: serve, healthcheck)");
    expect(r.stderr).not.toContain("x".repeat(100));
  });

  it("a start that fails exits 1, naming the field and the path of a secret file, never a content", () => {
    const missing = run(["serve"], { FIXTURE_SECRET: path.join(dir, "nope") });
    expect(missing.status).toBe(1);
    expect(missing.stdout).toContain(`secretFile: cannot read secret file ${path.join(dir, "nope")} (ENOENT)`);
    expect(missing.stdout).toContain('"msg":"failed to start"');
    // Not JSON: the error names the file, not what is in it.
    writeFileSync(path.join(dir, "bad.json"), "do-not-print-me {");
    const bad = run([], { FIXTURE_CONFIG: path.join(dir, "bad.json") });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain(`fixture config ${path.join(dir, "bad.json")}: not valid JSON`);
    expect(bad.stdout).not.toContain("do-not-print-me");
  });

  it("heartbeat health fails before serve, passes while it runs; reload applies or refuses; SIGTERM drains with exit 0", async () => {
    expect(run(["healthcheck"], { FIXTURE_HEARTBEAT: path.join(dir, "hb-none") }).status).toBe(1);
    await withRunning({}, async (p) => {
      await until(() => run(["healthcheck"]).status === 0);
      writeFileSync(path.join(dir, "config.json"), JSON.stringify({ tenants: ["a", "b"] }));
      await until(() => p.out().includes('"msg":"config reloaded","why":"file changed","tenants":2'));
      writeFileSync(path.join(dir, "config.json"), JSON.stringify({ tenants: "no" }));
      p.child.kill("SIGHUP");
      await until(() => p.out().includes("config reload refused, keeping the running config"));
      expect(p.out()).toContain("tenants: must be an array");
      p.child.kill("SIGTERM");
      expect(await p.exited).toBe(0);
      expect(p.out()).toContain('"msg":"draining","signal":"SIGTERM"');
      expect(p.out()).toContain('"msg":"stopped"');
      expect(p.out()).not.toContain("do-not-print-me");
    });
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ tenants: ["a"] }));
  });

  it("a SIGTERM that arrives while the start is still finishing (after listening) drains and exits 0, not killed undrained", async () => {
    await withRunning({ FIXTURE_AFTER_LISTENING_MS: "1500" }, async (p) => {
      p.child.kill("SIGTERM");
      // the shell's handler was there before the service started: the default action (death by signal, code null) never runs
      expect(await p.exited).toBe(0);
      expect(p.out()).toContain('"msg":"draining"');
      expect(p.out()).toContain('"msg":"stopped"');
    });
  });

  it("a SIGTERM at the very moment the service says it listens is drained (exit 0), not the default death", () => {
    const r = run([], { FIXTURE_SIGNAL_AT_LISTENING: "1" });
    expect([r.status, r.signal]).toEqual([0, null]);
    expect(r.stdout).toContain('"msg":"draining","signal":"SIGTERM"');
    expect(r.stdout).toContain('"msg":"stopped"');
  });

  it("a failing drain exits 1; the quiet stop log says stopping and no stopped", async () => {
    await withRunning({ FIXTURE_DRAIN_FAILS: "1", FIXTURE_QUIET_STOP: "1" }, async (p) => {
      p.child.kill("SIGINT");
      expect(await p.exited).toBe(1);
      expect(p.out()).toContain('"msg":"stopping","signal":"SIGINT"');
      expect(p.out()).toContain('"msg":"shutdown failed","error":"drain broke"');
      expect(p.out()).not.toContain('"msg":"stopped"');
    });
  });
});
