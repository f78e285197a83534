// The idle clock of suspendable tenants: when each was last used through the edge, what is in
// flight now, and which tenants are due to be paused or stopped. Pure (time is passed in), so
// the rules are property-tested; wake.ts drives it and talks to the waker.
//
// Idle means no request and no open WebSocket through the edge. Only the edge's own traffic
// counts (begin/end around each request and each WebSocket): a tenant's outbound traffic and its
// timers never reach the edge, so they cannot keep it awake.
import type { SuspendThresholds } from "@octw/contracts";

/** What the edge believes about a tenant's gateway. `unknown`: not seen since start, or a call failed. */
export type KnownState = "unknown" | "running" | "paused" | "stopped";
export type SuspendTier = "paused" | "stopped";

export interface SuspendDue {
  tenant: string;
  tier: SuspendTier;
}

interface Entry {
  policy: SuspendThresholds;
  lastActiveMs: number;
  /** Requests and WebSockets in flight (held ones included). */
  active: number;
  state: KnownState;
  /** A suspend of this tenant is in flight. */
  suspending: boolean;
  /** No suspend before this time (after a failed one). */
  retryAtMs: number;
}

const DEPTH: Record<KnownState, number> = { unknown: 0, running: 0, paused: 1, stopped: 2 };

export class IdleClock {
  private readonly entries = new Map<string, Entry>();

  constructor(policies: Readonly<Record<string, SuspendThresholds>>, nowMs: number) {
    this.setPolicies(policies, nowMs);
  }

  /**
   * New tenants start their idle time now (an edge that just started has seen nobody: a tenant
   * nobody uses is suspended one threshold after the start); removed tenants are forgotten.
   */
  setPolicies(policies: Readonly<Record<string, SuspendThresholds>>, nowMs: number): void {
    for (const id of [...this.entries.keys()]) if (!Object.hasOwn(policies, id)) this.entries.delete(id);
    for (const [id, policy] of Object.entries(policies)) {
      const e = this.entries.get(id);
      if (e) e.policy = policy;
      else this.entries.set(id, { policy, lastActiveMs: nowMs, active: 0, state: "unknown", suspending: false, retryAtMs: 0 });
    }
  }

  /** Whether the tenant is suspendable (has thresholds). */
  has(tenant: string): boolean {
    return this.entries.has(tenant);
  }

  get tenants(): string[] {
    return [...this.entries.keys()];
  }

  state(tenant: string): KnownState | undefined {
    return this.entries.get(tenant)?.state;
  }

  setState(tenant: string, state: KnownState): void {
    const e = this.entries.get(tenant);
    if (e) e.state = state;
  }

  active(tenant: string): number {
    return this.entries.get(tenant)?.active ?? 0;
  }

  /** A request or WebSocket of the tenant starts (the tenant is in use until the matching end). */
  begin(tenant: string, nowMs: number): void {
    const e = this.entries.get(tenant);
    if (!e) return;
    e.active++;
    e.lastActiveMs = Math.max(e.lastActiveMs, nowMs);
  }

  /** It ended: the idle time counts from now. */
  end(tenant: string, nowMs: number): void {
    const e = this.entries.get(tenant);
    if (!e) return;
    e.active = Math.max(0, e.active - 1);
    e.lastActiveMs = Math.max(e.lastActiveMs, nowMs);
  }

  /** A wake finished: the idle time starts again, whoever asked for the wake. */
  touch(tenant: string, nowMs: number): void {
    const e = this.entries.get(tenant);
    if (e) e.lastActiveMs = Math.max(e.lastActiveMs, nowMs);
  }

  suspendStarted(tenant: string, tier: SuspendTier): void {
    const e = this.entries.get(tenant);
    if (!e) return;
    e.suspending = true;
    // From now on a request must wake it (the waker runs that wake after this suspend).
    e.state = tier;
  }

  suspendFinished(tenant: string, ok: boolean, nowMs: number, retryMs: number): void {
    const e = this.entries.get(tenant);
    if (!e) return;
    e.suspending = false;
    if (!ok) {
      e.state = "unknown";
      e.retryAtMs = nowMs + retryMs;
    }
  }

  /**
   * Tenants to suspend now, each to the deepest tier its idle time has reached: never one with
   * anything in flight, never one already that deep, never one with a suspend in flight.
   */
  due(nowMs: number): SuspendDue[] {
    const out: SuspendDue[] = [];
    for (const [tenant, e] of this.entries) {
      if (e.active > 0 || e.suspending || nowMs < e.retryAtMs) continue;
      const idleMs = nowMs - e.lastActiveMs;
      const tier = tierFor(e.policy, idleMs);
      if (tier !== undefined && DEPTH[tier] > DEPTH[e.state]) out.push({ tenant, tier });
    }
    return out;
  }
}

/** The deepest tier an idle time has reached under a policy, if any. */
export function tierFor(policy: SuspendThresholds, idleMs: number): SuspendTier | undefined {
  if (policy.stopAfterS !== undefined && idleMs >= policy.stopAfterS * 1000) return "stopped";
  if (policy.pauseAfterS !== undefined && idleMs >= policy.pauseAfterS * 1000) return "paused";
  return undefined;
}
