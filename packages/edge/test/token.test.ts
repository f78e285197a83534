import http from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEdgeConfig, type EdgeConfig } from "@octw/contracts";
import { TokenVerifier, extractToken } from "../src/token";
import { AUDIENCE, ISSUER, claims, makeIssuer, tamper, unsignedToken, type Issuer } from "./helpers";

function jwtConfig(keys: unknown, extra: Record<string, unknown> = {}): EdgeConfig["jwt"] {
  return parseEdgeConfig({
    routing: { hostDomain: "octw.test" },
    tenants: [],
    jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256", "RS256", "EdDSA"], keys, ...extra },
  }).jwt;
}

let es: Issuer;
let rs: Issuer;
let ed: Issuer;
let stranger: Issuer;
let verifier: TokenVerifier;

beforeAll(async () => {
  es = await makeIssuer("ES256");
  rs = await makeIssuer("RS256");
  ed = await makeIssuer("EdDSA");
  stranger = await makeIssuer("ES256", "k-stranger");
  verifier = await TokenVerifier.create(
    jwtConfig({ kind: "static", jwks: [es.publicJwk, ed.publicJwk], pems: [{ pem: rs.publicPem, alg: "RS256", kid: rs.kid }] }),
  );
});

describe("token matrix (static keys)", () => {
  it("accepts valid ES256, RS256 (PEM) and EdDSA tokens and returns sub, tenant, role", async () => {
    for (const iss of [es, rs, ed]) {
      const r = await verifier.verify(await iss.sign(claims("acme", "viewer")));
      expect(r, iss.alg).toMatchObject({ ok: true, sub: "alice@example.test", tenant: "acme", roleClaim: "viewer" });
    }
  });
  it("accepts a token without kid when the alg picks a key", async () => {
    expect(await verifier.verify(await es.sign(claims("acme", "viewer"), { kid: null }))).toMatchObject({ ok: true });
  });
  it("rejects an expired token (beyond the skew)", async () => {
    expect(await verifier.verify(await es.sign(claims("acme", "viewer"), { expSec: -60 }))).toEqual({ ok: false, reason: "token_expired" });
  });
  it("tolerates expiry inside the configured skew", async () => {
    expect(await verifier.verify(await es.sign(claims("acme", "viewer"), { expSec: -10 }))).toMatchObject({ ok: true });
  });
  it("rejects a token not yet valid", async () => {
    const nbf = Math.floor(Date.now() / 1000) + 120;
    expect(await verifier.verify(await es.sign(claims("acme", "viewer"), { nbf }))).toEqual({ ok: false, reason: "token_not_yet_valid" });
  });
  it("rejects the wrong issuer and the wrong audience", async () => {
    expect(await verifier.verify(await es.sign(claims("acme", "viewer"), { iss: "https://evil.test" }))).toEqual({ ok: false, reason: "wrong_issuer" });
    expect(await verifier.verify(await es.sign(claims("acme", "viewer"), { aud: "other" }))).toEqual({ ok: false, reason: "wrong_audience" });
  });
  it("rejects alg none", async () => {
    const now = Math.floor(Date.now() / 1000);
    const t = unsignedToken({ ...claims("acme", "admin"), iss: ISSUER, aud: AUDIENCE, exp: now + 60 });
    expect(await verifier.verify(t)).toMatchObject({ ok: false, reason: "algorithm_not_allowed" });
  });
  it("rejects HS256 signed with the public key (key confusion)", async () => {
    for (const secret of [es.publicPem, rs.publicPem, JSON.stringify(es.publicJwk)]) {
      const t = await new SignJWT(claims("acme", "admin"))
        .setProtectedHeader({ alg: "HS256", kid: es.kid })
        .setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime("1m")
        .sign(new TextEncoder().encode(secret));
      expect(await verifier.verify(t)).toMatchObject({ ok: false, reason: "algorithm_not_allowed" });
    }
  });
  it("rejects a token signed by an unknown key", async () => {
    expect(await verifier.verify(await stranger.sign(claims("acme", "viewer")))).toEqual({ ok: false, reason: "unknown_key" });
    // Same kid as a trusted key, different key: the signature fails.
    expect(await verifier.verify(await stranger.sign(claims("acme", "viewer"), { kid: es.kid }))).toEqual({ ok: false, reason: "bad_signature" });
  });
  it("rejects a tampered payload", async () => {
    const good = await es.sign(claims("acme", "viewer"));
    const now = Math.floor(Date.now() / 1000);
    const forged = tamper(good, { ...claims("acme", "admin"), iss: ISSUER, aud: AUDIENCE, exp: now + 60 });
    expect(await verifier.verify(forged)).toEqual({ ok: false, reason: "bad_signature" });
  });
  it("rejects a missing tenant claim and a missing subject", async () => {
    expect(await verifier.verify(await es.sign(claims(undefined, "viewer")))).toMatchObject({ ok: false, reason: "missing_tenant" });
    expect(await verifier.verify(await es.sign({ tenant: "acme", role: "viewer" }))).toMatchObject({ ok: false, reason: "missing_subject" });
  });
  it("rejects a subject that cannot travel safely in a header", async () => {
    expect(await verifier.verify(await es.sign(claims("acme", "viewer", "a\r\nx-openclaw-scopes: operator.admin")))).toMatchObject({ ok: false, reason: "invalid_subject" });
  });
  it("rejects tokens that live longer than allowed", async () => {
    expect(await verifier.verify(await es.sign(claims("acme", "viewer"), { expSec: 7 * 86_400 }))).toEqual({ ok: false, reason: "token_lifetime_too_long" });
  });
  it("rejects missing, garbage and oversized tokens", async () => {
    expect(await verifier.verify(undefined)).toEqual({ ok: false, reason: "no_token" });
    expect(await verifier.verify("not-a-jwt")).toEqual({ ok: false, reason: "malformed_token" });
    expect(await verifier.verify("a.b.c")).toMatchObject({ ok: false, reason: "malformed_token" });
    expect(await verifier.verify("x".repeat(20_000))).toEqual({ ok: false, reason: "malformed_token" });
  });
  it("rejects an algorithm the config does not allow even with a trusted key", async () => {
    const onlyRs = await TokenVerifier.create({ ...jwtConfig({ kind: "static", jwks: [es.publicJwk, rs.publicJwk] }), algorithms: ["RS256"] });
    expect(await onlyRs.verify(await es.sign(claims("acme", "viewer")))).toMatchObject({ ok: false, reason: "algorithm_not_allowed" });
    expect(await onlyRs.verify(await rs.sign(claims("acme", "viewer")))).toMatchObject({ ok: true });
  });
  it("uses configured claim names", async () => {
    const v = await TokenVerifier.create(jwtConfig({ kind: "static", jwks: [es.publicJwk] }, {
      tenantClaim: "https://octw/tenant", roleClaim: "https://octw/roles", userClaim: "email",
    }));
    const t = await es.sign({ sub: "u1", email: "bob@example.test", "https://octw/tenant": "acme", "https://octw/roles": ["member"] });
    expect(await v.verify(t)).toMatchObject({ ok: true, sub: "bob@example.test", tenant: "acme", roleClaim: ["member"] });
    expect(await v.verify(await es.sign(claims("acme", "member")))).toMatchObject({ ok: false, reason: "missing_subject" });
  });
});

describe("verified-token cache", () => {
  it("remembers verified tokens only, still checks exp and nbf on every use, and can be disabled", async () => {
    let now = Math.floor(Date.now() / 1000);
    const v = await TokenVerifier.create(jwtConfig({ kind: "static", jwks: [es.publicJwk] }, { clockToleranceSec: 0 }), () => now);
    const t = await es.sign(claims("acme", "viewer"), { expSec: 60, nbf: now + 10 });
    expect(await v.verify(t)).toMatchObject({ ok: false, reason: "token_not_yet_valid" });
    expect(v.cachedTokens).toBe(0); // failures are not remembered
    now += 20;
    expect(await v.verify(t)).toMatchObject({ ok: true });
    expect(v.cachedTokens).toBe(1);
    now -= 15; // clock went back before nbf: the cached entry still checks nbf
    expect(await v.verify(t)).toMatchObject({ ok: false, reason: "token_not_yet_valid" });
    now += 15 + 41; // past exp
    expect(await v.verify(t)).toMatchObject({ ok: false, reason: "token_expired" });

    const off = await TokenVerifier.create(jwtConfig({ kind: "static", jwks: [es.publicJwk] }, { verifiedCacheSec: 0 }));
    expect(await off.verify(await es.sign(claims("acme", "viewer")))).toMatchObject({ ok: true });
    expect(off.cachedTokens).toBe(0);
  });
  it("is bounded", async () => {
    const v = await TokenVerifier.create(jwtConfig({ kind: "static", jwks: [es.publicJwk] }, { verifiedCacheMax: 3 }));
    for (let i = 0; i < 5; i++) expect(await v.verify(await es.sign(claims("acme", "viewer", `u${i}`)))).toMatchObject({ ok: true });
    expect(v.cachedTokens).toBe(3);
  });
  it("forgets a token after verifiedCacheSec, so a key removed from the JWKS stops working", async () => {
    let now = Math.floor(Date.now() / 1000);
    let keys: object[] = [es.publicJwk];
    const server = http.createServer((_q, r) => r.end(JSON.stringify({ keys })));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const v = await TokenVerifier.create(jwtConfig({ kind: "jwks-url", url, allowHttpLoopback: true, cacheMaxAgeMs: 1_000, cooldownMs: 1_000 }, { verifiedCacheSec: 5 }), () => now);
      const t = await es.sign(claims("acme", "viewer"), { expSec: 120 });
      expect(await v.verify(t)).toMatchObject({ ok: true });
      keys = [ed.publicJwk]; // the issuer rotates es out
      await new Promise((r) => setTimeout(r, 1_100)); // JWKS cache of jose expires
      expect(await v.verify(t)).toMatchObject({ ok: true }); // still remembered
      now += 5; // exactly verifiedCacheSec later: the entry has expired
      expect(await v.verify(t)).toMatchObject({ ok: false, reason: "unknown_key" });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe("JWKS URL", () => {
  let server: http.Server;
  let url: string;
  let fetches = 0;
  let keys: object[] = [];
  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      fetches++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("caches keys, refetches on an unknown kid, and rate-limits refetches", async () => {
    keys = [es.publicJwk];
    const v = await TokenVerifier.create(jwtConfig({ kind: "jwks-url", url, allowHttpLoopback: true, cooldownMs: 1_000, cacheMaxAgeMs: 600_000 }));
    const viewer = claims("acme", "viewer");
    expect(await v.verify(await es.sign(viewer))).toMatchObject({ ok: true });
    expect(await v.verify(await es.sign(viewer))).toMatchObject({ ok: true });
    expect(fetches).toBe(1); // cached

    // A key rotated in at the issuer: the unknown kid triggers one refetch after the cooldown.
    keys = [es.publicJwk, ed.publicJwk];
    await new Promise((r) => setTimeout(r, 1_050));
    expect(await v.verify(await ed.sign(viewer))).toMatchObject({ ok: true });
    expect(fetches).toBe(2);

    // Unknown kids in a burst: no refetch inside the cooldown, so they cannot hammer the issuer.
    for (let i = 0; i < 20; i++) {
      expect(await v.verify(await stranger.sign(viewer, { kid: `random-${i}` }))).toMatchObject({ ok: false, reason: "unknown_key" });
    }
    expect(fetches).toBe(2);
  });

  it("fails closed when the JWKS cannot be fetched", async () => {
    const v = await TokenVerifier.create(jwtConfig({ kind: "jwks-url", url: "http://127.0.0.1:1/jwks.json", allowHttpLoopback: true, timeoutMs: 500 }));
    expect(await v.verify(await es.sign(claims("acme", "viewer")))).toMatchObject({ ok: false });
  });
});

describe("token extraction", () => {
  it("prefers Authorization: Bearer, falls back to the cookie", () => {
    expect(extractToken("Bearer a.b.c", "x.y.z")).toEqual({ token: "a.b.c", source: "bearer" });
    expect(extractToken("bearer a.b.c", undefined)).toEqual({ token: "a.b.c", source: "bearer" });
    expect(extractToken(undefined, "x.y.z")).toEqual({ token: "x.y.z", source: "cookie" });
    expect(extractToken(undefined, undefined)).toEqual({ token: undefined, source: "none" });
    // A present but malformed Authorization never falls back to the cookie.
    expect(extractToken("Basic abc", "x.y.z")).toEqual({ token: undefined, source: "bearer" });
  });
});

describe("token lifetime is exp − iat (what the issuer granted), not exp − now", () => {
  const NOW = 1_900_000_000;
  const DAY = 86_400;
  /** Signs exactly the given iat/exp (undefined iat: no iat claim at all). */
  const signAt = (iat: number | undefined, exp: number) => {
    const jwt = new SignJWT({ ...claims("acme", "viewer"), ...(iat !== undefined ? { iat } : {}) })
      .setProtectedHeader({ alg: "ES256", kid: es.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(exp);
    return jwt.sign(es.privateKey);
  };
  let atNow: TokenVerifier;
  beforeAll(async () => {
    atNow = await TokenVerifier.create(jwtConfig({ kind: "static", jwks: [es.publicJwk] }, { verifiedCacheSec: 0 }), () => NOW);
  });

  it("an old week-long token with an hour left is refused (exp − now would have let it in)", async () => {
    expect(await atNow.verify(await signAt(NOW - 7 * DAY + 3_600, NOW + 3_600))).toEqual({ ok: false, reason: "token_lifetime_too_long" });
  });
  it("without iat the lifetime is unknown: refused while maxLifetimeSec is on, accepted when it is 0", async () => {
    const t = await signAt(undefined, NOW + 600);
    expect(await atNow.verify(t)).toEqual({ ok: false, reason: "missing_issued_at" });
    const off = await TokenVerifier.create(jwtConfig({ kind: "static", jwks: [es.publicJwk] }, { maxLifetimeSec: 0 }), () => NOW);
    expect(await off.verify(t)).toMatchObject({ ok: true });
  });
  it("an iat in the future cannot make a ten-year token look short; inside the skew it is fine", async () => {
    expect(await atNow.verify(await signAt(NOW + 3_650 * DAY - 3_600, NOW + 3_650 * DAY))).toEqual({ ok: false, reason: "invalid_issued_at" });
    expect(await atNow.verify(await signAt(NOW + 10, NOW + 600))).toMatchObject({ ok: true });
  });
  it("property: accepted exactly when iat is present, not in the future, exp − iat ≤ max and exp not past", async () => {
    const tol = 30;
    const max = DAY;
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.integer({ min: -10 * DAY, max: 10 * DAY }), { nil: undefined }),
        fc.integer({ min: -2 * DAY, max: 3 * DAY }),
        async (iatOffset, lifetime) => {
          const iat = iatOffset === undefined ? undefined : NOW + iatOffset;
          const exp = (iat ?? NOW) + lifetime;
          const r = await atNow.verify(await signAt(iat, exp));
          const expected = iat !== undefined && iat - tol <= NOW && exp - iat <= max && exp > NOW - tol;
          expect(r.ok, JSON.stringify({ iat, exp, r })).toBe(expected);
          // The bound the check exists for: nothing accepted outlives now + max + skew.
          if (r.ok) expect(exp - NOW).toBeLessThanOrEqual(max + tol);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// Boundaries and reason codes, each pinned exactly (mutation testing showed which of them no
// test above could tell apart). Time is injected; every token is signed with exactly the
// claims given (no iat/exp added).
describe("token edges: exact boundaries and reasons", () => {
  const NOW = 1_900_000_000;
  const signRaw = (payload: Record<string, unknown>) => new SignJWT(payload).setProtectedHeader({ alg: "ES256", kid: es.kid }).sign(es.privateKey);
  const base = (extra: Record<string, unknown> = {}) => ({ sub: "alice@example.test", tenant: "acme", iss: ISSUER, aud: AUDIENCE, iat: NOW, exp: NOW + 300, ...extra });
  const verifierAt = (now: () => number, extra: Record<string, unknown> = {}) =>
    TokenVerifier.create(jwtConfig({ kind: "static", jwks: [es.publicJwk] }, extra), now);

  it("an empty token is no token", async () => {
    expect(await verifier.verify("")).toEqual({ ok: false, reason: "no_token" });
  });

  it("a correctly signed token longer than 16 KiB is refused before verification; 16 KiB exactly is verified", async () => {
    const v = await verifierAt(() => NOW, { maxLifetimeSec: 0 });
    const sized = async (len: number) => {
      // base64url grows by 4 chars per 3 bytes: search the padding that gives exactly len.
      for (let pad = Math.floor(len * 0.7); pad < len; pad++) {
        const t = await signRaw(base({ pad: "x".repeat(pad) }));
        if (t.length === len) return t;
        if (t.length > len) break;
      }
      throw new Error(`no token of length ${len}`);
    };
    expect(await v.verify(await sized(16_384))).toMatchObject({ ok: true });
    expect(await v.verify(await sized(16_386))).toEqual({ ok: false, reason: "malformed_token" });
  });

  it("lifetime: exp − iat equal to the maximum is allowed, one second more is not", async () => {
    const v = await verifierAt(() => NOW, { maxLifetimeSec: 600, verifiedCacheSec: 0 });
    expect(await v.verify(await signRaw(base({ exp: NOW + 600 })))).toMatchObject({ ok: true });
    expect(await v.verify(await signRaw(base({ exp: NOW + 601 })))).toEqual({ ok: false, reason: "token_lifetime_too_long" });
  });

  it("iat: at now + skew exactly is allowed, one second later is not; a non-number iat is invalid", async () => {
    const v = await verifierAt(() => NOW, { clockToleranceSec: 30, verifiedCacheSec: 0 });
    expect(await v.verify(await signRaw(base({ iat: NOW + 30 })))).toMatchObject({ ok: true });
    expect(await v.verify(await signRaw(base({ iat: NOW + 31 })))).toEqual({ ok: false, reason: "invalid_issued_at" });
    expect(await v.verify(await signRaw(base({ iat: "soon" })))).toEqual({ ok: false, reason: "invalid_issued_at" });
  });

  it("exp is required; a non-number exp is refused", async () => {
    const v = await verifierAt(() => NOW, { verifiedCacheSec: 0 });
    const { exp: _exp, ...noExp } = base();
    expect(await v.verify(await signRaw(noExp))).toEqual({ ok: false, reason: "token_expired" });
    expect(await v.verify(await signRaw(base({ exp: "later" })))).toEqual({ ok: false, reason: "token_expired" });
  });

  it("subject: empty or not a string is missing; one printable character is fine", async () => {
    const v = await verifierAt(() => NOW, { verifiedCacheSec: 0 });
    expect(await v.verify(await signRaw(base({ sub: "" })))).toEqual({ ok: false, reason: "missing_subject" });
    expect(await v.verify(await signRaw(base({ sub: 123 })))).toEqual({ ok: false, reason: "missing_subject" });
    expect(await v.verify(await signRaw(base({ sub: "a" })))).toMatchObject({ ok: true, sub: "a" });
    expect(await v.verify(await signRaw(base({ sub: " a" })))).toEqual({ ok: false, reason: "invalid_subject" });
  });

  it("tenant: empty or not a string is missing (the subject is kept for the audit)", async () => {
    const v = await verifierAt(() => NOW, { verifiedCacheSec: 0 });
    expect(await v.verify(await signRaw(base({ tenant: "" })))).toEqual({ ok: false, reason: "missing_tenant", sub: "alice@example.test" });
    expect(await v.verify(await signRaw(base({ tenant: 7 })))).toEqual({ ok: false, reason: "missing_tenant", sub: "alice@example.test" });
  });

  it("a cached token expires at exp + skew exactly, as an uncached one does", async () => {
    let now = NOW;
    const v = await verifierAt(() => now, { clockToleranceSec: 30, verifiedCacheSec: 300 });
    const t = await signRaw(base({ exp: NOW + 60 }));
    expect(await v.verify(t)).toMatchObject({ ok: true });
    now = NOW + 60 + 10; // past exp, inside the skew: still valid from the cache
    expect(await v.verify(t)).toMatchObject({ ok: true });
    expect(v.cachedTokens).toBe(1);
    now = NOW + 60 + 30;
    expect(await v.verify(t)).toEqual({ ok: false, reason: "token_expired" });
  });

  it("a cached token with nbf stays valid inside the skew before nbf, and on every later use", async () => {
    let now = NOW;
    const v = await verifierAt(() => now, { clockToleranceSec: 30, verifiedCacheSec: 300 });
    const t = await signRaw(base({ nbf: NOW + 10 }));
    expect(await v.verify(t)).toMatchObject({ ok: true }); // 10 s early, inside the skew
    expect(await v.verify(t)).toMatchObject({ ok: true }); // cached
    now = NOW - 20; // nbf − skew exactly: still valid
    expect(await v.verify(t)).toMatchObject({ ok: true });
    now = NOW - 21;
    expect(await v.verify(t)).toEqual({ ok: false, reason: "token_not_yet_valid" });
  });

  it("an entry past verifiedCacheSec is dropped, and not re-added when the token now fails", async () => {
    let now = NOW;
    const v = await verifierAt(() => now, { clockToleranceSec: 0, verifiedCacheSec: 5 });
    const t = await signRaw(base({ exp: NOW + 60 }));
    expect(await v.verify(t)).toMatchObject({ ok: true });
    expect(v.cachedTokens).toBe(1);
    now = NOW + 100;
    expect(await v.verify(t)).toEqual({ ok: false, reason: "token_expired" });
    expect(v.cachedTokens).toBe(0);
  });
});

describe("token edges: key-set failures", () => {
  const serve = async (handler: http.RequestListener) => {
    const server = http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`, close: () => new Promise<void>((r) => server.close(() => r())) };
  };
  const through = (url: string) => TokenVerifier.create(jwtConfig({ kind: "jwks-url", url, allowHttpLoopback: true, timeoutMs: 500 }));

  it("no answer from the key server: keys_unavailable", async () => {
    expect(await (await through("http://127.0.0.1:1/jwks.json")).verify(await es.sign(claims("acme", "viewer")))).toEqual({ ok: false, reason: "keys_unavailable" });
  });

  it("a key set that is not one (JWKSInvalid), or comes too late (JWKSTimeout): keys_unavailable", async () => {
    const bad = await serve((_q, r) => { r.setHeader("content-type", "application/json"); r.end(JSON.stringify({ keys: "none" })); });
    const slow = await serve((_q, r) => { setTimeout(() => r.end(JSON.stringify({ keys: [] })), 1_500); });
    try {
      expect(await (await through(bad.url)).verify(await es.sign(claims("acme", "viewer")))).toEqual({ ok: false, reason: "keys_unavailable" });
      expect(await (await through(slow.url)).verify(await es.sign(claims("acme", "viewer")))).toEqual({ ok: false, reason: "keys_unavailable" });
    } finally {
      await bad.close();
      await slow.close();
    }
  });

  it("a key server answering non-200: refused as token_invalid (a JOSE error of no other kind)", async () => {
    const down = await serve((_q, r) => { r.statusCode = 503; r.end("{}"); });
    try {
      expect(await (await through(down.url)).verify(await es.sign(claims("acme", "viewer")))).toEqual({ ok: false, reason: "token_invalid" });
    } finally {
      await down.close();
    }
  });
});

describe("token extraction: the Authorization grammar", () => {
  it("exactly `Bearer <token>`: any run of spaces between, trailing spaces allowed, nothing else", () => {
    expect(extractToken("Bearer  a.b.c", undefined).token).toBe("a.b.c");
    expect(extractToken("Bearer a.b.c  ", undefined).token).toBe("a.b.c");
    for (const h of ["xBearer a.b.c", "Bearer a.b.c d", "Bearer a.b.c x", "Bearer", "Bearer "]) {
      expect(extractToken(h, "cookie.token.x"), h).toEqual({ token: undefined, source: "bearer" });
    }
  });
});
