// The local stack's dev issuer: an ES256 key pair generated on first use under
// `.octw/dev-issuer/` (private key 0600 in a 0700 directory), short-lived tokens signed with
// it, and the public JWK that the local edge trusts. Never for production: anyone who can read
// the directory can mint any role for any tenant.
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { DEFAULT_ROLE_SCOPES, TENANT_ID_PATTERN } from "@octw/contracts";

export const DEV_ISSUER = "octw-dev-issuer";
export const DEV_AUDIENCE = "octw-edge";
export const DEV_ALG = "ES256";
export const DEV_MAX_TTL_SEC = 3_600;
const PRIVATE_FILE = "private.jwk.json";
const PUBLIC_FILE = "public.jwk.json";

export interface DevIssuerKeys {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

/** Loads the key pair from `dir`, creating it on first use. Refuses a private key others can read. */
export async function ensureDevIssuer(dir: string): Promise<DevIssuerKeys> {
  const privPath = path.join(dir, PRIVATE_FILE);
  const pubPath = path.join(dir, PUBLIC_FILE);
  let exists = true;
  try {
    statSync(privPath);
  } catch {
    exists = false;
  }
  if (!exists) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const { privateKey, publicKey } = await generateKeyPair(DEV_ALG, { extractable: true });
    const kid = `dev-${new Date().toISOString().replace(/[^0-9]/g, "").slice(0, 14)}`;
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: DEV_ALG };
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: DEV_ALG, use: "sig" };
    // wx: never overwrite a key another process created in between.
    writeFileSync(privPath, `${JSON.stringify(privateJwk)}\n`, { mode: 0o600, flag: "wx" });
    writeFileSync(pubPath, `${JSON.stringify(publicJwk)}\n`, { mode: 0o644 });
  }
  const mode = statSync(privPath).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`dev issuer key ${privPath}: mode ${mode.toString(8)} lets others read it; allowed: 600 (chmod 600 it)`);
  }
  const privateJwk = JSON.parse(readFileSync(privPath, "utf8")) as JWK;
  const publicJwk = JSON.parse(readFileSync(pubPath, "utf8")) as JWK;
  if (!privateJwk.kid || privateJwk.kid !== publicJwk.kid) throw new Error(`dev issuer in ${dir}: key files do not match (kid)`);
  return { kid: privateJwk.kid, privateJwk, publicJwk };
}

export interface DevTokenRequest {
  tenant: string;
  role: string;
  sub: string;
  /** Seconds; at most DEV_MAX_TTL_SEC. */
  ttlSec: number;
}

/** Parses "900", "90s", "15m", "1h" into seconds. */
export function parseTtl(value: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(value.trim());
  if (!m) throw new Error(`--ttl: ${JSON.stringify(value)} is not a duration; allowed: seconds or e.g. 90s, 15m, 1h (at most 1h)`);
  const n = Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
  return n;
}

export function validateDevTokenRequest(r: DevTokenRequest): void {
  if (!TENANT_ID_PATTERN.test(r.tenant)) {
    throw new Error(`--tenant: ${JSON.stringify(r.tenant)} is not a tenant id; allowed: a lower-case DNS label (a-z, 0-9, '-')`);
  }
  if (!Object.prototype.hasOwnProperty.call(DEFAULT_ROLE_SCOPES, r.role)) {
    throw new Error(`--role: ${JSON.stringify(r.role)} is not a role; allowed: ${Object.keys(DEFAULT_ROLE_SCOPES).join(", ")}`);
  }
  if (!/^[\x21-\x7e]{1,256}$/.test(r.sub)) {
    throw new Error(`--sub: must be 1-256 printable ASCII characters without spaces`);
  }
  if (!Number.isInteger(r.ttlSec) || r.ttlSec < 1 || r.ttlSec > DEV_MAX_TTL_SEC) {
    throw new Error(`--ttl: ${r.ttlSec} s is out of range; allowed: 1 s to ${DEV_MAX_TTL_SEC} s`);
  }
}

/** Mints a token the local edge (trusting this issuer's public JWK) accepts. */
export async function mintDevToken(keys: DevIssuerKeys, r: DevTokenRequest, nowSec = Math.floor(Date.now() / 1000)): Promise<string> {
  validateDevTokenRequest(r);
  const key = await importJWK(keys.privateJwk, DEV_ALG);
  return new SignJWT({ tenant: r.tenant, role: r.role })
    .setProtectedHeader({ alg: DEV_ALG, kid: keys.kid, typ: "JWT" })
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setSubject(r.sub)
    .setIssuedAt(nowSec)
    .setNotBefore(nowSec - 5)
    .setExpirationTime(nowSec + r.ttlSec)
    .sign(key);
}

/** The `jwt` section of an edge config that trusts the dev issuer (for the local stack). */
export function devIssuerJwtConfig(keys: DevIssuerKeys) {
  return {
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    algorithms: [DEV_ALG] as const,
    keys: { kind: "static" as const, jwks: [keys.publicJwk] },
  };
}
