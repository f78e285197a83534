/**
 * One tenant, declared piece by piece, the way an existing infra repo adds OCTW to what it
 * already has: its own egress and control networks, then the four components wired by hand.
 *
 * Config (pulumi config set …): `images.openclaw`, `images.egressProxy`, `images.postgres`
 * (pinned: repo@sha256:… or a local image id), optionally `tenant` (default "acme").
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import {
  AuditStore,
  SandboxPolicy,
  TenantGateway,
  TenantNetwork,
  tenantIdentityPlan,
  DEFAULT_UID_BASE,
} from "@octw/pulumi";

const config = new pulumi.Config();
const images = config.requireObject<{ openclaw: string; egressProxy: string; postgres: string }>("images");
const tenantId = config.get("tenant") ?? "acme";
const slot = 1;

// Shared infrastructure the infra repo owns.
const egress = new docker.Network("egress", {
  name: "acme-egress",
  driver: "bridge",
  ipamConfigs: [{ subnet: "10.63.0.0/24" }],
  options: { "com.docker.network.bridge.enable_icc": "false" },
});
const control = new docker.Network("control", { name: "acme-control", driver: "bridge", internal: true, ipamConfigs: [{ subnet: "10.63.1.0/28" }] });

// The tenant's network: internal, its own /27, fixed addresses for everything on it.
const network = new TenantNetwork(tenantId, { tenantId, slot, namePrefix: "acme" });
const identity = tenantIdentityPlan(DEFAULT_UID_BASE, slot);

// Its containment policy: the GitHub preset plus one API of its own, as YAML.
const policy = new SandboxPolicy(tenantId, {
  tenantId,
  presets: ["restricted", "github"],
  policy: `
version: 1
network_policies:
  crm:
    endpoints:
      - host: api.crm.example.com
        port: 443
`,
  tenantNetworkName: network.networkName,
  proxyAddress: network.plan.egressProxy,
  egressNetworkName: egress.name,
  proxyImage: images.egressProxy,
  proxyUid: identity.egressProxyUid,
  proxyGid: identity.egressProxyGid,
  namePrefix: "acme",
});

// The gateway gets the hardening the policy hands it.
const gateway = new TenantGateway(
  tenantId,
  {
    tenantId,
    image: images.openclaw,
    networkName: network.networkName,
    address: network.plan.gateway,
    edgeAddress: network.plan.edge,
    proxyUrl: policy.plan.proxyUrl,
    tmpfs: [...policy.plan.gatewayFilesystem.tmpfs],
    uid: identity.gatewayUid,
    gid: identity.gatewayGid,
    limits: { memoryMb: 2048, cpus: 1.5 },
    allowedOrigins: [`https://${tenantId}.agents.example.com`],
    namePrefix: "acme",
  },
  { dependsOn: [policy] },
);

// Audit in an embedded Postgres on the control network.
const audit = new AuditStore("audit", {
  mode: "embedded",
  namePrefix: "acme",
  embedded: { image: images.postgres, networkName: control.name, address: "10.63.1.2" },
});

export const gatewayUrl = gateway.url;
export const proxyUrl = policy.proxyUrl;
export const notEnforced = policy.notEnforced;
// For the edge / router / shipper, pass each its own: audit.services.edge, .router, .shipper.
export const auditOperator = audit.owner;
