// Applies @pulumi/postgresql 3.18.1 resources to the real server their provider points at, with
// the statements the upstream provider (cyrilgdn/terraform-provider-postgresql) issues: a Grant
// or DefaultPrivileges first revokes what the role had on those objects and then grants exactly
// the listed privileges; a Role's memberships, search_path and timeouts are role settings.
import { readFileSync } from "node:fs";
import pg from "pg";
import { bool, checkFields, fail, num, str, strList } from "./field-check";

export interface PgTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** false: plaintext; "require": TLS without verification; verify: TLS checked against `ca` (and the host name, verify-full). */
  ssl: false | "require" | { ca: string; verifyHost: boolean };
  connectTimeoutS: number;
}

export interface PgRealized {
  id: string;
  outputs: Record<string, unknown>;
  destroy: () => Promise<void>;
  kind: "role" | "other";
}

const T_PROVIDER = "pulumi:providers:postgresql";

/** The provider resource's inputs (the SDK JSON-encodes its numbers and booleans). */
export function pgTargetFromProvider(name: string, a: Record<string, unknown>): PgTarget {
  // "version" is added by the Pulumi SDK to every provider resource
  checkFields(T_PROVIDER, name, a, ["host", "port", "username", "password", "database", "sslmode", "sslMode", "connectTimeout", "superuser", "maxConnections", "expectedVersion", "scheme", "version"]);
  const scheme = str(T_PROVIDER, name, "scheme", a.scheme);
  if (scheme && scheme !== "postgres") fail(T_PROVIDER, name, "scheme", `("${scheme}") only "postgres" is implemented`);
  const sslmode = str(T_PROVIDER, name, "sslmode", a.sslmode) ?? str(T_PROVIDER, name, "sslMode", a.sslMode) ?? "prefer";
  if (!["disable", "require", "prefer", "verify-ca", "verify-full"].includes(sslmode)) fail(T_PROVIDER, name, "sslmode", `("${sslmode}") implemented: disable, require, prefer, verify-ca, verify-full`);
  // verify-*: libpq's own trust, as the real provider (lib/pq) reads it: the PGSSLROOTCERT file.
  const verify = sslmode === "verify-ca" || sslmode === "verify-full";
  const rootCert = process.env.PGSSLROOTCERT;
  if (verify && !rootCert) fail(T_PROVIDER, name, "sslmode", `("${sslmode}") needs PGSSLROOTCERT naming the CA file where the program runs (as libpq does)`);
  const decode = (v: unknown) => (typeof v === "string" && v !== "" ? (JSON.parse(v) as unknown) : v);
  const port = decode(a.port);
  const host = str(T_PROVIDER, name, "host", a.host);
  const user = str(T_PROVIDER, name, "username", a.username);
  if (!host) fail(T_PROVIDER, name, "host", "is required by the realizing mock (no PGHOST fallback)");
  if (!user) fail(T_PROVIDER, name, "username", "is required by the realizing mock (no PGUSER fallback)");
  return {
    host,
    port: typeof port === "number" ? port : 5432,
    user,
    password: str(T_PROVIDER, name, "password", a.password) ?? "",
    database: str(T_PROVIDER, name, "database", a.database) ?? "postgres",
    ssl: verify ? { ca: readFileSync(rootCert!, "utf8"), verifyHost: sslmode === "verify-full" } : sslmode === "require" ? "require" : false,
    connectTimeoutS: Number(decode(a.connectTimeout) ?? 30),
  };
}

export const ident = (s: string): string => `"${s.replace(/"/g, '""')}"`;
const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const roleRef = (r: string): string => (r.toLowerCase() === "public" ? "PUBLIC" : ident(r));

export async function withPg<T>(t: PgTarget, database: string | undefined, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({
    host: t.host, port: t.port, user: t.user, password: t.password, database: database ?? t.database,
    ssl: t.ssl === false ? false : t.ssl === "require" ? { rejectUnauthorized: false } : { ca: t.ssl.ca, rejectUnauthorized: true, ...(t.ssl.verifyHost ? {} : { checkServerIdentity: () => undefined }) },
    connectionTimeoutMillis: Math.min(t.connectTimeoutS, 30) * 1000,
  });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function requireRunName(runId: string, type: string, resName: string, field: string, v: string): void {
  if (!v.toLowerCase().includes(runId.toLowerCase())) {
    fail(type, resName, field, `("${v}") must contain the run id "${runId}" so runs cannot collide`);
  }
}

const GRANT_TARGET: Record<string, string> = {
  table: "TABLES", sequence: "SEQUENCES", function: "FUNCTIONS", procedure: "PROCEDURES", routine: "ROUTINES",
};
const DEFAULT_PRIV_TARGET: Record<string, string> = {
  table: "TABLES", sequence: "SEQUENCES", function: "FUNCTIONS", routine: "ROUTINES", type: "TYPES", schema: "SCHEMAS",
};

export interface PgContext {
  runId: string;
  log: (line: string) => void;
  /** databases this run created, for dropping a role's grants in each before the role */
  createdDatabases: Set<string>;
}

export async function realizePostgres(ctx: PgContext, type: string, resName: string, a: Record<string, unknown>, t: PgTarget): Promise<PgRealized> {
  const T = type;
  switch (type) {
    case "postgresql:index/role:Role": {
      // skipDropRole/skipReassignOwned only change what `pulumi destroy` does; a test run's
      // teardown always removes the role, so they are accepted and have no effect here.
      checkFields(T, resName, a, ["name", "login", "password", "passwordWo", "passwordWoVersion", "encryptedPassword", "superuser", "createDatabase", "createRole", "inherit", "replication", "bypassRowLevelSecurity", "connectionLimit", "validUntil", "roles", "searchPaths", "statementTimeout", "idleInTransactionSessionTimeout", "skipDropRole", "skipReassignOwned"]);
      const name = str(T, resName, "name", a.name);
      if (!name) fail(T, resName, "name", "is required");
      requireRunName(ctx.runId, T, resName, "name", name);
      const password = str(T, resName, "passwordWo", a.passwordWo) ?? str(T, resName, "password", a.password);
      const f = (k: string, yes: string, no: string, d: boolean) => ((bool(T, resName, k, a[k]) ?? d) ? yes : no);
      const opts = [
        f("login", "LOGIN", "NOLOGIN", false),
        f("superuser", "SUPERUSER", "NOSUPERUSER", false),
        f("createDatabase", "CREATEDB", "NOCREATEDB", false),
        f("createRole", "CREATEROLE", "NOCREATEROLE", false),
        f("inherit", "INHERIT", "NOINHERIT", true),
        f("replication", "REPLICATION", "NOREPLICATION", false),
        f("bypassRowLevelSecurity", "BYPASSRLS", "NOBYPASSRLS", false),
        `CONNECTION LIMIT ${num(T, resName, "connectionLimit", a.connectionLimit) ?? -1}`,
      ];
      if (password) opts.push(`${bool(T, resName, "encryptedPassword", a.encryptedPassword) === false ? "" : "ENCRYPTED "}PASSWORD ${lit(password)}`);
      const validUntil = str(T, resName, "validUntil", a.validUntil);
      if (validUntil && validUntil !== "infinity") opts.push(`VALID UNTIL ${lit(validUntil)}`);
      await withPg(t, undefined, async (c) => {
        await c.query(`CREATE ROLE ${ident(name)} WITH ${opts.join(" ")}`);
        for (const r of strList(T, resName, "roles", a.roles) ?? []) await c.query(`GRANT ${ident(r)} TO ${ident(name)}`);
        const sp = strList(T, resName, "searchPaths", a.searchPaths);
        if (sp?.length) await c.query(`ALTER ROLE ${ident(name)} SET search_path TO ${sp.map(ident).join(", ")}`);
        const st = num(T, resName, "statementTimeout", a.statementTimeout);
        if (st) await c.query(`ALTER ROLE ${ident(name)} SET statement_timeout TO ${Math.trunc(st)}`);
        const it = num(T, resName, "idleInTransactionSessionTimeout", a.idleInTransactionSessionTimeout);
        if (it) await c.query(`ALTER ROLE ${ident(name)} SET idle_in_transaction_session_timeout TO ${Math.trunc(it)}`);
      });
      ctx.log(`postgres role ${name} created`);
      return {
        id: name,
        kind: "role",
        outputs: { name },
        destroy: async () => {
          for (const db of new Set([t.database, ...ctx.createdDatabases])) {
            await withPg(t, db, (c) => c.query(`DROP OWNED BY ${ident(name)} CASCADE`)).catch((e: unknown) => {
              // a database dropped earlier in the teardown, or a role already gone, is fine
              const code = (e as { code?: string }).code;
              if (code !== "3D000" && code !== "42704") throw e;
            });
          }
          await withPg(t, undefined, (c) => c.query(`DROP ROLE IF EXISTS ${ident(name)}`));
          ctx.log(`postgres role ${name} dropped`);
        },
      };
    }
    case "postgresql:index/database:Database": {
      checkFields(T, resName, a, ["name", "owner", "template", "encoding", "lcCollate", "lcCtype", "tablespaceName", "connectionLimit", "allowConnections", "isTemplate", "alterObjectOwnership"]);
      const name = str(T, resName, "name", a.name);
      if (!name) fail(T, resName, "name", "is required");
      requireRunName(ctx.runId, T, resName, "name", name);
      const parts = [`CREATE DATABASE ${ident(name)}`];
      const owner = str(T, resName, "owner", a.owner);
      if (owner) parts.push(`OWNER ${ident(owner)}`);
      parts.push(`TEMPLATE ${ident(str(T, resName, "template", a.template) ?? "template0")}`);
      const enc = str(T, resName, "encoding", a.encoding);
      if (enc) parts.push(`ENCODING ${lit(enc)}`);
      const coll = str(T, resName, "lcCollate", a.lcCollate);
      if (coll) parts.push(`LC_COLLATE ${lit(coll)}`);
      const ctype = str(T, resName, "lcCtype", a.lcCtype);
      if (ctype) parts.push(`LC_CTYPE ${lit(ctype)}`);
      const ts = str(T, resName, "tablespaceName", a.tablespaceName);
      if (ts) parts.push(`TABLESPACE ${ident(ts)}`);
      parts.push(`CONNECTION LIMIT ${num(T, resName, "connectionLimit", a.connectionLimit) ?? -1}`);
      parts.push(`ALLOW_CONNECTIONS ${(bool(T, resName, "allowConnections", a.allowConnections) ?? true) ? "true" : "false"}`);
      parts.push(`IS_TEMPLATE ${(bool(T, resName, "isTemplate", a.isTemplate) ?? false) ? "true" : "false"}`);
      bool(T, resName, "alterObjectOwnership", a.alterObjectOwnership); // only acts on owner changes (updates)
      await withPg(t, undefined, (c) => c.query(parts.join(" ")));
      ctx.createdDatabases.add(name);
      ctx.log(`postgres database ${name} created`);
      return {
        id: name,
        kind: "other",
        outputs: { name },
        destroy: async () => {
          await withPg(t, undefined, (c) => c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`));
          ctx.createdDatabases.delete(name);
          ctx.log(`postgres database ${name} dropped`);
        },
      };
    }
    case "postgresql:index/schema:Schema": {
      checkFields(T, resName, a, ["name", "database", "owner", "ifNotExists", "dropCascade"]);
      const name = str(T, resName, "name", a.name);
      if (!name) fail(T, resName, "name", "is required");
      const db = str(T, resName, "database", a.database) ?? t.database;
      const owner = str(T, resName, "owner", a.owner);
      const ine = bool(T, resName, "ifNotExists", a.ifNotExists) ?? true;
      const cascade = bool(T, resName, "dropCascade", a.dropCascade) ?? false;
      await withPg(t, db, (c) => c.query(`CREATE SCHEMA ${ine ? "IF NOT EXISTS " : ""}${ident(name)}${owner ? ` AUTHORIZATION ${ident(owner)}` : ""}`));
      ctx.log(`postgres schema ${db}.${name} created`);
      return {
        id: `${db}.${name}`,
        kind: "other",
        outputs: { name, database: db },
        destroy: async () => {
          if (ctx.createdDatabases.has(db)) return; // goes with the database
          await withPg(t, db, (c) => c.query(`DROP SCHEMA IF EXISTS ${ident(name)}${cascade ? " CASCADE" : ""}`));
        },
      };
    }
    case "postgresql:index/extension:Extension": {
      checkFields(T, resName, a, ["name", "database", "schema", "version", "createCascade", "dropCascade"]);
      const name = str(T, resName, "name", a.name);
      if (!name) fail(T, resName, "name", "is required");
      const db = str(T, resName, "database", a.database) ?? t.database;
      const schema = str(T, resName, "schema", a.schema);
      const version = str(T, resName, "version", a.version);
      const cascade = bool(T, resName, "createCascade", a.createCascade) ?? false;
      bool(T, resName, "dropCascade", a.dropCascade);
      await withPg(t, db, (c) => c.query(`CREATE EXTENSION IF NOT EXISTS ${ident(name)}${schema ? ` SCHEMA ${ident(schema)}` : ""}${version ? ` VERSION ${lit(version)}` : ""}${cascade ? " CASCADE" : ""}`));
      return {
        id: `${db}.${name}`,
        kind: "other",
        outputs: { name, database: db },
        destroy: async () => {
          if (ctx.createdDatabases.has(db)) return;
          await withPg(t, db, (c) => c.query(`DROP EXTENSION IF EXISTS ${ident(name)}`));
        },
      };
    }
    case "postgresql:index/grant:Grant": {
      checkFields(T, resName, a, ["database", "role", "objectType", "privileges", "schema", "objects", "columns", "withGrantOption"]);
      const db = str(T, resName, "database", a.database);
      const role = str(T, resName, "role", a.role);
      const ot = str(T, resName, "objectType", a.objectType);
      const privs = strList(T, resName, "privileges", a.privileges);
      if (!db) fail(T, resName, "database", "is required");
      if (!role) fail(T, resName, "role", "is required");
      if (!privs) fail(T, resName, "privileges", "is required (an empty list revokes)");
      const schema = str(T, resName, "schema", a.schema);
      const objects = strList(T, resName, "objects", a.objects) ?? [];
      const columns = strList(T, resName, "columns", a.columns) ?? [];
      const wgo = (bool(T, resName, "withGrantOption", a.withGrantOption) ?? false) ? " WITH GRANT OPTION" : "";
      let on: string;
      switch (ot) {
        case "database":
          on = `DATABASE ${ident(db)}`;
          break;
        case "schema":
          if (!schema) fail(T, resName, "schema", "is required for objectType schema");
          on = `SCHEMA ${ident(schema)}`;
          break;
        case "table": case "sequence": case "function": case "procedure": case "routine":
          if (!schema) fail(T, resName, "schema", `is required for objectType ${ot}`);
          on = objects.length
            ? `${ot.toUpperCase()} ${objects.map((o) => `${ident(schema)}.${ident(o)}`).join(", ")}`
            : `ALL ${GRANT_TARGET[ot]} IN SCHEMA ${ident(schema)}`;
          break;
        case "column":
          if (!schema || objects.length !== 1 || !columns.length) fail(T, resName, "objects/columns", "objectType column needs schema, exactly one object and columns");
          on = `TABLE ${ident(schema)}.${ident(objects[0]!)}`;
          break;
        default:
          fail(T, resName, "objectType", `("${String(ot)}") implemented: database, schema, table, sequence, function, procedure, routine, column`);
      }
      if (columns.length && ot !== "column") fail(T, resName, "columns", "only with objectType column");
      const cols = ot === "column" ? ` (${columns.map(ident).join(", ")})` : "";
      const revoke = ot === "column"
        ? `REVOKE ${privs.join(", ") || "SELECT"}${cols} ON ${on} FROM ${roleRef(role)}`
        : `REVOKE ALL PRIVILEGES ON ${on} FROM ${roleRef(role)}`;
      await withPg(t, db, async (c) => {
        await c.query(revoke);
        if (privs.length) {
          const list = ot === "column" ? privs.map((p) => `${p}${cols}`).join(", ") : privs.join(", ");
          await c.query(`GRANT ${list} ON ${on} TO ${roleRef(role)}${wgo}`);
        }
      });
      ctx.log(`postgres grant ${privs.join(",")} on ${ot} ${db}/${schema ?? ""} to ${role}`);
      return {
        id: `${role}_${db}_${schema ?? ""}_${ot}`,
        kind: "other",
        outputs: {},
        destroy: async () => {
          if (ctx.createdDatabases.has(db) && ot !== "database") return;
          await withPg(t, db, (c) => c.query(revoke)).catch((e: unknown) => {
            const code = (e as { code?: string }).code;
            if (code !== "3D000" && code !== "42704" && code !== "3F000" && code !== "42P01") throw e;
          });
        },
      };
    }
    case "postgresql:index/defaultPrivileges:DefaultPrivileges": {
      checkFields(T, resName, a, ["database", "owner", "role", "objectType", "privileges", "schema", "withGrantOption"]);
      const db = str(T, resName, "database", a.database);
      const owner = str(T, resName, "owner", a.owner);
      const role = str(T, resName, "role", a.role);
      const ot = str(T, resName, "objectType", a.objectType);
      const privs = strList(T, resName, "privileges", a.privileges);
      if (!db || !owner || !role || !ot || !privs) fail(T, resName, "database/owner/role/objectType/privileges", "are required");
      const target = DEFAULT_PRIV_TARGET[ot];
      if (!target) fail(T, resName, "objectType", `("${ot}") implemented: ${Object.keys(DEFAULT_PRIV_TARGET).join(", ")}`);
      const schema = str(T, resName, "schema", a.schema);
      const wgo = (bool(T, resName, "withGrantOption", a.withGrantOption) ?? false) ? " WITH GRANT OPTION" : "";
      const scope = `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(owner)}${schema ? ` IN SCHEMA ${ident(schema)}` : ""}`;
      const revoke = `${scope} REVOKE ALL ON ${target} FROM ${roleRef(role)}`;
      await withPg(t, db, async (c) => {
        await c.query(revoke);
        if (privs.length) await c.query(`${scope} GRANT ${privs.join(", ")} ON ${target} TO ${roleRef(role)}${wgo}`);
      });
      return {
        id: `${role}_${db}_${schema ?? ""}_${owner}_${ot}`,
        kind: "other",
        outputs: {},
        destroy: async () => {
          if (ctx.createdDatabases.has(db)) return;
          await withPg(t, db, (c) => c.query(revoke)).catch((e: unknown) => {
            const code = (e as { code?: string }).code;
            if (code !== "3D000" && code !== "42704" && code !== "3F000") throw e;
          });
        },
      };
    }
    case "postgresql:index/grantRole:GrantRole": {
      checkFields(T, resName, a, ["role", "grantRole", "withAdminOption"]);
      const role = str(T, resName, "role", a.role);
      const gr = str(T, resName, "grantRole", a.grantRole);
      if (!role || !gr) fail(T, resName, "role/grantRole", "are required");
      const admin = (bool(T, resName, "withAdminOption", a.withAdminOption) ?? false) ? " WITH ADMIN OPTION" : "";
      await withPg(t, undefined, (c) => c.query(`GRANT ${ident(gr)} TO ${ident(role)}${admin}`));
      return {
        id: `${role}_${gr}`,
        kind: "other",
        outputs: {},
        destroy: async () => {
          await withPg(t, undefined, (c) => c.query(`REVOKE ${ident(gr)} FROM ${ident(role)}`)).catch((e: unknown) => {
            if ((e as { code?: string }).code !== "42704") throw e;
          });
        },
      };
    }
    default:
      throw new Error(`realizing mock: resource type ${type} (${resName}) is not implemented`);
  }
}
