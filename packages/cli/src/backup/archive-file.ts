// The encrypted backup file and its manifest. `<file>`: "OCTWBAK1", the AES-256-GCM ciphertext
// of the plaintext (a tar for a volume, JSON lines for the audit database), the 16-byte tag.
// `<file>.manifest.json`: what it is (kind, tenant, host, volume, time, format version), the
// IV, the key id, the sha256 and size of the plaintext, the digest of the content index — all
// under an HMAC with a subkey of the operator's key. The manifest's fixed fields are also the
// GCM additional data, so a ciphertext cannot be paired with another backup's manifest.
// Streaming both ways; a restore decrypts twice: once to authenticate and check the checksum
// without writing anything, then again into the target.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { canonical, macMatches, macOf, type BackupKey } from "./backup-key";

export const FORMAT_VERSION = 1;
const MAGIC = Buffer.from("OCTWBAK1");
const TAG = 16;

export interface ManifestHead {
  format: number;
  kind: "tenant-volume" | "audit-db";
  createdAt: string;
  sourceHost?: string;
  tenant?: string;
  volume?: string;
  volumeLabels?: Record<string, string>;
  cipher: "aes-256-gcm";
  iv: string;
  keyId: string;
}

export interface Manifest extends ManifestHead {
  plaintextSha256: string;
  plaintextBytes: number;
  archiveBytes: number;
  /** sha256 of the sorted content index (tenant volumes), see tar-index.ts */
  contentDigest?: string;
  /** the audit chains' heads at backup time (audit database) */
  heads?: { tenant: string; seq: string; hash: string }[];
  mac: string;
}

export const manifestPath = (file: string) => `${file}.manifest.json`;
const aad = (head: ManifestHead) => Buffer.from(canonical({ format: head.format, kind: head.kind, createdAt: head.createdAt, sourceHost: head.sourceHost, tenant: head.tenant, volume: head.volume, iv: head.iv, keyId: head.keyId }));

/** A pass-through that hashes and counts what flows, and shows it to `observe`. */
export class Tap extends Transform {
  readonly hash = createHash("sha256");
  bytes = 0;
  constructor(private readonly observe?: (chunk: Buffer) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.observe?.(chunk);
    cb(null, chunk);
  }
}

/**
 * Writes `plaintext` encrypted to `file` (via `<file>.partial`, renamed when complete), then the
 * manifest: a manifest on disk means a complete archive. `extra` adds fields known only at the end.
 */
export async function writeArchive(
  file: string,
  key: BackupKey,
  head: Omit<ManifestHead, "format" | "cipher" | "iv" | "keyId" | "createdAt">,
  plaintext: Readable,
  extra: (tap: Tap) => Partial<Pick<Manifest, "contentDigest" | "heads">>,
  observe?: (chunk: Buffer) => void,
): Promise<Manifest> {
  const iv = randomBytes(12);
  const full: ManifestHead = { format: FORMAT_VERSION, cipher: "aes-256-gcm", createdAt: new Date().toISOString(), ...head, iv: iv.toString("base64"), keyId: key.id };
  const cipher = createCipheriv("aes-256-gcm", key.enc, iv);
  cipher.setAAD(aad(full));
  const tap = new Tap(observe);
  const partial = `${file}.partial`;
  const out = createWriteStream(partial, { mode: 0o600, flags: "wx" });
  out.write(MAGIC);
  try {
    await pipeline(plaintext, tap, cipher, out, { end: false });
    await new Promise<void>((resolve, reject) => out.end(cipher.getAuthTag(), () => resolve()).once("error", reject));
    const fields: Omit<Manifest, "mac"> = { ...full, plaintextSha256: tap.hash.digest("hex"), plaintextBytes: tap.bytes, archiveBytes: (await stat(partial)).size, ...extra(tap) };
    const manifest: Manifest = { ...fields, mac: macOf(key, fields) };
    await rename(partial, file);
    await writeFile(manifestPath(file), JSON.stringify(manifest, null, 2) + "\n", { mode: 0o600 });
    return manifest;
  } catch (e) {
    out.destroy();
    await rm(partial, { force: true });
    throw e;
  }
}

export class RestoreRefused extends Error {
  constructor(
    readonly reason: "wrong-key" | "tampered-manifest" | "tampered-archive" | "checksum-mismatch" | "wrong-kind" | "target-not-empty" | "format",
    message: string,
  ) {
    super(message);
    this.name = "RestoreRefused";
  }
}

/** Reads and authenticates the manifest: the key must be the backup's, the MAC must match. */
export async function readManifest(file: string, key: BackupKey, kind: Manifest["kind"]): Promise<Manifest> {
  let m: Manifest;
  try {
    m = JSON.parse(await readFile(manifestPath(file), "utf8")) as Manifest;
  } catch {
    throw new RestoreRefused("format", `${manifestPath(file)}: missing or not JSON (an archive without its manifest is incomplete)`);
  }
  if (typeof m !== "object" || m === null || m.format !== FORMAT_VERSION) throw new RestoreRefused("format", `manifest: format must be ${FORMAT_VERSION}`);
  if (m.keyId !== key.id) throw new RestoreRefused("wrong-key", "the key is not the one this backup was made with (key ids differ)");
  const { mac, ...fields } = m;
  if (typeof mac !== "string" || !macMatches(key, fields, mac)) throw new RestoreRefused("tampered-manifest", "manifest: its MAC does not match: the manifest was changed after the backup");
  if (m.kind !== kind) throw new RestoreRefused("wrong-kind", `manifest: kind is ${m.kind}, expected ${kind}`);
  return m;
}

/** Holds back the last 16 bytes (the tag) of the ciphertext. */
class SplitTag extends Transform {
  private tail = Buffer.alloc(0);
  private skipped = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.skipped < MAGIC.length) {
      const n = Math.min(MAGIC.length - this.skipped, chunk.length);
      this.skipped += n;
      chunk = chunk.subarray(n);
    }
    const all = Buffer.concat([this.tail, chunk]);
    const keep = Math.min(TAG, all.length);
    this.tail = all.subarray(all.length - keep);
    cb(null, all.subarray(0, all.length - keep));
  }
  get tag(): Buffer {
    return this.tail;
  }
}

/**
 * Decrypts `file` into `sink` (or nowhere), checking the tag at the end and the plaintext's
 * sha256 against the manifest. The sink has seen unauthenticated bytes when this throws: a
 * caller writing somewhere real must undo it (restore wipes the target).
 */
export async function decryptArchive(file: string, key: BackupKey, m: Manifest, sink?: (plaintext: Readable) => Promise<void>): Promise<void> {
  const magic = Buffer.alloc(MAGIC.length);
  try {
    const fh = await open(file, "r");
    try {
      await fh.read(magic, 0, MAGIC.length, 0);
    } finally {
      await fh.close();
    }
  } catch {
    throw new RestoreRefused("format", "archive: cannot read the file");
  }
  if (!magic.equals(MAGIC)) throw new RestoreRefused("format", "archive: not an octw backup (bad magic)");
  // authTagLength: a shorter (truncated) tag is refused, never checked as a weaker tag
  const decipher = createDecipheriv("aes-256-gcm", key.enc, Buffer.from(m.iv, "base64"), { authTagLength: 16 });
  decipher.setAAD(aad(m));
  const split: SplitTag = new SplitTag({
    flush(cb) {
      try {
        decipher.setAuthTag(split.tag);
      } catch {
        return cb(new RestoreRefused("tampered-archive", "archive: truncated (no authentication tag)"));
      }
      cb();
    },
  });
  const tap = new Tap();
  // pipeline: an error anywhere (the tag check at the end included) destroys every stream,
  // so the sink's read fails too instead of waiting for an end that never comes
  const done = pipeline(createReadStream(file), split, decipher, tap);
  let sinkError: { e: unknown } | undefined;
  const consume = (sink ? sink(tap) : (async () => {
    for await (const _ of tap) void _;
  })()).catch((e: unknown) => {
    sinkError = { e };
    tap.destroy(new Error("sink failed"));
  });
  const [, d] = await Promise.allSettled([consume, done]);
  if (sinkError && !(d.status === "rejected" && !(d.reason instanceof Error && d.reason.message === "sink failed"))) throw sinkError.e;
  if (d.status === "rejected") {
    throw d.reason instanceof RestoreRefused ? d.reason : new RestoreRefused("tampered-archive", "archive: authentication failed: the archive was changed, truncated or made with another key");
  }
  if (tap.hash.digest("hex") !== m.plaintextSha256 || tap.bytes !== m.plaintextBytes) {
    throw new RestoreRefused("checksum-mismatch", "archive: the decrypted content's sha256 differs from the manifest's checksum");
  }
}
