// Sealed cookies: the edge keeps no session table. Everything a session needs travels in the
// cookie, encrypted and authenticated (AES-256-GCM) with a key every edge of the platform
// derives from one secret, so any edge can read a session another edge issued. The tenant's
// origin (scheme://host[:port]) and the cookie's purpose are the GCM additional data: a cookie
// copied from bravo's origin to alpha's, or a login-flow cookie presented as a session, fails
// authentication like a tampered one.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

export type SealPurpose = "session" | "flow";

const VERSION = "v1";

export class Sealer {
  private readonly key: Buffer;

  /** `secret`: at least 32 random bytes (the Pulumi secret behind oidc.sessionKeyFile). */
  constructor(secret: Buffer) {
    if (secret.length < 32) throw new Error("oidc.sessionKeyFile: must hold at least 32 bytes of random key material");
    this.key = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), "octw-edge oidc cookie seal v1", 32));
  }

  seal(purpose: SealPurpose, origin: string, payload: unknown): string {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.key, iv);
    c.setAAD(aad(purpose, origin));
    const body = Buffer.concat([c.update(JSON.stringify(payload), "utf8"), c.final(), c.getAuthTag()]);
    return `${VERSION}.${iv.toString("base64url")}.${body.toString("base64url")}`;
  }

  /** The payload, or undefined for anything not sealed by this key for this purpose and origin. */
  unseal(purpose: SealPurpose, origin: string, value: string | undefined): unknown {
    if (value === undefined || value.length > 4_096) return undefined;
    const m = /^v1\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{23,})$/.exec(value);
    if (!m) return undefined;
    const iv = Buffer.from(m[1]!, "base64url");
    const body = Buffer.from(m[2]!, "base64url");
    if (iv.length !== 12 || body.length < 17) return undefined;
    try {
      const d = createDecipheriv("aes-256-gcm", this.key, iv, { authTagLength: 16 });
      d.setAAD(aad(purpose, origin));
      d.setAuthTag(body.subarray(body.length - 16));
      const text = Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]).toString("utf8");
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }
}

function aad(purpose: SealPurpose, origin: string): Buffer {
  return Buffer.from(`${VERSION}\u0000${purpose}\u0000${origin.toLowerCase()}`, "utf8");
}
