/**
 * The per-host stack layout (docs/multi-host.md "Stacks that scale"): one stack declares the
 * platform's shared part (the audit store: OpenClawPlatformShared), and one stack per host
 * declares that host's part — `new OpenClawPlatform(name, config, opts, { host, sharedAudit })`.
 * Every stack evaluates the same whole config with the same planner, so placement, slots and
 * names are the ones the single-stack form computes; a part only leaves out what another stack
 * declares. Together the stacks register what the single stack registers (checked:
 * packages/pulumi/test/platform-parts.test.ts), plus the joins: the StackReference each host
 * stack reads the shared outputs through, and its own admin connection to the audit store for
 * its tenants' reader roles.
 */
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { SERVICE_ROLES, type ServiceRole } from "@octw/audit";
import { auditRoles, type AuditConnection, type AuditStoreLike } from "./audit-store.js";
import { OctwConfigError } from "../validation.js";
import type { OpenClawPlatformConfig, PlatformPlan } from "../planners/platform-config.js";

/** The shared stack's output the host stacks read (one secret object). */
export const SHARED_AUDIT_OUTPUT = "octwSharedAudit";

/** What a host's part needs of the shared audit store: every connection, the master key, the admin password. Secret as a whole. */
export interface SharedAuditOutputs {
  owner: AuditConnection;
  services: Record<ServiceRole, AuditConnection>;
  masterKey: string;
  /** The admin role's password (its user, host and TLS mode are in the config): a host's part declares its tenants' reader roles. */
  adminPassword: string;
}

/** The fourth argument of OpenClawPlatform in a host stack: which host, and the shared stack's audit outputs. */
export interface HostPart {
  /** The host whose part this stack declares (`hosts[].name`). */
  readonly host: string;
  /** The shared stack's {@link SHARED_AUDIT_OUTPUT} (e.g. `stackReference.requireOutput(SHARED_AUDIT_OUTPUT)`). */
  readonly sharedAudit: pulumi.Input<SharedAuditOutputs>;
}

/** Refuses a part the layout cannot build, naming the field. */
export function checkPart(plan: PlatformPlan, part: { host?: string }, subject: string): void {
  const problems: { path: string; message: string }[] = [];
  if (plan.config.audit.mode !== "external") {
    // The embedded store would sit on the home host's control network, which that host's stack declares: the two stacks would need each other first.
    problems.push({ path: "audit.mode", message: 'must be "external" in the per-host stack layout: the shared stack holds the audit store and no Docker part' });
  }
  if (part.host !== undefined && !plan.hosts.some((h) => h.name === part.host)) {
    problems.push({ path: "host", message: `names no host of this platform (hosts: ${plan.hosts.map((h) => h.name).join(", ")})` });
  }
  if (problems.length) throw new OctwConfigError(subject, problems);
}

/**
 * The shared store as a host's part sees it: connections from the shared stack (secret), role
 * names from the prefix, and an admin provider of this stack with the inputs AuditStore gives
 * its own (external mode), for the reader roles of this host's tenants.
 */
export function sharedAuditOf(name: string, plan: PlatformPlan, part: HostPart, parent: pulumi.Resource): AuditStoreLike {
  const a = plan.config.audit;
  const shared = pulumi.secret(pulumi.output(part.sharedAudit));
  const provider = new postgresql.Provider(
    `${name}-audit-admin`,
    { host: a.host!, port: a.port ?? 5432, username: a.adminUser!, password: pulumi.secret(a.adminPassword!), sslmode: a.sslMode ?? "require", superuser: false, database: "postgres", connectTimeout: 30 },
    { parent },
  );
  return {
    roles: auditRoles(plan.prefix),
    services: Object.freeze(Object.fromEntries(SERVICE_ROLES.map((k) => [k, pulumi.secret(shared.apply((s) => s.services[k]))])) as Record<ServiceRole, pulumi.Output<AuditConnection>>),
    provider,
    owner: pulumi.secret(shared.apply((s) => s.owner)),
    masterKey: pulumi.secret(shared.apply((s) => s.masterKey)),
    ...(a.caCertificate !== undefined ? { caCertificate: a.caCertificate } : {}),
  };
}

/**
 * A host stack's join: from the shared stack's reference, the part argument of OpenClawPlatform
 * and the config with the audit admin password the shared stack holds (a host stack keeps no copy
 * of its own; the planner requires one for an external store).
 */
export function hostPartOf(config: OpenClawPlatformConfig, host: string, shared: pulumi.StackReference): { config: OpenClawPlatformConfig; part: HostPart } {
  const sharedAudit = shared.requireOutput(SHARED_AUDIT_OUTPUT) as pulumi.Output<SharedAuditOutputs>;
  return {
    config: { ...config, audit: { ...config.audit, adminPassword: pulumi.secret(sharedAudit.apply((s) => s.adminPassword)) } },
    part: { host, sharedAudit },
  };
}
