// The edge's own ID-token rules (RelyingParty.checkIdToken), rule by rule, each at its boundary
// with a control that passes: issuer, audience, algorithm allowlist, signature and key, exp/nbf
// with the clock tolerance, iat not in the future, the bounded lifetime (exp − iat), the
// authorized party when there are several audiences, the nonce and a header-safe subject.
// A minimal IdP on a loopback port serves discovery and the JWKS; tokens are signed here, so
// each claim can be set to exactly the value a rule is about (the sign-in flow against a real
// IdP is relying-party.test.ts).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

function rp(over: Record<string, unknown> = {}, iss = issuer): RelyingParty {
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
  return new RelyingParty(config, { nowSec: () => NOW });
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
    const json = (b: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(b));
    };
    if (req.url === "/.well-known/openid-configuration") {
      json({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, response_types_supported: ["code"], subject_types_supported: ["public"], id_token_signing_alg_values_supported: ["ES256", "RS256"] });
    } else if (req.url === "/jwks") {
      json(jwks);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe("the edge's ID token rules (checkIdToken)", () => {
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
