import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveTenantKey, openSecret, sealSecret, validateKeyring, type SecretAddress } from "../src/secrets-crypto";

const master = randomBytes(32);
const addr: SecretAddress = { tenant: "acme", name: "openai/api-key", version: 1 };
const plaintext = Buffer.from("sk-test-value-123");

/** The error `f` throws; fails the test (by throwing itself) when `f` returns normally. */
function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to throw, but it did not throw");
}

function flip(buf: Buffer, index = 0): Buffer {
  const copy = Buffer.from(buf);
  copy[index] = copy[index]! ^ 0x01;
  return copy;
}

describe("tenant key derivation", () => {
  it("gives every tenant and every master key a different 32-byte key, deterministically", () => {
    const a = deriveTenantKey(master, "acme");
    expect(a).toHaveLength(32);
    expect(deriveTenantKey(master, "acme").equals(a)).toBe(true);
    expect(deriveTenantKey(master, "acme2").equals(a)).toBe(false);
    expect(deriveTenantKey(randomBytes(32), "acme").equals(a)).toBe(false);
    expect(() => deriveTenantKey(randomBytes(16), "acme")).toThrow(/32 bytes/);
  });
});

describe("AES-256-GCM sealing", () => {
  const key = deriveTenantKey(master, addr.tenant);
  const sealed = sealSecret(key, addr, plaintext);

  it("round-trips and never stores the plaintext", () => {
    expect(openSecret(key, addr, sealed).equals(plaintext)).toBe(true);
    expect(sealed.ciphertext.includes(plaintext)).toBe(false);
    expect(sealed.nonce).toHaveLength(12);
    expect(sealed.authTag).toHaveLength(16);
  });

  it("fails with another tenant's key", () => {
    expect(() => openSecret(deriveTenantKey(master, "other"), addr, sealed)).toThrow(/authentication failed/);
  });

  it("fails with another master key", () => {
    expect(() => openSecret(deriveTenantKey(randomBytes(32), addr.tenant), addr, sealed)).toThrow(/authentication failed/);
  });

  it.each([
    ["tenant", { ...addr, tenant: "other" }],
    ["name", { ...addr, name: "anthropic/api-key" }],
    ["version", { ...addr, version: 2 }],
  ])("fails when the row is moved to another %s (AAD), even with the right key", (_field, moved) => {
    expect(() => openSecret(key, moved, sealed)).toThrow(/authentication failed/);
  });

  it.each(["ciphertext", "authTag", "nonce"] as const)("fails on one flipped bit in the %s", (part) => {
    const bad = { ...sealed, [part]: flip(sealed[part], part === "ciphertext" ? 3 : 0) };
    expect(() => openSecret(key, addr, bad)).toThrow(/authentication failed/);
  });

  it("uses a fresh nonce every time (no repeats in 20 000 seals of the same value)", () => {
    const nonces = new Set<string>();
    const cts = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const s = sealSecret(key, addr, plaintext);
      nonces.add(s.nonce.toString("hex"));
      cts.add(s.ciphertext.toString("hex"));
    }
    expect(nonces.size).toBe(20_000);
    expect(cts.size).toBe(20_000);
  });

  it("error messages carry no key or secret material", () => {
    const other = deriveTenantKey(master, "other");
    // Outside try/catch: a call that does not throw fails here instead of being swallowed.
    const err = thrownBy(() => openSecret(other, addr, sealed));
    expect(err).toBeInstanceOf(Error);
    const m = (err as Error).message;
    expect(m).toMatch(/authentication failed/);
    for (const material of [plaintext.toString(), key.toString("hex"), key.toString("base64"), other.toString("hex"), master.toString("hex"), master.toString("base64"), sealed.ciphertext.toString("hex")]) {
      expect(m).not.toContain(material);
    }
  });

  it("thrownBy itself fails a call that does not throw (positive control)", () => {
    expect(() => thrownBy(() => openSecret(key, addr, sealed))).toThrow(/did not throw/);
  });
});

describe("keyring", () => {
  it("sorts by version and rejects bad entries, naming them", () => {
    const k1 = { version: 1, key: randomBytes(32) };
    const k2 = { version: 2, key: randomBytes(32) };
    expect(validateKeyring([k2, k1]).map((k) => k.version)).toEqual([1, 2]);
    expect(() => validateKeyring([])).toThrow(/keyring: must hold at least one/);
    expect(() => validateKeyring([k1, { version: 1, key: randomBytes(32) }])).toThrow(/keyring\[1\]\.version: version 1 appears twice/);
    expect(() => validateKeyring([{ version: 0, key: randomBytes(32) }])).toThrow(/keyring\[0\]\.version/);
    expect(() => validateKeyring([{ version: 3, key: randomBytes(31) }])).toThrow(/keyring\[0\]\.key: must be exactly 32 bytes/);
  });
});
