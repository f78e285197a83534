// The container entry point as a process: config from a file, secrets from files, health
// command, SIGTERM drains and exits 0, and startup errors name the field without the secret.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIENCE, ISSUER, claims, makeIssuer, recordingUpstream, type Issuer, type RecordingUpstream } from "./helpers";
import { freePort } from "../../../test/support/free-port";

const MAIN = path.resolve(import.meta.dirname, "../src/main.ts");
let dir: string;
let upstream: RecordingUpstream;
let issuer: Issuer;

function writeConfig(name: string, port: number, auditUrlFile: string, tenants = ["a"]): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify({
    listen: { host: "127.0.0.1", port, publicScheme: "http" },
    routing: { hostDomain: "octw.test" },
    tenants: tenants.map((id) => ({ id, upstream: upstream.url })),
    jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", jwks: [issuer.publicJwk] } },
    audit: { connectionUrlFile: auditUrlFile, spoolPath: path.join(dir, `${name}.spool`) },
  }));
  return file;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "edge-main-"));
  upstream = await recordingUpstream("A");
  issuer = await makeIssuer("ES256");
});
afterAll(async () => {
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("octw-edge main", () => {
  it("serves, passes its healthcheck, proxies, and drains on SIGTERM with exit 0", async () => {
    const secret = path.join(dir, "audit-url");
    // Nothing listens on port 1: the audit client spools, which is what it must do while Postgres is away.
    writeFileSync(secret, "postgres://edge:s3cret-pw@127.0.0.1:1/audit\n", { mode: 0o400 });
    const port = await freePort();
    const cfg = writeConfig("ok.json", port, secret);
    const env = { ...process.env, OCTW_EDGE_CONFIG: cfg, OCTW_EDGE_CONFIG_POLL_MS: "300" };
    const child = spawn(process.execPath, ["--import", "tsx", MAIN], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (out += d.toString("utf8")));
    const deadline = Date.now() + 20_000;
    while (!out.includes('"listening"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('"listening"');

    expect(spawnSync(process.execPath, ["--import", "tsx", MAIN, "healthcheck"], { env, timeout: 20_000 }).status).toBe(0);

    const token = await issuer.sign(claims("a", "viewer"));
    const get = (host: string, t: string) => new Promise<number>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, path: "/x", headers: { host, authorization: `Bearer ${t}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(await get("a.octw.test", token)).toBe(200);
    expect(upstream.requests.at(-1)?.headers["x-openclaw-scopes"]).toBe("operator.read");

    // A new tenant appears in the file: served without a restart. A broken file is refused.
    const tokenB = await issuer.sign(claims("b", "viewer"));
    expect(await get("b.octw.test", tokenB)).toBe(404);
    writeConfig("ok.json", port, secret, ["a", "b"]);
    const until = Date.now() + 10_000;
    while ((await get("b.octw.test", tokenB)) !== 200 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    expect(await get("b.octw.test", tokenB)).toBe(200);
    writeFileSync(cfg, "{ not json");
    while (!out.includes("config reload refused") && Date.now() < until + 5_000) await new Promise((r) => setTimeout(r, 200));
    expect(out).toContain("config reload refused");
    expect(await get("b.octw.test", tokenB)).toBe(200);

    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out).toContain('"stopped"');
    expect(out).not.toContain("s3cret-pw");
    expect(out).not.toContain(token);
    // Health check against a stopped edge fails (positive control for the check itself).
    expect(spawnSync(process.execPath, ["--import", "tsx", MAIN, "healthcheck"], { env, timeout: 20_000 }).status).toBe(1);
  });

  it("refuses to start without its secret file, naming the field, and on an invalid config", () => {
    const port = 1;
    const missing = writeConfig("missing.json", port, path.join(dir, "nope"));
    const r1 = spawnSync(process.execPath, ["--import", "tsx", MAIN], { env: { ...process.env, OCTW_EDGE_CONFIG: missing }, timeout: 20_000, encoding: "utf8" });
    expect(r1.status).toBe(1);
    expect(r1.stdout).toMatch(/audit\.connectionUrlFile: cannot read secret file .*nope \(ENOENT\)/);

    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ tenants: [], jwt: { issuer: "i", audience: "a", algorithms: ["HS256"], keys: { kind: "jwks-url", url: "http://x/" } } }));
    const r2 = spawnSync(process.execPath, ["--import", "tsx", MAIN], { env: { ...process.env, OCTW_EDGE_CONFIG: bad }, timeout: 20_000, encoding: "utf8" });
    expect(r2.status).toBe(1);
    expect(r2.stdout).toMatch(/jwt\.algorithms\[0\]/);
  });
});
