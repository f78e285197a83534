import type pg from "pg";
import { AUDIT_SCHEMA, SERVICE_ROLES, quoteIdent, validateRoles, type AuditRoles } from "./migrations";

/**
 * One privilege grant, shaped like a @pulumi/postgresql `Grant` (minus `database`, which the
 * caller supplies), so the AuditStore component can declare each entry as-is. Functions are
 * named without argument lists: every function of @octw/audit has a unique name.
 */
export interface GrantSpec {
  role: string;
  objectType: "database" | "schema" | "table" | "sequence" | "function";
  schema?: string;
  objects?: string[];
  privileges: string[];
}

/**
 * Everything the service and reader roles may do, and nothing else. The owner owns every object
 * (migrations run as it) and needs no grant. Declare these after migrations have run.
 *  - edge, router, shipper, waker: append events only through octw.append_event_columns or
 *    octw.append_events (no privilege on audit tables at all; each function checks each event type against the calling role,
 *    see SERVICE_EVENT_TYPES). The router alone may SELECT sealed tenant secrets (it opens the
 *    tenant's provider key); no service may write them: `octw secrets set` runs as the owner.
 *  - reader: SELECT on the audit tables, filtered by row-level security to the one tenant its
 *    login role is bound to; reader_bindings is readable so the policy can look the binding up
 *    (its own RLS shows a role only its own row).
 */
export function requiredGrants(roles: AuditRoles): GrantSpec[] {
  validateRoles(roles);
  const schema = AUDIT_SCHEMA;
  const service = (role: string): GrantSpec[] => [
    { role, objectType: "database", privileges: ["CONNECT"] },
    { role, objectType: "schema", schema, privileges: ["USAGE"] },
    { role, objectType: "function", schema, objects: ["append_events"], privileges: ["EXECUTE"] },
    // What AuditClient calls since migration 5; append_events(jsonb) stays for older clients. A
    // grant of its own: adding the name to the one above would replace that grant (the component
    // names grants by what they grant), revoking append_events for a moment mid-upgrade.
    { role, objectType: "function", schema, objects: ["append_event_columns"], privileges: ["EXECUTE"] },
  ];
  const { reader } = roles;
  return [
    ...SERVICE_ROLES.flatMap((k) => service(roles[k])),
    { role: roles.router, objectType: "table", schema, objects: ["tenant_secrets"], privileges: ["SELECT"] },
    { role: reader, objectType: "database", privileges: ["CONNECT"] },
    { role: reader, objectType: "schema", schema, privileges: ["USAGE"] },
    { role: reader, objectType: "table", schema, objects: ["audit_events", "audit_heads", "reader_bindings"], privileges: ["SELECT"] },
  ];
}

const ALLOWED: Record<GrantSpec["objectType"], ReadonlySet<string>> = {
  database: new Set(["CONNECT", "CREATE", "TEMPORARY"]),
  schema: new Set(["USAGE", "CREATE"]),
  table: new Set(["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]),
  sequence: new Set(["USAGE", "SELECT", "UPDATE"]),
  function: new Set(["EXECUTE"]),
};

/** The GRANT statements a list of GrantSpec stands for (what the Pulumi provider would run). */
export function grantStatements(grants: readonly GrantSpec[], database: string): string[] {
  return grants.map((g, i) => {
    const allowed = ALLOWED[g.objectType];
    if (!allowed) throw new Error(`grants[${i}].objectType: must be one of ${Object.keys(ALLOWED).join(", ")}`);
    if (g.privileges.length === 0) throw new Error(`grants[${i}].privileges: must list at least one privilege`);
    for (const p of g.privileges) {
      if (!allowed.has(p)) throw new Error(`grants[${i}].privileges: ${p} is not a ${g.objectType} privilege (allowed: ${[...allowed].join(", ")})`);
    }
    const privs = g.privileges.join(", ");
    const role = quoteIdent(g.role);
    switch (g.objectType) {
      case "database":
        return `GRANT ${privs} ON DATABASE ${quoteIdent(database)} TO ${role}`;
      case "schema":
        if (!g.schema) throw new Error(`grants[${i}].schema: required for a schema grant`);
        return `GRANT ${privs} ON SCHEMA ${quoteIdent(g.schema)} TO ${role}`;
      default: {
        if (!g.schema) throw new Error(`grants[${i}].schema: required for a ${g.objectType} grant`);
        const kind = g.objectType.toUpperCase();
        const targets =
          g.objects && g.objects.length > 0
            ? `${kind} ${g.objects.map((o) => `${quoteIdent(g.schema!)}.${quoteIdent(o)}`).join(", ")}`
            : `ALL ${kind}S IN SCHEMA ${quoteIdent(g.schema)}`;
        return `GRANT ${privs} ON ${targets} TO ${role}`;
      }
    }
  });
}

/** Applies the grants (as a role allowed to grant them: the owner, or a superuser). */
export async function applyGrants(client: pg.ClientBase, grants: readonly GrantSpec[], database: string): Promise<void> {
  for (const statement of grantStatements(grants, database)) {
    await client.query(statement);
  }
}
