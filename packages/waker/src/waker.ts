// Wake and suspend of one tenant: its gateway and its egress proxy, found by this platform's
// labels and nothing else. One operation per tenant at a time (a per-tenant queue); concurrent
// wakes of one tenant share one wake. Every transition is an audit event.
import type { AuditEventInput } from "@octw/audit";
import type { ContainerAction, ContainerState, ContainerSummary } from "./engine";
import { jobTimes, planSuspend, type JobPolicy, type JobRow, type JobsRead, type SuspendPlan } from "./jobs";
import type { SuspendTier, WaitFor } from "./routes";

export const PLATFORM_LABEL = "octw.platform";
export const TENANT_LABEL = "octw.tenant";
export const COMPONENT_LABEL = "octw.component";
/** The components a waker acts on, in wake order (the proxy first: the gateway's egress needs it). */
export const TENANT_COMPONENTS = ["egress-proxy", "gateway"] as const;

export interface EngineLike {
  list(labels: Record<string, string>): Promise<ContainerSummary[]>;
  state(id: string): Promise<ContainerState>;
  act(id: string, action: ContainerAction, stopGraceS?: number): Promise<void>;
}

export interface AuditLike {
  record(event: AuditEventInput): Promise<void>;
}

export interface WakerOptions {
  engine: EngineLike;
  audit: AuditLike;
  platform: string;
  wakeTimeoutMs: number;
  pollMs: number;
  stopGraceS: number;
  log?: (line: Record<string, unknown>) => void;
  /**
   * Scheduled jobs (jobs.ts): how to read a gateway's job rows (job-store.ts; the gateway is
   * frozen or stopped when this is called) and the policy. Without it, suspends ignore jobs.
   */
  jobs?: { read(gatewayId: string): Promise<JobRow[]>; policy: JobPolicy };
  nowMs?: () => number;
}

/** Where a tenant is: the gateway's state, folded. */
export type TenantState = "running" | "paused" | "stopped";

export interface WakeResult {
  tenant: string;
  state: "running";
  health: string | undefined;
  from: TenantState;
  /** false when it was already running (then nothing was done and nothing recorded). */
  woke: boolean;
  wakeMs: number;
}

export interface SuspendResult {
  tenant: string;
  state: TenantState;
  from: TenantState;
  suspended: boolean;
  /** What the tenant's scheduled jobs made of the request (absent without job support). */
  jobs?: string;
  /** When the waker will wake the tenant for its next job (epoch ms), if it will. */
  wakeAtMs?: number;
}

/** A failure with the HTTP status the server answers for it. Messages never carry input values. */
export class WakerError extends Error {
  constructor(
    readonly status: 404 | 409 | 502 | 504,
    message: string,
  ) {
    super(message);
    this.name = "WakerError";
  }
}

function fold(s: ContainerState): TenantState | undefined {
  if (s.status === "running" || s.status === "restarting") return "running";
  if (s.status === "paused") return "paused";
  if (s.status === "exited" || s.status === "created") return "stopped";
  return undefined; // removing, dead: nothing the waker may fix
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** setTimeout's longest delay; longer waits re-arm. */
const MAX_TIMER_MS = 2_147_483_647;

export class Waker {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly wakes = new Map<string, { waitFor: WaitFor; result: Promise<WakeResult> }>();
  private readonly log: (line: Record<string, unknown>) => void;
  private readonly now: () => number;
  /** Wakes armed for scheduled jobs, per tenant. */
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; wakeAtMs: number; dueMs: number }>();
  /** Since when jobs have kept a tenant from being suspended (and when last), per tenant. */
  private readonly holding = new Map<string, { sinceMs: number; lastMs: number }>();

  constructor(private readonly opts: WakerOptions) {
    this.log = opts.log ?? (() => {});
    this.now = opts.nowMs ?? (() => Date.now());
  }

  /** The scheduled wakes armed now (for the tests and the operator's log). */
  scheduled(): Record<string, { wakeAtMs: number; dueMs: number }> {
    return Object.fromEntries([...this.timers].map(([t, { wakeAtMs, dueMs }]) => [t, { wakeAtMs, dueMs }]));
  }

  /** Cancels every armed wake (shutdown). */
  close(): void {
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private disarm(tenant: string): void {
    const t = this.timers.get(tenant);
    if (t) clearTimeout(t.timer);
    this.timers.delete(tenant);
  }

  /** Wakes the tenant at `wakeAtMs` for a job due at `dueMs` (replacing an earlier plan). */
  private arm(tenant: string, wakeAtMs: number, dueMs: number): void {
    this.disarm(tenant);
    const fire = () => {
      const left = wakeAtMs - this.now();
      if (left > 0) {
        entry.timer = setTimeout(fire, Math.min(left, MAX_TIMER_MS));
        entry.timer.unref();
        return;
      }
      if (this.timers.get(tenant) === entry) this.timers.delete(tenant);
      this.wake(tenant, "running", "scheduled-job", { dueAtMs: dueMs }).catch((err: unknown) => this.log({ msg: "scheduled wake failed", tenant, error: err instanceof Error ? err.message : String(err) }));
    };
    const entry = { timer: setTimeout(fire, Math.min(Math.max(0, wakeAtMs - this.now()), MAX_TIMER_MS)), wakeAtMs, dueMs };
    entry.timer.unref();
    this.timers.set(tenant, entry);
  }

  /** The tenant's jobs, read from its (frozen or stopped) gateway; a failure is "unreadable", never a throw. */
  private async readJobs(gatewayId: string): Promise<JobsRead> {
    const jobs = this.opts.jobs!;
    try {
      return { ok: true, times: jobTimes(await jobs.read(gatewayId), this.now(), jobs.policy.maxRunMs) };
    } catch (err) {
      return { ok: false, why: err instanceof Error ? err.message : "unreadable" };
    }
  }

  /**
   * After a start of the waker: the wakes of every suspended tenant of this platform, planned
   * again from their jobs (the jobs, not the waker, are the record, so nothing is lost with a
   * restart). Returns how many were armed.
   */
  async rearm(): Promise<number> {
    if (!this.opts.jobs) return 0;
    const gateways = (await this.opts.engine.list({ [PLATFORM_LABEL]: this.opts.platform, [COMPONENT_LABEL]: "gateway" })).filter(
      (c) => c.labels[PLATFORM_LABEL] === this.opts.platform && c.labels[COMPONENT_LABEL] === "gateway" && typeof c.labels[TENANT_LABEL] === "string",
    );
    let armed = 0;
    for (const g of gateways) {
      const tenant = g.labels[TENANT_LABEL]!;
      await this.serialize(tenant, async () => {
        const from = fold(await this.opts.engine.state(g.id));
        if (from !== "paused" && from !== "stopped") return;
        // Already in its tier: no tier to choose, only the wake, a lead of that tier before
        // the next job (at once for a job overdue or cut off by the suspend).
        const read = await this.readJobs(g.id);
        if (!read.ok) return this.log({ msg: "rearm: jobs unreadable", tenant, why: read.why });
        const { nextDueMs, runningSinceMs } = read.times;
        const dueMs = runningSinceMs ?? nextDueMs;
        if (dueMs === undefined) return;
        this.arm(tenant, Math.max(this.now(), dueMs - this.opts.jobs!.policy.leadMs[from]), dueMs);
        armed++;
      }).catch((err: unknown) => this.log({ msg: "rearm failed", tenant, error: err instanceof Error ? err.message : String(err) }));
    }
    return armed;
  }

  /** Runs `op` after every earlier operation on this tenant has settled. */
  private serialize<T>(tenant: string, op: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(tenant) ?? Promise.resolve();
    const next = prev.then(op, op);
    const tail = next.catch(() => {});
    this.queues.set(tenant, tail);
    void tail.then(() => {
      if (this.queues.get(tenant) === tail) this.queues.delete(tenant);
    });
    return next;
  }

  /** This platform's gateway (exactly one) and egress proxy (at most one) of the tenant. */
  private async containers(tenant: string): Promise<{ gateway: ContainerSummary; proxy: ContainerSummary | undefined }> {
    const wanted = { [PLATFORM_LABEL]: this.opts.platform, [TENANT_LABEL]: tenant };
    // The engine filters by label; the answer is checked again here, so a filter the engine
    // ignored or misread can never widen what the waker acts on.
    const mine = (await this.opts.engine.list(wanted)).filter((c) => c.labels[PLATFORM_LABEL] === this.opts.platform && c.labels[TENANT_LABEL] === tenant);
    const of = (component: string) => mine.filter((c) => c.labels[COMPONENT_LABEL] === component);
    const gateways = of("gateway");
    const proxies = of("egress-proxy");
    if (gateways.length === 0) throw new WakerError(404, "no such tenant on this platform");
    if (gateways.length > 1 || proxies.length > 1) throw new WakerError(409, "the tenant has more than one gateway or egress proxy; refusing to guess");
    return { gateway: gateways[0]!, proxy: proxies[0] };
  }

  private async record(event: Omit<AuditEventInput, "actor">): Promise<void> {
    try {
      await this.opts.audit.record({ actor: "waker", ...event });
    } catch (err) {
      // The transition happened; losing its record is an operator-visible error, not a reason to undo it.
      this.log({ msg: "audit record failed", action: event.action, tenant: event.tenant, error: err instanceof Error ? err.message : String(err) });
    }
  }

  wake(tenant: string, waitFor: WaitFor, reason: string, extra: Record<string, unknown> = {}): Promise<WakeResult> {
    const inFlight = this.wakes.get(tenant);
    // "healthy" implies "running": a caller content with less shares any wake in flight.
    if (inFlight && (inFlight.waitFor === "healthy" || waitFor === "running")) return inFlight.result;
    const result = this.serialize(tenant, () => this.doWake(tenant, waitFor, reason, extra));
    const entry = { waitFor, result };
    this.wakes.set(tenant, entry);
    void result
      .catch(() => {})
      .then(() => {
        if (this.wakes.get(tenant) === entry) this.wakes.delete(tenant);
      });
    return result;
  }

  private async doWake(tenant: string, waitFor: WaitFor, reason: string, extra: Record<string, unknown>): Promise<WakeResult> {
    const t0 = performance.now();
    // Whoever wakes it, the armed wake is spent: the next suspend plans again.
    this.disarm(tenant);
    const { gateway, proxy } = await this.containers(tenant);
    const gwState = await this.opts.engine.state(gateway.id);
    const from = fold(gwState);
    if (from === undefined) throw new WakerError(409, "the gateway is being removed or is dead; a wake cannot help");
    try {
      for (const c of [proxy, gateway]) {
        if (!c) continue;
        const s = c === gateway ? gwState : await this.opts.engine.state(c.id);
        if (s.status === "paused") await this.opts.engine.act(c.id, "unpause");
        else if (s.status === "exited" || s.status === "created") await this.opts.engine.act(c.id, "start");
      }
      const deadline = t0 + this.opts.wakeTimeoutMs;
      for (;;) {
        const s = await this.opts.engine.state(gateway.id);
        // From paused the process resumes where it was frozen: it was serving before, and the
        // engine's health status is no evidence either way (probes that fell due during the
        // freeze failed, so it may read "unhealthy" until the next probe). Running is enough.
        const enough = waitFor === "running" || from !== "stopped" || s.health === undefined || s.health === "healthy";
        if (s.status === "running" && enough) {
          const wakeMs = Math.round(performance.now() - t0);
          if (from !== "running") await this.record({ tenant, action: "tenant.woken", target: "gateway", decision: "woken", details: { from, reason, wakeMs, waitFor, ...extra } });
          return { tenant, state: "running", health: s.health, from, woke: from !== "running", wakeMs };
        }
        if (s.status === "exited" || s.status === "dead") throw new WakerError(502, "the gateway exited while waking");
        if (s.health === "unhealthy" && from === "stopped") throw new WakerError(502, "the gateway came up unhealthy");
        if (performance.now() + this.opts.pollMs > deadline) throw new WakerError(504, `the gateway was not ${waitFor} within ${this.opts.wakeTimeoutMs} ms`);
        await sleep(this.opts.pollMs);
      }
    } catch (err) {
      const error = err instanceof WakerError ? err.message : "engine call failed";
      await this.record({ tenant, action: "tenant.wake_failed", target: "gateway", decision: "failed", details: { from, reason, error, afterMs: Math.round(performance.now() - t0), ...extra } });
      throw err instanceof WakerError ? err : new WakerError(502, `engine call failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** `horizonMs`: the tenant's own stop threshold (jobs due sooner keep it paused); the policy's when absent. */
  suspend(tenant: string, tier: SuspendTier, reason: string, horizonMs?: number): Promise<SuspendResult> {
    return this.serialize(tenant, () => this.doSuspend(tenant, tier, reason, horizonMs));
  }

  private async doSuspend(tenant: string, requested: SuspendTier, reason: string, horizonMs: number | undefined): Promise<SuspendResult> {
    const { gateway, proxy } = await this.containers(tenant);
    const from = fold(await this.opts.engine.state(gateway.id));
    if (from === undefined) throw new WakerError(409, "the gateway is being removed or is dead");
    // Already as deep or deeper: nothing to do (a pause never wakes a stopped tenant).
    if (from === "stopped" || (from === "paused" && requested === "paused")) return { tenant, state: from, from, suspended: false };
    let plan: SuspendPlan = { kind: "suspend", tier: requested, jobs: "none" };
    let why: string | undefined;
    try {
      if (this.opts.jobs) {
        // Freeze first: a frozen gateway writes nothing while its database is copied.
        if (from === "running") await this.opts.engine.act(gateway.id, "pause");
        const read = await this.readJobs(gateway.id);
        if (!read.ok) why = read.why;
        const policy = horizonMs === undefined ? this.opts.jobs.policy : { ...this.opts.jobs.policy, horizonMs };
        plan = planSuspend(requested, this.now(), read, policy, this.holding.get(tenant)?.sinceMs);
      }
      if (plan.kind === "stay") {
        // A job runs or is due now: it runs awake. A tenant found paused stays as it is and is
        // woken at once, so its job runs.
        if (from === "running") await this.opts.engine.act(gateway.id, "unpause");
        else this.arm(tenant, this.now(), plan.dueMs);
        const h = this.holding.get(tenant);
        this.holding.set(tenant, { sinceMs: h && this.now() - h.lastMs < this.opts.jobs!.policy.maxHoldMs ? h.sinceMs : this.now(), lastMs: this.now() });
        await this.record({ tenant, action: "tenant.suspend_deferred", target: "gateway", decision: "deferred", details: { from, requested, reason, jobs: plan.reason, dueAtMs: plan.dueMs } });
        return { tenant, state: from, from, suspended: false, jobs: plan.reason };
      }
      this.holding.delete(tenant);
      const tier = plan.tier;
      const note = { jobs: plan.jobs, ...(plan.nextJobAtMs !== undefined ? { nextJobAtMs: plan.nextJobAtMs } : {}), ...(plan.wakeAtMs !== undefined ? { wakeAtMs: plan.wakeAtMs } : {}), ...(why ? { why } : {}) };
      if (from === "paused" && tier === "paused") {
        // Asked to stop, kept paused for a job due soon: no transition, but a decision.
        if (plan.wakeAtMs !== undefined) this.arm(tenant, plan.wakeAtMs, plan.nextJobAtMs!);
        await this.record({ tenant, action: "tenant.suspend_deferred", target: "gateway", decision: "kept-paused", details: { from, requested, reason, ...note } });
        return { tenant, state: "paused", from, suspended: false, jobs: plan.jobs, ...(plan.wakeAtMs !== undefined ? { wakeAtMs: plan.wakeAtMs } : {}) };
      }
      // The gateway first: its proxy must outlive its last outbound request.
      for (const c of [gateway, proxy]) {
        if (!c) continue;
        const s = await this.opts.engine.state(c.id);
        if (tier === "paused") {
          if (s.status === "running") await this.opts.engine.act(c.id, "pause");
        } else {
          // A frozen process cannot handle SIGTERM: thaw it first, so the stop is a clean one.
          if (s.status === "paused") await this.opts.engine.act(c.id, "unpause");
          if (s.status === "paused" || s.status === "running" || s.status === "restarting") await this.opts.engine.act(c.id, "stop", this.opts.stopGraceS);
        }
      }
      if (plan.wakeAtMs !== undefined) this.arm(tenant, plan.wakeAtMs, plan.nextJobAtMs!);
      else this.disarm(tenant);
      await this.record({ tenant, action: "tenant.suspended", target: "gateway", decision: tier, details: { from, tier, reason, ...(this.opts.jobs ? { requested, ...note } : {}) } });
      return { tenant, state: tier, from, suspended: true, ...(this.opts.jobs ? { jobs: plan.jobs } : {}), ...(plan.wakeAtMs !== undefined ? { wakeAtMs: plan.wakeAtMs } : {}) };
    } catch (err) {
      // Seen on a loaded host: the engine answers a pause 500 (the freezer timed out). The caller
      // retries later; a half-suspended tenant is woken whole by the next wake. Recorded, so a
      // tenant that cannot be suspended is visible in the audit, not only in a log.
      const status = (err as { statusCode?: unknown }).statusCode;
      const error = err instanceof WakerError ? err.message : `engine call failed${typeof status === "number" ? ` (HTTP ${status})` : ""}`;
      await this.record({ tenant, action: "tenant.suspend_failed", target: "gateway", decision: "failed", details: { from, tier: requested, reason, error } });
      throw err instanceof WakerError ? err : new WakerError(502, `engine call failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
