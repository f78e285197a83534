/**
 * Placement: which host each tenant lives on. Pure and stateless (it sees only the config).
 *
 * The rule, and why it is this one. A tenant's host is where its state volume is: moving it is
 * a data migration, so a tenant must never move because something else changed. Without state,
 * that rules out every automatic spreading rule — rendezvous hashing moves ~1/n of the tenants
 * to a host that is added; first-fit in list order moves a later tenant onto a host when an
 * earlier one is removed; any budget-aware rule lets a new tenant displace an old one. So:
 *  - a tenant that names its host (`tenants[].host`, a pin) is on that host;
 *  - a tenant that names none is on the home host, the first of `hosts` (the only host of a
 *    platform without `hosts`);
 *  - nothing else: no tenant's host depends on another tenant or on a host other than its own
 *    (pinned) or the first (unpinned). Adding a host (anywhere but first), adding or removing
 *    a tenant never moves one; a tenant moves only when its `host` is edited (or the first host
 *    is replaced in the list, which the docs warn against).
 * The planner chooses where a choice is needed: when a host's budget is exceeded, the config is
 * refused at preview with the numbers, and the planner proposes pins for the newest unpinned
 * tenants of that host (the last ones in `tenants`), each on the host that ranks highest for it
 * by rendezvous hashing among the hosts with room. The operator records the pins in the config:
 * the proposal becomes durable state there, reviewed in the pull request like any other move.
 * Trade-off: load is spread only as the operator accepts proposals (a full home host is a
 * preview error, not a silent spill), in exchange for placements that never change by themselves.
 */
import { createHash } from "node:crypto";
import { capacityReport, type CapacityConfig, type SuspendPolicy } from "./suspend-policy.js";
import { effectiveHeartbeatS } from "./heartbeat.js";

export interface PlacementHost {
  readonly name: string;
  readonly capacity?: CapacityConfig;
  /** The config path of this host's budget (`hosts[1].capacity.hostMemoryMb`, or `capacity.hostMemoryMb`). */
  readonly budgetPath: string;
  /** How errors name the host: ` on host "b"`, or "" for the one host of a platform without `hosts`. */
  readonly where?: string;
}

export interface PlacementTenant {
  readonly id: string;
  /** The pin. */
  readonly host?: string;
  readonly suspend: SuspendPolicy;
  readonly memoryLimitMb: number;
  /** Its heartbeat interval: see capacityReport. */
  readonly heartbeatEveryS?: number | undefined;
}

export interface PlacementProblem {
  readonly path: string;
  readonly message: string;
}

export interface Placement {
  /** tenant id → host name, for every tenant (empty when there are problems). */
  readonly hostOf: ReadonlyMap<string, string>;
  /** host name → its tenants' ids, in config order; every host is listed. */
  readonly tenantsOf: ReadonlyMap<string, readonly string[]>;
  /** tenant index → proposed host, for a refused budget (pins that would make it fit). */
  readonly proposals: ReadonlyMap<number, string>;
  readonly problems: readonly PlacementProblem[];
}

/** Rendezvous (highest random weight) score of a tenant on a host: the planner's preference order. */
export function rendezvousScore(host: string, tenant: string): bigint {
  return createHash("sha256").update(`${host}\0${tenant}`).digest().readBigUInt64BE(0);
}

/** The hosts ordered by preference for one tenant (highest score first; ties cannot matter: names are unique). */
export function rendezvousOrder(hosts: readonly string[], tenant: string): string[] {
  return [...hosts].sort((a, b) => {
    const d = rendezvousScore(b, tenant) - rendezvousScore(a, tenant);
    return d > 0n ? 1 : d < 0n ? -1 : a < b ? -1 : 1;
  });
}

const fits = (h: PlacementHost, members: readonly PlacementTenant[]) =>
  h.capacity === undefined || capacityReport(h.capacity, members.map((t) => ({ id: t.id, suspend: t.suspend, memoryLimitMb: t.memoryLimitMb, heartbeatEveryS: effectiveHeartbeatS(t.heartbeatEveryS) }))).fits;

/** Places every tenant (see the module comment for the rule) and checks every host's budget. */
export function planPlacement(hosts: readonly PlacementHost[], tenants: readonly PlacementTenant[]): Placement {
  const problems: PlacementProblem[] = [];
  const empty = (): Placement => ({ hostOf: new Map(), tenantsOf: new Map(hosts.map((h) => [h.name, []])), proposals: new Map(), problems });
  if (hosts.length === 0) {
    problems.push({ path: "hosts", message: "must list at least one host" });
    return empty();
  }
  const home = hosts[0]!.name;
  const known = new Set(hosts.map((h) => h.name));
  const hostOf = new Map<string, string>();
  const members = new Map<string, PlacementTenant[]>(hosts.map((h) => [h.name, []]));
  const indexOf = new Map<string, number>();
  tenants.forEach((t, i) => {
    indexOf.set(t.id, i);
    if (t.host !== undefined && !known.has(t.host)) {
      problems.push({ path: `tenants[${i}].host`, message: `names no host of this platform (hosts: ${[...known].join(", ")})` });
      return;
    }
    const h = t.host ?? home;
    hostOf.set(t.id, h);
    members.get(h)!.push(t);
  });
  if (problems.length) return empty();

  const proposals = new Map<number, string>();
  // What each host would hold once the proposals so far are accepted: a proposal must fit too.
  const proposed = new Map<string, PlacementTenant[]>([...members].map(([h, m]) => [h, [...m]]));
  for (const h of hosts) {
    const mine = members.get(h.name)!;
    if (fits(h, mine)) continue;
    const report = capacityReport(h.capacity!, mine.map((t) => ({ id: t.id, suspend: t.suspend, memoryLimitMb: t.memoryLimitMb, heartbeatEveryS: effectiveHeartbeatS(t.heartbeatEveryS) })));
    // The newest unpinned tenants of this host are the ones proposed elsewhere: pinned ones stay
    // where the operator put them.
    const movable = mine.filter((t) => t.host === undefined).reverse();
    const moved: string[] = [];
    const staying = proposed.get(h.name)!;
    for (const t of movable) {
      if (fits(h, staying)) break;
      const target = rendezvousOrder(hosts.filter((o) => o.name !== h.name).map((o) => o.name), t.id).find((name) => {
        const o = hosts.find((x) => x.name === name)!;
        return fits(o, [...proposed.get(name)!, t]);
      });
      if (target === undefined) continue;
      proposed.get(target)!.push(t);
      staying.splice(staying.indexOf(t), 1);
      proposals.set(indexOf.get(t.id)!, target);
      moved.push(`tenants[${indexOf.get(t.id)}].host: "${target}"`);
    }
    const advice = hosts.length === 1
      ? ""
      : fits(h, staying) && moved.length
      ? `; the planner proposes pinning ${moved.join(", ")}`
      : moved.length
        ? `; pinning ${moved.join(", ")} is not enough, and no other host has room for more: add a host or raise a budget`
        : "; no other host has room for its unpinned tenants: add a host or raise a budget";
    problems.push({ path: h.budgetPath, message: `is too small for the tenants that can be resident at once${h.where ?? ` on host "${h.name}"`}: ${report.explanation}${advice}` });
  }
  if (problems.length) return { ...empty(), proposals };
  const tenantsOf = new Map<string, string[]>([...members].map(([h, m]) => [h, m.map((t) => t.id)]));
  return { hostOf, tenantsOf, proposals, problems };
}
