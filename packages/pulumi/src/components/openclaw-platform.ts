import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { labelList } from "../planners/container-hardening.js";
import { planPlatform, type OpenClawPlatformConfig, type PlatformPlan, type TenantPlan } from "../planners/platform-config.js";
import { AuditStore, type AuditConnection } from "./audit-store.js";
import { DEFAULT_ROLE_SCOPES } from "@octw/contracts";
import { Edge, type EdgeOidcArgs } from "./edge.js";
import { NetworkAttachment } from "./network-attachment.js";
import { EgressAuditShipper } from "./egress-audit-shipper.js";
import { InferenceRouter, type RouterTenantEntry } from "./inference-router.js";
import { ROUTER_PORT, routerTenantEntry, routerTokenDigest } from "@octw/contracts";
import { SandboxPolicy, type SandboxPolicyArgs } from "./sandbox-policy.js";
import { TenantGateway } from "./tenant-gateway.js";
import { TenantNetwork } from "./tenant-network.js";
import { TenantAuditReader } from "./tenant-audit-reader.js";
import { Waker, suspendThresholds, wakerUrl } from "./waker.js";

export type OpenClawPlatformArgs = OpenClawPlatformConfig;

/** libpq URL of an audit connection (the password is URL-encoded). */
function postgresUrl(c: AuditConnection): string {
  const ssl = c.sslMode === "disable" ? "" : `?sslmode=${c.sslMode}`;
  return `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${c.host}:${c.port}/${c.database}${ssl}`;
}

/** What the platform exposes per tenant. */
export interface PlatformTenant {
  readonly network: TenantNetwork;
  readonly policy: SandboxPolicy;
  readonly gateway: TenantGateway;
  /** The tenant's own audit reader (a login role that sees only this tenant's rows). */
  readonly auditReader: TenantAuditReader;
}

/**
 * N tenants from one validated config: shared egress network, private control network,
 * AuditStore, and per tenant a TenantNetwork, SandboxPolicy and TenantGateway.
 *
 * Isolation of change: no shared resource takes the tenant list as input, and a tenant's
 * resources depend only on its own config and slot, so adding or removing a tenant shows up
 * in `pulumi preview` as that tenant's resources and nothing else.
 */
export class OpenClawPlatform extends pulumi.ComponentResource {
  declare readonly tenants: Readonly<Record<string, PlatformTenant>>;
  declare readonly egressNetwork: docker.Network;
  declare readonly controlNetwork: docker.Network;
  declare readonly audit: AuditStore;
  /** The shared JWT edge, when `edge` is configured. */
  declare readonly edge?: Edge;
  /** Wakes and suspends tenants for the edge, when any tenant's suspend policy is not alwaysOn. */
  declare readonly waker?: Waker;
  /** The shared inference router, when any tenant's policy has `inference`. */
  declare readonly inferenceRouter?: InferenceRouter;
  declare readonly plan: PlatformPlan;
  /** Per tenant: connection settings of its audit reader (sees only that tenant's rows). Secret. */
  declare readonly auditReaders: pulumi.Output<Record<string, AuditConnection>>;
  /** Per tenant: gateway URL on its network, proxy URL, subnet, UID, and what is not enforced. */
  declare readonly tenantSummary: pulumi.Output<Record<string, { gatewayUrl: string; proxyUrl: string; subnet: string; uid: number; notEnforced: string[] }>>;

  constructor(name: string, args: OpenClawPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `OpenClawPlatform "${name}"`;
    // The one validation and planning pass: every tenant's policy included. Bad input throws
    // here, before anything is declared.
    const plan = planPlatform(args, subject);

    super("octw:index:OpenClawPlatform", name, {}, opts);
    const child = { parent: this };

    this.egressNetwork = new docker.Network(
      `${name}-egress`,
      {
        name: `${plan.prefix}-egress`,
        driver: "bridge",
        internal: false,
        ipamConfigs: [{ subnet: plan.egressSubnet }],
        // Egress proxies of different tenants share this bridge but must not reach each other.
        options: { "com.docker.network.bridge.enable_icc": "false" },
        labels: labelList({ "octw.component": "egress-network", "octw.managed-by": "pulumi" }),
      },
      { ...child, deleteBeforeReplace: true },
    );
    this.controlNetwork = new docker.Network(
      `${name}-control`,
      {
        name: `${plan.prefix}-control`,
        driver: "bridge",
        internal: true,
        ipamConfigs: [{ subnet: plan.controlSubnet }],
        labels: labelList({ "octw.component": "control-network", "octw.managed-by": "pulumi" }),
      },
      { ...child, deleteBeforeReplace: true },
    );

    const a = plan.config.audit;
    this.audit = new AuditStore(
      `${name}-audit`,
      {
        mode: a.mode,
        namePrefix: plan.prefix,
        ...(a.databaseName ? { databaseName: a.databaseName } : {}),
        ...(a.masterKey !== undefined ? { masterKey: a.masterKey } : {}),
        ...(a.mode === "embedded"
          ? {
              embedded: {
                image: plan.config.images.postgres!,
                allowUnpinnedImage: plan.config.images.allowUnpinned ?? false,
                networkName: this.controlNetwork.name,
                address: plan.auditAddress,
              },
            }
          : {
              external: {
                host: a.host!,
                adminUser: a.adminUser!,
                adminPassword: a.adminPassword!,
                ...(a.port ? { port: a.port } : {}),
                ...(a.sslMode ? { sslMode: a.sslMode } : {}),
              },
            }),
      },
      child,
    );

    // The planner made sure that suspendable tenants come with `edge`, `waker` and `images.waker`.
    const suspendable = suspendThresholds(plan.tenants.map((t) => ({ id: t.config.id, suspend: t.suspend })));
    if (Object.keys(suspendable).length > 0 && plan.config.waker) {
      const w = plan.config.waker;
      this.waker = new Waker(
        `${name}-waker`,
        {
          image: plan.config.images.waker!,
          allowUnpinnedImage: plan.config.images.allowUnpinned ?? false,
          controlNetworkName: this.controlNetwork.name,
          auditConnectionUrl: pulumi.secret(this.audit.services.waker.apply(postgresUrl)),
          dockerSocketGid: w.dockerSocketGid,
          ...(w.dockerSocketPath ? { dockerSocketPath: w.dockerSocketPath } : {}),
          ...(w.wakeTimeoutMs ? { wakeTimeoutMs: w.wakeTimeoutMs } : {}),
          namePrefix: plan.prefix,
        },
        { ...child, dependsOn: [this.audit] },
      );
    }
    let edge: Edge | undefined;
    if (plan.config.edge) {
      const e = plan.config.edge;
      const ingress = new docker.Network(
        `${name}-ingress`,
        {
          name: `${plan.prefix}-ingress`,
          driver: "bridge",
          internal: false,
          ipamConfigs: [{ subnet: plan.ingressSubnet }],
          options: { "com.docker.network.bridge.enable_icc": "false" },
          labels: labelList({ "octw.component": "ingress-network", "octw.managed-by": "pulumi" }),
        },
        { ...child, deleteBeforeReplace: true },
      );
      edge = new Edge(
        `${name}-edge`,
        {
          image: plan.config.images.edge!,
          allowUnpinnedImage: plan.config.images.allowUnpinned ?? false,
          ingressNetworkName: ingress.name,
          controlNetworkName: this.controlNetwork.name,
          // Each service gets its own role, which may append only its own event types.
          auditConnectionUrl: pulumi.secret(this.audit.services.edge.apply(postgresUrl)),
          ...(e.hostPort ? { hostPort: e.hostPort } : {}),
          ...(e.hostIp ? { hostIp: e.hostIp } : {}),
          ...((e.hostRouting ?? true) ? { hostDomain: plan.domain } : {}),
          jwt: e.jwt,
          ...(e.roles ? { roles: e.roles } : {}),
          ...(e.oidc ? { oidc: edgeOidcArgs(e.oidc) } : {}),
          namePrefix: plan.prefix,
          ...(this.waker ? { wake: { wakerUrl: wakerUrl(plan.prefix), token: this.waker.token, tenants: suspendable } } : {}),
        },
        { ...child, dependsOn: [this.audit] },
      );
    }
    this.edge = edge;

    if (plan.config.egressAudit) {
      const x = plan.config.egressAudit;
      new EgressAuditShipper(
        `${name}-egress-audit`,
        {
          image: plan.config.images.egressAudit!,
          allowUnpinnedImage: plan.config.images.allowUnpinned ?? false,
          controlNetworkName: this.controlNetwork.name,
          auditConnectionUrl: pulumi.secret(this.audit.services.shipper.apply(postgresUrl)),
          dockerSocketGid: x.dockerSocketGid,
          ...(x.dockerSocketPath ? { dockerSocketPath: x.dockerSocketPath } : {}),
          ...(x.windowMs ? { windowMs: x.windowMs } : {}),
          // Only this platform's proxies (several platforms may share an engine).
          proxyLabels: { "octw.platform": plan.prefix },
          namePrefix: plan.prefix,
        },
        { ...child, dependsOn: [this.audit] },
      );
    }

    const tenants: Record<string, PlatformTenant> = {};
    const routerEntries: pulumi.Output<RouterTenantEntry>[] = [];
    const routerNeeded: { id: string; network: TenantNetwork; address: string }[] = [];
    for (const t of plan.tenants) {
      const id = t.config.id;
      const network = new TenantNetwork(`${name}-${id}`, { tenantId: id, slot: t.addresses.slot, addressPool: plan.addressPool, planned: t.addresses, namePrefix: plan.prefix }, child);
      const policy = new SandboxPolicy(`${name}-${id}`, OpenClawPlatform.policyArgs(plan, t, this.egressNetwork.name, network.networkName), child);
      const gateway = new TenantGateway(
        `${name}-${id}`,
        {
          tenantId: id,
          image: t.image,
          allowUnpinnedImage: plan.config.images.allowUnpinned ?? false,
          networkName: network.networkName,
          address: t.addresses.gateway,
          edgeAddress: t.addresses.edge,
          proxyUrl: policy.plan.proxyUrl,
          tmpfs: [...policy.plan.gatewayFilesystem.tmpfs],
          // A policy's process.run_as_user/group can only name the tenant's allocated id
          // ("sandbox"/"tenant"): the identity plan is the one source of the gateway's ids.
          uid: t.identity.gatewayUid,
          gid: t.identity.gatewayGid,
          limits: t.limits,
          ...(t.config.runtime ? { runtime: t.config.runtime } : {}),
          allowedOrigins: [`https://${id}.${plan.domain}`],
          ...(plan.config.edge?.oidc ? { deviceAutoApproveScopes: allOperatorScopes(plan.config.edge.roles) } : {}),
          namePrefix: plan.prefix,
          ...(policy.plan.inference ? { inference: { routerAddress: t.addresses.inferenceRouter, policy: policy.plan.inference } } : {}),
        },
        { ...child, dependsOn: [policy] },
      );
      const inference = policy.plan.inference;
      if (inference) {
        routerEntries.push(
          gateway.routerToken.apply((token) =>
            routerTenantEntry({ tenantId: id, routerAddress: t.addresses.inferenceRouter, subnet: t.addresses.subnet, tokenSha256: routerTokenDigest(token), inference }),
          ),
        );
        routerNeeded.push({ id, network, address: t.addresses.inferenceRouter });
      }
      if (edge) {
        // The edge joins this tenant's network at the address the gateway trusts, as a resource of
        // this tenant: adding or removing the tenant never touches the edge container.
        new NetworkAttachment(
          `${name}-${id}-edge-attachment`,
          // by container id, not name: a replaced edge has a new id, so its attachments are
          // replaced with it (a name would stay the same and leave the new edge unattached)
          { container: edge.container.id, network: network.networkName, ipv4Address: t.addresses.edge },
          { ...child, dependsOn: [edge, network] },
        );
      }
      const auditReader = new TenantAuditReader(`${name}-${id}-audit-reader`, { tenantId: id, audit: this.audit }, child);
      tenants[id] = { network, policy, gateway, auditReader };
    }
    if (routerNeeded.length > 0) {
      const router = new InferenceRouter(
        `${name}-inference-router`,
        {
          image: plan.config.images.inferenceRouter!,
          allowUnpinnedImage: plan.config.images.allowUnpinned ?? false,
          egressNetworkName: this.egressNetwork.name,
          controlNetworkName: this.controlNetwork.name,
          databaseUrl: pulumi.secret(this.audit.services.router.apply(postgresUrl)),
          masterKeyring: pulumi.secret(this.audit.masterKey.apply((k) => `1:${k}`)),
          tenants: pulumi.all(routerEntries),
          namePrefix: plan.prefix,
          ...(plan.config.inferenceRouter?.insecureProvidersForTests ? { insecureProvidersForTests: plan.config.inferenceRouter.insecureProvidersForTests } : {}),
          platformNetworks: [...plan.platformNetworks],
        },
        { ...child, dependsOn: [this.audit] },
      );
      for (const r of routerNeeded) {
        new NetworkAttachment(
          `${name}-${r.id}-router-attachment`,
          { container: router.container.id, network: r.network.networkName, ipv4Address: r.address },
          { ...child, dependsOn: [router, r.network] },
        );
      }
      this.inferenceRouter = router;
    }
    this.tenants = tenants;
    this.plan = plan;
    this.tenantSummary = pulumi.output(
      Object.fromEntries(
        plan.tenants.map((t) => [
          t.config.id,
          {
            gatewayUrl: `http://${t.addresses.gateway}:18789`,
            proxyUrl: tenants[t.config.id]!.policy.plan.proxyUrl,
            subnet: t.addresses.subnet,
            uid: t.identity.gatewayUid,
            notEnforced: [...tenants[t.config.id]!.policy.plan.enforced.notEnforced],
          },
        ]),
      ),
    );
    this.auditReaders = pulumi.secret(
      pulumi.all(Object.fromEntries(Object.entries(tenants).map(([id, t]) => [id, t.auditReader.connection]))) as pulumi.Output<Record<string, AuditConnection>>,
    );
    this.registerOutputs({ tenantSummary: this.tenantSummary, auditReaders: this.auditReaders, edgeUrl: edge?.url });
  }

  private static policyArgs(plan: PlatformPlan, t: TenantPlan, egressNetworkName: pulumi.Input<string>, tenantNetworkName: pulumi.Input<string>): SandboxPolicyArgs {
    return {
      tenantId: t.config.id,
      planned: t.policy,
      tenantNetworkName,
      proxyAddress: t.addresses.egressProxy,
      ...(t.policy.inference ? { inferenceRouter: { address: t.addresses.inferenceRouter, port: ROUTER_PORT } } : {}),
      egressNetworkName,
      proxyImage: plan.config.images.egressProxy,
      allowUnpinnedImage: plan.config.images.allowUnpinned ?? false,
      proxyUid: t.identity.egressProxyUid,
      proxyGid: t.identity.egressProxyGid,
      namePrefix: plan.prefix,
    };
  }
}

/** The platform's sign-in settings as the Edge takes them (secrets stay Pulumi secrets). */
function edgeOidcArgs(o: NonNullable<NonNullable<OpenClawPlatformConfig["edge"]>["oidc"]>): EdgeOidcArgs {
  return {
    issuer: o.issuer,
    clientId: o.clientId,
    ...(o.clientSecret !== undefined ? { clientSecret: pulumi.secret(o.clientSecret) } : {}),
    sessionKey: pulumi.secret(o.sessionKey),
    tenants: o.tenantRoles,
    ...(o.groupsClaim ? { groupsClaim: o.groupsClaim } : {}),
    ...(o.scopes ? { scopes: o.scopes } : {}),
    ...(o.prompt ? { prompt: o.prompt } : {}),
    ...(o.sessionMaxS ? { sessionMaxSec: o.sessionMaxS } : {}),
    ...(o.recheckS ? { recheckSec: o.recheckS } : {}),
    ...(o.idpHosts ? { idpHosts: o.idpHosts } : {}),
    ...(o.idpCaCertificate !== undefined ? { idpCaCertificate: o.idpCaCertificate } : {}),
  };
}

/** Every scope some edge role grants: the bound of browser auto-approval (the edge caps each person). */
function allOperatorScopes(roles: Record<string, string[]> | undefined): string[] {
  return [...new Set(Object.values(roles ?? DEFAULT_ROLE_SCOPES).flat())].sort();
}
