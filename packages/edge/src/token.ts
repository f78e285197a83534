// Token verification: signature with an explicit asymmetric algorithm allowlist, issuer,
// audience, exp/nbf with bounded skew, keys from a JWKS URL (cached, refreshed on unknown kid
// at most once per cooldown) or static PEM/JWK. Returns a reason code, never the token.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  exportJWK,
  importSPKI,
  jwtVerify,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import type { EdgeConfig } from "@octw/contracts";

export type TokenDenyReason =
  | "no_token"
  | "malformed_token"
  | "algorithm_not_allowed"
  | "unknown_key"
  | "bad_signature"
  | "token_expired"
  | "token_not_yet_valid"
  | "wrong_issuer"
  | "wrong_audience"
  | "token_lifetime_too_long"
  | "missing_issued_at"
  | "invalid_issued_at"
  | "missing_subject"
  | "invalid_subject"
  | "missing_tenant"
  | "keys_unavailable"
  | "token_invalid";

export type TokenResult =
  | { ok: true; sub: string; tenant: string; roleClaim: unknown; exp: number }
  | { ok: false; reason: TokenDenyReason; sub?: string | undefined };

/** Values that go into an HTTP header and the audit trail: printable ASCII, bounded. */
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/;

type TokenOk = Extract<TokenResult, { ok: true }>;

export class TokenVerifier {
  /** Verified tokens by their exact text (insertion order = age, for eviction). */
  private readonly verified = new Map<string, { result: TokenOk; nbf: number | undefined; until: number }>();

  private constructor(
    private readonly getKey: JWTVerifyGetKey,
    private readonly jwt: EdgeConfig["jwt"],
    private readonly now: () => number,
  ) {}

  /** `now` returns seconds since the epoch; injectable for tests of exp/nbf. */
  static async create(jwt: EdgeConfig["jwt"], now: () => number = () => Math.floor(Date.now() / 1000)): Promise<TokenVerifier> {
    let getKey: JWTVerifyGetKey;
    if (jwt.keys.kind === "jwks-url") {
      getKey = createRemoteJWKSet(new URL(jwt.keys.url), {
        cacheMaxAge: jwt.keys.cacheMaxAgeMs,
        cooldownDuration: jwt.keys.cooldownMs,
        timeoutDuration: jwt.keys.timeoutMs,
      });
    } else {
      const keys: JWK[] = jwt.keys.jwks.map((k) => ({ ...(k as JWK) }));
      for (const p of jwt.keys.pems) {
        const jwk = await exportJWK(await importSPKI(p.pem, p.alg, { extractable: true }));
        keys.push({ ...jwk, alg: p.alg, ...(p.kid ? { kid: p.kid } : {}) });
      }
      getKey = createLocalJWKSet({ keys });
    }
    return new TokenVerifier(getKey, jwt, now);
  }

  async verify(token: string | undefined): Promise<TokenResult> {
    if (token === undefined || token === "") return { ok: false, reason: "no_token" };
    // A compact JWS is three base64url parts; bound the size so garbage costs nothing.
    if (token.length > 16_384 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
      return { ok: false, reason: "malformed_token" };
    }
    const now = this.now();
    const hit = this.verified.get(token);
    if (hit !== undefined) {
      if (now < hit.until) {
        // Signature, issuer, audience and claims were checked when cached; time moves on.
        if (hit.result.exp + this.jwt.clockToleranceSec <= now) return { ok: false, reason: "token_expired" };
        if (hit.nbf !== undefined && hit.nbf - this.jwt.clockToleranceSec > now) return { ok: false, reason: "token_not_yet_valid" };
        return hit.result;
      }
      this.verified.delete(token);
    }
    const r = await this.verifyUncached(token);
    if (r.ok && this.jwt.verifiedCacheSec > 0) {
      if (this.verified.size >= this.jwt.verifiedCacheMax) {
        const oldest = this.verified.keys().next().value;
        if (oldest !== undefined) this.verified.delete(oldest);
      }
      this.verified.set(token, { result: r.result, nbf: r.nbf, until: now + this.jwt.verifiedCacheSec });
    }
    return r.ok ? r.result : r;
  }

  private async verifyUncached(token: string): Promise<{ ok: true; result: TokenOk; nbf: number | undefined } | Extract<TokenResult, { ok: false }>> {
    let payload: JWTPayload;
    try {
      const r = await jwtVerify(token, this.getKey, {
        issuer: this.jwt.issuer,
        audience: this.jwt.audience,
        algorithms: [...this.jwt.algorithms],
        clockTolerance: this.jwt.clockToleranceSec,
        currentDate: new Date(this.now() * 1000),
        requiredClaims: ["exp", this.jwt.userClaim],
      });
      payload = r.payload;
    } catch (e) {
      return { ok: false, reason: reasonOf(e, this.jwt.userClaim) };
    }
    const exp = payload.exp!;
    if (this.jwt.maxLifetimeSec > 0) {
      // The lifetime is what the issuer granted: exp − iat. Measuring exp − now instead would
      // let a long-lived token in once it has aged below the bound. Without iat the lifetime is
      // unknown, so the token is refused; an iat in the future (beyond the skew) would make any
      // exp look short, so it is refused too. Together: exp − now ≤ maxLifetimeSec + skew.
      const iat = payload.iat;
      if (iat === undefined) return { ok: false, reason: "missing_issued_at" };
      if (typeof iat !== "number" || !Number.isFinite(iat) || iat - this.jwt.clockToleranceSec > this.now()) {
        return { ok: false, reason: "invalid_issued_at" };
      }
      if (exp - iat > this.jwt.maxLifetimeSec) return { ok: false, reason: "token_lifetime_too_long" };
    }
    const sub = payload[this.jwt.userClaim];
    if (typeof sub !== "string" || sub === "") return { ok: false, reason: "missing_subject" };
    if (!HEADER_SAFE.test(sub)) return { ok: false, reason: "invalid_subject" };
    const tenant = payload[this.jwt.tenantClaim];
    if (typeof tenant !== "string" || tenant === "") return { ok: false, reason: "missing_tenant", sub };
    return { ok: true, result: { ok: true, sub, tenant, roleClaim: payload[this.jwt.roleClaim], exp }, nbf: payload.nbf };
  }

  /** Verified tokens currently remembered. */
  get cachedTokens(): number {
    return this.verified.size;
  }
}

function reasonOf(e: unknown, userClaim: string): TokenDenyReason {
  if (e instanceof errors.JWTExpired) return "token_expired";
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "nbf") return "token_not_yet_valid";
    if (e.claim === "iat") return "invalid_issued_at";
    if (e.claim === "iss") return "wrong_issuer";
    if (e.claim === "aud") return "wrong_audience";
    if (e.claim === "exp") return "token_expired";
    if (e.claim === userClaim) return "missing_subject";
    return "token_invalid";
  }
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) return "algorithm_not_allowed";
  if (e instanceof errors.JWKSNoMatchingKey) return "unknown_key";
  if (e instanceof errors.JWSSignatureVerificationFailed) return "bad_signature";
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid) return "keys_unavailable";
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return "malformed_token";
  // Remote JWKS fetch failures (connection refused, non-200) surface as plain errors.
  if (e instanceof errors.JOSEError) return "token_invalid";
  return "keys_unavailable";
}

/** Bearer token from Authorization, else the edge cookie. Returns where it came from. */
export function extractToken(
  authorization: string | undefined,
  cookieValue: string | undefined,
): { token: string | undefined; source: "bearer" | "cookie" | "none" } {
  if (authorization !== undefined) {
    const m = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(authorization);
    return { token: m?.[1], source: "bearer" };
  }
  if (cookieValue !== undefined) return { token: cookieValue, source: "cookie" };
  return { token: undefined, source: "none" };
}
