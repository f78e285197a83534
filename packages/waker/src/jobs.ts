// Scheduled jobs (OpenClaw automations) and suspension: what a suspend does when the tenant has
// jobs. Pure (time and the jobs read are passed in), so the rules are property-tested;
// waker.ts reads the jobs (job-store.ts) and carries the plan out.
//
// OpenClaw runs its automations inside the gateway process: a frozen gateway's timers do not
// fire, and on start OpenClaw reschedules overdue agent-turn jobs instead of running them. So a
// job that falls due while its tenant is suspended is late (paused) or skipped (stopped) unless
// the tenant is woken for it. The plan therefore says, for every suspend: stay running (a job
// runs or is due right now), or suspend — to a shallower tier when a job is due before a stop
// would pay off — and when to wake the tenant again for its next job.
//
// Every input here comes from the tenant's own state database, which the tenant can write: the
// rules bound what a hostile tenant gets from lying (maxRunMs, maxHoldMs), and never let it
// choose another tenant, a deeper tier, or a wake sooner than its own claimed job.
import type { SuspendTier } from "./routes";

/** One row of OpenClaw's `cron_jobs` table, as read (unknown: the file is tenant-written). */
export interface JobRow {
  enabled: unknown;
  state_json: unknown;
}

/** What the jobs of one tenant say, folded to the two times that matter. */
export interface JobTimes {
  /** Earliest `nextRunAtMs` of an enabled job that is not stale. */
  nextDueMs: number | undefined;
  /** Earliest `runningAtMs` of an enabled job whose run is not older than maxRunMs. */
  runningSinceMs: number | undefined;
}

export type JobsRead = { ok: true; times: JobTimes } | { ok: false; why: string };

export interface JobPolicy {
  /**
   * A job due sooner than this after the suspend keeps a `stopped` request at `paused` (a stop
   * then a cold start for it would free memory only briefly, and a cold start may miss it).
   * The edge sends the tenant's own stop threshold; this is the fallback.
   */
  horizonMs: number;
  /** How long before a job's due time the waker wakes the tenant, per tier it sleeps in. */
  leadMs: Readonly<Record<SuspendTier, number>>;
  /** A run (or an overdue due time) older than this is stale: ignored (OpenClaw's own run watchdog is 60 min). */
  maxRunMs: number;
  /** Jobs keep a tenant from being suspended for at most this long in a row; then it is suspended anyway. */
  maxHoldMs: number;
}

/** Why a suspend went the way it did (recorded in the audit event's details as `jobs`). */
export type JobsNote = "none" | "scheduled" | "due-soon" | "unreadable" | "hold-exceeded";

export type SuspendPlan =
  | { kind: "stay"; reason: "job-running" | "job-due"; dueMs: number }
  | { kind: "suspend"; tier: SuspendTier; jobs: JobsNote; nextJobAtMs?: number; wakeAtMs?: number };

const MAX_STATE_JSON = 64 * 1024;

function timeField(state: Record<string, unknown>, key: string): number | undefined {
  const v = state[key];
  // Only plausible epoch milliseconds: a tenant could write anything.
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/**
 * Folds the rows of `cron_jobs` to the earliest due time and the earliest running job. Disabled
 * jobs, unparseable state, and times staler than `maxRunMs` are ignored.
 */
export function jobTimes(rows: readonly JobRow[], nowMs: number, maxRunMs: number): JobTimes {
  let nextDueMs: number | undefined;
  let runningSinceMs: number | undefined;
  for (const row of rows) {
    if (row.enabled !== 1 && row.enabled !== 1n && row.enabled !== true) continue;
    if (typeof row.state_json !== "string" || row.state_json.length > MAX_STATE_JSON) continue;
    let state: unknown;
    try {
      state = JSON.parse(row.state_json);
    } catch {
      continue;
    }
    if (typeof state !== "object" || state === null || Array.isArray(state)) continue;
    const s = state as Record<string, unknown>;
    const next = timeField(s, "nextRunAtMs");
    if (next !== undefined && next >= nowMs - maxRunMs && (nextDueMs === undefined || next < nextDueMs)) nextDueMs = next;
    const running = timeField(s, "runningAtMs");
    if (running !== undefined && running <= nowMs && running >= nowMs - maxRunMs && (runningSinceMs === undefined || running < runningSinceMs)) runningSinceMs = running;
  }
  return { nextDueMs, runningSinceMs };
}

/**
 * What a suspend to `requested` does now, given the tenant's jobs.
 * `holdingSinceMs`: since when jobs have kept this tenant from being suspended (undefined: they
 * do not at the moment).
 */
export function planSuspend(requested: SuspendTier, nowMs: number, jobs: JobsRead, policy: JobPolicy, holdingSinceMs?: number): SuspendPlan {
  // The tenant's file could not be read: suspend as asked (a tenant must not keep itself
  // resident by making its state unreadable), and say so in the audit.
  if (!jobs.ok) return { kind: "suspend", tier: requested, jobs: "unreadable" };
  const { nextDueMs, runningSinceMs } = jobs.times;
  const held = holdingSinceMs !== undefined && nowMs - holdingSinceMs >= policy.maxHoldMs;
  if (held) {
    // Suspended anyway; no wake for a job that has held it this long (it would hold it again).
    return { kind: "suspend", tier: requested, jobs: "hold-exceeded", ...(nextDueMs !== undefined ? { nextJobAtMs: nextDueMs } : {}) };
  }
  if (runningSinceMs !== undefined) return { kind: "stay", reason: "job-running", dueMs: runningSinceMs };
  if (nextDueMs === undefined) return { kind: "suspend", tier: requested, jobs: "none" };
  // A job due before a stop pays off, or before a cold start could be done: paused instead.
  const tier: SuspendTier = requested === "stopped" && (nextDueMs - nowMs < policy.horizonMs || nextDueMs - policy.leadMs.stopped <= nowMs) ? "paused" : requested;
  // Due before even a wake from that tier could come in time: it runs now, awake.
  if (nextDueMs - policy.leadMs[tier] <= nowMs) return { kind: "stay", reason: "job-due", dueMs: nextDueMs };
  const wakeAtMs = nextDueMs - policy.leadMs[tier];
  return { kind: "suspend", tier, jobs: tier === requested ? "scheduled" : "due-soon", nextJobAtMs: nextDueMs, wakeAtMs };
}
