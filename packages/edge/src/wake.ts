// Wake on request and suspend when idle, for the tenants the edge's `wake` config lists.
//
// A request (or WebSocket upgrade) for a tenant that is not known to be running is held:
// bounded per tenant and in total, and bounded in time. However many arrive, ONE wake runs per
// tenant (single flight): the waker is asked once, then the gateway's readiness path is polled
// over the tenant network; every held request goes on when it answers. A wake that fails or
// takes too long answers the held requests 503 with Retry-After, never a hang, and for
// Retry-After seconds new requests get the same answer instead of a new wake (no wake storm
// against a tenant that cannot start).
//
// A tenant the edge believes suspended may have been woken behind its back — by the waker, for
// one of the tenant's scheduled jobs (packages/waker/README.md), or by an operator: every
// RECHECK_MS such tenants are probed, and one found serving counts as running again, idle from
// then on, so it is suspended again after its thresholds instead of staying resident.
//
// After an edge restart nothing is known: the first request for a tenant probes readiness once
// (a frozen gateway accepts TCP but never answers, a stopped one has no name) and wakes it
// only when the probe fails. A proxied request that cannot connect marks the tenant unknown and
// starts that same probe-then-wake.
import { IdleClock, type KnownState } from "./idle-clock";
import type { WakeConfig } from "@octw/contracts";
import type { WakerApi } from "./waker-client";

export type HoldFailure = "queue_full" | "wake_failed" | "wake_timeout" | "hold_timeout";
export type HoldOutcome = { ok: true; waited: boolean } | { ok: false; reason: HoldFailure; retryAfterSec: number };

export interface WakeDeps {
  waker: WakerApi;
  /** One readiness probe of the tenant's gateway (fresh name lookup); true only on 200. */
  probe(tenant: string, timeoutMs: number): Promise<boolean>;
  nowMs?: () => number;
  log?: (line: Record<string, unknown>) => void;
}

class WakeFailed extends Error {
  constructor(readonly reason: "wake_failed" | "wake_timeout", message: string) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** How often tenants believed suspended are probed, and how many such probes run at once at most. */
export const RECHECK_MS = 30_000;
const MAX_RECHECKS = 32;

/** What the request path reads of a wake config (the coordinator, and a cluster worker's view of the primary's). */
export class WakeTimings {
  constructor(protected config: WakeConfig) {}

  get holdMs(): number {
    return this.config.holdTimeoutMs;
  }

  get htmlHoldMs(): number {
    return this.config.htmlHoldMs;
  }

  get retryAfterSec(): number {
    return this.config.retryAfterSec;
  }
}

export class WakeCoordinator extends WakeTimings {
  private readonly clock: IdleClock;
  private readonly now: () => number;
  private readonly log: (line: Record<string, unknown>) => void;
  private readonly flights = new Map<string, Promise<void>>();
  private readonly suspends = new Map<string, Promise<void>>();
  private readonly held = new Map<string, number>();
  private heldTotal = 0;
  /** After a failed wake: until when new requests are answered 503 at once, and why. */
  private readonly failed = new Map<string, { until: number; reason: "wake_failed" | "wake_timeout" }>();
  private timer: NodeJS.Timeout | undefined;
  private lastRecheckMs: number;
  private readonly rechecking = new Set<string>();
  /** Wake calls made to the waker (for tests and logs). */
  wakeCalls = 0;
  suspendCalls = 0;

  constructor(
    config: WakeConfig,
    private deps: WakeDeps,
  ) {
    super(config);
    this.now = deps.nowMs ?? (() => Date.now());
    this.log = deps.log ?? (() => {});
    this.clock = new IdleClock(config.tenants, this.now());
    this.lastRecheckMs = this.now();
  }

  /** Whether the tenant is suspendable (listed in the wake config). */
  manages(tenant: string): boolean {
    return this.clock.has(tenant);
  }

  state(tenant: string): KnownState | undefined {
    return this.clock.state(tenant);
  }

  get holding(): number {
    return this.heldTotal;
  }

  begin(tenant: string): void {
    this.clock.begin(tenant, this.now());
  }

  end(tenant: string): void {
    this.clock.end(tenant, this.now());
  }

  /**
   * Waits until the tenant is ready, at most `maxWaitMs`. `suspectDown`: its gateway name did not
   * resolve, so even a tenant believed running is checked.
   */
  async hold(tenant: string, maxWaitMs: number, suspectDown = false): Promise<HoldOutcome> {
    if (!this.manages(tenant)) return { ok: true, waited: false };
    if (suspectDown && this.clock.state(tenant) === "running" && !this.flights.has(tenant)) this.clock.setState(tenant, "unknown");
    if (this.clock.state(tenant) === "running" && !this.flights.has(tenant)) return { ok: true, waited: false };
    const retryAfterSec = this.config.retryAfterSec;
    const f = this.failed.get(tenant);
    if (f && f.until > this.now() && !this.flights.has(tenant)) return { ok: false, reason: f.reason, retryAfterSec };
    const mine = this.held.get(tenant) ?? 0;
    if (mine >= this.config.maxHeldPerTenant || this.heldTotal >= this.config.maxHeldTotal) return { ok: false, reason: "queue_full", retryAfterSec };
    this.held.set(tenant, mine + 1);
    this.heldTotal++;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), maxWaitMs);
      });
      const r = await Promise.race([this.ensureFlight(tenant).then(() => "ready" as const), timedOut]);
      if (r === "timeout") return { ok: false, reason: "hold_timeout", retryAfterSec };
      return { ok: true, waited: true };
    } catch (err) {
      return { ok: false, reason: err instanceof WakeFailed ? err.reason : "wake_failed", retryAfterSec };
    } finally {
      clearTimeout(timer);
      const left = (this.held.get(tenant) ?? 1) - 1;
      if (left === 0) this.held.delete(tenant);
      else this.held.set(tenant, left);
      this.heldTotal--;
    }
  }

  /** A proxied request could not reach the gateway: find out (probe), and wake it if needed. */
  unreachable(tenant: string): void {
    if (!this.manages(tenant) || this.flights.has(tenant)) return;
    this.clock.setState(tenant, "unknown");
    this.ensureFlight(tenant).catch(() => {});
  }

  /** The one wake in flight for the tenant, started if there is none. */
  private ensureFlight(tenant: string): Promise<void> {
    const existing = this.flights.get(tenant);
    if (existing) return existing;
    // A suspend still in flight finishes first (the waker would queue the wake behind it anyway).
    const prior = this.suspends.get(tenant) ?? Promise.resolve();
    const flight = prior.then(() => this.runWake(tenant));
    this.flights.set(tenant, flight);
    flight.then(
      () => {
        this.flights.delete(tenant);
        this.failed.delete(tenant);
        this.clock.setState(tenant, "running");
        this.clock.touch(tenant, this.now());
      },
      (err: unknown) => {
        this.flights.delete(tenant);
        this.clock.setState(tenant, "unknown");
        const reason = err instanceof WakeFailed ? err.reason : "wake_failed";
        this.failed.set(tenant, { until: this.now() + this.config.retryAfterSec * 1000, reason });
        this.log({ msg: "wake failed", tenant, reason, error: err instanceof Error ? err.message : String(err) });
      },
    );
    return flight;
  }

  private async runWake(tenant: string): Promise<void> {
    const t0 = this.now();
    const deadline = t0 + this.config.wakeTimeoutMs;
    const left = () => deadline - this.now();
    if (this.clock.state(tenant) === "unknown" && (await this.deps.probe(tenant, Math.min(this.config.probeTimeoutMs, left())))) return;
    this.wakeCalls++;
    try {
      await this.deps.waker.wake(tenant, Math.max(1, left()));
    } catch (err) {
      throw new WakeFailed(left() <= 0 ? "wake_timeout" : "wake_failed", err instanceof Error ? err.message : String(err));
    }
    // The waker answers when the container runs; the gateway serves once its readiness path says so.
    for (;;) {
      const remaining = left();
      if (remaining <= 0) throw new WakeFailed("wake_timeout", `not ready within ${this.config.wakeTimeoutMs} ms`);
      if (await this.deps.probe(tenant, Math.min(this.config.probeTimeoutMs, remaining))) break;
      await sleep(Math.min(this.config.readyPollMs, Math.max(0, left())));
    }
    this.log({ msg: "tenant ready", tenant, wakeMs: this.now() - t0 });
  }

  /** Suspends every tenant whose idle time has reached a threshold (one call per tenant). */
  tick(): void {
    if (this.now() - this.lastRecheckMs >= RECHECK_MS) this.recheck();
    for (const { tenant, tier } of this.clock.due(this.now())) {
      if (this.flights.has(tenant)) continue;
      this.clock.suspendStarted(tenant, tier);
      this.suspendCalls++;
      const p = this.deps.waker.suspend(tenant, tier, this.config.tenants[tenant]?.stopAfterS).then(
        () => {
          this.clock.suspendFinished(tenant, true, this.now(), this.config.suspendRetryMs);
          this.log({ msg: "tenant suspended", tenant, tier });
        },
        (err: unknown) => {
          this.clock.suspendFinished(tenant, false, this.now(), this.config.suspendRetryMs);
          this.log({ msg: "suspend failed", tenant, tier, error: err instanceof Error ? err.message : String(err) });
        },
      );
      this.suspends.set(tenant, p);
      void p.then(() => {
        if (this.suspends.get(tenant) === p) this.suspends.delete(tenant);
      });
    }
  }

  /** Probes the tenants believed suspended (see the top of this file); tick() calls it every RECHECK_MS. */
  recheck(): void {
    this.lastRecheckMs = this.now();
    for (const tenant of this.clock.tenants) {
      if (this.rechecking.size >= MAX_RECHECKS) break;
      const believed = this.clock.state(tenant);
      if ((believed !== "paused" && believed !== "stopped") || this.flights.has(tenant) || this.suspends.has(tenant) || this.rechecking.has(tenant)) continue;
      this.rechecking.add(tenant);
      this.deps
        .probe(tenant, this.config.probeTimeoutMs)
        .then(
          (up) => {
            // Only if nothing happened to it meanwhile (a wake or suspend of the edge's own).
            if (!up || this.clock.state(tenant) !== believed || this.flights.has(tenant) || this.suspends.has(tenant)) return;
            this.clock.setState(tenant, "running");
            this.clock.touch(tenant, this.now());
            this.log({ msg: "tenant found running", tenant, believed });
          },
          () => {},
        )
        .finally(() => this.rechecking.delete(tenant));
    }
  }

  start(): void {
    this.stop();
    this.timer = setInterval(() => this.tick(), this.config.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** New thresholds, tenant list, waker, timings; what is in flight goes on. */
  reconfigure(config: WakeConfig, waker?: WakerApi): void {
    const restart = this.timer !== undefined && config.tickMs !== this.config.tickMs;
    this.config = config;
    if (waker) this.deps = { ...this.deps, waker };
    this.clock.setPolicies(config.tenants, this.now());
    if (restart) this.start();
  }
}

/** A request a browser makes for a page (it gets the "starting…" page rather than an error). */
export function wantsHtml(method: string | undefined, accept: string | undefined): boolean {
  return (method === "GET" || method === "HEAD") && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept ?? "");
}

/** The small self-refreshing page a browser gets while its tenant starts. Nothing of the request in it. */
export function startingPage(refreshSec: number, failed: boolean): string {
  const text = failed ? "This workspace could not be started yet. Retrying…" : "Starting your workspace…";
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${refreshSec}">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><title>Starting…</title></head>` +
    `<body><p>${text}</p><p>This page reloads itself in ${refreshSec} s.</p></body></html>\n`
  );
}
