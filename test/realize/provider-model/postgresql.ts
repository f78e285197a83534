// @pulumi/postgresql 3.18.1 as the engine sees it: a bridge over cyrilgdn/terraform-provider-postgresql
// (pulumi-postgresql's upstream submodule ff936b9). Its Read writes back what the catalog holds in
// the form the config gave it (names, privilege sets), so the state of every field is its config
// value with the schema defaults applied; what decides a second `up` is which fields force
// replacement. Files: postgresql/resource_postgresql_{role,database,grant,default_privileges,
// grant_role,schema,extension}.go (schema maps).
import type { FieldRule, ResourceRules } from "./diff";

const P = "cyrilgdn/terraform-provider-postgresql postgresql/resource_postgresql_";
const f = (forceNew: boolean, file: string, extra: Partial<FieldRule> = {}): FieldRule => ({ forceNew, source: `${P}${file}.go`, ...extra });
const upd = (file: string, extra: Partial<FieldRule> = {}) => f(false, file, extra);
const rep = (file: string, extra: Partial<FieldRule> = {}) => f(true, file, extra);

const ROLE: ResourceRules = {
  type: "postgresql:index/role:Role",
  fields: Object.fromEntries<FieldRule>(([
    ...["name", "password", "passwordWo", "passwordWoVersion", "encryptedPassword", "validUntil", "idleInTransactionSessionTimeout", "statementTimeout"].map((k) => [k, upd("role")]),
    ...["login", "superuser", "createDatabase", "createRole", "inherit", "replication", "bypassRowLevelSecurity", "connectionLimit", "skipDropRole", "skipReassignOwned"].map((k) => [k, upd("role", { computed: true })]),
    ["roles", upd("role", { kind: "set" })],
    ["searchPaths", upd("role", { kind: "list" })],
  ] as [string, FieldRule][])),
};

const DATABASE: ResourceRules = {
  type: "postgresql:index/database:Database",
  fields: {
    // dbNameAttr is not ForceNew: a rename is ALTER DATABASE … RENAME
    name: upd("database"),
    owner: upd("database", { computed: true }),
    template: rep("database", { computed: true }),
    encoding: rep("database", { computed: true }),
    lcCollate: rep("database", { computed: true }),
    lcCtype: rep("database", { computed: true }),
    tablespaceName: upd("database", { computed: true }),
    connectionLimit: upd("database", { computed: true }),
    allowConnections: upd("database", { computed: true }),
    isTemplate: upd("database", { computed: true }),
    alterObjectOwnership: upd("database", { computed: true }),
  },
};

const GRANT: ResourceRules = {
  type: "postgresql:index/grant:Grant",
  fields: {
    role: rep("grant"), database: rep("grant"), schema: rep("grant"), objectType: rep("grant"),
    objects: rep("grant", { kind: "set" }), columns: rep("grant", { kind: "set" }),
    // privileges is a Set and not ForceNew: Update revokes and grants again
    privileges: upd("grant", { kind: "set" }),
    withGrantOption: rep("grant", { computed: true }),
  },
};

const DEFAULT_PRIVILEGES: ResourceRules = {
  type: "postgresql:index/defaultPrivileges:DefaultPrivileges",
  fields: {
    role: rep("default_privileges"), database: rep("default_privileges"), owner: rep("default_privileges"),
    schema: rep("default_privileges"), objectType: rep("default_privileges"),
    privileges: upd("default_privileges", { kind: "set" }),
    withGrantOption: rep("default_privileges", { computed: true }),
  },
};

const GRANT_ROLE: ResourceRules = {
  type: "postgresql:index/grantRole:GrantRole",
  fields: { role: rep("grant_role"), grantRole: rep("grant_role"), withAdminOption: rep("grant_role", { computed: true }) },
};

const SCHEMA: ResourceRules = {
  type: "postgresql:index/schema:Schema",
  fields: { name: upd("schema"), database: rep("schema", { computed: true }), owner: upd("schema", { computed: true }), ifNotExists: upd("schema", { computed: true }), dropCascade: upd("schema", { computed: true }) },
};

const EXTENSION: ResourceRules = {
  type: "postgresql:index/extension:Extension",
  fields: { name: rep("extension"), schema: upd("extension", { computed: true }), version: upd("extension", { computed: true }), database: rep("extension", { computed: true }), dropCascade: upd("extension", { computed: true }), createCascade: upd("extension", { computed: true }) },
};

export const POSTGRES_RULES: Record<string, ResourceRules> = Object.fromEntries(
  [ROLE, DATABASE, GRANT, DEFAULT_PRIVILEGES, GRANT_ROLE, SCHEMA, EXTENSION].map((r) => [r.type, r]),
);
