// The relying party (oidc/relying-party.ts) against a minimal IdP on a loopback port that serves
// discovery, the JWKS and token/revocation endpoints each test sets up; tokens are signed here, so
// each claim can be set to exactly the value a rule is about (the sign-in flow against a real
// IdP is relying-party.test.ts).
//
// The edge's own ID-token rules (RelyingParty.checkIdToken), rule by rule, each at its boundary
// with a control that passes: issuer, audience, algorithm allowlist, signature and key, exp/nbf
// with the clock tolerance, iat not in the future, the bounded lifetime (exp − iat), the
// authorized party when there are several audiences, the nonce and a header-safe subject.
// Then the protocol steps around them: the code exchange's failures mapped to reason codes
// (never the IdP's text), refresh (a new ID token is checked like the first, the subject may not
// change), revocation and RP-initiated logout, discovery once and again after a failure.
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { oidcConfigSchema } from "@octw/contracts";
import { RelyingParty } from "../../src/oidc/relying-party";

const CLIENT = "octw-edge";
const NOW = 1_800_000_000;
const TOLERANCE = 30;
const MAX_LIFETIME = 3_600;

let server: http.Server;
let issuer: string;
let es: { privateKey: CryptoKey; publicKey: CryptoKey };
let rs: { privateKey: CryptoKey; publicKey: CryptoKey };
let stranger: { privateKey: CryptoKey; publicKey: CryptoKey };

/** What the IdP answers beyond discovery and the JWKS; reset before each test that uses it. */
interface IdpBehaviour {
  meta: Record<string, unknown>;
  token?: (body: URLSearchParams, authorization: string | undefined) => { status: number; body: unknown; delayMs?: number };
  revocation?: (body: URLSearchParams) => number;
  discoveries: number;
  failDiscoveries: number;
  jwksDelayMs: number;
}
const idp: IdpBehaviour = { meta: {}, discoveries: 0, failDiscoveries: 0, jwksDelayMs: 0 };
function resetIdp(): void {
  Object.assign(idp, { meta: {}, token: undefined, revocation: undefined, discoveries: 0, failDiscoveries: 0, jwksDelayMs: 0 });
}

function rp(over: Record<string, unknown> = {}, iss = issuer, deps: { clientSecret?: string; fetch?: typeof fetch; nowSec?: () => number } = {}): RelyingParty {
  const config = oidcConfigSchema().parse({
    issuer: iss,
    allowHttpLoopback: true,
    clientId: CLIENT,
    algorithms: ["ES256", "RS256"],
    clockToleranceSec: TOLERANCE,
    maxIdTokenLifetimeSec: MAX_LIFETIME,
    timeoutMs: 2_000,
    ...over,
  });
  return new RelyingParty(config, { nowSec: deps.nowSec ?? (() => NOW), clientSecret: deps.clientSecret, fetch: deps.fetch });
}

/** A token signed by the IdP's ES256 key (or as told), with the claims a good one has, then `claims`. */
async function token(claims: JWTPayload & Record<string, unknown> = {}, o: { alg?: string; kid?: string; key?: CryptoKey; omit?: string[] } = {}): Promise<string> {
  const alg = o.alg ?? "ES256";
  const body: Record<string, unknown> = { iss: issuer, aud: CLIENT, sub: "person-1", iat: NOW - 10, exp: NOW + 600, nonce: "n-1", ...claims };
  for (const k of o.omit ?? []) delete body[k];
  return new SignJWT(body)
    .setProtectedHeader({ alg, kid: o.kid ?? (alg === "RS256" ? "rs1" : "es1") })
    .sign(o.key ?? (alg === "RS256" ? rs.privateKey : es.privateKey));
}

beforeAll(async () => {
  es = await generateKeyPair("ES256", { extractable: true });
  rs = await generateKeyPair("RS256", { extractable: true });
  stranger = await generateKeyPair("ES256", { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(es.publicKey)), kid: "es1", alg: "ES256", use: "sig" }, { ...(await exportJWK(rs.publicKey)), kid: "rs1", alg: "RS256", use: "sig" }] };
  server = http.createServer((req, res) => {
    const json = (b: unknown, status = 200) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(b));
    };
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      if (req.url === "/.well-known/openid-configuration") {
        idp.discoveries++;
        if (idp.failDiscoveries > 0) {
          idp.failDiscoveries--;
          json({ error: "down" }, 503);
          return;
        }
        json({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, response_types_supported: ["code"], subject_types_supported: ["public"], id_token_signing_alg_values_supported: ["ES256", "RS256"], ...idp.meta });
      } else if (req.url === "/jwks") {
        setTimeout(() => json(jwks), idp.jwksDelayMs);
      } else if (req.url === "/token" && idp.token) {
        const t = idp.token(form, req.headers.authorization);
        setTimeout(() => {
          if (typeof t.body !== "string") return json(t.body, t.status);
          res.writeHead(t.status, { "content-type": "text/html" });
          res.end(t.body);
        }, t.delayMs ?? 0);
      } else if (req.url === "/revoke" && idp.revocation) {
        res.writeHead(idp.revocation(form)).end();
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe("the edge's ID token rules (checkIdToken)", () => {
  beforeEach(resetIdp);
  it("control: a good token is accepted with its claims", async () => {
    const r = await rp().checkIdToken(await token(), "n-1");
    expect(r).toMatchObject({ ok: true, claims: { sub: "person-1", aud: CLIENT, exp: NOW + 600, iat: NOW - 10 } });
  });

  it("no ID token at all is refused", async () => {
    expect(await rp().checkIdToken(undefined, "n-1")).toEqual({ ok: false, reason: "no_id_token" });
  });

  it("issuer and audience must be the IdP's and this client's", async () => {
    expect(await rp().checkIdToken(await token({ iss: "http://127.0.0.1:1" }), "n-1")).toEqual({ ok: false, reason: "wrong_issuer" });
    expect(await rp().checkIdToken(await token({ aud: "another-client" }), "n-1")).toEqual({ ok: false, reason: "wrong_audience" });
  });

  it("only the allowed algorithms, only the IdP's keys, only good signatures", async () => {
    // RS256 is the IdP's own key, but this edge allows ES256 only
    expect(await rp({ algorithms: ["ES256"] }).checkIdToken(await token({}, { alg: "RS256" }), "n-1")).toEqual({ ok: false, reason: "algorithm_not_allowed" });
    // control: the same token where RS256 is allowed
    expect((await rp().checkIdToken(await token({}, { alg: "RS256" }), "n-1")).ok).toBe(true);
    expect(await rp().checkIdToken(await token({}, { kid: "nobody" }), "n-1")).toEqual({ ok: false, reason: "unknown_key" });
    expect(await rp().checkIdToken(await token({}, { key: stranger.privateKey }), "n-1")).toEqual({ ok: false, reason: "bad_signature" });
    expect(await rp().checkIdToken("not.a.token", "n-1")).toEqual({ ok: false, reason: "token_invalid" });
    const hs = await new SignJWT({ iss: issuer, aud: CLIENT, sub: "x", iat: NOW, exp: NOW + 60 }).setProtectedHeader({ alg: "HS256", kid: "es1" }).sign(new TextEncoder().encode("k".repeat(32)));
    expect(await rp().checkIdToken(hs, "n-1")).toEqual({ ok: false, reason: "algorithm_not_allowed" });
  });

  it("exp, iat and sub are required", async () => {
    for (const claim of ["exp", "iat", "sub"]) {
      expect(await rp().checkIdToken(await token({}, { omit: [claim] }), "n-1"), claim).toEqual({ ok: false, reason: "token_invalid" });
    }
  });

  it("exp and nbf with the clock tolerance, at the boundary", async () => {
    expect((await rp().checkIdToken(await token({ iat: NOW - 100, exp: NOW - TOLERANCE + 1 }), "n-1")).ok).toBe(true);
    expect(await rp().checkIdToken(await token({ iat: NOW - 100, exp: NOW - TOLERANCE }), "n-1")).toEqual({ ok: false, reason: "token_expired" });
    expect((await rp().checkIdToken(await token({ nbf: NOW + TOLERANCE }), "n-1")).ok).toBe(true);
    expect(await rp().checkIdToken(await token({ nbf: NOW + TOLERANCE + 1 }), "n-1")).toEqual({ ok: false, reason: "token_not_yet_valid" });
  });

  it("iat may not lie in the future beyond the tolerance", async () => {
    expect((await rp().checkIdToken(await token({ iat: NOW + TOLERANCE, exp: NOW + 600 }), "n-1")).ok).toBe(true);
    expect(await rp().checkIdToken(await token({ iat: NOW + TOLERANCE + 1, exp: NOW + 600 }), "n-1")).toEqual({ ok: false, reason: "invalid_issued_at" });
  });

  it("the lifetime exp − iat is bounded by maxIdTokenLifetimeSec (not exp − now)", async () => {
    expect((await rp().checkIdToken(await token({ iat: NOW - 10, exp: NOW - 10 + MAX_LIFETIME }), "n-1")).ok).toBe(true);
    expect(await rp().checkIdToken(await token({ iat: NOW - 10, exp: NOW - 10 + MAX_LIFETIME + 1 }), "n-1")).toEqual({ ok: false, reason: "token_lifetime_too_long" });
    // an old token with little time left still had too long a life
    expect(await rp().checkIdToken(await token({ iat: NOW - MAX_LIFETIME, exp: NOW + 2 }), "n-1")).toEqual({ ok: false, reason: "token_lifetime_too_long" });
  });

  it("several audiences: this client must be the authorized party (azp); one audience needs no azp", async () => {
    expect(await rp().checkIdToken(await token({ aud: [CLIENT, "other"] }), "n-1")).toEqual({ ok: false, reason: "wrong_authorized_party" });
    expect(await rp().checkIdToken(await token({ aud: [CLIENT, "other"], azp: "other" }), "n-1")).toEqual({ ok: false, reason: "wrong_authorized_party" });
    expect((await rp().checkIdToken(await token({ aud: [CLIENT, "other"], azp: CLIENT }), "n-1")).ok).toBe(true);
    expect((await rp().checkIdToken(await token({ aud: [CLIENT] }), "n-1")).ok).toBe(true);
  });

  it("the nonce must be the flow's (when there is a flow)", async () => {
    expect(await rp().checkIdToken(await token({ nonce: "n-2" }), "n-1")).toEqual({ ok: false, reason: "wrong_nonce" });
    expect(await rp().checkIdToken(await token({}, { omit: ["nonce"] }), "n-1")).toEqual({ ok: false, reason: "wrong_nonce" });
    // a refreshed ID token is checked without a flow nonce
    expect((await rp().checkIdToken(await token({ nonce: "n-2" }), undefined)).ok).toBe(true);
  });

  it("the subject becomes a header value: printable ASCII, no edge spaces, at most 256 characters", async () => {
    for (const sub of ["a", "user@example.com", "a b", "x".repeat(256), "!~"]) {
      expect((await rp().checkIdToken(await token({ sub }), "n-1")).ok, sub).toBe(true);
    }
    // not a string at all (it would read as "123" in a header)
    expect((await rp().checkIdToken(await token({ sub: 123 as unknown as string }), "n-1")).ok).toBe(false);
    for (const sub of ["", " a", "a ", "x".repeat(257), "a\tb", "a\nb", "é", "a\u007fb"]) {
      expect(await rp().checkIdToken(await token({ sub }), "n-1"), JSON.stringify(sub)).toEqual({ ok: false, reason: "invalid_subject" });
    }
  });

  it("the IdP's keys unreachable: keys_unavailable, not an accepted token", async () => {
    // discovery answers, but the JWKS address refuses connections
    const broken = http.createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ issuer: brokenIssuer, authorization_endpoint: `${brokenIssuer}/auth`, token_endpoint: `${brokenIssuer}/token`, jwks_uri: "http://127.0.0.1:1/jwks", response_types_supported: ["code"] }));
    });
    await new Promise<void>((r) => broken.listen(0, "127.0.0.1", r));
    const brokenIssuer = `http://127.0.0.1:${(broken.address() as AddressInfo).port}`;
    try {
      expect(await rp({}, brokenIssuer).checkIdToken(await token({ iss: brokenIssuer }), "n-1")).toEqual({ ok: false, reason: "keys_unavailable" });
    } finally {
      await new Promise((r) => broken.close(r));
    }
  });
});

/** Real time: openid-client checks the code exchange's ID token against the real clock. */
const realNow = () => Math.floor(Date.now() / 1000);
const live = (claims: JWTPayload & Record<string, unknown> = {}, o: Parameters<typeof token>[1] = {}) => token({ iat: realNow() - 10, exp: realNow() + 600, ...claims }, o);
const FLOW = { state: "s-1", nonce: "n-1", verifier: "v".repeat(43) };
const callback = (query: string) => new URL(`https://alpha.octw.test/_edge/oidc/callback?${query}`);
const tokenOk = async (over: Record<string, unknown> = {}) => ({ status: 200, body: { access_token: "at", token_type: "Bearer", expires_in: 300, id_token: await live(), refresh_token: "rt-1", ...over } });

describe("the code exchange (finishLogin)", () => {
  beforeEach(resetIdp);

  it("control: a good answer signs in, with the refresh token; a configured client secret is sent as HTTP Basic, none without one", async () => {
    const good = await tokenOk();
    const seen: { auth: string | undefined; clientId: string | null; verifier: string | null }[] = [];
    idp.token = (body, auth) => (seen.push({ auth, clientId: body.get("client_id"), verifier: body.get("code_verifier") }), good);
    const r = await rp({}, issuer, { clientSecret: "s3cret", nowSec: realNow }).finishLogin(callback("code=c-1&state=s-1"), FLOW);
    expect(r).toMatchObject({ ok: true, claims: { sub: "person-1" }, refreshToken: "rt-1" });
    // RFC 6749 §2.3.1: id and secret form-encoded, then Basic
    const basic = /^Basic (.+)$/.exec(seen[0]?.auth ?? "")?.[1];
    expect(Buffer.from(basic ?? "", "base64").toString("utf8").split(":").map(decodeURIComponent)).toEqual([CLIENT, "s3cret"]);
    expect(seen[0]?.verifier).toBe(FLOW.verifier);
    const pub = await rp({}, issuer, { nowSec: realNow }).finishLogin(callback("code=c-1&state=s-1"), FLOW);
    expect(pub.ok).toBe(true);
    expect(seen[1]).toMatchObject({ auth: undefined, clientId: CLIENT });
  });

  it("each failure is a reason code, never the IdP's text", async () => {
    const run = async (query: string, answer?: () => { status: number; body: unknown } | Promise<{ status: number; body: unknown }>) => {
      if (answer) {
        const a = await answer();
        idp.token = () => a;
      }
      return rp({}, issuer, { nowSec: realNow }).finishLogin(callback(query), FLOW);
    };
    expect(await run("error=access_denied&error_description=secret-text&state=s-1")).toEqual({ ok: false, reason: "idp_error_response" });
    expect(await run("code=c-1&state=s-2", () => tokenOk())).toEqual({ ok: false, reason: "wrong_state" });
    expect(await run("code=c-1&state=s-1", () => ({ status: 400, body: { error: "invalid_grant", error_description: "code c-1 used" } }))).toEqual({ ok: false, reason: "token_endpoint_refused" });
    expect(await run("code=c-1&state=s-1", async () => tokenOk({ id_token: await live({ nonce: "n-2" }) }))).toEqual({ ok: false, reason: "wrong_nonce" });
    expect(await run("code=c-1&state=s-1", async () => tokenOk({ id_token: await live({ iss: "http://127.0.0.1:1" }) }))).toEqual({ ok: false, reason: "wrong_issuer" });
    expect(await run("code=c-1&state=s-1", async () => tokenOk({ id_token: await live({ aud: "another" }) }))).toEqual({ ok: false, reason: "wrong_audience" });
    expect(await run("code=c-1&state=s-1", async () => tokenOk({ id_token: await live({}, { key: stranger.privateKey }) }))).toEqual({ ok: false, reason: "bad_signature" });
    // no ID token in the answer: openid-client refuses it (idTokenExpected), before the edge would
    expect(await run("code=c-1&state=s-1", async () => tokenOk({ id_token: undefined }))).toEqual({ ok: false, reason: "rp_check_failed" });
    // no access token: a check openid-client makes that has no reason of its own
    expect(await run("code=c-1&state=s-1", () => ({ status: 200, body: { token_type: "Bearer" } }))).toEqual({ ok: false, reason: "rp_check_failed" });
    expect(await run("code=c-1&state=s-1", () => ({ status: 502, body: "<html>bad gateway</html>" }))).toEqual({ ok: false, reason: "idp_unusable_response" });
  });

  it("the configured clock tolerance reaches openid-client's own checks too", async () => {
    const late = await live({ iat: realNow() - 600, exp: realNow() - 60 });
    idp.token = () => ({ status: 200, body: { access_token: "at", token_type: "Bearer", id_token: late } });
    // 60 s past exp: inside a 120 s tolerance (accepted), outside the default 30 s (refused)
    expect((await rp({ clockToleranceSec: 120 }, issuer, { nowSec: realNow }).finishLogin(callback("code=c-1&state=s-1"), FLOW)).ok).toBe(true);
    expect((await rp({ clockToleranceSec: 30 }, issuer, { nowSec: realNow }).finishLogin(callback("code=c-1&state=s-1"), FLOW)).ok).toBe(false);
  });

  it("an ID token with a symmetric algorithm in the code exchange: algorithm_not_allowed", async () => {
    const hs = await new SignJWT({ iss: issuer, aud: CLIENT, sub: "person-1", iat: realNow() - 10, exp: realNow() + 600, nonce: "n-1" }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode("k".repeat(32)));
    idp.token = () => ({ status: 200, body: { access_token: "at", token_type: "Bearer", id_token: hs } });
    expect(await rp({}, issuer, { nowSec: realNow }).finishLogin(callback("code=c-1&state=s-1"), FLOW)).toEqual({ ok: false, reason: "algorithm_not_allowed" });
  });

  it("a token endpoint slower than the timeout: idp_unusable_response, within the bound", async () => {
    const slow = await tokenOk();
    idp.token = () => ({ ...slow, delayMs: 3_000 });
    const t0 = performance.now();
    expect(await rp({ timeoutMs: 500 }, issuer, { nowSec: realNow }).finishLogin(callback("code=c-1&state=s-1"), FLOW)).toEqual({ ok: false, reason: "idp_unusable_response" });
    expect(performance.now() - t0).toBeLessThan(2_900);
  });

  it("the token endpoint unreachable: idp_unreachable", async () => {
    idp.meta = { token_endpoint: "http://127.0.0.1:1/token" };
    expect(await rp({}, issuer, { nowSec: realNow }).finishLogin(callback("code=c-1&state=s-1"), FLOW)).toEqual({ ok: false, reason: "idp_unreachable" });
  });
});

describe("refresh, revocation, logout, discovery", () => {
  beforeEach(resetIdp);

  it("refresh without a new ID token keeps the subject until the next re-check, and the old refresh token when no new one comes", async () => {
    idp.token = () => ({ status: 200, body: { access_token: "at", token_type: "Bearer" } });
    const now = realNow();
    const r = await rp({ recheckSec: 120 }, issuer, { nowSec: () => now }).refresh("rt-old", "person-1");
    expect(r).toEqual({ ok: true, claims: { sub: "person-1", exp: now + 120, iat: now }, refreshToken: "rt-old", idTokenIssued: false });
    idp.token = () => ({ status: 200, body: { access_token: "at", token_type: "Bearer", refresh_token: "rt-new" } });
    expect(await rp({}, issuer, { nowSec: realNow }).refresh("rt-old", "person-1")).toMatchObject({ ok: true, refreshToken: "rt-new" });
  });

  it("refresh with a new ID token checks it like the first, and the subject may not change", async () => {
    const good = await live({}, { omit: ["nonce"] });
    idp.token = () => ({ status: 200, body: { access_token: "at", token_type: "Bearer", id_token: good } });
    expect(await rp({}, issuer, { nowSec: realNow }).refresh("rt", "person-1")).toMatchObject({ ok: true, idTokenIssued: true, claims: { sub: "person-1" }, refreshToken: "rt" });
    const other = await live({ sub: "person-2" }, { omit: ["nonce"] });
    idp.token = () => ({ status: 200, body: { access_token: "at", token_type: "Bearer", id_token: other } });
    expect(await rp({}, issuer, { nowSec: realNow }).refresh("rt", "person-1")).toEqual({ ok: false, reason: "subject_changed" });
    const long = await token({ iat: realNow() - 10, exp: realNow() - 10 + MAX_LIFETIME + 60 }, { omit: ["nonce"] });
    idp.token = () => ({ status: 200, body: { access_token: "at", token_type: "Bearer", id_token: long } });
    expect(await rp({}, issuer, { nowSec: realNow }).refresh("rt", "person-1")).toEqual({ ok: false, reason: "token_lifetime_too_long" });
    idp.token = () => ({ status: 400, body: { error: "invalid_grant" } });
    expect(await rp({}, issuer, { nowSec: realNow }).refresh("rt", "person-1")).toEqual({ ok: false, reason: "token_endpoint_refused" });
  });

  it("revocation: the refresh token with its type hint; false without an endpoint or when it fails", async () => {
    expect(await rp().revoke("rt-1")).toBe(false);
    const forms: URLSearchParams[] = [];
    idp.meta = { revocation_endpoint: `${issuer}/revoke` };
    idp.revocation = (f) => (forms.push(f), 200);
    expect(await rp().revoke("rt-1")).toBe(true);
    expect(forms[0]?.get("token")).toBe("rt-1");
    expect(forms[0]?.get("token_type_hint")).toBe("refresh_token");
    idp.revocation = () => 500;
    expect(await rp().revoke("rt-1")).toBe(false);
  });

  it("RP-initiated logout: the IdP's end-session URL with client and return address, or none", async () => {
    expect(await rp().endSessionUrl("https://alpha.octw.test/_edge/oidc/signed-out")).toBeUndefined();
    idp.meta = { end_session_endpoint: `${issuer}/logout` };
    const u = await rp().endSessionUrl("https://alpha.octw.test/_edge/oidc/signed-out");
    expect(u?.origin + (u?.pathname ?? "")).toBe(`${issuer}/logout`);
    expect(u?.searchParams.get("client_id")).toBe(CLIENT);
    expect(u?.searchParams.get("post_logout_redirect_uri")).toBe("https://alpha.octw.test/_edge/oidc/signed-out");
  });

  it("the login URL: code flow with PKCE S256, state, nonce, the scopes; prompt only when configured", async () => {
    const plain = await rp({ scopes: ["openid", "groups"] }).startLogin("https://alpha.octw.test/_edge/oidc/callback");
    const q = plain.url.searchParams;
    expect(q.get("response_type")).toBe("code");
    expect(q.get("client_id")).toBe(CLIENT);
    expect(q.get("redirect_uri")).toBe("https://alpha.octw.test/_edge/oidc/callback");
    expect(q.get("scope")).toBe("openid groups");
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("code_challenge")).toBe(createHash("sha256").update(plain.verifier).digest("base64url"));
    expect(q.get("state")).toBe(plain.state);
    expect(q.get("nonce")).toBe(plain.nonce);
    expect(q.has("prompt")).toBe(false);
    const prompted = await rp({ prompt: "login" }).startLogin("https://alpha.octw.test/_edge/oidc/callback");
    expect(prompted.url.searchParams.get("prompt")).toBe("login");
  });

  it("discovery once per relying party; again after a failure; an IdP without jwks_uri is refused, naming it", async () => {
    const r = rp();
    await r.checkIdToken(await token(), "n-1");
    await r.checkIdToken(await token(), "n-1");
    expect(idp.discoveries).toBe(1);
    idp.failDiscoveries = 1;
    const later = rp();
    await expect(later.checkIdToken(await token(), "n-1")).rejects.toThrow();
    expect((await later.checkIdToken(await token(), "n-1")).ok).toBe(true);
    idp.meta = { jwks_uri: undefined };
    await expect(rp().checkIdToken(await token(), "n-1")).rejects.toThrow(/jwks_uri/);
  });

  it("the JWKS fetch is bounded by the configured timeout; requests go through the given fetch", async () => {
    idp.jwksDelayMs = 4_000;
    const t0 = performance.now();
    const r = await rp({ timeoutMs: 300 }).checkIdToken(await token(), "n-1");
    expect(r.ok).toBe(false);
    // jose's own default would wait 5 s
    expect(performance.now() - t0).toBeLessThan(3_000);
    idp.jwksDelayMs = 0;
    const calls: string[] = [];
    const counting: typeof fetch = (input, init) => (calls.push(String(input instanceof Request ? input.url : input)), fetch(input, init));
    await rp({}, issuer, { fetch: counting }).revoke("rt");
    expect(calls.some((c) => c.endsWith("/.well-known/openid-configuration"))).toBe(true);
  });
});
