// The backup file format and its refusals, without an engine: a plaintext goes in, the same
// comes out; a wrong key, a changed manifest, any changed or missing byte of the archive and a
// checksum that does not match are refused before anything is handed to a sink. And the tar
// index against archives written by GNU tar (pax headers, long names, modes, owners, links).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { loadKey, macOf, parseKey } from "../src/backup/backup-key";
import { decryptArchive, manifestPath, readManifest, RestoreRefused, writeArchive, type Manifest } from "../src/backup/archive-file";
import { firstDifference, indexDigest, TarIndexer } from "../src/backup/tar-index";

const dir = mkdtempSync(join(tmpdir(), "octw-backup-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hexKey = () => randomBytes(32).toString("hex");
let n = 0;
const fresh = () => join(dir, `a${n++}.octwbak`);

async function write(key = parseKey(hexKey(), "k"), plain = randomBytes(200_000)) {
  const file = fresh();
  const m = await writeArchive(file, key, { kind: "tenant-volume", tenant: "acme", volume: "octw-acme-state" }, Readable.from([plain]), () => ({ contentDigest: "d".repeat(64) }));
  return { file, m, key, plain };
}

async function restoreAll(file: string, key: ReturnType<typeof parseKey>): Promise<Buffer> {
  const m = await readManifest(file, key, "tenant-volume");
  const chunks: Buffer[] = [];
  await decryptArchive(file, key, m, async (s) => {
    for await (const c of s) chunks.push(c as Buffer);
  });
  return Buffer.concat(chunks);
}

const reason = async (p: Promise<unknown>) => {
  try {
    await p;
    return "accepted";
  } catch (e) {
    return e instanceof RestoreRefused ? e.reason : `other: ${String(e)}`;
  }
};

describe("backup archive", () => {
  it("round-trips the plaintext and records its checksum and size (positive control of every refusal below)", async () => {
    const { file, m, key, plain } = await write();
    expect(m.plaintextBytes).toBe(plain.length);
    expect((await restoreAll(file, key)).equals(plain)).toBe(true);
    // encrypted: the plaintext does not appear in the file
    expect(readFileSync(file).includes(plain.subarray(1000, 1064))).toBe(false);
  });

  it("refuses a wrong key before decrypting", async () => {
    const { file } = await write();
    expect(await reason(restoreAll(file, parseKey(hexKey(), "k")))).toBe("wrong-key");
  });

  it("refuses a manifest changed after the backup (any field)", async () => {
    const { file, key } = await write();
    const original = readFileSync(manifestPath(file), "utf8");
    for (const change of [{ tenant: "globex" }, { volume: "octw-globex-state" }, { plaintextSha256: "0".repeat(64) }, { contentDigest: "e".repeat(64) }, { createdAt: "2020-01-01T00:00:00.000Z" }]) {
      writeFileSync(manifestPath(file), JSON.stringify({ ...(JSON.parse(original) as Manifest), ...change }));
      expect(await reason(restoreAll(file, key))).toBe("tampered-manifest");
    }
  });

  it("refuses any changed byte of the archive, and a truncated one", async () => {
    const { file, key } = await write(undefined, randomBytes(5000));
    const good = readFileSync(file);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 8, max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, x) => {
        const bad = Buffer.from(good);
        bad[at]! ^= x;
        writeFileSync(file, bad);
        const m = await readManifest(file, key, "tenant-volume");
        expect(await reason(decryptArchive(file, key, m))).toBe("tampered-archive");
      }),
      { numRuns: 40 },
    );
    for (const cut of [good.length - 1, good.length - 16, 20, 8]) {
      writeFileSync(file, good.subarray(0, cut));
      expect(await reason(restoreAll(file, key))).toBe("tampered-archive");
    }
    writeFileSync(file, good);
    expect(await reason(restoreAll(file, key))).toBe("accepted");
  });

  it("refuses a checksum mismatch (a manifest re-signed with the key but recording another checksum)", async () => {
    const { file, key } = await write();
    const { mac: _mac, ...fields } = JSON.parse(readFileSync(manifestPath(file), "utf8")) as Manifest;
    const wrong = { ...fields, plaintextSha256: "0".repeat(64) };
    writeFileSync(manifestPath(file), JSON.stringify({ ...wrong, mac: macOf(key, wrong) }));
    expect(await reason(restoreAll(file, key))).toBe("checksum-mismatch");
  });

  it("the key: 32 bytes hex or base64; a key file readable by others is refused; no message repeats the key", () => {
    const bad = "not-a-key-" + randomBytes(8).toString("hex");
    expect(() => parseKey(bad, "--key-file")).toThrow(/--key-file: must hold a 32-byte key/);
    try {
      parseKey(bad, "--key-file");
    } catch (e) {
      expect(String(e)).not.toContain(bad);
    }
    const raw = randomBytes(32);
    expect(parseKey(raw.toString("hex"), "k").id).toBe(parseKey(raw.toString("base64"), "k").id);
    const f = join(dir, "key");
    writeFileSync(f, raw.toString("base64"));
    chmodSync(f, 0o644);
    expect(() => loadKey({ keyFile: f })).toThrow(/must not be accessible to group or others/);
    chmodSync(f, 0o600);
    expect(loadKey({ keyFile: f }).id).toBe(parseKey(raw.toString("hex"), "k").id);
  });
});

describe("tar index", () => {
  const src = join(dir, "tree");
  mkdirSync(join(src, "v/sub"), { recursive: true });
  const long = "x".repeat(120);
  writeFileSync(join(src, "v/a"), "hello");
  writeFileSync(join(src, `v/sub/${long}`), randomBytes(70_000));
  chmodSync(join(src, "v/a"), 0o640);
  symlinkSync("a", join(src, "v/link"));
  const tarOf = (owner: string) => execFileSync("tar", ["-C", src, "--format=pax", `--owner=${owner}`, "--group=4243", "--numeric-owner", "-cf", "-", "v"], { maxBuffer: 1 << 26 });

  const index = (tar: Buffer, chunk: number) => {
    const ix = new TarIndexer();
    for (let i = 0; i < tar.length; i += chunk) ix.write(tar.subarray(i, i + chunk));
    return ix.finish();
  };

  it("indexes paths (long ones too), modes, owners, sizes and content hashes, whatever the chunking", () => {
    const tar = tarOf("4242");
    const e = index(tar, 1 << 20);
    expect(e.map((x) => x.path)).toEqual(["v", "v/a", "v/link", "v/sub", `v/sub/${long}`]);
    expect(e[1]).toMatchObject({ type: "0", mode: 0o640, uid: 4242, gid: 4243, size: 5 });
    expect(e[2]).toMatchObject({ type: "2", link: "a" });
    for (const chunk of [1, 7, 511, 512, 513, 4096]) expect(indexDigest(index(tar, chunk))).toBe(indexDigest(e));
  });

  it("a change of owner or of one content byte changes the digest and names the path", () => {
    const a = index(tarOf("4242"), 4096);
    const b = index(tarOf("4244"), 4096);
    expect(indexDigest(a)).not.toBe(indexDigest(b));
    expect(firstDifference(a, b)).toMatch(/^v: differs/);
    writeFileSync(join(src, "v/a"), "hellp");
    const c = index(tarOf("4242"), 4096);
    expect(firstDifference(a, c)).toMatch(/^v\/a: differs/);
  });

  it("refuses a truncated archive", () => {
    const tar = tarOf("4242");
    expect(() => index(tar.subarray(0, 2048), 512)).toThrow(/truncated/);
  });
});
