import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { labelList } from "../planners/container-hardening.js";
import { planPlatform, type OpenClawPlatformConfig, type PlatformPlan, type TenantPlan } from "../planners/platform-config.js";
import { AuditStore, type AuditConnection, type AuditStoreArgs, type AuditStoreLike } from "./audit-store.js";
import { DEFAULT_ROLE_SCOPES } from "@octw/contracts";
import { EDGE_PORT, Edge, type EdgeOidcArgs } from "./edge.js";
import { NetworkAttachment } from "./network-attachment.js";
import { EgressAuditShipper } from "./egress-audit-shipper.js";
import { InferenceRouter, type RouterTenantEntry } from "./inference-router.js";
import { ROUTER_PORT, routerTenantEntry, routerTokenDigest } from "@octw/contracts";
import { SandboxPolicy, type SandboxPolicyArgs } from "./sandbox-policy.js";
import { TenantGateway } from "./tenant-gateway.js";
import { TenantNetwork } from "./tenant-network.js";
import { TenantAuditReader } from "./tenant-audit-reader.js";
import { Waker, suspendThresholds, wakerUrl } from "./waker.js";
import { engineConnectionOf, type EngineConnection } from "./engine-request.js";
import type { HostPlan } from "../planners/hosts.js";
import { checkPart, sharedAuditOf, type HostPart } from "./platform-parts.js";

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

/** What the platform declares on one host (its own engine). */
export interface PlatformHost {
  /** The host's explicit provider; absent for the program's own engine (the default provider: nothing changes for a single-host stack). */
  readonly provider?: docker.Provider;
  readonly egressNetwork: docker.Network;
  readonly controlNetwork: docker.Network;
  readonly edge?: Edge;
  readonly waker?: Waker;
  readonly inferenceRouter?: InferenceRouter;
  /** The tenants placed on it. */
  readonly tenants: readonly string[];
}

/** The Pulumi options of a host's resources: its provider (components pass it on to their children). */
function onHost(parent: pulumi.Resource, provider: docker.Provider | undefined): pulumi.CustomResourceOptions & pulumi.ComponentResourceOptions {
  return provider ? { parent, provider } : { parent };
}

/** One of a host's shared bridge networks (egress, control, ingress), replaced delete-first (its name is fixed). */
function sharedNetwork(pulumiName: string, dockerName: string, component: string, subnet: string, how: { internal: boolean; iccOff: boolean }, opts: pulumi.CustomResourceOptions): docker.Network {
  return new docker.Network(
    pulumiName,
    {
      name: dockerName,
      driver: "bridge",
      internal: how.internal,
      ipamConfigs: [{ subnet }],
      ...(how.iccOff ? { options: { "com.docker.network.bridge.enable_icc": "false" } } : {}),
      labels: labelList({ "octw.component": component, "octw.managed-by": "pulumi" }),
    },
    { ...opts, deleteBeforeReplace: true },
  );
}

/** The host's docker.Provider: its endpoint and credentials (secrets stay secrets); none for the program's own engine. */
function hostProvider(name: string, h: HostPlan, parent: pulumi.Resource): docker.Provider | undefined {
  const e = h.endpoint;
  if (e.kind === "default") return undefined;
  return new docker.Provider(
    `${name}${h.resourceInfix}-docker`,
    {
      host: e.url,
      ...(e.kind === "tcp" && h.tls ? { caMaterial: h.tls.ca, certMaterial: h.tls.cert, keyMaterial: pulumi.secret(h.tls.key) } : {}),
      ...(e.kind === "ssh" && h.sshOpts.length ? { sshOpts: [...h.sshOpts] } : {}),
    },
    { parent },
  );
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
  /** The audit store; in a host's part (per-host stack layout), the shared stack's store as read from its outputs. */
  declare readonly audit: AuditStoreLike;
  /** The shared JWT edge, when `edge` is configured. */
  declare readonly edge?: Edge;
  /** Wakes and suspends tenants for the edge, when any tenant's suspend policy is not alwaysOn. */
  declare readonly waker?: Waker;
  /** The shared inference router, when any tenant's policy has `inference`. */
  declare readonly inferenceRouter?: InferenceRouter;
  declare readonly plan: PlatformPlan;
  /**
   * Per host (`hosts[].name`; "local" without `hosts`): its provider, shared parts and tenants.
   * `egressNetwork`, `controlNetwork`, `edge`, `waker` and `inferenceRouter` above are the first host's.
   */
  declare readonly hosts: Readonly<Record<string, PlatformHost>>;
  /**
   * Per tenant: the host it is on, its one public URL, and where that host's edge listens — the
   * address the operator's DNS or load balancer must send `<tenant>.<domain>` to.
   */
  declare readonly tenantAddresses: pulumi.Output<Record<string, { host: string; url: string; serveAt?: string }>>;
  /** Per tenant: connection settings of its audit reader (sees only that tenant's rows). Secret. */
  declare readonly auditReaders: pulumi.Output<Record<string, AuditConnection>>;
  /** Per tenant: gateway URL on its network, proxy URL, subnet, UID, and what is not enforced. */
  declare readonly tenantSummary: pulumi.Output<Record<string, { gatewayUrl: string; proxyUrl: string; subnet: string; uid: number; notEnforced: string[] }>>;

  /**
   * `part`: in the per-host stack layout (platform-parts.ts), declare only this host's part — its
   * shared networks, services and tenants — with the shared stack's audit store; the plan is
   * still the whole config's. Absent: the whole platform in one stack.
   */
  constructor(name: string, args: OpenClawPlatformArgs, opts?: pulumi.ComponentResourceOptions, part?: HostPart) {
    const subject = `OpenClawPlatform "${name}"`;
    // The one validation and planning pass: every tenant's policy included. Bad input throws
    // here, before anything is declared.
    const plan = planPlatform(args, subject);
    if (part) checkPart(plan, part, subject);

    super("octw:index:OpenClawPlatform", name, {}, opts);
    const child = { parent: this };

    // Per host, its own engine: the shared networks every host has, declared with its provider.
    const onHosts = plan.hosts.filter((h) => !part || h.name === part.host).map((h) => {
      const provider = hostProvider(name, h, this);
      const opts = onHost(this, provider);
      const hn = `${name}${h.resourceInfix}`;
      // Egress proxies of different tenants share the egress bridge but must not reach each other.
      const egressNetwork = sharedNetwork(`${hn}-egress`, `${plan.prefix}-egress`, "egress-network", plan.egressSubnet, { internal: false, iccOff: true }, opts);
      const controlNetwork = sharedNetwork(`${hn}-control`, `${plan.prefix}-control`, "control-network", plan.controlSubnet, { internal: true, iccOff: false }, opts);
      return { plan: h, provider, opts, hn, engine: engineConnectionOf(h), egressNetwork, controlNetwork, tenants: plan.placement.tenantsOf.get(h.name) ?? [] };
    });
    const home = onHosts[0]!;
    this.egressNetwork = home.egressNetwork;
    this.controlNetwork = home.controlNetwork;

    // Once: embedded, it runs on its host (`audit.publish.host`, else the first; published over
    // TLS when the platform has other hosts); external, it has no Docker part. A host's part reads
    // the shared stack's.
    const storeHost = onHosts.find((o) => o.plan.name === plan.auditHost) ?? home;
    this.audit = part ? sharedAuditOf(name, plan, part, this) : new AuditStore(`${name}-audit`, platformAuditStoreArgs(plan, storeHost.controlNetwork.name), storeHost.opts);
    const afterAudit = this.audit instanceof AuditStore ? [this.audit] : [];

    // Every service verifies the audit server against the operator's CA, when one is named —
    // except, with a published embedded store, the services of its own host: they keep their
    // connection on its internal control network (docs/multi-host.md).
    const localAudit = this.audit instanceof AuditStore ? this.audit.onControlNetwork : undefined;
    const auditCaCertificate = this.audit.caCertificate;
    const auditOn = (o: { plan: HostPlan }, role: keyof AuditStoreLike["services"]) =>
      localAudit && o.plan.name === storeHost.plan.name
        ? { connection: localAudit[role], ca: {} }
        : { connection: this.audit.services[role], ca: auditCaCertificate !== undefined ? { auditCaCertificate } : {} };
    // The store on this host's control network: an embedded store of this host (published or not).
    const storeOnControl = (o: { plan: HostPlan }) => !part && plan.config.audit.mode === "embedded" && o.plan.name === storeHost.plan.name;
    // Per host: its waker, edge and egress-audit shipper, for the tenants placed on it.
    const services = onHosts.map((o) => {
      const mine = new Set(o.tenants);
      // The waker and the shipper hold the engine socket: the same image, network, audit role and socket settings shape.
      // The host's own socket settings (hosts[].dockerSocketGid/Path) win over the platform's.
      const socketOn = (p: { dockerSocketGid: number; dockerSocketPath?: string | undefined }) => {
        const path = o.plan.dockerSocket?.path ?? p.dockerSocketPath;
        return { dockerSocketGid: o.plan.dockerSocket?.gid ?? p.dockerSocketGid, ...(path ? { dockerSocketPath: path } : {}) };
      };
      const socketService = (image: string, role: "waker" | "shipper", platformSocket: { dockerSocketGid: number; dockerSocketPath?: string | undefined }) => ({
        image,
        allowUnpinnedImage: plan.config.images.allowUnpinned ?? false,
        controlNetworkName: o.controlNetwork.name,
        auditConnectionUrl: pulumi.secret(auditOn(o, role).connection.apply(postgresUrl)),
        ...auditOn(o, role).ca,
        // Elsewhere (external, or embedded on another host) the store is off the internal control
        // network: the host's egress network routes there (icc off: its proxies cannot reach them).
        ...(storeOnControl(o) ? {} : { auditRouteNetworkName: o.egressNetwork.name }),
        ...socketOn(platformSocket),
      });
      // The planner made sure that suspendable tenants come with `edge`, `waker` and `images.waker`.
      const suspendable = suspendThresholds(plan.tenants.filter((t) => mine.has(t.config.id)).map((t) => ({ id: t.config.id, suspend: t.suspend })));
      let waker: Waker | undefined;
      if (Object.keys(suspendable).length > 0 && plan.config.waker) {
        const w = plan.config.waker;
        waker = new Waker(
          `${o.hn}-waker`,
          {
            ...socketService(plan.config.images.waker!, "waker", w),
            ...(w.wakeTimeoutMs ? { wakeTimeoutMs: w.wakeTimeoutMs } : {}),
            namePrefix: plan.prefix,
          },
          { ...o.opts, dependsOn: afterAudit },
        );
      }
      let edge: Edge | undefined;
      if (plan.config.edge) {
        const e = plan.config.edge;
        const ingress = sharedNetwork(`${o.hn}-ingress`, `${plan.prefix}-ingress`, "ingress-network", plan.ingressSubnet, { internal: false, iccOff: true }, o.opts);
        edge = new Edge(
          `${o.hn}-edge`,
          {
            image: plan.config.images.edge!,
            allowUnpinnedImage: plan.config.images.allowUnpinned ?? false,
            ingressNetworkName: ingress.name,
            controlNetworkName: o.controlNetwork.name,
            // Each service gets its own role, which may append only its own event types.
            auditConnectionUrl: pulumi.secret(auditOn(o, "edge").connection.apply(postgresUrl)),
            ...auditOn(o, "edge").ca,
            ...(e.hostPort ? { hostPort: e.hostPort } : {}),
            ...(e.hostIp ? { hostIp: e.hostIp } : {}),
            ...(e.cpus !== undefined ? { cpus: e.cpus } : {}),
            ...((e.hostRouting ?? true) ? { hostDomain: plan.domain } : {}),
            jwt: e.jwt,
            ...(e.roles ? { roles: e.roles } : {}),
            ...(e.oidc ? { oidc: edgeOidcArgs(e.oidc) } : {}),
            namePrefix: plan.prefix,
            ...(waker ? { wake: { wakerUrl: wakerUrl(plan.prefix), token: waker.token, tenants: suspendable } } : {}),
            // Only this host's tenants are served here; the others get 421, never forwarded
            // (docs/multi-host.md). This host's list, so another host's tenants never touch it.
            ...(plan.hosts.length > 1 ? { hostedHere: [...mine] } : {}),
          },
          { ...o.opts, dependsOn: afterAudit },
        );
      }
      if (plan.config.egressAudit) {
        const x = plan.config.egressAudit;
        new EgressAuditShipper(
          `${o.hn}-egress-audit`,
          {
            ...socketService(plan.config.images.egressAudit!, "shipper", x),
            ...(x.windowMs ? { windowMs: x.windowMs } : {}),
            // Only this platform's proxies (several platforms may share an engine).
            proxyLabels: { "octw.platform": plan.prefix },
            namePrefix: plan.prefix,
          },
          { ...o.opts, dependsOn: afterAudit },
        );
      }
      return { ...o, edge, waker, inferenceRouter: undefined as InferenceRouter | undefined };
    });
    const hostOf = new Map(services.map((o) => [o.plan.name, o]));
    this.waker = services[0]!.waker;
    this.edge = services[0]!.edge;

    const tenants: Record<string, PlatformTenant> = {};
    const routerEntries = new Map<string, pulumi.Output<RouterTenantEntry>[]>(services.map((o) => [o.plan.name, []]));
    const routerNeeded = new Map<string, { id: string; network: TenantNetwork; address: string; tn: string }[]>(services.map((o) => [o.plan.name, []]));
    for (const t of plan.tenants) {
      const id = t.config.id;
      // Its host's provider for all its Docker parts. Off the program's own engine its names carry
      // the host, so a move is a delete on the old engine and a create on the new one (never a
      // resource believed to exist on an engine that never had it).
      const o = hostOf.get(t.host);
      if (o === undefined) continue; // another host's part declares it
      const tn = `${o.hn}-${id}`;
      const network = new TenantNetwork(tn, { tenantId: id, slot: t.addresses.slot, addressPool: plan.addressPool, planned: t.addresses, namePrefix: plan.prefix }, o.opts);
      // Credential bindings: the proxy's include is read from the audit store (after its migrations) with the router's SELECT-only role.
      const bound = t.policy.enforced.egress.some((r) => r.credentials !== undefined);
      const policy = new SandboxPolicy(
        tn,
        {
          ...OpenClawPlatform.policyArgs(plan, t, o.egressNetwork.name, network.networkName),
          ...(bound
            ? {
                credentialStore: {
                  connection: this.audit.services.router,
                  masterKeyring: pulumi.secret(this.audit.masterKey.apply((k) => `1:${k}`)),
                  // read by the program: it verifies the server like the migrations do
                  ...(auditCaCertificate !== undefined ? { caCertificate: auditCaCertificate } : {}),
                },
              }
            : {}),
        },
        bound ? { ...o.opts, dependsOn: afterAudit } : o.opts,
      );
      const gateway = new TenantGateway(
        tn,
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
          ...(t.heartbeatEveryS !== undefined ? { heartbeatEveryS: t.heartbeatEveryS } : {}),
          namePrefix: plan.prefix,
          ...(policy.egressCaCert ? { egressCaCert: policy.egressCaCert } : {}),
          ...(policy.plan.inference ? { inference: { routerAddress: t.addresses.inferenceRouter, policy: policy.plan.inference } } : {}),
        },
        { ...o.opts, dependsOn: [policy] },
      );
      const inference = policy.plan.inference;
      if (inference) {
        routerEntries.get(t.host)!.push(
          gateway.routerToken.apply((token) =>
            routerTenantEntry({ tenantId: id, routerAddress: t.addresses.inferenceRouter, subnet: t.addresses.subnet, tokenSha256: routerTokenDigest(token), inference }),
          ),
        );
        routerNeeded.get(t.host)!.push({ id, network, address: t.addresses.inferenceRouter, tn });
      }
      if (o.edge) {
        // The edge joins this tenant's network at the address the gateway trusts, as a resource of
        // this tenant: adding or removing the tenant never touches the edge container.
        new NetworkAttachment(
          `${tn}-edge-attachment`,
          // by container id, not name: a replaced edge has a new id, so its attachments are
          // replaced with it (a name would stay the same and leave the new edge unattached)
          { container: o.edge.container.id, network: network.networkName, ipv4Address: t.addresses.edge, ...engineInput(o.engine) },
          { ...child, dependsOn: [o.edge, network] },
        );
      }
      const auditReader = new TenantAuditReader(`${name}-${id}-audit-reader`, { tenantId: id, audit: this.audit }, child);
      tenants[id] = { network, policy, gateway, auditReader };
    }
    for (const o of services) {
      const needed = routerNeeded.get(o.plan.name)!;
      if (needed.length === 0) continue;
      const router = new InferenceRouter(
        `${o.hn}-inference-router`,
        {
          image: plan.config.images.inferenceRouter!,
          allowUnpinnedImage: plan.config.images.allowUnpinned ?? false,
          egressNetworkName: o.egressNetwork.name,
          controlNetworkName: o.controlNetwork.name,
          ...engineInput(o.engine),
          databaseUrl: pulumi.secret(auditOn(o, "router").connection.apply(postgresUrl)),
          ...auditOn(o, "router").ca,
          masterKeyring: pulumi.secret(this.audit.masterKey.apply((k) => `1:${k}`)),
          tenants: pulumi.all(routerEntries.get(o.plan.name)!),
          namePrefix: plan.prefix,
          ...(plan.config.inferenceRouter?.insecureProvidersForTests ? { insecureProvidersForTests: plan.config.inferenceRouter.insecureProvidersForTests } : {}),
          platformNetworks: [...plan.platformNetworks],
        },
        { ...o.opts, dependsOn: afterAudit },
      );
      for (const r of needed) {
        new NetworkAttachment(
          `${r.tn}-router-attachment`,
          { container: router.container.id, network: r.network.networkName, ipv4Address: r.address, ...engineInput(o.engine) },
          { ...child, dependsOn: [router, r.network] },
        );
      }
      o.inferenceRouter = router;
      if (o === services[0]) this.inferenceRouter = router;
    }
    this.hosts = Object.fromEntries(
      services.map((o) => [
        o.plan.name,
        {
          ...(o.provider ? { provider: o.provider } : {}),
          egressNetwork: o.egressNetwork, controlNetwork: o.controlNetwork, tenants: o.tenants,
          ...(o.edge ? { edge: o.edge } : {}), ...(o.waker ? { waker: o.waker } : {}), ...(o.inferenceRouter ? { inferenceRouter: o.inferenceRouter } : {}),
        },
      ]),
    );
    this.tenantAddresses = pulumi.output(tenantAddressesOf(plan));
    this.tenants = tenants;
    this.plan = plan;
    this.tenantSummary = pulumi.output(
      Object.fromEntries(
        plan.tenants.filter((t) => tenants[t.config.id]).map((t) => [
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
    this.registerOutputs({ tenantSummary: this.tenantSummary, auditReaders: this.auditReaders, edgeUrl: this.edge?.url, tenantAddresses: this.tenantAddresses });
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
      ...(plan.config.egressProxy?.upstreamCaCerts ? { upstreamCaCerts: plan.config.egressProxy.upstreamCaCerts } : {}),
      namePrefix: plan.prefix,
    };
  }
}

/** The AuditStore args of a platform (one place, for the single stack and the shared part of the per-host layout). */
export function platformAuditStoreArgs(plan: PlatformPlan, controlNetworkName: pulumi.Input<string> | undefined): AuditStoreArgs {
  const a = plan.config.audit;
  return {
    mode: a.mode,
    namePrefix: plan.prefix,
    ...(a.databaseName ? { databaseName: a.databaseName } : {}),
    ...(a.masterKey !== undefined ? { masterKey: a.masterKey } : {}),
    ...(a.mode === "embedded"
      ? {
          embedded: {
            image: plan.config.images.postgres!,
            allowUnpinnedImage: plan.config.images.allowUnpinned ?? false,
            networkName: controlNetworkName!,
            address: plan.auditAddress,
            ...(a.publish
              ? {
                  publish: {
                    address: a.publish.address,
                    ...(a.publish.port !== undefined ? { port: a.publish.port } : {}),
                    certificate: a.publish.certificate,
                    key: pulumi.secret(a.publish.key),
                    caCertificate: a.caCertificate!,
                    controlSubnet: plan.controlSubnet,
                  },
                }
              : {}),
          },
        }
      : {
          external: {
            host: a.host!,
            adminUser: a.adminUser!,
            adminPassword: a.adminPassword!,
            ...(a.port ? { port: a.port } : {}),
            ...(a.sslMode ? { sslMode: a.sslMode } : {}),
            ...(a.caCertificate !== undefined ? { caCertificate: a.caCertificate } : {}),
          },
        }),
  };
}

/**
 * Per tenant: the host it is on, its one public URL, and where that host's edge listens — the
 * address the operator's DNS or load balancer must send `<tenant>.<domain>` to. From the plan alone.
 */
export function tenantAddressesOf(plan: PlatformPlan): Record<string, { host: string; url: string; serveAt?: string }> {
  return Object.fromEntries(
    plan.tenants.map((t) => {
      const h = plan.hosts.find((x) => x.name === t.host)!;
      const e = plan.config.edge;
      const serveAt = e ? `${h.publicAddress ?? (h.endpoint.kind === "tcp" || h.endpoint.kind === "ssh" ? h.endpoint.address : (e.hostIp ?? "127.0.0.1"))}:${e.hostPort ?? EDGE_PORT}` : undefined;
      return [t.config.id, { host: t.host, url: `https://${t.config.id}.${plan.domain}/`, ...(serveAt ? { serveAt } : {}) }];
    }),
  );
}

/** The `engine` input of a dynamic resource on a host: absent for the program's own engine, so its inputs stay as they were. */
function engineInput(engine: pulumi.Output<EngineConnection> | undefined): { engine?: pulumi.Output<EngineConnection> } {
  return engine ? { engine } : {};
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
