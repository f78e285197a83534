// Holds an allowed request of a suspendable tenant until its gateway is ready (wake.ts); then
// its upstream is looked up again when it had to wait (a started gateway's name is back).
import type { Allowed, Ctx } from "./decision";
import type { DecisionAudit } from "./decision-audit";
import type { Upstreams } from "./upstreams";
import type { HoldOutcome } from "./wake";
import type { WakeConfig } from "@octw/contracts";
import type { WakerApi } from "./waker-client";

/**
 * What the request path needs of wake-on-request: WakeCoordinator in one process; with several
 * workers a proxy to the primary's one coordinator (one wake per tenant, one idle clock).
 */
export interface WakePort {
  manages(tenant: string): boolean;
  /** A request or WebSocket of the tenant starts / ended (the idle clock). */
  begin(tenant: string): void;
  end(tenant: string): void;
  hold(tenant: string, maxWaitMs: number, suspectDown?: boolean): Promise<HoldOutcome>;
  /** A proxied request could not reach the gateway: probe, and wake it if needed. */
  unreachable(tenant: string): void;
  readonly holdMs: number;
  readonly htmlHoldMs: number;
  readonly retryAfterSec: number;
  reconfigure(config: WakeConfig, waker?: WakerApi): void;
  stop(): void;
}

export type WakeGate = (w: WakePort, a: Allowed, ctx: Ctx, maxWaitMs: number) => Promise<{ ok: true; allowed: Allowed } | Extract<HoldOutcome, { ok: false }>>;

export function createWakeGate(upstreams: Upstreams, rec: DecisionAudit): WakeGate {
  return async (w, a, ctx, maxWaitMs) => {
    const outcome = await w.hold(a.tenant.id, maxWaitMs, a.unresolved === true);
    if (!outcome.ok) {
      // hold_timeout on a page request is the "starting…" page, not a failure; still recorded.
      rec.upstreamFailed(ctx, a, outcome.reason, 503);
      return outcome;
    }
    if (!outcome.waited && !a.unresolved) return { ok: true, allowed: a };
    const fresh = await upstreams.fresh(a.tenant.id);
    if (fresh === undefined) {
      rec.upstreamFailed(ctx, a, "wake_failed", 503);
      return { ok: false, reason: "wake_failed", retryAfterSec: w.retryAfterSec };
    }
    const { unresolved: _, ...rest } = a;
    return { ok: true, allowed: { ...rest, target: fresh.target } };
  };
}
