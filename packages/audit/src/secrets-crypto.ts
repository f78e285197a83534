import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/**
 * Key hierarchy (see README): master key (32 bytes, versioned) --HKDF-SHA256(tenant)-->
 * tenant key --AES-256-GCM(fresh 96-bit nonce, AAD = tenant|name|version)--> sealed secret.
 * Pure functions: no database, no I/O.
 */
export interface MasterKey {
  version: number;
  key: Buffer;
}

export interface SealedSecret {
  nonce: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

export interface SecretAddress {
  tenant: string;
  name: string;
  version: number;
}

const HKDF_SALT = Buffer.from("octw/tenant-secrets/v1", "utf8");
const AAD_TAG = "octw.secret.v1";

export class SecretDecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretDecryptError";
  }
}

/** Checks a keyring and returns it sorted by version (newest last). */
export function validateKeyring(keyring: readonly MasterKey[]): MasterKey[] {
  // Checked through an `unknown` copy: Array.isArray would otherwise narrow the keyring to any[].
  const untyped: unknown = keyring;
  if (!Array.isArray(untyped) || keyring.length === 0) throw new Error("keyring: must hold at least one master key { version, key }");
  const seen = new Set<number>();
  keyring.forEach((k, i) => {
    if (!Number.isInteger(k.version) || k.version < 1) throw new Error(`keyring[${i}].version: must be a positive integer, got ${String(k.version)}`);
    if (!Buffer.isBuffer(k.key) || k.key.length !== 32) throw new Error(`keyring[${i}].key: must be exactly 32 bytes, got ${Buffer.isBuffer(k.key) ? k.key.length : typeof k.key}`);
    if (seen.has(k.version)) throw new Error(`keyring[${i}].version: version ${k.version} appears twice`);
    seen.add(k.version);
  });
  return [...keyring].sort((a, b) => a.version - b.version);
}

/** A tenant's own key: useless for any other tenant, and never stored. */
export function deriveTenantKey(masterKey: Buffer, tenant: string): Buffer {
  if (masterKey.length !== 32) throw new Error(`masterKey: must be 32 bytes, got ${masterKey.length}`);
  if (!tenant) throw new Error("tenant: must not be empty");
  return Buffer.from(hkdfSync("sha256", masterKey, HKDF_SALT, Buffer.from(`tenant:${tenant}`, "utf8"), 32));
}

/** Associated data: binds the ciphertext to where it is stored, length-prefixed so fields cannot run together. */
export function secretAad(address: SecretAddress): Buffer {
  const parts = [AAD_TAG, address.tenant, address.name, String(address.version)];
  return Buffer.from(parts.map((p) => `${Buffer.byteLength(p, "utf8")}:${p}`).join(""), "utf8");
}

export function sealSecret(tenantKey: Buffer, address: SecretAddress, plaintext: Buffer): SealedSecret {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", tenantKey, nonce, { authTagLength: 16 });
  cipher.setAAD(secretAad(address));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { nonce, ciphertext, authTag: cipher.getAuthTag() };
}

export function openSecret(tenantKey: Buffer, address: SecretAddress, sealed: SealedSecret): Buffer {
  if (sealed.nonce.length !== 12 || sealed.authTag.length !== 16) {
    throw new SecretDecryptError(`secret ${address.tenant}/${address.name} v${address.version}: malformed nonce or tag`);
  }
  const decipher = createDecipheriv("aes-256-gcm", tenantKey, sealed.nonce, { authTagLength: 16 });
  decipher.setAAD(secretAad(address));
  decipher.setAuthTag(sealed.authTag);
  try {
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch {
    // Never echo key or ciphertext material: only where the failure happened.
    throw new SecretDecryptError(
      `secret ${address.tenant}/${address.name} v${address.version}: authentication failed (wrong key, or the row was moved or altered)`,
    );
  }
}

/**
 * Keyring text, the format of `octw secrets` and of the router's keyring file: entries
 * `<version>:<base64 of 32 bytes>` separated by commas or whitespace. Errors name the entry by
 * its position, never its text (it is key material).
 */
export function parseKeyring(text: string, source: string): MasterKey[] {
  const keys = text
    .split(/[\s,]+/)
    .filter((e) => e.length > 0)
    .map((entry, i) => {
      const m = /^(\d+):([A-Za-z0-9+/=_-]+)$/.exec(entry);
      if (!m) throw new Error(`${source}: entry ${i + 1} must look like <version>:<base64 key> (the key itself is not shown)`);
      return { version: Number(m[1]), key: Buffer.from(m[2]!, "base64") };
    });
  try {
    return validateKeyring(keys);
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`);
  }
}
