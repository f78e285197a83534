// The container entry point as a process: config and secrets from files, a config reload on
// SIGHUP adds a tenant, SIGTERM drains and exits 0, and a bad secret file fails the start
// with a message that names the field and never the content.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, sha256 } from "./helpers";
import { freePort } from "../../../test/support/free-port";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const A = { router: "127.0.12.3", net: "127.0.12.0/27", client: "127.0.12.5", token: randomBytes(16).toString("hex") };
const SECRET_URL = `postgres://writer:${randomBytes(8).toString("hex")}@127.0.0.1:1/none`;

let dir: string;
let port: number;

const tenant = (t: typeof A, id: string, model = `m-${id}`) => ({ id, routerAddress: t.router, subnet: t.net, tokenSha256: sha256(t.token), providers: [{ name: "openai", api: "openai", baseUrl: "http://127.0.0.1:9", models: [model] }] });

function writeConfig(tenants: unknown[], extra: Record<string, unknown> = {}): string {
  const p = path.join(dir, "config.json");
  writeFileSync(p, JSON.stringify({
    // Loopback only: the test listens on A's router address and nothing else.
    listen: { host: A.router, port },
    tenants,
    keys: { connectionUrlFile: path.join(dir, "db-url"), keyringFile: path.join(dir, "keyring") },
    audit: { spoolPath: path.join(dir, "spool", "audit.spool") },
    allowInsecureProvidersForTests: ["127.0.0.1/32"],
    ...extra,
  }));
  return p;
}

function start(configPath: string, env: Record<string, string> = { OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS: "1" }): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, "serve"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", OCTW_ROUTER_CONFIG: configPath, OCTW_ROUTER_CONFIG_POLL_MS: "100000", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, out: () => out, exited };
}

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "router-main-"));
  port = await freePort();
  writeFileSync(path.join(dir, "db-url"), SECRET_URL);
  writeFileSync(path.join(dir, "keyring"), `1:${randomBytes(32).toString("base64")}\n`);
  chmodSync(path.join(dir, "db-url"), 0o400);
  chmodSync(path.join(dir, "keyring"), 0o400);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("octw-inference-router process", () => {
  it("serves, reloads on SIGHUP (the tenant's model list changed), drains on SIGTERM", async () => {
    const cfg = writeConfig([tenant(A, "a")]);
    const p = start(cfg);
    try {
      await until(() => p.out().includes('"msg":"listening"'));
      const models = (t: typeof A) => call({ to: t.router, from: t.client, port, path: "/openai/v1/models", method: "GET", headers: { authorization: `Bearer ${t.token}` } });
      const before = await models(A);
      expect(before.status).toBe(200);
      expect(before.body).toContain("m-a");
      writeConfig([tenant(A, "a", "m-a-v2")]);
      p.child.kill("SIGHUP");
      await until(() => p.out().includes('"msg":"config reloaded"'));
      const after = await models(A);
      expect(after.status).toBe(200);
      expect(after.body).toContain("m-a-v2");
      p.child.kill("SIGTERM");
      expect(await p.exited).toBe(0);
      expect(p.out()).toContain('"msg":"stopped"');
      expect(p.out()).not.toContain(SECRET_URL);
    } finally {
      p.child.kill("SIGKILL");
    }
  });

  it("an invalid reload keeps the running config", async () => {
    const cfg = writeConfig([tenant(A, "a")]);
    const p = start(cfg);
    try {
      await until(() => p.out().includes('"msg":"listening"'));
      writeFileSync(cfg, JSON.stringify({ tenants: [{ id: "BAD" }] }));
      p.child.kill("SIGHUP");
      await until(() => p.out().includes("config reload refused"));
      expect(p.out()).toContain("tenants.0.id");
      const r = await call({ to: A.router, from: A.client, port, path: "/openai/v1/models", method: "GET", headers: { authorization: `Bearer ${A.token}` } });
      expect(r.status).toBe(200);
    } finally {
      p.child.kill("SIGTERM");
      await p.exited;
    }
  });

  it("a missing secret file fails the start, naming the field, not the content", async () => {
    const cfg = writeConfig([tenant(A, "a")], { keys: { connectionUrlFile: path.join(dir, "missing"), keyringFile: path.join(dir, "keyring") } });
    const p = start(cfg);
    expect(await p.exited).toBe(1);
    expect(p.out()).toContain(`keys.connectionUrlFile: cannot read secret file ${path.join(dir, "missing")} (ENOENT)`);
  });

  it("the test-only provider hatch is refused when the environment does not set it (positive control: the tests above start with it)", async () => {
    const cfg = writeConfig([tenant(A, "a")]);
    const p = start(cfg, {});
    expect(await p.exited).toBe(1);
    expect(p.out()).toContain("allowInsecureProvidersForTests: is a test-only switch and is refused here");
    // Without the hatch, the same plain-http loopback provider is refused, naming the field.
    const strict = path.join(dir, "strict.json");
    writeFileSync(strict, JSON.stringify({ ...JSON.parse(readFileSync(cfg, "utf8")) as object, allowInsecureProvidersForTests: undefined }));
    const q = start(strict, {});
    expect(await q.exited).toBe(1);
    expect(q.out()).toContain("tenants.0.providers.0.baseUrl: must be an https:// URL");
  });
});
