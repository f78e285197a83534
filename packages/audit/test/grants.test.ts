import { describe, expect, it } from "vitest";
import { grantStatements, requiredGrants } from "../src/grants";
import { SERVICE_EVENT_TYPES, SERVICE_ROLES, migrationSql, validateRoles, type AuditRoles } from "../src/migrations";

const roles: AuditRoles = { owner: "o", reader: "r", edge: "e", router: "ro", shipper: "s", waker: "w" };
const grantsOf = (role: string) => requiredGrants(roles).filter((g) => g.role === role);

describe("requiredGrants", () => {
  it.each(SERVICE_ROLES)("gives the %s role no privilege on the audit tables, only EXECUTE on append_events and append_event_columns", (k) => {
    const mine = grantsOf(roles[k]);
    expect(mine.some((g) => g.objectType === "table" && g.objects?.some((o) => o.startsWith("audit") || o === "reader_bindings" || o === "append_grants"))).toBe(false);
    expect(mine).toContainEqual({ role: roles[k], objectType: "function", schema: "octw", objects: ["append_events"], privileges: ["EXECUTE"] });
    expect(mine).toContainEqual({ role: roles[k], objectType: "function", schema: "octw", objects: ["append_event_columns"], privileges: ["EXECUTE"] });
    expect(mine.filter((g) => g.objectType === "function").flatMap((g) => g.objects)).toEqual(["append_events", "append_event_columns"]);
  });
  it("lets only the router read tenant_secrets, and nobody write them (the owner owns the table)", () => {
    const onSecrets = requiredGrants(roles).filter((g) => g.objects?.includes("tenant_secrets"));
    expect(onSecrets).toEqual([{ role: "ro", objectType: "table", schema: "octw", objects: ["tenant_secrets"], privileges: ["SELECT"] }]);
  });
  it("grants the owner nothing (it owns everything) and no grant to a role outside AuditRoles", () => {
    expect(grantsOf("o")).toEqual([]);
    expect(new Set(requiredGrants(roles).map((g) => g.role))).toEqual(new Set(["r", "e", "ro", "s", "w"]));
  });
  it("gives the reader SELECT only", () => {
    for (const g of grantsOf("r")) {
      expect(g.privileges.every((p) => ["SELECT", "USAGE", "CONNECT"].includes(p))).toBe(true);
    }
  });
  it("renders quoted GRANT statements and rejects privileges that do not fit the object", () => {
    expect(grantStatements(requiredGrants(roles), 'd"b')).toContain('GRANT CONNECT ON DATABASE "d""b" TO "e"');
    expect(grantStatements([{ role: "w", objectType: "table", schema: "octw", objects: ["t"], privileges: ["SELECT"] }], "d")).toEqual(['GRANT SELECT ON TABLE "octw"."t" TO "w"']);
    expect(() => grantStatements([{ role: "w", objectType: "function", schema: "octw", privileges: ["SELECT"] }], "d")).toThrow(/grants\[0\]\.privileges: SELECT is not a function privilege/);
    expect(() => grantStatements([{ role: "w", objectType: "table", privileges: ["SELECT"] }], "d")).toThrow(/grants\[0\]\.schema: required/);
  });
});

describe("SERVICE_EVENT_TYPES", () => {
  it("gives no service an operator's event type (approval decisions, secret writes)", () => {
    const all = SERVICE_ROLES.flatMap((k) => SERVICE_EVENT_TYPES[k]);
    for (const a of all) expect(a).not.toMatch(/approval|^secret\.(set|rewrapped)$/);
    expect(new Set(all).size).toBe(all.length); // no event type is shared between two services
  });
});

describe("roles and migrationSql", () => {
  it("rejects unsafe or shared role names, naming the field", () => {
    expect(() => validateRoles({ ...roles, edge: 'x"; DROP' })).toThrow(/roles\.edge: must be a lowercase Postgres role name/);
    expect(() => validateRoles({ ...roles, router: "e" })).toThrow(/must be 6 different roles/);
    expect(() => validateRoles({ ...roles, shipper: undefined } as unknown as AuditRoles)).toThrow(/roles\.shipper:/);
  });
  it("refuses the retired shared writer role, saying what replaced it", () => {
    expect(() => validateRoles({ ...roles, writer: "w" } as AuditRoles)).toThrow(/roles\.writer: the shared writer role is retired/);
  });
  it("is one transaction under an advisory lock, recording each version, then sets the (role, event type) pairs", () => {
    const sql = migrationSql(roles);
    expect(sql.startsWith("BEGIN;")).toBe(true);
    expect(sql.trimEnd().endsWith("COMMIT;")).toBe(true);
    expect(sql.indexOf("pg_advisory_xact_lock")).toBeLessThan(sql.indexOf("CREATE SCHEMA"));
    for (const v of [1, 2, 3]) expect(sql).toMatch(new RegExp(`WHERE version = ${v}\\)`));
    const grantsAt = sql.indexOf("DELETE FROM octw.append_grants;");
    expect(grantsAt).toBeGreaterThan(sql.lastIndexOf("INSERT INTO octw.schema_migrations"));
    expect(sql.slice(grantsAt)).toContain("('s', 'egress.denied')");
    expect(sql.slice(grantsAt)).not.toContain("approval");
  });
});
