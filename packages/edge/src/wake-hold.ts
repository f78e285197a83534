// Holds an allowed request of a suspendable tenant until its gateway is ready (wake.ts); then
// its upstream is looked up again when it had to wait (a started gateway's name is back).
import type { Allowed, Ctx } from "./decision";
import type { DecisionAudit } from "./decision-audit";
import type { Upstreams } from "./upstreams";
import type { HoldOutcome, WakeCoordinator } from "./wake";

export type WakeGate = (w: WakeCoordinator, a: Allowed, ctx: Ctx, maxWaitMs: number) => Promise<{ ok: true; allowed: Allowed } | Extract<HoldOutcome, { ok: false }>>;

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
