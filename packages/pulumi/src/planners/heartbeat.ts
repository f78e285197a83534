/**
 * OpenClaw's heartbeat cadence per tenant (issue 12): `agents.defaults.heartbeat.every` in the
 * gateway's openclaw.json. Pure: the platform config planner resolves it, the gateway's config
 * renderer writes it.
 *
 * Why the platform sets it: in OpenClaw 2026.9.6 the heartbeat is a scheduled job (one
 * system-owned automation per agent, `heartbeat-main`, every 30 min by default — 1 h with
 * Anthropic OAuth/token auth, but only while `every` is unset), and the waker wakes a suspended
 * tenant for its next job (packages/waker, "Scheduled jobs"). Left at OpenClaw's default, every
 * suspendable tenant is woken twice an hour, and, since the heartbeat is always due within a
 * stop threshold of 30 min or more, is kept paused rather than stopped: suspension would save
 * little. `"0m"` disables only the recurring cadence (the job stays, disabled); event-driven
 * turns (a background command finishing) and the tenant's own automations still run.
 *
 * Default (see `resolveHeartbeatEveryS`): unset for every tenant — the key is not written, so
 * OpenClaw's own default holds (30 min, or 1 h with Anthropic OAuth) and switching a tenant's
 * suspend policy never rewrites its openclaw.json (it would replace its gateway: the realized
 * wake test proves a policy switch touches no gateway). For suspendable tenants the operator
 * should set `heartbeatEveryS: 0` (platform-wide or per tenant): the default heartbeat prompt
 * tells the agent to reply NO_REPLY when nothing needs attention and recurring work belongs in
 * automations, which still wake the tenant on time. Capacity planning counts the unset default
 * as OpenClaw's 30 min: a suspendable tenant whose `stopAfterS` is at least that stays paused
 * (resident) for good, and is counted so.
 */
import { z } from "zod";

/** A week: a heartbeat rarer than that is better expressed as an automation. */
export const MAX_HEARTBEAT_EVERY_S = 7 * 86_400;

export const heartbeatEverySchema = z
  .number()
  .int("must be a whole number of seconds")
  .max(MAX_HEARTBEAT_EVERY_S, `must be at most ${MAX_HEARTBEAT_EVERY_S} (s)`)
  .refine((s) => s === 0 || s >= 60, { message: "must be 0 (off) or at least 60 (s)" });

/**
 * The tenant's heartbeat interval in seconds (0: off), or undefined: leave OpenClaw's own
 * default (the key is not written). The tenant's own value wins, then the platform's.
 */
export function resolveHeartbeatEveryS(platformDefault: number | undefined, tenant: number | undefined): number | undefined {
  return tenant ?? platformDefault;
}

/** OpenClaw 2026.9.6's heartbeat cadence when `every` is unset (1 h with Anthropic OAuth: the shorter one counts). */
export const OPENCLAW_DEFAULT_HEARTBEAT_S = 1_800;

/** The cadence the gateway will run: the interval written, or OpenClaw's own default when none is (capacity counts this one). */
export function effectiveHeartbeatS(everyS: number | undefined): number {
  return everyS ?? OPENCLAW_DEFAULT_HEARTBEAT_S;
}

/** OpenClaw's duration string for it (its parser takes ms, s, m, h; "0m" disables the cadence). */
export function openclawHeartbeatEvery(everyS: number): string {
  if (everyS === 0) return "0m";
  return everyS % 3600 === 0 ? `${everyS / 3600}h` : everyS % 60 === 0 ? `${everyS / 60}m` : `${everyS}s`;
}

/**
 * Whether the heartbeat keeps a suspendable tenant resident for good: the waker keeps a stop at
 * `paused` while a job is due within the tenant's stop threshold, and a heartbeat at or below
 * that threshold always is (a pause-only tenant is resident anyway).
 */
export function heartbeatKeepsResident(everyS: number | undefined, stopAfterS: number | undefined): boolean {
  return everyS !== undefined && everyS > 0 && stopAfterS !== undefined && everyS <= stopAfterS;
}
