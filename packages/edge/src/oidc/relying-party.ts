// The relying party: openid-client (an OpenID Certified RP library) does the protocol —
// discovery, the authorization URL with PKCE (S256), state and nonce, the code exchange with its
// checks (state, iss response parameter, nonce, ID token claims and signature), refresh,
// revocation and RP-initiated logout. The edge then checks the ID token again by ITS rules,
// the same ones bearer tokens get: the asymmetric algorithm allowlist, issuer, audience,
// bounded clock skew and a bounded lifetime.
import * as client from "openid-client";
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { OidcConfig } from "@octw/contracts";

export interface RpDeps {
  clientSecret?: string | undefined;
  /** For tests: a fetch in front of the IdP (e.g. to substitute a token response). */
  fetch?: typeof fetch | undefined;
  nowSec: () => number;
}

export interface LoginStart {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
}

export type IdTokenCheck =
  | { ok: true; claims: JWTPayload & { sub: string; exp: number; iat: number } }
  | { ok: false; reason: string };

export type CodeResult =
  | { ok: true; claims: JWTPayload & { sub: string; exp: number; iat: number }; refreshToken: string | undefined }
  | { ok: false; reason: string };

/** Printable ASCII, bounded: the subject becomes a header value and an audit actor. */
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/;

export class RelyingParty {
  private discovered: Promise<{ config: client.Configuration; jwks: JWTVerifyGetKey }> | undefined;

  constructor(
    private readonly oidc: OidcConfig,
    private readonly deps: RpDeps,
  ) {}

  /** Discovery once, retried after a failure (so an edge starts while the IdP is down). */
  private async ready(): Promise<{ config: client.Configuration; jwks: JWTVerifyGetKey }> {
    if (this.discovered === undefined) {
      this.discovered = this.discover();
      this.discovered.catch(() => {
        this.discovered = undefined;
      });
    }
    return this.discovered;
  }

  private async discover(): Promise<{ config: client.Configuration; jwks: JWTVerifyGetKey }> {
    const o = this.oidc;
    const metadata: Partial<client.ClientMetadata> = {
      [client.clockTolerance]: o.clockToleranceSec,
      ...(this.deps.clientSecret !== undefined ? { client_secret: this.deps.clientSecret } : {}),
    };
    const auth = this.deps.clientSecret !== undefined ? client.ClientSecretBasic(this.deps.clientSecret) : client.None();
    const config = await client.discovery(new URL(o.issuer), o.clientId, metadata, auth, {
      timeout: Math.ceil(o.timeoutMs / 1000),
      ...(o.allowHttpLoopback ? { execute: [client.allowInsecureRequests] } : {}),
      ...(this.deps.fetch ? { [client.customFetch]: this.deps.fetch } : {}),
    });
    // ID tokens from the token endpoint are signature-checked too, not only trusted for TLS.
    client.enableNonRepudiationChecks(config);
    const jwksUri = config.serverMetadata().jwks_uri;
    if (!jwksUri) throw new Error("the identity provider publishes no jwks_uri");
    const jwks = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: o.timeoutMs, cooldownDuration: 30_000 });
    return { config, jwks };
  }

  async startLogin(redirectUri: string): Promise<LoginStart> {
    const { config } = await this.ready();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.oidc.scopes.join(" "),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
      ...(this.oidc.prompt !== undefined ? { prompt: this.oidc.prompt } : {}),
    });
    return { url, state, nonce, verifier };
  }

  /** The callback: openid-client's checks, then the edge's own ID token rules. */
  async finishLogin(currentUrl: URL, flow: { state: string; nonce: string; verifier: string }): Promise<CodeResult> {
    const { config } = await this.ready();
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
    } catch (e) {
      return { ok: false, reason: rpReason(e) };
    }
    const check = await this.checkIdToken(tokens.id_token, flow.nonce);
    if (!check.ok) return check;
    return { ok: true, claims: check.claims, refreshToken: tokens.refresh_token };
  }

  /** Refresh-token grant; a new ID token (when the IdP sends one) is checked like the first. */
  async refresh(refreshToken: string, sub: string): Promise<CodeResult & { idTokenIssued?: boolean }> {
    const { config } = await this.ready();
    let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
    try {
      tokens = await client.refreshTokenGrant(config, refreshToken);
    } catch (e) {
      return { ok: false, reason: rpReason(e) };
    }
    const rt = tokens.refresh_token ?? refreshToken;
    if (tokens.id_token === undefined) {
      return { ok: true, claims: { sub, exp: this.deps.nowSec() + this.oidc.recheckSec, iat: this.deps.nowSec() }, refreshToken: rt, idTokenIssued: false };
    }
    const check = await this.checkIdToken(tokens.id_token, undefined);
    if (!check.ok) return check;
    if (check.claims.sub !== sub) return { ok: false, reason: "subject_changed" };
    return { ok: true, claims: check.claims, refreshToken: rt, idTokenIssued: true };
  }

  /** The edge's rules for an ID token, whatever openid-client already accepted. */
  async checkIdToken(idToken: string | undefined, nonce: string | undefined): Promise<IdTokenCheck> {
    if (idToken === undefined) return { ok: false, reason: "no_id_token" };
    const { config, jwks } = await this.ready();
    const o = this.oidc;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, jwks, {
        issuer: config.serverMetadata().issuer,
        audience: o.clientId,
        algorithms: [...o.algorithms],
        clockTolerance: o.clockToleranceSec,
        currentDate: new Date(this.deps.nowSec() * 1000),
        requiredClaims: ["exp", "iat", "sub"],
      }));
    } catch (e) {
      return { ok: false, reason: joseReason(e) };
    }
    const { exp, iat, sub } = payload as { exp: number; iat: number; sub: unknown };
    if (iat - o.clockToleranceSec > this.deps.nowSec()) return { ok: false, reason: "invalid_issued_at" };
    if (exp - iat > o.maxIdTokenLifetimeSec) return { ok: false, reason: "token_lifetime_too_long" };
    // Several audiences: this client must be the authorized party.
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== o.clientId) return { ok: false, reason: "wrong_authorized_party" };
    if (nonce !== undefined && payload.nonce !== nonce) return { ok: false, reason: "wrong_nonce" };
    if (typeof sub !== "string" || !HEADER_SAFE.test(sub)) return { ok: false, reason: "invalid_subject" };
    return { ok: true, claims: payload as JWTPayload & { sub: string; exp: number; iat: number } };
  }

  /** Best effort: the refresh token dies at the IdP, so no edge can renew the session. */
  async revoke(refreshToken: string): Promise<boolean> {
    try {
      const { config } = await this.ready();
      if (!config.serverMetadata().revocation_endpoint) return false;
      await client.tokenRevocation(config, refreshToken, { token_type_hint: "refresh_token" });
      return true;
    } catch {
      return false;
    }
  }

  /** RP-initiated logout URL, when the IdP supports it. */
  async endSessionUrl(postLogoutRedirectUri: string): Promise<URL | undefined> {
    try {
      const { config } = await this.ready();
      if (!config.serverMetadata().end_session_endpoint) return undefined;
      return client.buildEndSessionUrl(config, { client_id: this.oidc.clientId, post_logout_redirect_uri: postLogoutRedirectUri });
    } catch {
      return undefined;
    }
  }
}

/** A reason code for the audit trail; never the IdP's text (it may quote a code or token). */
function rpReason(e: unknown): string {
  if (e instanceof client.AuthorizationResponseError) return "idp_error_response";
  if (e instanceof client.ResponseBodyError) return "token_endpoint_refused";
  if (e instanceof client.ClientError) {
    const code = (e as { code?: string }).code ?? "";
    // openid-client wraps oauth4webapi's error; the check that failed is named in the cause.
    const cause = (e as { cause?: unknown }).cause;
    const msg = `${e.message} ${cause instanceof Error ? cause.message : ""}`;
    if (/"state"/.test(msg)) return "wrong_state";
    if (/"nonce"/.test(msg)) return "wrong_nonce";
    if (/"iss"/.test(msg)) return "wrong_issuer";
    if (/"aud"|"azp"/.test(msg)) return "wrong_audience";
    if (/"alg"/.test(msg)) return "algorithm_not_allowed";
    if (/signature/i.test(msg)) return "bad_signature";
    if (code === "OAUTH_TIMEOUT" || code === "OAUTH_RESPONSE_IS_NOT_CONFORM") return "idp_unusable_response";
    return "rp_check_failed";
  }
  return "idp_unreachable";
}

function joseReason(e: unknown): string {
  if (e instanceof errors.JWTExpired) return "token_expired";
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "iss") return "wrong_issuer";
    if (e.claim === "aud") return "wrong_audience";
    if (e.claim === "nbf") return "token_not_yet_valid";
    return "token_invalid";
  }
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) return "algorithm_not_allowed";
  if (e instanceof errors.JWKSNoMatchingKey) return "unknown_key";
  if (e instanceof errors.JWSSignatureVerificationFailed) return "bad_signature";
  if (e instanceof errors.JOSEError) return "token_invalid";
  return "keys_unavailable";
}
