// The pure parts of browser sign-in: sealing, claim → role mapping, return paths, pages, config.
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseEdgeConfig } from "@octw/contracts";
import { confineCookie, stripCookie } from "../../src/headers";
import { claimAt, rolesFromClaims } from "../../src/oidc/claims";
import { safeReturnPath } from "../../src/oidc/gate";
import { escapeHtml, pages, renderPage } from "../../src/oidc/pages";
import { Sealer } from "../../src/oidc/seal";

describe("sealed cookies", () => {
  const s = new Sealer(randomBytes(32));
  const payload = { sub: "mia", tenant: "alpha", roles: ["member"] };

  it("open only for the same key, purpose and origin (property: any other origin, any flipped character)", () => {
    const sealed = s.seal("session", "https://alpha.octw.test", payload);
    expect(s.unseal("session", "https://alpha.octw.test", sealed)).toEqual(payload); // control
    fc.assert(
      fc.property(fc.domain(), (host) => {
        fc.pre(host !== "alpha.octw.test");
        return s.unseal("session", `https://${host}`, sealed) === undefined;
      }),
    );
    fc.assert(
      fc.property(fc.nat({ max: sealed.length - 1 }), fc.constantFrom(..."ABCabc019-_"), (i, ch) => {
        fc.pre(sealed[i] !== ch && i > 2);
        const bad = sealed.slice(0, i) + ch + sealed.slice(i + 1);
        // base64url's last character may carry unused bits: a flip there can decode to the same bytes.
        const same = Buffer.from(bad.split(".")[2] ?? "", "base64url").equals(Buffer.from(sealed.split(".")[2]!, "base64url")) &&
          Buffer.from(bad.split(".")[1] ?? "", "base64url").equals(Buffer.from(sealed.split(".")[1]!, "base64url"));
        return same || s.unseal("session", "https://alpha.octw.test", bad) === undefined;
      }),
    );
    expect(s.unseal("flow", "https://alpha.octw.test", sealed)).toBeUndefined();
    expect(new Sealer(randomBytes(32)).unseal("session", "https://alpha.octw.test", sealed)).toBeUndefined();
  });

  it("a cookie sealed by this version opens on the next one (every edge of a platform, mid-upgrade, reads sessions another issued)", () => {
    // Sealed once with this key, purpose and origin by the current code: a change of the key
    // derivation, the additional data or the format would lock out every signed-in person.
    const known = "v1.ji1ZkhacjgLN-_Mj.2x3q9C7lAU5BLvPWfDDfIB9PicN4Ya0Zt_StziXUw7tdBZqvuBmlfexMwDRQFw";
    const k = new Sealer(Buffer.alloc(32, 7));
    expect(k.unseal("session", "https://alpha.octw.test", known)).toEqual({ sub: "mia", tenant: "alpha" });
    // the origin is compared without case (host names are case-insensitive)
    expect(k.unseal("session", "https://ALPHA.octw.test", known)).toEqual({ sub: "mia", tenant: "alpha" });
    expect(k.unseal("session", "https://bravo.octw.test", known)).toBeUndefined();
  });

  it("anything but exactly one sealed value is no session: garbage, prefixes, suffixes, missing parts", () => {
    const sealed = s.seal("session", "https://alpha.octw.test", payload);
    for (const bad of [undefined, "", "garbage", "v1", "v1..", "v1.x.y", `x${sealed}`, `${sealed}x`, `${sealed}!`, `${sealed}.`, ` ${sealed}`, sealed.replace(/^v1/, "v2")]) {
      expect(s.unseal("session", "https://alpha.octw.test", bad), String(bad)).toBeUndefined();
    }
  });

  it("the size bound: a sealed value of 4096 characters opens, a longer one is refused unread", () => {
    // base64url of the JSON string plus the 16-byte tag: 3 + 16 + 1 + 4076 characters = 4096
    const at = s.seal("session", "https://alpha.octw.test", "x".repeat(3039));
    expect(at).toHaveLength(4096);
    expect(s.unseal("session", "https://alpha.octw.test", at)).toBe("x".repeat(3039));
    const over = s.seal("session", "https://alpha.octw.test", "x".repeat(3040));
    expect(over.length).toBeGreaterThan(4096);
    expect(s.unseal("session", "https://alpha.octw.test", over)).toBeUndefined();
    // the smallest payload (one byte of plaintext, 17 bytes with the tag) still opens
    expect(s.unseal("session", "https://alpha.octw.test", s.seal("session", "https://alpha.octw.test", 1))).toBe(1);
  });

  it("refuses a key shorter than 32 bytes, naming the field", () => {
    expect(() => new Sealer(randomBytes(16))).toThrow(/oidc\.sessionKeyFile: .*32 bytes/);
  });
});

describe("IdP groups → tenant roles", () => {
  const map = { admin: ["alpha-admins"], member: ["alpha-members", "alpha-devs"], viewer: ["alpha-viewers"] };

  it("every role a group is listed under; none → no access; deny by default for odd claims", () => {
    expect(rolesFromClaims({ groups: ["alpha-devs", "x"] }, "groups", map)).toEqual({ ok: true, roles: ["member"] });
    expect(rolesFromClaims({ groups: ["alpha-admins", "alpha-viewers"] }, "groups", map)).toEqual({ ok: true, roles: ["admin", "viewer"] });
    expect(rolesFromClaims({ groups: "alpha-viewers" }, "groups", map)).toEqual({ ok: true, roles: ["viewer"] });
    expect(rolesFromClaims({ groups: ["bravo-admins"] }, "groups", map)).toEqual({ ok: false, reason: "no_mapped_group" });
    expect(rolesFromClaims({}, "groups", map)).toEqual({ ok: false, reason: "no_groups_claim" });
    expect(rolesFromClaims({ groups: null }, "groups", map)).toEqual({ ok: false, reason: "no_groups_claim" });
    // roles come out sorted whatever the order of the configured map
    expect(rolesFromClaims({ groups: ["g"] }, "groups", { viewer: ["g"], admin: ["g"], member: ["g"] })).toEqual({ ok: true, roles: ["admin", "member", "viewer"] });
    expect(rolesFromClaims({ groups: [1, "alpha-admins"] }, "groups", map)).toEqual({ ok: false, reason: "invalid_groups_claim" });
    expect(rolesFromClaims({ groups: { 0: "alpha-admins" } }, "groups", map)).toEqual({ ok: false, reason: "invalid_groups_claim" });
    expect(rolesFromClaims({ groups: ["alpha-admins"] }, "groups", undefined)).toEqual({ ok: false, reason: "tenant_not_configured" });
  });

  it("claim paths: nested, own properties only", () => {
    expect(claimAt({ realm_access: { roles: ["a"] } }, "realm_access.roles")).toEqual(["a"]);
    expect(claimAt({ realm_access: ["x"] }, "realm_access.roles")).toBeUndefined();
    expect(claimAt({}, "constructor")).toBeUndefined();
    expect(claimAt({}, "__proto__.polluted")).toBeUndefined();
    // only objects are walked into: not a string's, an array's or null's properties
    expect(claimAt({ a: "text" }, "a.length")).toBeUndefined();
    expect(claimAt({ a: ["x"] }, "a.0")).toBeUndefined();
    expect(claimAt({ a: ["x"] }, "a.length")).toBeUndefined();
    expect(claimAt({ a: null }, "a.b")).toBeUndefined();
    expect(claimAt({ a: 5 }, "a.toFixed")).toBeUndefined();
    expect(rolesFromClaims({ realm_access: { roles: ["alpha-admins"] } }, "realm_access.roles", map)).toEqual({ ok: true, roles: ["admin"] });
  });

  it("property: a person gets a role only through a group listed for it", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 12 }), { maxLength: 8 }), (groups) => {
        const r = rolesFromClaims({ groups }, "groups", map);
        const expected = Object.entries(map).filter(([, gs]) => gs.some((g) => groups.includes(g))).map(([role]) => role).sort();
        return r.ok ? JSON.stringify(r.roles) === JSON.stringify(expected) : expected.length === 0;
      }),
    );
  });
});

describe("return paths after sign-in (no open redirect)", () => {
  it("keeps same-origin paths, turns everything else into /", () => {
    expect(safeReturnPath("/chat/1?x=2")).toBe("/chat/1?x=2");
    for (const bad of ["//evil.example/", "/\\evil.example", "https://evil.example/", "evil", "/_edge/oidc/login", "/a\r\nb", "", null, "/\u0000"]) {
      expect(safeReturnPath(bad)).toBe("/");
    }
  });
  it("property: whatever comes in, the result is a path on this origin", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (raw) => {
        const p = safeReturnPath(raw);
        const u = new URL(p, "https://alpha.octw.test");
        return u.origin === "https://alpha.octw.test" && p.startsWith("/") && !p.startsWith("//");
      }),
    );
  });
});

describe("pages", () => {
  it("say what happened and what to do; request data is escaped", () => {
    const html = renderPage(pages.sessionExpired('/x"><script>alert(1)</script>'));
    expect(html).not.toContain("<script>");
    expect(html).toContain("Sign in again");
    expect(renderPage(pages.noAccess("alpha"))).toContain("none of your groups");
    expect(escapeHtml(`<&>"'`)).toBe("&lt;&amp;&gt;&quot;&#39;");
  });
});

describe("oidc config", () => {
  const base = {
    listen: { publicScheme: "https" },
    routing: { hostDomain: "octw.example" },
    tenants: [],
    jwt: { issuer: "https://issuer.test", audience: "octw-edge", algorithms: ["ES256"], keys: { kind: "jwks-url", url: "https://issuer.test/jwks.json" } },
  };
  const oidc = { issuer: "https://idp.example", clientId: "octw", tenants: { alpha: { member: ["alpha-members"] } } };

  it("accepts a valid section with defaults (control)", () => {
    const c = parseEdgeConfig({ ...base, oidc });
    expect(c.oidc).toMatchObject({ groupsClaim: "groups", recheckSec: 300, sessionMaxSec: 28_800, algorithms: ["RS256", "ES256"] });
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["http issuer", { ...base, oidc: { ...oidc, issuer: "http://idp.example" } }, /oidc\.issuer: must be an https: URL/],
    ["HS256", { ...base, oidc: { ...oidc, algorithms: ["HS256"] } }, /oidc\.algorithms\[0\]: /],
    ["unknown role", { ...base, oidc: { ...oidc, tenants: { alpha: { owner: ["g"] } } } }, /oidc\.tenants\.alpha\.owner: is not a role defined in roles \(defined: viewer, member, admin\)/],
    ["bad tenant id", { ...base, oidc: { ...oidc, tenants: { Alpha_1: { member: ["g"] } } } }, /oidc\.tenants\.Alpha_1: .*tenant id/],
    ["bad claim path", { ...base, oidc: { ...oidc, groupsClaim: "a..b" } }, /oidc\.groupsClaim: a claim name or a dot path/],
    ["no openid scope", { ...base, oidc: { ...oidc, scopes: ["profile"] } }, /oidc\.scopes: must include openid/],
    ["recheck too long", { ...base, oidc: { ...oidc, recheckSec: 86_400 } }, /oidc\.recheckSec/],
    ["no host routing", { ...base, routing: { pathRouting: true }, oidc }, /oidc: needs routing\.hostDomain/],
    ["plain http", { ...base, listen: { publicScheme: "http" }, oidc }, /oidc: needs https/],
  ];
  it.each(bad)("%s: refused, naming the field", (_label, input, re) => {
    expect(() => parseEdgeConfig(input)).toThrow(re);
  });

  it("errors never echo the client secret file's content (only paths are configured)", () => {
    expect(() => parseEdgeConfig({ ...base, oidc: { ...oidc, clientSecretFile: "" } })).toThrow(/oidc\.clientSecretFile/);
  });
});

describe("the edge's own cookies never reach a gateway and are never set by one", () => {
  const scope = { cookieName: "octw_session", kind: "host" as const, cookiePath: "/" };
  it("a gateway's Set-Cookie of an edge cookie name (any case) is dropped; its own cookies pass (control)", () => {
    for (const name of ["__Host-octw_oidc", "__host-OCTW_OIDC", "__Host-octw_oidc_flow", "__Host-octw_anything", "OCTW_SESSION"]) {
      expect(confineCookie(`${name}=attacker; Path=/; Secure; HttpOnly`, scope), name).toBeUndefined();
    }
    expect(confineCookie("ui_pref=dark; Path=/", scope)).toBe("ui_pref=dark; Path=/");
  });
  it("property: whatever the case, stripCookie removes __Host-octw_* and keeps the rest", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 8 }).filter((s) => /^[a-z_]+$/.test(s)), fc.boolean(), (suffix, upper) => {
        const edge = `${upper ? "__HOST-OCTW_" : "__Host-octw_"}${suffix}`;
        const kept = stripCookie(`a=1; ${edge}=secret; b=2`, "octw_session");
        return kept === "a=1; b=2";
      }),
    );
  });
});
