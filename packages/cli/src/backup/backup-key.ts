// The operator's backup key: 32 bytes, from a file or an environment variable the operator
// names, never from argv (the process list shows argv to every user) and never echoed. Two
// subkeys are derived with HKDF: one encrypts (AES-256-GCM), one authenticates the manifest
// (HMAC-SHA256); a third derivation is the key's public id, so a restore with another key is
// told "wrong key" before anything is decrypted.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";

export const BACKUP_KEY_ENV = "OCTW_BACKUP_KEY";

export interface BackupKey {
  /** AES-256-GCM key */
  enc: Buffer;
  mac: Buffer;
  /** 16 hex characters: which key a backup was made with (reveals nothing about the key) */
  id: string;
}

function derive(raw: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", raw, Buffer.alloc(0), `octw-backup v1 ${info}`, 32));
}

/** Decodes 32 bytes given as 64 hex characters or base64 (whitespace ignored). */
export function parseKey(text: string, where: string): BackupKey {
  const t = text.replace(/\s+/g, "");
  let raw: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) raw = Buffer.from(t, "hex");
  else if (/^[A-Za-z0-9+/]{43}=?$/.test(t)) raw = Buffer.from(t, "base64");
  if (!raw || raw.length !== 32) throw new Error(`${where}: must hold a 32-byte key as 64 hex characters or base64 (\`octw backup keygen\` writes one)`);
  return { enc: derive(raw, "enc"), mac: derive(raw, "mac"), id: derive(raw, "id").subarray(0, 8).toString("hex") };
}

/**
 * The key from `--key-file` (must not be readable by group or others, as ssh insists for its
 * keys) or from the environment variable `--key-env` names (default OCTW_BACKUP_KEY).
 */
export function loadKey(opts: { keyFile?: string; keyEnv?: string }): BackupKey {
  if (opts.keyFile !== undefined) {
    let st;
    try {
      st = statSync(opts.keyFile);
    } catch {
      throw new Error(`--key-file: cannot read the key file`);
    }
    if ((st.mode & 0o077) !== 0) throw new Error(`--key-file: the key file must not be accessible to group or others (chmod 600)`);
    return parseKey(readFileSync(opts.keyFile, "utf8"), "--key-file");
  }
  const name = opts.keyEnv ?? BACKUP_KEY_ENV;
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error("--key-env: must be an environment variable name (A-Z, 0-9, _)");
  const v = process.env[name];
  if (!v) throw new Error(`backup key: pass --key-file <file> or set ${name} (a 32-byte key, hex or base64)`);
  return parseKey(v, `$${name}`);
}

/** A new key file (mode 0600; refuses to overwrite). */
export function writeNewKey(path: string): void {
  try {
    writeFileSync(path, randomBytes(32).toString("base64") + "\n", { mode: 0o600, flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new Error("--out: the file exists; a key is never overwritten (backups made with it would be lost)");
    throw e;
  }
}

/** Canonical JSON: keys sorted, so the MAC does not depend on the writer's key order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

export function macOf(key: BackupKey, fields: Record<string, unknown>): string {
  return createHmac("sha256", key.mac).update(canonical(fields)).digest("hex");
}

export function macMatches(key: BackupKey, fields: Record<string, unknown>, mac: string): boolean {
  const want = Buffer.from(macOf(key, fields), "hex");
  const got = Buffer.from(/^[0-9a-f]{64}$/.test(mac) ? mac : "", "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}
