import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseKeyring } from "../src/index";

describe("parseKeyring", () => {
  const a = randomBytes(32);
  const b = randomBytes(32);

  it("reads comma- or newline-separated <version>:<base64> entries, newest last", () => {
    const ring = parseKeyring(`2:${b.toString("base64")}\n1:${a.toString("base64")},`, "test");
    expect(ring.map((k) => k.version)).toEqual([1, 2]);
    expect(ring[0]!.key.equals(a)).toBe(true);
    expect(ring[1]!.key.equals(b)).toBe(true);
  });

  it("names the source and the entry, never echoing key material", () => {
    const secretish = a.toString("base64");
    let message = "";
    try {
      parseKeyring(`one:${secretish}`, "OCTW_MASTER_KEYRING");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^OCTW_MASTER_KEYRING: entry 1 must look like <version>:<base64 key>/);
    expect(message).not.toContain(secretish);
    expect(() => parseKeyring(`1:${randomBytes(16).toString("base64")}`, "file k")).toThrow(/^file k: keyring\[0\]\.key: must be exactly 32 bytes/);
    expect(() => parseKeyring("", "OCTW_MASTER_KEYRING")).toThrow(/OCTW_MASTER_KEYRING: keyring: must hold at least one/);
  });
});
