/**
 * The tenant boundary on the network: a tenant's network is internal (no route out) with no
 * host address on its bridge, and the only containers on it are that tenant's.
 */
import type { PolicyResource } from "@pulumi/policy";
import { TYPES, asArray, declaredBy, labels } from "../resource-facts.js";
import type { ResourceRule, StackFinding, StackRule } from "./rule.js";

const INHIBIT_IPV4 = "com.docker.network.bridge.inhibit_ipv4";

export function isTenantNetwork(r: { urn: string; props: Record<string, unknown> }): boolean {
  return labels(r.props)["octw.component"] === "tenant-network" || declaredBy(r.urn, "octw:index:TenantNetwork");
}

function isGateway(r: { urn: string; props: Record<string, unknown> }): boolean {
  return labels(r.props)["octw.component"] === "gateway";
}

export const tenantNetworkInternal: ResourceRule = {
  kind: "resource",
  name: "octw-tenant-network-internal",
  description: "Every tenant network is internal (no route out) and gives the host no address on it.",
  types: [TYPES.network],
  check(props, ctx) {
    if (!isTenantNetwork({ urn: ctx.urn, props })) return [];
    const out = [];
    if (props.internal !== true) out.push({ field: "internal", problem: "is not true: the tenant network would route to the outside", fix: "set internal: true; tenants reach the outside only through their egress proxy" });
    const inhibit = (props.options as Record<string, unknown> | undefined)?.[INHIBIT_IPV4];
    if (inhibit !== "true") out.push({ field: `options["${INHIBIT_IPV4}"]`, problem: 'is not "true": the host gets an address on the tenant bridge and tenants can reach host services', fix: `set options["${INHIBIT_IPV4}"] to "true"` });
    return out;
  },
};

// Read directly: an attachment unknown during preview makes the engine report this rule as not
// runnable (advisory) rather than letting it pass.
function attachments(r: PolicyResource): { i: number; name: string }[] {
  return asArray(r.props.networksAdvanced).map((n, i) => ({ i, name: String((n as { name?: unknown }).name) }));
}

export const gatewayOwnNetwork: StackRule = {
  kind: "stack",
  name: "octw-gateway-own-network",
  description: "Every tenant gateway is on its own tenant network only, and no other tenant's (or unlabelled) container joins a tenant network.",
  check(resources) {
    const tenantNetworks = new Map<string, string | undefined>();
    for (const r of resources) {
      if (r.type !== TYPES.network || !isTenantNetwork(r)) continue;
      tenantNetworks.set(String(r.props.name), labels(r.props)["octw.tenant"]);
    }
    const out: StackFinding[] = [];
    for (const r of resources) {
      if (r.type !== TYPES.container) continue;
      const tenant = labels(r.props)["octw.tenant"];
      const nets = attachments(r);
      if (isGateway(r)) {
        const own = [...tenantNetworks].filter(([, t]) => t === tenant).map(([n]) => n);
        const mode: unknown = r.props.networkMode;
        if (typeof mode === "string" && !own.includes(mode)) out.push({ resource: r, field: "networkMode", problem: "puts the gateway on a network other than its tenant network", fix: "remove networkMode; attach the gateway only to its tenant network (networksAdvanced)" });
        if (nets.length === 0) out.push({ resource: r, field: "networksAdvanced", problem: "attaches the gateway to no tenant network", fix: `attach it to its tenant network only${own.length ? ` (${own.join(", ")})` : ""}` });
        for (const n of nets) {
          if (!own.includes(n.name)) out.push({ resource: r, field: `networksAdvanced[${n.i}]`, problem: `attaches the gateway to network ${n.name}, which is not ${tenant ? `tenant ${tenant}'s` : "its own"} tenant network`, fix: `remove that attachment; a gateway is only on its tenant network${own.length ? ` (${own.join(", ")})` : ""} and reaches everything else through the fixed addresses on it` });
        }
        continue;
      }
      for (const n of nets) {
        if (!tenantNetworks.has(n.name)) continue;
        const owner = tenantNetworks.get(n.name);
        if (owner !== undefined && owner !== tenant) out.push({ resource: r, field: `networksAdvanced[${n.i}]`, problem: `joins tenant ${owner}'s network ${n.name}${tenant ? ` as a container of tenant ${tenant}` : ""}`, fix: `remove that attachment; only tenant ${owner}'s own containers sit on its network (shared services attach through the platform's NetworkAttachment)` });
      }
    }
    return out;
  },
};

