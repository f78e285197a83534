import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseEdgeConfig } from "@octw/contracts";
import { TokenVerifier, devIssuerJwtConfig, ensureDevIssuer } from "@octw/edge";
import { Command } from "commander";
import { afterAll, describe, expect, it, vi } from "vitest";
import { registerTokenCommand, runToken } from "../src/commands/token";

const root = mkdtempSync(path.join(tmpdir(), "octw-token-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("octw token", () => {
  it("mints a token the dev-issuer-trusting edge accepts, creating the key pair on first use", async () => {
    const dir = path.join(root, "dev-issuer");
    const token = await runToken({ tenant: "acme", role: "admin", sub: "ci@local", ttl: "5m", dir });
    expect(statSync(path.join(dir, "private.jwk.json")).mode & 0o777).toBe(0o600);
    const v = await TokenVerifier.create(parseEdgeConfig({ routing: { hostDomain: "octw.test" }, tenants: [], jwt: devIssuerJwtConfig(await ensureDevIssuer(dir)) }).jwt);
    expect(await v.verify(token)).toMatchObject({ ok: true, sub: "ci@local", tenant: "acme", roleClaim: "admin" });
  });

  it("parses its options through commander and prints only the token", async () => {
    const program = new Command().exitOverride();
    registerTokenCommand(program);
    const spy = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let writes: unknown[];
    try {
      await program.parseAsync(["token", "--tenant", "acme", "--role", "viewer", "--dir", path.join(root, "cli")], { from: "user" });
    } finally {
      writes = spy.mock.calls.map((c) => c[0]);
      spy.mockRestore();
    }
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });

  it("rejects a bad role or ttl with the option's name", async () => {
    const dir = path.join(root, "dev-issuer");
    await expect(runToken({ tenant: "acme", role: "owner", ttl: "5m", dir })).rejects.toThrow(/--role/);
    await expect(runToken({ tenant: "acme", role: "viewer", ttl: "2h", dir })).rejects.toThrow(/--ttl/);
  });
});
