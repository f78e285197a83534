// A newcomer's infra program: the platform for two tenants, plus one tenant declared piece by
// piece next to its own networks. Only the packed @octw tarballs and registry packages are installed.
import * as docker from "@pulumi/docker";
import { DEFAULT_UID_BASE, OpenClawPlatform, SandboxPolicy, TenantGateway, TenantNetwork, tenantIdentityPlan } from "@octw/pulumi";

const pinned = (c: string) => `sha256:${c.repeat(64)}`;
const images = { openclaw: pinned("a"), egressProxy: pinned("b"), postgres: pinned("c") };

const platform = new OpenClawPlatform("prod", {
  prefix: "prod",
  images,
  tenants: [
    { id: "acme", slot: 1, presets: ["restricted", "github"] },
    { id: "globex", slot: 2, policy: "version: 1\nnetwork_policies:\n  crm:\n    endpoints:\n      - host: api.crm.example.com\n        port: 443\n" },
  ],
  audit: { mode: "embedded" },
});

const egress = new docker.Network("piece-egress", {
  name: "piece-egress",
  driver: "bridge",
  ipamConfigs: [{ subnet: "10.62.0.0/24" }],
  options: { "com.docker.network.bridge.enable_icc": "false" },
});
const network = new TenantNetwork("initech", { tenantId: "initech", slot: 9, namePrefix: "piece" });
const identity = tenantIdentityPlan(DEFAULT_UID_BASE, 9);
const policy = new SandboxPolicy("initech", {
  tenantId: "initech",
  presets: ["restricted"],
  tenantNetworkName: network.networkName,
  proxyAddress: network.plan.egressProxy,
  egressNetworkName: egress.name,
  proxyImage: images.egressProxy,
  proxyUid: identity.egressProxyUid,
  proxyGid: identity.egressProxyGid,
  namePrefix: "piece",
});
const gateway = new TenantGateway(
  "initech",
  {
    tenantId: "initech",
    image: images.openclaw,
    networkName: network.networkName,
    address: network.plan.gateway,
    edgeAddress: network.plan.edge,
    proxyUrl: policy.plan.proxyUrl,
    tmpfs: [...policy.plan.gatewayFilesystem.tmpfs],
    uid: identity.gatewayUid,
    gid: identity.gatewayGid,
    namePrefix: "piece",
  },
  { dependsOn: [policy] },
);

export const tenants = platform.tenantSummary;
export const gatewayUrl = gateway.url;
