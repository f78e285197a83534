// Which tenant is asking. Two independent witnesses must agree:
//  1. the network: the router has one address per tenant network, so the local address a
//     request arrived at names the tenant, and its source address must lie in that tenant's
//     subnet (Docker bridges do not route between tenant networks, so a source inside A's
//     subnet arriving at A's router address came over A's network);
//  2. the router token: a per-tenant secret the tenant's gateway holds.
// A token alone would let a tenant that stole another's token (it cannot, but defence in
// depth) act as that tenant; the network alone would let anything on a network act without a
// secret. Disagreement is refused and audited, never resolved in either's favour.
import { createHash, timingSafeEqual } from "node:crypto";
import { cidrContains, ipv4ToInt, parseCidr, type Cidr, type RouterTenantConfig } from "@octw/contracts";

// Every lookup per request is a map access, not a walk over all tenants: a router serving
// hundreds of tenants pays the same per request as one serving one.
export interface TenantTable {
  byAddress: Map<string, RouterTenantConfig>;
  /** Each tenant's subnet. */
  netOf: Map<RouterTenantConfig, Cidr>;
  /** Each tenant's token digest (raw bytes). */
  digestOf: Map<RouterTenantConfig, Buffer>;
  /** Tenant by token digest (hex; digests are unique, config.ts refuses repeats). */
  byDigest: Map<string, RouterTenantConfig>;
}

export function buildTenantTable(tenants: readonly RouterTenantConfig[]): TenantTable {
  return {
    byAddress: new Map(tenants.map((t) => [t.routerAddress, t])),
    netOf: new Map(tenants.map((t) => [t, parseCidr(t.subnet)!])),
    digestOf: new Map(tenants.map((t) => [t, Buffer.from(t.tokenSha256, "hex")])),
    byDigest: new Map(tenants.map((t) => [t.tokenSha256, t])),
  };
}

/** `::ffff:10.0.0.1` (IPv4-mapped, as a dual-stack socket reports it) → `10.0.0.1`. */
export function normalizeAddress(addr: string | undefined): string {
  if (!addr) return "";
  return addr.startsWith("::ffff:") ? addr.slice(7) : addr;
}

export type NetworkResult =
  | { ok: true; tenant: RouterTenantConfig }
  | { ok: false; reason: "unknown_network" | "source_outside_network" };

/** The tenant named by the arrival address, confirmed by the source address. */
export function tenantByNetwork(table: TenantTable, localAddress: string | undefined, remoteAddress: string | undefined): NetworkResult {
  const local = normalizeAddress(localAddress);
  const tenant = table.byAddress.get(local);
  if (!tenant) return { ok: false, reason: "unknown_network" };
  const src = ipv4ToInt(normalizeAddress(remoteAddress));
  const net = table.netOf.get(tenant);
  if (src === undefined || !net || !cidrContains(net, src)) return { ok: false, reason: "source_outside_network" };
  return { ok: true, tenant };
}

/**
 * The token the sandbox sent, the way each SDK sends an API key: `Authorization: Bearer …`
 * (OpenAI-style) or `x-api-key` (Anthropic-style). Two different values are ambiguous: refused.
 */
export function presentedToken(headers: Record<string, string | string[] | undefined>): { token?: string; conflict: boolean } {
  const auth = headers.authorization;
  const bearer = typeof auth === "string" ? /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(auth)?.[1] : undefined;
  const apiKey = typeof headers["x-api-key"] === "string" ? headers["x-api-key"].trim() : undefined;
  if (bearer !== undefined && apiKey !== undefined && bearer !== apiKey) return { conflict: true };
  const token = bearer ?? (apiKey || undefined);
  return token === undefined ? { conflict: false } : { token, conflict: false };
}

export function tokenDigest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

export type TokenResult =
  | { ok: true }
  | { ok: false; reason: "missing_token" | "ambiguous_token" | "token_of_other_tenant" | "invalid_token" };

/**
 * Checks the token against the tenant the network named, in constant time. Only when that
 * fails is the digest looked up among the other tenants' (a match is reported separately
 * because it means a token has leaked). The lookup's timing depends on the SHA-256 of what the
 * caller sent, which the caller knows already and cannot steer towards a stored digest, so it
 * tells nothing about any tenant's token; and which outcome it was, the status code (401 or
 * 403) says anyway. One hash and one comparison per request, however many tenants there are.
 */
export function checkToken(table: TenantTable, networkTenant: RouterTenantConfig, headers: Record<string, string | string[] | undefined>): TokenResult {
  const p = presentedToken(headers);
  if (p.conflict) return { ok: false, reason: "ambiguous_token" };
  if (p.token === undefined) return { ok: false, reason: "missing_token" };
  const d = tokenDigest(p.token);
  const own = table.digestOf.get(networkTenant);
  if (own && timingSafeEqual(d, own)) return { ok: true };
  const other = table.byDigest.get(d.toString("hex"));
  return { ok: false, reason: other && other !== networkTenant ? "token_of_other_tenant" : "invalid_token" };
}
