/**
 * When an idle tenant is suspended (issue 12), and whether the host's memory holds the
 * tenants that can be resident at once. Pure: the platform config planner calls these.
 *
 * A tenant is either `alwaysOn` (never suspended) or suspended in two tiers after idle times:
 * `paused` (cgroup freezer: memory stays, resumes in milliseconds) after `pauseAfterS`, and
 * `stopped` (memory freed) after `stopAfterS`. Idle means no request and no open WebSocket
 * through the edge; the edge keeps the clock and asks the waker (packages/waker).
 */
import { z } from "zod";
import { heartbeatKeepsResident } from "./heartbeat.js";

/** An hour is the longest sensible pause (a paused tenant still holds its memory); a week the longest stop. */
export const MAX_PAUSE_AFTER_S = 86_400;
export const MAX_STOP_AFTER_S = 7 * 86_400;

export const suspendPolicySchema = z.union(
  [
    z.literal("alwaysOn"),
    z
      .strictObject({
        pauseAfterS: z.number().int("must be a whole number of seconds").min(1, "must be at least 1 (s)").max(MAX_PAUSE_AFTER_S, `must be at most ${MAX_PAUSE_AFTER_S} (s)`).optional(),
        stopAfterS: z.number().int("must be a whole number of seconds").min(1, "must be at least 1 (s)").max(MAX_STOP_AFTER_S, `must be at most ${MAX_STOP_AFTER_S} (s)`).optional(),
      })
      .superRefine((p, ctx) => {
        if (p.pauseAfterS === undefined && p.stopAfterS === undefined) ctx.addIssue({ code: "custom", message: 'needs pauseAfterS, stopAfterS or both (or use "alwaysOn")' });
        if (p.pauseAfterS !== undefined && p.stopAfterS !== undefined && p.stopAfterS <= p.pauseAfterS) {
          ctx.addIssue({ code: "custom", path: ["stopAfterS"], message: "must be greater than pauseAfterS (a tenant is paused before it is stopped)" });
        }
      }),
  ],
  { error: 'must be "alwaysOn" or { pauseAfterS?, stopAfterS? } (whole seconds)' },
);
export type SuspendPolicy = z.input<typeof suspendPolicySchema>;

/** The tenant's own policy wins over the platform default; without either, a tenant is always on. */
export function resolveSuspendPolicy(platformDefault: SuspendPolicy | undefined, tenant: SuspendPolicy | undefined): SuspendPolicy {
  return tenant ?? platformDefault ?? "alwaysOn";
}

export const DEFAULT_RESIDENT_MB_PER_TENANT = 720;
export const DEFAULT_RESERVED_MB = 1024;

export const capacitySchema = z
  .strictObject({
    hostMemoryMb: z.number().int("must be a whole number of MiB").min(1024, "must be at least 1024 (MiB)").max(16_777_216).meta({ description: "Memory of the host the platform may use, in MiB." }),
    maxActive: z
      .number()
      .int("must be a whole number")
      .min(0, "must be >= 0")
      .max(100_000)
      .meta({ description: "Suspendable tenants that may be resident (awake or paused — a paused tenant keeps its\nmemory) at the same time: the headroom for active ones." }),
    residentMbPerTenant: z
      .number()
      .int("must be a whole number of MiB")
      .min(64, "must be at least 64 (MiB)")
      .max(1_048_576)
      .optional()
      .meta({ description: "What one resident tenant costs (gateway + egress proxy), in MiB.", defaultText: `${DEFAULT_RESIDENT_MB_PER_TENANT} (measured idle gateway ≈ 700 MiB by cgroup, proxy ≈ 8 MiB, rounded up)` }),
    reservedMb: z
      .number()
      .int("must be a whole number of MiB")
      .min(0, "must be >= 0")
      .max(16_777_216)
      .optional()
      .meta({ description: "Kept free for the OS and the shared services (edge, router, Postgres, waker ≈ 200 MiB measured).", default: DEFAULT_RESERVED_MB }),
  })
  .meta({ id: "CapacityConfig" });
export type CapacityConfig = z.input<typeof capacitySchema>;

export interface CapacityTenant {
  readonly id: string;
  readonly suspend: SuspendPolicy;
  /** The tenant's memory limit: a resident tenant is counted at least at its estimate, at most at this. */
  readonly memoryLimitMb: number;
  /** Its OpenClaw heartbeat interval (0 off, undefined OpenClaw's default): one at or below its stop threshold keeps it resident. */
  readonly heartbeatEveryS?: number | undefined;
}

export interface CapacityReport {
  readonly alwaysOn: number;
  readonly suspendable: number;
  /** Suspendable tenants counted as resident because their heartbeat is due within their stop threshold. */
  readonly heartbeatResident: number;
  /** MiB needed when every always-on tenant and `maxActive` suspendable tenants are resident. */
  readonly neededMb: number;
  readonly hostMemoryMb: number;
  readonly fits: boolean;
  /** The sum, in words, with every number: what an error shows. */
  readonly explanation: string;
}

/**
 * Whether the tenants that can be resident at once fit the host: always-on tenants, plus up to
 * `maxActive` suspendable ones (the largest first), each at its resident cost, plus the
 * reserve. Stopped tenants cost disk, not memory. A suspendable tenant whose heartbeat is due
 * within its stop threshold is never stopped (the waker keeps it paused for the job): it counts
 * as resident, like an always-on one.
 */
export function capacityReport(capacity: CapacityConfig, tenants: readonly CapacityTenant[]): CapacityReport {
  const per = capacity.residentMbPerTenant ?? DEFAULT_RESIDENT_MB_PER_TENANT;
  const reserved = capacity.reservedMb ?? DEFAULT_RESERVED_MB;
  // A tenant whose limit is below the estimate cannot use more than its limit.
  const cost = (t: CapacityTenant) => Math.min(per, t.memoryLimitMb);
  const keptByHeartbeat = (t: CapacityTenant) => t.suspend !== "alwaysOn" && heartbeatKeepsResident(t.heartbeatEveryS, t.suspend.stopAfterS);
  const always = tenants.filter((t) => t.suspend === "alwaysOn" || keptByHeartbeat(t));
  const heartbeatResident = tenants.filter(keptByHeartbeat).length;
  const suspendable = tenants.filter((t) => !always.includes(t));
  const active = suspendable.map(cost).sort((a, b) => b - a).slice(0, capacity.maxActive);
  const alwaysMb = always.reduce((s, t) => s + cost(t), 0);
  const activeMb = active.reduce((s, x) => s + x, 0);
  const neededMb = reserved + alwaysMb + activeMb;
  const explanation =
    `${always.length} always-on tenant(s)${heartbeatResident ? ` (${heartbeatResident} of them suspendable but kept resident by a heartbeat within their stop threshold)` : ""} = ${alwaysMb} MiB + ${active.length} active of ${suspendable.length} suspendable tenant(s) = ${activeMb} MiB ` +
    `(resident cost ${per} MiB per tenant) + ${reserved} MiB reserved = ${neededMb} MiB; hostMemoryMb is ${capacity.hostMemoryMb} MiB`;
  return { alwaysOn: always.length, suspendable: suspendable.length, heartbeatResident, neededMb, hostMemoryMb: capacity.hostMemoryMb, fits: neededMb <= capacity.hostMemoryMb, explanation };
}
