import { describe, expect, it } from "vitest";
import { DEFAULT_ROLE_SCOPES, parseEdgeConfig } from "../src/index.js";

const minimal = {
  routing: { hostDomain: "octw.example" },
  tenants: [{ id: "acme", upstream: "http://10.64.0.37:18789" }],
  jwt: { issuer: "https://issuer.test", audience: "octw-edge", algorithms: ["ES256"], keys: { kind: "jwks-url", url: "https://issuer.test/jwks.json" } },
};

describe("edge config", () => {
  it("fills defaults: host routing only (path routing opt-in), role mapping, limits, cookie", () => {
    const c = parseEdgeConfig(minimal);
    expect(c.routing).toEqual({ hostDomain: "octw.example", pathRouting: false });
    expect(c.roles).toEqual(DEFAULT_ROLE_SCOPES);
    expect(c.roles.viewer).toEqual(["operator.read"]);
    expect(c.roles.member).toEqual(["operator.read", "operator.write"]);
    expect(c.roles.admin).toEqual(["operator.read", "operator.write", "operator.admin", "operator.approvals", "operator.pairing"]);
    expect(c.limits.maxHeaderBytes).toBe(16_384);
    expect(c.limits.perSubject).toEqual({ ratePerSec: 50, burst: 100 });
    expect(c.cookie).toEqual({ name: "octw_session", enabled: true });
    expect(c.headers.user).toBe("x-octw-user");
    expect(c.jwt.clockToleranceSec).toBe(30);
    expect(c.jwt.keys).toMatchObject({ cooldownMs: 30_000, cacheMaxAgeMs: 600_000 });
    expect(c.audit.bufferMax).toBe(10_000);
  });

  const bad: [string, (c: typeof minimal) => unknown, RegExp][] = [
    ["HS256 is not an allowed algorithm", (c) => ({ ...c, jwt: { ...c.jwt, algorithms: ["HS256"] } }), /jwt\.algorithms\[0\]: .*RS256.*ES256.*EdDSA/],
    ["none is not an allowed algorithm", (c) => ({ ...c, jwt: { ...c.jwt, algorithms: ["none"] } }), /jwt\.algorithms\[0\]/],
    ["empty algorithm list", (c) => ({ ...c, jwt: { ...c.jwt, algorithms: [] } }), /jwt\.algorithms/],
    ["clock skew bounded", (c) => ({ ...c, jwt: { ...c.jwt, clockToleranceSec: 3600 } }), /jwt\.clockToleranceSec: .*300/],
    ["tenant id must be a DNS label", (c) => ({ ...c, tenants: [{ id: "Acme_1", upstream: "http://10.0.0.5:18789" }] }), /tenants\[0\]\.id: a lower-case DNS label/],
    ["duplicate tenants", (c) => ({ ...c, tenants: [c.tenants[0], c.tenants[0]] }), /tenants: tenant ids must be unique/],
    ["upstream must be plain http on the tenant network", (c) => ({ ...c, tenants: [{ id: "a", upstream: "ftp://x" }] }), /tenants\[0\]\.upstream/],
    ["private JWK refused", (c) => ({ ...c, jwt: { ...c.jwt, keys: { kind: "static", jwks: [{ kty: "EC", d: "secret" }] } } }), /jwt\.keys\.jwks\[0\]: must be a public key/],
    ["static keys need a key", (c) => ({ ...c, jwt: { ...c.jwt, keys: { kind: "static" } } }), /jwt\.keys: static keys: give at least one/],
    ["unknown key source", (c) => ({ ...c, jwt: { ...c.jwt, keys: { kind: "file" } } }), /jwt\.keys\.kind/],
    ["scope must look like an OpenClaw scope", (c) => ({ ...c, roles: { viewer: ["read"] } }), /roles\.viewer\[0\]: an OpenClaw operator scope/],
    ["no routing at all", (c) => ({ ...c, routing: { pathRouting: false } }), /routing: set routing\.hostDomain \(host routing, one origin per tenant; recommended\) or enable routing\.pathRouting/],
    ["no routing by default (path routing is opt-in)", (c) => ({ ...c, routing: undefined }), /routing: set routing\.hostDomain/],
    ["JWKS over plain http", (c) => ({ ...c, jwt: { ...c.jwt, keys: { kind: "jwks-url", url: "http://issuer.test/jwks.json" } } }), /jwt\.keys\.url: must be an https: URL/],
    ["JWKS over http to a non-loopback host even with the test escape hatch", (c) => ({ ...c, jwt: { ...c.jwt, keys: { kind: "jwks-url", url: "http://issuer.test/jwks.json", allowHttpLoopback: true } } }), /jwt\.keys\.url: must be an https: URL/],
    ["JWKS over http to a name that says localhost (it could resolve anywhere)", (c) => ({ ...c, jwt: { ...c.jwt, keys: { kind: "jwks-url", url: "http://localhost:1/jwks.json", allowHttpLoopback: true } } }), /jwt\.keys\.url: must be an https: URL/],
    ["JWKS over http to loopback without the escape hatch", (c) => ({ ...c, jwt: { ...c.jwt, keys: { kind: "jwks-url", url: "http://127.0.0.1:1/jwks.json" } } }), /jwt\.keys\.url: must be an https: URL/],
    ["user header must not be the scopes header", (c) => ({ ...c, headers: { user: "x-openclaw-scopes" } }), /headers\.user: must not be x-openclaw-scopes/],
    ["missing jwt", (c) => ({ tenants: c.tenants }), /jwt: /],
  ];
  it("accepts https JWKS, and http only to a loopback literal with the explicit test escape hatch (positive controls)", () => {
    expect(parseEdgeConfig(minimal).jwt.keys).toMatchObject({ url: "https://issuer.test/jwks.json", allowHttpLoopback: false });
    for (const url of ["http://127.0.0.1:8080/jwks.json", "http://127.9.9.9/jwks.json", "http://[::1]:1/jwks.json"]) {
      expect(parseEdgeConfig({ ...minimal, jwt: { ...minimal.jwt, keys: { kind: "jwks-url", url, allowHttpLoopback: true } } }).jwt.keys, url).toMatchObject({ url });
    }
  });
  it("path routing only when asked for", () => {
    expect(parseEdgeConfig({ ...minimal, routing: { pathRouting: true } }).routing).toEqual({ pathRouting: true });
  });
  for (const [name, mutate, message] of bad) {
    it(`rejects: ${name}`, () => {
      expect(() => parseEdgeConfig(mutate(minimal))).toThrow(message);
    });
  }
});
