import * as pulumi from "@pulumi/pulumi";
import { SERVICE_ROLES, type ServiceRole } from "@octw/audit";
import { planPlatform, type PlatformPlan } from "../planners/platform-config.js";
import { AuditStore, type AuditConnection } from "./audit-store.js";
import { platformAuditStoreArgs, tenantAddressesOf, type OpenClawPlatformArgs } from "./openclaw-platform.js";
import { checkPart, type SharedAuditOutputs } from "./platform-parts.js";

/**
 * The shared part of the per-host stack layout (platform-parts.ts): the audit store, declared
 * exactly as OpenClawPlatform declares it (same type and name of the component, same args), and
 * the plan's outputs — the placement (`tenantAddresses`) and, for the host stacks, one secret
 * object with every audit connection (`sharedAudit`). It takes the whole config and plans it
 * like every host stack does; no resource of it depends on a tenant or a host, so adding
 * either leaves this stack's resources unchanged.
 */
export class OpenClawPlatformShared extends pulumi.ComponentResource {
  declare readonly plan: PlatformPlan;
  declare readonly audit: AuditStore;
  /** As OpenClawPlatform's: per tenant its host, URL and the edge address that must serve it. */
  declare readonly tenantAddresses: pulumi.Output<Record<string, { host: string; url: string; serveAt?: string }>>;
  /** What every host stack reads (export it as {@link SHARED_AUDIT_OUTPUT}). Secret. */
  declare readonly sharedAudit: pulumi.Output<SharedAuditOutputs>;

  constructor(name: string, args: OpenClawPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `OpenClawPlatform "${name}"`;
    const plan = planPlatform(args, subject);
    checkPart(plan, {}, subject);
    // The same type token as OpenClawPlatform: the store's URN is the one the single stack gives it.
    super("octw:index:OpenClawPlatform", name, {}, opts);
    this.plan = plan;
    this.audit = new AuditStore(`${name}-audit`, platformAuditStoreArgs(plan, undefined), { parent: this });
    this.tenantAddresses = pulumi.output(tenantAddressesOf(plan));
    const services = pulumi.all(Object.fromEntries(SERVICE_ROLES.map((k) => [k, this.audit.services[k]])) as Record<ServiceRole, pulumi.Output<AuditConnection>>);
    this.sharedAudit = pulumi.secret(
      pulumi.all([this.audit.owner, services, this.audit.masterKey, pulumi.output(plan.config.audit.adminPassword!)]).apply(([owner, svc, masterKey, adminPassword]) => ({
        owner,
        services: svc as Record<ServiceRole, AuditConnection>,
        masterKey,
        adminPassword,
      })),
    );
    this.registerOutputs({ tenantAddresses: this.tenantAddresses });
  }
}
