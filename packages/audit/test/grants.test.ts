import { describe, expect, it } from "vitest";
import { grantStatements, requiredGrants } from "../src/grants";
import { migrationSql, validateRoles } from "../src/migrations";

const roles = { owner: "o", writer: "w", reader: "r" };

describe("requiredGrants", () => {
  it("gives the writer no privilege on the audit tables, only EXECUTE on append_events", () => {
    const writer = requiredGrants(roles).filter((g) => g.role === "w");
    expect(writer.some((g) => g.objectType === "table" && g.objects?.includes("audit_events"))).toBe(false);
    expect(writer).toContainEqual({ role: "w", objectType: "function", schema: "octw", objects: ["append_events"], privileges: ["EXECUTE"] });
  });
  it("gives the reader SELECT only", () => {
    for (const g of requiredGrants(roles).filter((x) => x.role === "r")) {
      expect(g.privileges.every((p) => ["SELECT", "USAGE", "CONNECT"].includes(p))).toBe(true);
    }
  });
  it("renders quoted GRANT statements and rejects privileges that do not fit the object", () => {
    expect(grantStatements(requiredGrants(roles), 'd"b')).toContain('GRANT CONNECT ON DATABASE "d""b" TO "w"');
    expect(grantStatements([{ role: "w", objectType: "table", schema: "octw", objects: ["t"], privileges: ["SELECT"] }], "d")).toEqual(['GRANT SELECT ON TABLE "octw"."t" TO "w"']);
    expect(() => grantStatements([{ role: "w", objectType: "function", schema: "octw", privileges: ["SELECT"] }], "d")).toThrow(/grants\[0\]\.privileges: SELECT is not a function privilege/);
    expect(() => grantStatements([{ role: "w", objectType: "table", privileges: ["SELECT"] }], "d")).toThrow(/grants\[0\]\.schema: required/);
  });
});

describe("roles and migrationSql", () => {
  it("rejects unsafe or shared role names, naming the field", () => {
    expect(() => validateRoles({ ...roles, writer: 'x"; DROP' })).toThrow(/roles\.writer: must be a lowercase Postgres role name/);
    expect(() => validateRoles({ ...roles, reader: "w" })).toThrow(/three different roles/);
  });
  it("is one transaction under an advisory lock, recording each version", () => {
    const sql = migrationSql(roles);
    expect(sql.startsWith("BEGIN;")).toBe(true);
    expect(sql.trimEnd().endsWith("COMMIT;")).toBe(true);
    expect(sql.indexOf("pg_advisory_xact_lock")).toBeLessThan(sql.indexOf("CREATE SCHEMA"));
    expect(sql).toMatch(/WHERE version = 1\)/);
    expect(sql).toMatch(/WHERE version = 2\)/);
  });
});
