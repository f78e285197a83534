import { describe, expect, it } from "vitest";
import { parseRouterConfig } from "@octw/contracts";
import { buildTenantTable, checkToken, presentedToken, tenantByNetwork } from "../src/tenancy";
import { sha256 } from "./helpers";

const cfg = parseRouterConfig({
  tenants: [
    { id: "a", routerAddress: "10.64.0.35", subnet: "10.64.0.32/27", tokenSha256: sha256("ta"), providers: [] },
    { id: "b", routerAddress: "10.64.0.67", subnet: "10.64.0.64/27", tokenSha256: sha256("tb"), providers: [] },
  ],
});
const table = buildTenantTable(cfg.tenants);
const [a, b] = cfg.tenants as [typeof cfg.tenants[number], typeof cfg.tenants[number]];

describe("tenant by network", () => {
  it("arrival address and source subnet agree → that tenant (IPv4-mapped forms too)", () => {
    expect(tenantByNetwork(table, "10.64.0.35", "10.64.0.37")).toEqual({ ok: true, tenant: a });
    expect(tenantByNetwork(table, "::ffff:10.64.0.67", "::ffff:10.64.0.69")).toEqual({ ok: true, tenant: b });
  });
  it("source in another tenant's subnet → refused", () => {
    expect(tenantByNetwork(table, "10.64.0.35", "10.64.0.69")).toEqual({ ok: false, reason: "source_outside_network" });
  });
  it("arrival at an address that is no tenant's (control network, loopback) → refused", () => {
    expect(tenantByNetwork(table, "10.63.1.5", "10.64.0.37")).toEqual({ ok: false, reason: "unknown_network" });
    expect(tenantByNetwork(table, "127.0.0.1", "127.0.0.1")).toEqual({ ok: false, reason: "unknown_network" });
    expect(tenantByNetwork(table, undefined, undefined)).toEqual({ ok: false, reason: "unknown_network" });
  });
  it("an IPv6 source → refused", () => {
    expect(tenantByNetwork(table, "10.64.0.35", "fe80::1")).toEqual({ ok: false, reason: "source_outside_network" });
  });
});

describe("router token", () => {
  it("reads Bearer or x-api-key; two different values conflict", () => {
    expect(presentedToken({ authorization: "Bearer ta" })).toEqual({ token: "ta", conflict: false });
    expect(presentedToken({ "x-api-key": "ta" })).toEqual({ token: "ta", conflict: false });
    expect(presentedToken({ authorization: "Bearer ta", "x-api-key": "ta" })).toEqual({ token: "ta", conflict: false });
    expect(presentedToken({ authorization: "Bearer ta", "x-api-key": "tb" })).toEqual({ conflict: true });
    expect(presentedToken({ authorization: "Basic dGE6" })).toEqual({ conflict: false });
  });
  it("own token passes; another tenant's is told apart from a wrong one", () => {
    expect(checkToken(table, a, { authorization: "Bearer ta" })).toEqual({ ok: true });
    expect(checkToken(table, a, { authorization: "Bearer tb" })).toEqual({ ok: false, reason: "token_of_other_tenant" });
    expect(checkToken(table, b, { "x-api-key": "ta" })).toEqual({ ok: false, reason: "token_of_other_tenant" });
    expect(checkToken(table, a, { authorization: "Bearer nope" })).toEqual({ ok: false, reason: "invalid_token" });
    expect(checkToken(table, a, {})).toEqual({ ok: false, reason: "missing_token" });
    expect(checkToken(table, a, { authorization: "Bearer ta", "x-api-key": "tb" })).toEqual({ ok: false, reason: "ambiguous_token" });
  });
});

// Edges pinned one by one (mutation testing showed the tests above would pass without them).
describe("tenancy edges", () => {
  it("a source that is no IPv4 address is refused even for a subnet starting at 0.0.0.0 (where its 0 would match)", () => {
    const zero = buildTenantTable([{ ...a, routerAddress: "0.0.0.3", subnet: "0.0.0.0/8" }]);
    expect(tenantByNetwork(zero, "0.0.0.3", "0.0.0.9")).toMatchObject({ ok: true }); // control
    for (const src of ["fe80::1", "", undefined, "not-an-address"]) {
      expect(tenantByNetwork(zero, "0.0.0.3", src), String(src)).toEqual({ ok: false, reason: "source_outside_network" });
    }
  });
  it("the Bearer grammar: any run of blanks between, trailing blanks allowed, nothing before or after", () => {
    expect(presentedToken({ authorization: "Bearer \t ta" })).toStrictEqual({ token: "ta", conflict: false });
    expect(presentedToken({ authorization: "Bearer ta \t" })).toStrictEqual({ token: "ta", conflict: false });
    for (const auth of ["xBearer ta", "Bearer ta tb", "Bearer ta x", "Bearer"]) {
      expect(presentedToken({ authorization: auth }), auth).toStrictEqual({ conflict: false });
    }
  });
  it("an Authorization given as a list is no token; x-api-key is trimmed; no token means no token field", () => {
    expect(presentedToken({ authorization: ["Bearer ta"] })).toStrictEqual({ conflict: false });
    expect(presentedToken({ "x-api-key": " ta " })).toStrictEqual({ token: "ta", conflict: false });
    expect(presentedToken({ "x-api-key": "   " })).toStrictEqual({ conflict: false });
    expect(presentedToken({})).toStrictEqual({ conflict: false });
    expect(checkToken(table, a, { "x-api-key": " ta " })).toEqual({ ok: true });
  });
});

describe("many tenants", () => {
  // 300 tenants on 10.70.x.y/27 networks: every (token, network) pair gets the answer the
  // one-tenant case gives — own token accepted, another tenant's reported as such, unknown refused.
  const N = 300;
  const many = parseRouterConfig({
    tenants: Array.from({ length: N }, (_, i) => {
      const [third, fourth] = [(32 * i) >> 8, (32 * i) & 0xff];
      return { id: `t${i}`, routerAddress: `10.70.${third}.${fourth + 3}`, subnet: `10.70.${third}.${fourth}/27`, tokenSha256: sha256(`token-${i}`), providers: [] };
    }),
  });
  const big = buildTenantTable(many.tenants);

  it("each tenant's token passes on its own network only; its network and source agree", () => {
    for (let i = 0; i < N; i += 7) {
      const t = many.tenants[i]!;
      const other = many.tenants[(i * 13 + 5) % N]!;
      expect(checkToken(big, t, { authorization: `Bearer token-${i}` })).toEqual({ ok: true });
      if (other !== t) expect(checkToken(big, other, { authorization: `Bearer token-${i}` })).toEqual({ ok: false, reason: "token_of_other_tenant" });
      expect(checkToken(big, t, { authorization: `Bearer token-${i}-x` })).toEqual({ ok: false, reason: "invalid_token" });
      const src = t.routerAddress.replace(/\.(\d+)$/, (_m, x: string) => `.${Number(x) + 2}`); // inside its /27
      expect(tenantByNetwork(big, t.routerAddress, src)).toEqual({ ok: true, tenant: t });
      expect(tenantByNetwork(big, other.routerAddress, src)).toEqual(other === t ? { ok: true, tenant: t } : { ok: false, reason: "source_outside_network" });
    }
  });
});
