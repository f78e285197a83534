// The shipper's entry point as a process: config from a file, the engine's socket (here the
// fake Engine API), the audit URL from a file; Postgres unreachable, so closed windows go to the
// spool; SIGTERM exits 0. A bad config fails the start naming the field.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fakeEngine, squidLine, type FakeEngine } from "./fake-engine";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const ID = "d".repeat(64);
const SECRET_URL = "postgres://writer:do-not-print-me@127.0.0.1:1/none";

let engine: FakeEngine;
let dir: string;

function start(config: unknown) {
  const cfg = path.join(dir, "config.json");
  writeFileSync(cfg, JSON.stringify(config));
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", OCTW_EGRESS_AUDIT_CONFIG: cfg }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  return { child, out: () => out, exited };
}

beforeEach(async () => {
  engine = await fakeEngine();
  dir = mkdtempSync(path.join(tmpdir(), "egress-audit-main-"));
  writeFileSync(path.join(dir, "db-url"), SECRET_URL, { mode: 0o400 });
});
afterEach(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("octw-egress-audit process", () => {
  it("follows a proxy, spools closed windows while Postgres is unreachable, exits 0 on SIGTERM", async () => {
    // at the start of a 1 s window: 30 lines 1 ms apart never straddle a window boundary (they
    // did, about 3 % of the time, when t was any millisecond)
    const t = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    engine.add(ID, { "octw.tenant": "alpha", "octw.component": "egress-proxy" });
    for (let i = 0; i < 30; i++) engine.log(ID, t + i, squidLine(t + i, "blocked.example.com", 443));
    const p = start({ dockerSocket: engine.socketPath, windowMs: 1_000, graceMs: 0, flushMs: 200, discoverMs: 500, checkpointPath: path.join(dir, "cp.json"), audit: { connectionUrlFile: path.join(dir, "db-url"), spoolPath: path.join(dir, "spool", "audit.spool") } });
    try {
      const spool = path.join(dir, "spool", "audit.spool");
      // Read only whole lines: the spool may be caught mid-append.
      const read = () => (existsSync(spool) ? readFileSync(spool, "utf8").split("\n").slice(0, -1) : []);
      const end = Date.now() + 30_000;
      while (read().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
      const lines = read().map((l) => JSON.parse(l) as { tenant: string; action: string; target: string; details: { count: number } });
      expect(lines).toEqual([expect.objectContaining({ tenant: "alpha", action: "egress.denied", target: "blocked.example.com:443", details: expect.objectContaining({ count: 30 }) as unknown })]);
      expect((statSync(spool).mode & 0o777).toString(8)).toBe("600");
      p.child.kill("SIGTERM");
      expect(await p.exited).toBe(0);
      expect(p.out()).toContain('"msg":"following"');
      expect(p.out()).not.toContain("do-not-print-me");
      const cp = JSON.parse(readFileSync(path.join(dir, "cp.json"), "utf8")) as Record<string, number>;
      expect(cp[ID]).toBeGreaterThanOrEqual(Math.floor(t / 1000));
    } finally {
      p.child.kill("SIGKILL");
    }
  });

  it("a bad config fails the start, naming the field", async () => {
    const p = start({ dockerSocket: engine.socketPath, windowMs: 1_500 });
    expect(await p.exited).toBe(1);
    expect(p.out()).toContain("windowMs: must be a multiple of 1000");
  });
});
