// Wake and suspend of one tenant: its gateway and its egress proxy, found by this platform's
// labels and nothing else. One operation per tenant at a time (a per-tenant queue); concurrent
// wakes of one tenant share one wake. Every transition is an audit event.
import type { AuditEventInput } from "@octw/audit";
import type { ContainerAction, ContainerState, ContainerSummary } from "./engine";
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

export class Waker {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly wakes = new Map<string, { waitFor: WaitFor; result: Promise<WakeResult> }>();
  private readonly log: (line: Record<string, unknown>) => void;

  constructor(private readonly opts: WakerOptions) {
    this.log = opts.log ?? (() => {});
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

  wake(tenant: string, waitFor: WaitFor, reason: string): Promise<WakeResult> {
    const inFlight = this.wakes.get(tenant);
    // "healthy" implies "running": a caller content with less shares any wake in flight.
    if (inFlight && (inFlight.waitFor === "healthy" || waitFor === "running")) return inFlight.result;
    const result = this.serialize(tenant, () => this.doWake(tenant, waitFor, reason));
    const entry = { waitFor, result };
    this.wakes.set(tenant, entry);
    void result
      .catch(() => {})
      .then(() => {
        if (this.wakes.get(tenant) === entry) this.wakes.delete(tenant);
      });
    return result;
  }

  private async doWake(tenant: string, waitFor: WaitFor, reason: string): Promise<WakeResult> {
    const t0 = performance.now();
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
          if (from !== "running") await this.record({ tenant, action: "tenant.woken", target: "gateway", decision: "woken", details: { from, reason, wakeMs, waitFor } });
          return { tenant, state: "running", health: s.health, from, woke: from !== "running", wakeMs };
        }
        if (s.status === "exited" || s.status === "dead") throw new WakerError(502, "the gateway exited while waking");
        if (s.health === "unhealthy" && from === "stopped") throw new WakerError(502, "the gateway came up unhealthy");
        if (performance.now() + this.opts.pollMs > deadline) throw new WakerError(504, `the gateway was not ${waitFor} within ${this.opts.wakeTimeoutMs} ms`);
        await sleep(this.opts.pollMs);
      }
    } catch (err) {
      const error = err instanceof WakerError ? err.message : "engine call failed";
      await this.record({ tenant, action: "tenant.wake_failed", target: "gateway", decision: "failed", details: { from, reason, error, afterMs: Math.round(performance.now() - t0) } });
      throw err instanceof WakerError ? err : new WakerError(502, `engine call failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  suspend(tenant: string, tier: SuspendTier, reason: string): Promise<SuspendResult> {
    return this.serialize(tenant, () => this.doSuspend(tenant, tier, reason));
  }

  private async doSuspend(tenant: string, tier: SuspendTier, reason: string): Promise<SuspendResult> {
    const { gateway, proxy } = await this.containers(tenant);
    const from = fold(await this.opts.engine.state(gateway.id));
    if (from === undefined) throw new WakerError(409, "the gateway is being removed or is dead");
    // Already as deep or deeper: nothing to do (a pause never wakes a stopped tenant).
    if (from === "stopped" || (from === "paused" && tier === "paused")) return { tenant, state: from, from, suspended: false };
    // The gateway first: its proxy must outlive its last outbound request.
    try {
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
    } catch (err) {
      // Seen on a loaded host: the engine answers a pause 500 (the freezer timed out). The caller
      // retries later; a half-suspended tenant is woken whole by the next wake.
      throw new WakerError(502, `engine call failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    await this.record({ tenant, action: "tenant.suspended", target: "gateway", decision: tier, details: { from, tier, reason } });
    return { tenant, state: tier, from, suspended: true };
  }
}
