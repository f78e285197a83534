/**
 * Address and identity plan of a tenant: pure functions from a tenant's stable `slot` to its
 * subnet, the fixed addresses of everything on its network, and its numeric UIDs.
 *
 * Why slots: a tenant's subnet and UIDs must not depend on which other tenants exist, so that
 * adding or removing a tenant never changes an input of another tenant's resources (a PR
 * preview then shows only that tenant). A slot is either given explicitly (the platform's own
 * tenant number) or derived from a hash of the tenant id; collisions are reported, never
 * resolved silently by shifting someone else.
 */
import { createHash } from "node:crypto";

/** Prefix length of every tenant network: 32 addresses, enough for the fixed holders below. */
export const TENANT_PREFIX_LENGTH = 27;
const TENANT_BLOCK = 2 ** (32 - TENANT_PREFIX_LENGTH);

/** Host offsets inside a tenant's /27 (see docs/contracts.md). */
export const TENANT_OFFSETS = {
  bridgeGateway: 1,
  edge: 2,
  inferenceRouter: 3,
  egressProxy: 4,
  gateway: 5,
} as const;

export const DEFAULT_ADDRESS_POOL = "10.64.0.0/10";
/** First UID/GID handed to tenants: far above distribution users (<65536) and common subuid ranges' starts. */
export const DEFAULT_UID_BASE = 200_000;
/** Each slot owns this many consecutive UIDs (gateway, egress proxy, and spares for later sidecars). */
export const UIDS_PER_SLOT = 4;
export const UID_OFFSETS = { gateway: 0, egressProxy: 1 } as const;

export interface Ipv4Cidr {
  readonly base: number;
  readonly prefixLength: number;
}

export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  if (m.slice(1).some((o) => o.length > 1 && o.startsWith("0"))) return undefined; // no octal-looking forms
  return (((octets[0]! << 24) >>> 0) + (octets[1]! << 16) + (octets[2]! << 8) + octets[3]!) >>> 0;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const base = parseIpv4(m[1]!);
  const prefixLength = Number(m[2]);
  if (base === undefined || prefixLength > 32) return undefined;
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  if ((base & mask) >>> 0 !== base) return undefined; // host bits set: ambiguous, refuse
  return { base, prefixLength };
}

export function formatCidr(c: Ipv4Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefixLength}`;
}

export function cidrSize(c: Ipv4Cidr): number {
  return 2 ** (32 - c.prefixLength);
}

export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  const aEnd = a.base + cidrSize(a) - 1;
  const bEnd = b.base + cidrSize(b) - 1;
  return a.base <= bEnd && b.base <= aEnd;
}

/** Number of tenant slots a pool holds. Slot 0 is reserved (its /27 is never handed out). */
export function slotCapacity(pool: Ipv4Cidr): number {
  return Math.floor(cidrSize(pool) / TENANT_BLOCK);
}

/**
 * Stable slot for a tenant id when none is given: SHA-256 of the id, reduced into [1, capacity).
 * Deterministic across runs and machines, independent of every other tenant.
 */
export function derivedSlot(tenantId: string, capacity: number): number {
  const digest = createHash("sha256").update(`octw-slot:${tenantId}`).digest();
  return 1 + (digest.readUInt32BE(0) % (capacity - 1));
}

export interface TenantAddressPlan {
  readonly slot: number;
  /** The tenant network's subnet, e.g. `10.64.0.32/27`. */
  readonly subnet: string;
  readonly bridgeGateway: string;
  readonly edge: string;
  readonly inferenceRouter: string;
  readonly egressProxy: string;
  readonly gateway: string;
  /** Addresses Docker's IPAM may hand out to containers without a fixed address (above the fixed holders). */
  readonly dynamicRange: string;
}

export function tenantAddressPlan(pool: Ipv4Cidr, slot: number): TenantAddressPlan {
  const capacity = slotCapacity(pool);
  if (!Number.isInteger(slot) || slot < 1 || slot >= capacity) {
    throw new RangeError(`slot: must be an integer in 1..${capacity - 1} for this address pool`);
  }
  const base = pool.base + slot * TENANT_BLOCK;
  const at = (offset: number) => formatIpv4(base + offset);
  return {
    slot,
    subnet: formatCidr({ base, prefixLength: TENANT_PREFIX_LENGTH }),
    bridgeGateway: at(TENANT_OFFSETS.bridgeGateway),
    edge: at(TENANT_OFFSETS.edge),
    inferenceRouter: at(TENANT_OFFSETS.inferenceRouter),
    egressProxy: at(TENANT_OFFSETS.egressProxy),
    gateway: at(TENANT_OFFSETS.gateway),
    dynamicRange: formatCidr({ base: base + 16, prefixLength: 28 }),
  };
}

export interface TenantIdentityPlan {
  readonly gatewayUid: number;
  readonly gatewayGid: number;
  readonly egressProxyUid: number;
  readonly egressProxyGid: number;
}

export function tenantIdentityPlan(uidBase: number, slot: number): TenantIdentityPlan {
  const first = uidBase + slot * UIDS_PER_SLOT;
  return {
    gatewayUid: first + UID_OFFSETS.gateway,
    gatewayGid: first + UID_OFFSETS.gateway,
    egressProxyUid: first + UID_OFFSETS.egressProxy,
    egressProxyGid: first + UID_OFFSETS.egressProxy,
  };
}
