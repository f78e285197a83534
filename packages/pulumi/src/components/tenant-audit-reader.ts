import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { bindTenantReaderSql } from "@octw/audit";
import { z } from "zod";
import { parseOrThrow } from "../validation.js";
import { AuditSql, type AuditSqlArgs } from "./audit-sql.js";
import { UNPRIVILEGED_ROLE, type AuditConnection, type AuditStore, type AuditStoreLike } from "./audit-store.js";
import { tenantIdSchema } from "./common.js";

/** TenantAuditReader's args: the one declaration of their shape, validation and documentation. */
export const tenantAuditReaderArgsSchema = z.strictObject({
  tenantId: tenantIdSchema,
  audit: z.custom<AuditStore>((v) => typeof v === "object" && v !== null, "must be an AuditStore").meta({ description: "The platform's audit store." }),
});
export type TenantAuditReaderArgs = z.input<typeof tenantAuditReaderArgsSchema>;
/** What the constructor takes: an AuditStore, or (in a host's part of the per-host stack layout) the shared stack's store as read from its outputs. */
type ReaderArgs = Omit<TenantAuditReaderArgs, "audit"> & { audit: AuditStoreLike };

type OwnerFields = Omit<AuditSqlArgs, "sql">;
const ownerFieldsOf = new WeakMap<AuditStoreLike, OwnerFields>();

/**
 * The owner connection taken apart into the binding's inputs: once per audit store, shared by
 * every tenant's binding (per tenant, six outputs more for each of possibly thousands of tenants).
 */
function ownerFields(audit: AuditStoreLike): OwnerFields {
  let f = ownerFieldsOf.get(audit);
  if (!f) {
    const owner = audit.owner;
    f = {
      host: owner.apply((o) => o.host),
      port: owner.apply((o) => o.port),
      database: owner.apply((o) => o.database),
      user: owner.apply((o) => o.user),
      password: owner.apply((o) => o.password),
      sslMode: owner.apply((o) => o.sslMode),
      // a private CA (external store): the bindings verify the server like the migrations do
      ...(audit.caCertificate !== undefined ? { caCertificate: audit.caCertificate } : {}),
    };
    ownerFieldsOf.set(audit, f);
  }
  return f;
}

/**
 * A login role that reads one tenant's audit rows and nothing else: a member of the audit
 * reader group, bound to the tenant by `@octw/audit`'s `bind_tenant_reader` (row-level
 * security does the rest). Per tenant, so adding a tenant never changes the audit store.
 */
export class TenantAuditReader extends pulumi.ComponentResource {
  declare readonly roleName: string;
  /** Connection settings of this tenant's reader; secret. */
  declare readonly connection: pulumi.Output<AuditConnection>;

  // The first signature is the component's public one (the provider schema is generated from it).
  constructor(name: string, args: TenantAuditReaderArgs, opts?: pulumi.ComponentResourceOptions);
  constructor(name: string, args: ReaderArgs, opts?: pulumi.ComponentResourceOptions);
  constructor(name: string, args: ReaderArgs, opts?: pulumi.ComponentResourceOptions) {
    const parsed = parseOrThrow(tenantAuditReaderArgsSchema, args, `TenantAuditReader "${name}"`);
    super("octw:index:TenantAuditReader", name, {}, opts);
    // validated above (an object); typed as what it may be: a store of this stack or one read from the shared stack
    const audit: AuditStoreLike = parsed.audit;
    const roleName = `${audit.roles.reader.replace(/_audit_reader$/, "")}_reader_${parsed.tenantId.replace(/-/g, "_")}`;
    const password = new random.RandomPassword(`${name}-password`, { length: 40, special: false }, { parent: this });
    const role = new postgresql.Role(
      `${name}-role`,
      // inherit: the group's SELECT grants are what this role reads through.
      { name: roleName, login: true, password: password.result, ...UNPRIVILEGED_ROLE, inherit: true, roles: [audit.roles.reader], connectionLimit: 8 },
      // (a store read from another stack has no schema resource here: that stack migrated it)
      { parent: this, provider: audit.provider, dependsOn: audit.schema ? [audit.schema] : [] },
    );
    const owner = audit.owner;
    new AuditSql(`${name}-binding`, { ...ownerFields(audit), sql: bindTenantReaderSql(roleName, parsed.tenantId) }, { parent: this, dependsOn: audit.schema ? [role, audit.schema] : [role] });
    this.roleName = roleName;
    this.connection = pulumi.secret(pulumi.all([owner, password.result]).apply(([o, pw]) => ({ ...o, user: roleName, password: pw })));
    this.registerOutputs({ roleName, connection: this.connection });
  }
}
