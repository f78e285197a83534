/**
 * Who runs as which numeric UID/GID on the host. The kernel's per-UID limits (RLIMIT_NPROC) and
 * file ownership separate principals only when no two of them share an id, so ids are
 * allocated, never chosen by a tenant:
 *  - shared services run as fixed ids baked into their images, all below {@link MIN_UID_BASE};
 *  - tenants get `uidBase + 4·slot + k` (network-plan.ts), all at or above `uidBase` ≥ MIN_UID_BASE,
 *    slot 0's block unused;
 *  - one-shot volume-init containers run as root (0) with only CHOWN/FOWNER and no network:
 *    the operator's identity, never a tenant's;
 *  - the only id the operator names is the engine socket's group (`egressAudit.dockerSocketGid`),
 *    which must be none of the above.
 */
import { z } from "zod";
import { UIDS_PER_SLOT, slotCapacity, type Ipv4Cidr } from "./network-plan.js";

/**
 * Fixed ids of the images' own users (images/<name>/Dockerfile). The components run each service
 * as its id (edge.ts EDGE_UID, inference-router.ts ROUTER_UID, egress-audit-shipper.ts
 * EGRESS_AUDIT_UID, audit-store.ts POSTGRES_UID); a unit test keeps them equal to these.
 */
export const SERVICE_IDS = {
  /** images/postgres */
  postgres: 5432,
  /** images/openclaw's own user: never used to run a gateway (each runs as its tenant's id), still reserved. */
  openclawImage: 10001,
  /** images/edge */
  edge: 10002,
  /** images/inference-router */
  inferenceRouter: 10003,
  /** images/egress-audit */
  egressAudit: 10004,
  /** images/waker */
  waker: 10005,
  /** images/waker's jobs reader: the waker parses tenant-written SQLite as this uid (packages/waker/src/jobs-sandbox.ts). */
  wakerJobsReader: 10006,
  /** `nobody`: images/base and images/egress-squid's default user; never used to run a container, still reserved. */
  nobody: 65534,
} as const;

/** Root: only the one-shot volume-init containers (no network, CHOWN/FOWNER only). */
export const ROOT_ID = 0;

/** Lowest allowed `uidBase`: every id below it belongs to the host or a shared service. */
export const MIN_UID_BASE = 100_000;

/**
 * A tenant container's UID or GID as a component takes it (TenantGateway `uid`/`gid`,
 * SandboxPolicy `proxyUid`/`proxyGid`): inside the tenant id space, so it can be no shared
 * service's, no host user's and not root. The message names no value.
 */
export const tenantPrincipalIdSchema = z
  .number()
  .int()
  .min(MIN_UID_BASE + UIDS_PER_SLOT, `must be a tenant id (at least ${MIN_UID_BASE + UIDS_PER_SLOT}: uidBase + 4·slot + k, e.g. tenantIdentityPlan(...)); ids below belong to the host and the shared services`)
  .max(2 ** 31 - 2, "must be below 2^31-1");

/** First and last id (inclusive) that tenants of a platform can be given. */
export function tenantIdRange(uidBase: number, pool: Ipv4Cidr): { first: number; last: number } {
  return { first: uidBase + UIDS_PER_SLOT, last: uidBase + UIDS_PER_SLOT * slotCapacity(pool) - 1 };
}

/** Why `id` may not be the engine socket's group, or undefined when it may. */
export function socketGroupProblem(id: number, uidBase: number, pool: Ipv4Cidr): string | undefined {
  if (id === ROOT_ID) return "must be the engine socket's group, not root (0)";
  if ((Object.values(SERVICE_IDS) as number[]).includes(id)) return `is reserved for a shared service (reserved ids: ${Object.values(SERVICE_IDS).join(", ")}); use the engine socket's own group`;
  const range = tenantIdRange(uidBase, pool);
  if (id >= uidBase && id <= range.last) return "is inside the tenant id range (uidBase up to uidBase + 4·slots of the address pool); use the engine socket's own group";
  return undefined;
}

export interface Principal {
  /** `tenant:<id>` or `service:<name>`. */
  readonly principal: string;
  readonly role: string;
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups. */
  readonly groups: readonly number[];
  /**
   * The engine socket's group, when this principal holds the socket (egress-audit, waker): the
   * one group the socket holders share by design, and nobody else may have.
   */
  readonly engineSocketGroup?: number;
}

export interface PrincipalInput {
  readonly tenants: readonly { readonly id: string; readonly gatewayUid: number; readonly gatewayGid: number; readonly egressProxyUid: number; readonly egressProxyGid: number }[];
  readonly embeddedPostgres: boolean;
  readonly edge: boolean;
  readonly inferenceRouter: boolean;
  readonly egressAudit?: { readonly dockerSocketGid: number };
  readonly waker?: { readonly dockerSocketGid: number };
}

/** Every long-running principal of a platform with its ids (root init containers excluded: see above). */
export function platformPrincipals(input: PrincipalInput): Principal[] {
  const out: Principal[] = [];
  for (const t of input.tenants) {
    out.push({ principal: `tenant:${t.id}`, role: "gateway", uid: t.gatewayUid, gid: t.gatewayGid, groups: [] });
    out.push({ principal: `tenant:${t.id}`, role: "egress-proxy", uid: t.egressProxyUid, gid: t.egressProxyGid, groups: [] });
  }
  const service = (name: string, id: number, socketGid?: number) =>
    out.push({ principal: `service:${name}`, role: name, uid: id, gid: id, groups: socketGid === undefined ? [] : [socketGid], ...(socketGid === undefined ? {} : { engineSocketGroup: socketGid }) });
  if (input.embeddedPostgres) service("postgres", SERVICE_IDS.postgres);
  if (input.edge) service("edge", SERVICE_IDS.edge);
  if (input.inferenceRouter) service("inference-router", SERVICE_IDS.inferenceRouter);
  if (input.egressAudit) service("egress-audit", SERVICE_IDS.egressAudit, input.egressAudit.dockerSocketGid);
  if (input.waker) service("waker", SERVICE_IDS.waker, input.waker.dockerSocketGid);
  // Its own ids, in no group: the barrier between the tenant's file and the engine socket.
  if (input.waker) service("waker-jobs-reader", SERVICE_IDS.wakerJobsReader);
  return out;
}

/**
 * Pairs of distinct principals (or roles) that share a UID or a GID (primary or supplementary).
 * The one exception: the engine socket's group, shared by the principals that hold the socket
 * (each declares it as its engineSocketGroup) — and by nobody else.
 */
export function sharedIdentities(principals: readonly Principal[]): string[] {
  const owners = new Map<string, string>();
  /** Keys held only by socket holders, as their engineSocketGroup. */
  const socketKeys = new Set<string>();
  const clashes: string[] = [];
  for (const p of principals) {
    const who = `${p.principal}/${p.role}`;
    for (const key of [`uid:${p.uid}`, `gid:${p.gid}`, ...p.groups.map((g) => `gid:${g}`)]) {
      const other = owners.get(key);
      const asSocketGroup = p.engineSocketGroup !== undefined && key === `gid:${p.engineSocketGroup}` && p.gid !== p.engineSocketGroup;
      if (other === undefined) {
        owners.set(key, who);
        if (asSocketGroup) socketKeys.add(key);
      } else if (other !== who && !(asSocketGroup && socketKeys.has(key))) {
        clashes.push(`${key} is held by ${other} and ${who}`);
      }
    }
  }
  return clashes;
}
