import { describe, expect, it } from "vitest";
import { DEFAULT_ROLE_SCOPES } from "@octw/contracts";
import { scopesForRoleClaim, scopesHeaderValue } from "../src/roles";

describe("role → scopes", () => {
  it("maps the three default roles", () => {
    expect(scopesForRoleClaim("viewer", DEFAULT_ROLE_SCOPES)).toEqual({ ok: true, roles: ["viewer"], scopes: ["operator.read"] });
    expect(scopesForRoleClaim("member", DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: true, scopes: ["operator.read", "operator.write"] });
    expect(scopesForRoleClaim("admin", DEFAULT_ROLE_SCOPES)).toMatchObject({
      ok: true,
      scopes: ["operator.admin", "operator.approvals", "operator.pairing", "operator.read", "operator.write"],
    });
  });
  it("takes the union of a role list", () => {
    expect(scopesForRoleClaim(["viewer", "member"], DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: true, scopes: ["operator.read", "operator.write"] });
  });
  it("denies a missing or empty role (never the gateway's default full set)", () => {
    expect(scopesForRoleClaim(undefined, DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: false, reason: "missing_role" });
    expect(scopesForRoleClaim(null, DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: false, reason: "missing_role" });
    expect(scopesForRoleClaim([], DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: false, reason: "missing_role" });
    expect(scopesForRoleClaim("", DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: false, reason: "missing_role" });
  });
  it("denies unknown roles, also when mixed with known ones, and prototype names", () => {
    expect(scopesForRoleClaim("owner", DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: false, reason: "unknown_role" });
    expect(scopesForRoleClaim(["viewer", "root"], DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: false, reason: "unknown_role" });
    for (const r of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect(scopesForRoleClaim(r, DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: false, reason: "unknown_role" });
    }
    expect(scopesForRoleClaim("Admin", DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: false, reason: "unknown_role" });
  });
  it("denies non-string role claims", () => {
    expect(scopesForRoleClaim(1, DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: false, reason: "invalid_role_claim" });
    expect(scopesForRoleClaim({ admin: true }, DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: false, reason: "invalid_role_claim" });
    expect(scopesForRoleClaim(["viewer", 2], DEFAULT_ROLE_SCOPES)).toMatchObject({ ok: false, reason: "invalid_role_claim" });
  });
  it("uses a configured mapping instead of the defaults", () => {
    const m = { auditor: ["operator.read", "operator.approvals"] };
    expect(scopesForRoleClaim("auditor", m)).toMatchObject({ ok: true, scopes: ["operator.approvals", "operator.read"] });
    expect(scopesForRoleClaim("admin", m)).toMatchObject({ ok: false, reason: "unknown_role" });
  });
  it("denies a role mapped to no scopes", () => {
    expect(scopesForRoleClaim("nobody", { nobody: [] })).toMatchObject({ ok: false, reason: "missing_role" });
  });
  it("formats the header comma-separated", () => {
    expect(scopesHeaderValue(["operator.read", "operator.write"])).toBe("operator.read,operator.write");
  });
});
