// The waker's decisions against an in-memory engine: which containers it touches, in which
// order, coalescing, serialization and audit. The real engine: test/conformance/waker.docker.test.ts.
import type { AuditEventInput } from "@octw/audit";
import { describe, expect, it } from "vitest";
import type { ContainerAction, ContainerState, ContainerSummary } from "../src/engine";
import { Engine } from "../src/engine";
import { Waker, WakerError, type EngineLike } from "../src/waker";

interface Fake {
  id: string;
  labels: Record<string, string>;
  status: string;
  health?: string;
}

class FakeEngine implements EngineLike {
  readonly calls: string[] = [];
  /** Filters the engine ignores (as a misbehaving engine might): the waker must re-check. */
  ignoreFilters = false;
  startDelayMs = 0;
  constructor(readonly containers: Fake[]) {}
  list(labels: Record<string, string>): Promise<ContainerSummary[]> {
    this.calls.push(`list ${JSON.stringify(labels)}`);
    return Promise.resolve(this.containers.filter((c) => this.ignoreFilters || Object.entries(labels).every(([k, v]) => c.labels[k] === v)).map((c) => ({ id: c.id, labels: c.labels })));
  }
  state(id: string): Promise<ContainerState> {
    const c = this.containers.find((x) => x.id === id)!;
    return Promise.resolve({ status: c.status, health: c.health });
  }
  async act(id: string, action: ContainerAction): Promise<void> {
    this.calls.push(`${action} ${id.slice(0, 4)}`);
    const c = this.containers.find((x) => x.id === id)!;
    if (action === "start") await new Promise((r) => setTimeout(r, this.startDelayMs));
    c.status = { pause: "paused", unpause: "running", start: "running", stop: "exited" }[action];
    if (action === "start" && c.health) c.health = "healthy";
  }
}

const id = (p: string) => p.repeat(64).slice(0, 64);
function tenant(platform: string, t: string, p: string, status = "running"): Fake[] {
  return [
    { id: id(`${p}1`), labels: { "octw.platform": platform, "octw.tenant": t, "octw.component": "gateway" }, status, health: "healthy" },
    { id: id(`${p}2`), labels: { "octw.platform": platform, "octw.tenant": t, "octw.component": "egress-proxy" }, status },
  ];
}

function setup(containers: Fake[]) {
  const engine = new FakeEngine(containers);
  const events: AuditEventInput[] = [];
  const waker = new Waker({ engine, audit: { record: (e) => Promise.resolve(void events.push(e)) }, platform: "prod", wakeTimeoutMs: 2_000, pollMs: 5, stopGraceS: 1 });
  return { engine, events, waker };
}

describe("Waker", () => {
  it("pauses the gateway before its proxy, stops them, and wakes the proxy before the gateway, each transition audited", async () => {
    const { engine, events, waker } = setup([...tenant("prod", "alpha", "a")]);
    expect(await waker.suspend("alpha", "paused", "idle")).toMatchObject({ state: "paused", from: "running", suspended: true });
    expect(await waker.suspend("alpha", "stopped", "idle")).toMatchObject({ state: "stopped", from: "paused", suspended: true });
    const woke = await waker.wake("alpha", "healthy", "request");
    expect(woke).toMatchObject({ state: "running", from: "stopped", woke: true });
    expect(engine.calls.filter((c) => !c.startsWith("list"))).toEqual(["pause a1a1", "pause a2a2", "unpause a1a1", "stop a1a1", "unpause a2a2", "stop a2a2", "start a2a2", "start a1a1"]);
    expect(events.map((e) => [e.action, e.decision, (e.details as { from: string }).from])).toEqual([
      ["tenant.suspended", "paused", "running"],
      ["tenant.suspended", "stopped", "paused"],
      ["tenant.woken", "woken", "stopped"],
    ]);
    expect(events.every((e) => e.tenant === "alpha" && e.actor === "waker")).toBe(true);
    expect(typeof (events[2]!.details as { wakeMs: unknown }).wakeMs).toBe("number");
  });

  it("does nothing (and records nothing) when already there; a pause never wakes a stopped tenant", async () => {
    const { engine, events, waker } = setup([...tenant("prod", "alpha", "a", "exited")]);
    expect(await waker.suspend("alpha", "paused", "idle")).toMatchObject({ state: "stopped", suspended: false });
    engine.containers.forEach((c) => (c.status = "running"));
    expect(await waker.wake("alpha", "healthy", "request")).toMatchObject({ woke: false, from: "running" });
    expect(engine.calls.filter((c) => !c.startsWith("list"))).toEqual([]);
    expect(events).toEqual([]);
  });

  it("acts only on this platform's containers of that tenant, even when the engine ignores the filter", async () => {
    const { engine, waker } = setup([...tenant("other", "alpha", "b"), ...tenant("prod", "beta", "c")]);
    for (const ignore of [false, true]) {
      engine.ignoreFilters = ignore;
      await expect(waker.wake("alpha", "healthy", "request")).rejects.toMatchObject({ status: 404 });
      await expect(waker.suspend("alpha", "stopped", "idle")).rejects.toMatchObject({ status: 404 });
    }
    expect(engine.calls.filter((c) => !c.startsWith("list"))).toEqual([]);
    // positive control: the platform's own tenant is acted on
    await waker.suspend("beta", "paused", "idle");
    expect(engine.calls.filter((c) => !c.startsWith("list"))).toEqual(["pause c1c1", "pause c2c2"]);
  });

  it("coalesces concurrent wakes of one tenant into one wake", async () => {
    const { engine, events, waker } = setup([...tenant("prod", "alpha", "a", "exited")]);
    engine.startDelayMs = 50;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => waker.wake("alpha", i % 2 ? "running" : "healthy", "request")));
    expect(engine.calls.filter((c) => c.startsWith("start"))).toEqual(["start a2a2", "start a1a1"]);
    expect(results.every((r) => r.state === "running")).toBe(true);
    expect(events.filter((e) => e.action === "tenant.woken")).toHaveLength(1);
  });

  it("an engine call that fails during a suspend is a 502 (retry later), not an internal error", async () => {
    const { waker, engine } = setup(tenant("prod", "alpha", "a"));
    const act = engine.act.bind(engine);
    engine.act = (cid, action) => (action === "pause" && cid === id("a2") ? Promise.reject(new Error("engine: pause of a2 answered HTTP 500")) : act(cid, action));
    await expect(waker.suspend("alpha", "paused", "idle")).rejects.toMatchObject({ name: "WakerError", status: 502 });
    // half-suspended (gateway frozen, proxy not): the next wake thaws it whole
    expect(engine.containers.map((c) => c.status)).toEqual(["paused", "running"]);
    expect(await waker.wake("alpha", "running", "request")).toMatchObject({ from: "paused", woke: true });
    expect(engine.containers.map((c) => c.status)).toEqual(["running", "running"]);
  });

  it("serializes a suspend behind a wake in flight (no interleaving)", async () => {
    const { engine, waker } = setup([...tenant("prod", "alpha", "a", "exited")]);
    engine.startDelayMs = 30;
    await Promise.all([waker.wake("alpha", "healthy", "request"), waker.suspend("alpha", "stopped", "idle")]);
    expect(engine.calls.filter((c) => !c.startsWith("list"))).toEqual(["start a2a2", "start a1a1", "stop a1a1", "stop a2a2"]);
  });

  it("a wake that does not become healthy in time fails with 504 and is audited as failed", async () => {
    const { engine, events } = setup([...tenant("prod", "alpha", "a", "exited")]);
    engine.act = (cid, action) => {
      engine.calls.push(`${action} ${cid.slice(0, 4)}`);
      const c = engine.containers.find((x) => x.id === cid)!;
      c.status = "running";
      c.health = "starting";
      return Promise.resolve();
    };
    const w = new Waker({ engine, audit: { record: (e) => Promise.resolve(void events.push(e)) }, platform: "prod", wakeTimeoutMs: 100, pollMs: 10, stopGraceS: 1 });
    const err = await w.wake("alpha", "healthy", "request").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WakerError);
    expect(err).toMatchObject({ status: 504 });
    expect(events.map((e) => e.action)).toEqual(["tenant.wake_failed"]);
    // positive control: the same state is enough for wait=running
    expect(await w.wake("alpha", "running", "request")).toMatchObject({ state: "running", health: "starting" });
  });

  it("refuses a tenant with two gateways rather than guess", async () => {
    const twice = [...tenant("prod", "alpha", "a"), { ...tenant("prod", "alpha", "d")[0]! }];
    const { waker } = setup(twice);
    await expect(waker.suspend("alpha", "paused", "idle")).rejects.toMatchObject({ status: 409 });
  });
});

describe("Engine allow-list", () => {
  const cid = id("e");
  it("allows exactly list, inspect, pause, unpause, start and stop", () => {
    expect(Engine.allows("GET", `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ["octw.platform=p"] }))}`)).toBe(true);
    expect(Engine.allows("GET", `/containers/${cid}/json`)).toBe(true);
    for (const a of ["pause", "unpause", "start"]) expect(Engine.allows("POST", `/containers/${cid}/${a}`)).toBe(true);
    expect(Engine.allows("POST", `/containers/${cid}/stop?t=10`)).toBe(true);
  });
  it("refuses everything else", () => {
    for (const [m, p] of [
      ["POST", `/containers/${cid}/exec`],
      ["POST", `/containers/${cid}/kill`],
      ["DELETE", `/containers/${cid}`],
      ["POST", "/containers/create"],
      ["GET", `/containers/${cid}/logs`],
      ["POST", `/containers/${cid}/start/../exec`],
      ["GET", `/containers/${cid}/json?size=1`],
      ["POST", `/containers/${cid.slice(1)}/start`],
      ["POST", `/containers/name/start`],
      ["GET", "/images/json"],
      ["POST", `/containers/${cid}/stop?t=10&signal=KILL`],
      ["PUT", `/containers/${cid}/archive?path=/`],
    ] as const) {
      expect(Engine.allows(m, p), `${m} ${p}`).toBe(false);
    }
  });
  it("never sends a refused request", async () => {
    const e = new Engine({ socketPath: "/nonexistent/engine.sock" });
    // A sent request would fail with ENOENT; the allow-list refuses before any socket is opened.
    await expect(e.act("not-an-id", "start")).rejects.toThrow(/refused to send POST/);
    // positive control: an allowed call does try the socket
    await expect(e.act(cid, "start")).rejects.toThrow(/ENOENT/);
  });
});

describe("which containers the waker acts on (found by mutation testing)", () => {
  it("asks the engine for exactly this platform's containers of that tenant", async () => {
    const { engine, waker } = setup(tenant("prod", "alpha", "a", "paused"));
    await waker.wake("alpha", "running", "request");
    expect(engine.calls[0]).toBe(`list ${JSON.stringify({ "octw.platform": "prod", "octw.tenant": "alpha" })}`);
  });

  it("refuses to guess between two egress proxies (409), and says why; no tenant is a 404 that says so", async () => {
    const two = [...tenant("prod", "alpha", "a"), { id: id("f9"), labels: { "octw.platform": "prod", "octw.tenant": "alpha", "octw.component": "egress-proxy" }, status: "running" }];
    const { engine, waker } = setup(two);
    await expect(waker.suspend("alpha", "paused", "idle")).rejects.toMatchObject({ status: 409, message: "the tenant has more than one gateway or egress proxy; refusing to guess" });
    await expect(waker.wake("alpha", "running", "request")).rejects.toMatchObject({ status: 409 });
    expect(engine.calls.filter((c) => !c.startsWith("list"))).toEqual([]);
    await expect(waker.wake("nobody", "running", "request")).rejects.toMatchObject({ status: 404, message: "no such tenant on this platform" });
  });

  it("another component of the tenant (not gateway or egress proxy) is never touched", async () => {
    const extra = [...tenant("prod", "alpha", "a"), { id: id("e7"), labels: { "octw.platform": "prod", "octw.tenant": "alpha", "octw.component": "state-init" }, status: "running" }];
    const { engine, waker } = setup(extra);
    await waker.suspend("alpha", "stopped", "idle");
    expect(engine.calls.filter((c) => !c.startsWith("list"))).toEqual(["stop a1a1", "stop a2a2"]);
  });
});
