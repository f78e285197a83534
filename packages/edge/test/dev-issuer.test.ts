import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseEdgeConfig } from "@octw/contracts";
import { DEV_MAX_TTL_SEC, devIssuerJwtConfig, ensureDevIssuer, mintDevToken, parseTtl } from "../src/dev-issuer";
import { TokenVerifier } from "../src/token";

const root = mkdtempSync(path.join(tmpdir(), "dev-issuer-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("dev issuer", () => {
  it("creates a 0600 private key in a 0700 directory on first use, and reuses it", async () => {
    const dir = path.join(root, ".octw", "dev-issuer");
    const k1 = await ensureDevIssuer(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dir, "private.jwk.json")).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path.join(dir, "public.jwk.json"), "utf8"))).not.toHaveProperty("d");
    const k2 = await ensureDevIssuer(dir);
    expect(k2.kid).toBe(k1.kid);
    expect(k2.publicJwk).toEqual(k1.publicJwk);
  });

  it("mints tokens the edge accepts with the dev issuer's public key, and only those", async () => {
    const keys = await ensureDevIssuer(path.join(root, "a"));
    const other = await ensureDevIssuer(path.join(root, "b"));
    const v = await TokenVerifier.create(parseEdgeConfig({ routing: { hostDomain: "octw.test" }, tenants: [], jwt: devIssuerJwtConfig(keys) }).jwt);
    const t = await mintDevToken(keys, { tenant: "acme", role: "member", sub: "dev@local", ttlSec: 600 });
    expect(await v.verify(t)).toMatchObject({ ok: true, sub: "dev@local", tenant: "acme", roleClaim: "member" });
    const foreign = await mintDevToken(other, { tenant: "acme", role: "admin", sub: "dev@local", ttlSec: 600 });
    expect(await v.verify(foreign)).toMatchObject({ ok: false });
    const payload = JSON.parse(Buffer.from(t.split(".")[1]!, "base64url").toString()) as { exp: number; iat: number };
    expect(payload.exp - payload.iat).toBe(600);
  });

  it("refuses a private key that others can read", async () => {
    const dir = path.join(root, "loose");
    await ensureDevIssuer(dir);
    chmodSync(path.join(dir, "private.jwk.json"), 0o644);
    await expect(ensureDevIssuer(dir)).rejects.toThrow(/mode 644 lets others read it; allowed: 600/);
  });

  it("validates its input, naming the option and what is allowed", async () => {
    const keys = await ensureDevIssuer(path.join(root, "a"));
    const ok = { tenant: "acme", role: "viewer", sub: "dev@local", ttlSec: 60 };
    await expect(mintDevToken(keys, { ...ok, tenant: "Acme!" })).rejects.toThrow(/--tenant: .*allowed: a lower-case DNS label/);
    await expect(mintDevToken(keys, { ...ok, role: "root" })).rejects.toThrow(/--role: "root" is not a role; allowed: viewer, member, admin/);
    await expect(mintDevToken(keys, { ...ok, sub: "a b" })).rejects.toThrow(/--sub/);
    await expect(mintDevToken(keys, { ...ok, ttlSec: DEV_MAX_TTL_SEC + 1 })).rejects.toThrow(/--ttl: 3601 s is out of range; allowed: 1 s to 3600 s/);
    expect(parseTtl("15m")).toBe(900);
    expect(parseTtl("1h")).toBe(3600);
    expect(parseTtl("90")).toBe(90);
    expect(() => parseTtl("soon")).toThrow(/--ttl: "soon" is not a duration/);
  });
});
