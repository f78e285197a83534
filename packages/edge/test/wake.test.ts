// The wake coordinator on its own: single flight, bounded holds, timeouts, failures, the probe
// after an edge restart, and idle suspends. A fake waker and a fake readiness probe.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WakeConfigSchema, type WakeConfig } from "@octw/contracts";
import { RECHECK_MS, WakeCoordinator, startingPage, wantsHtml } from "../src/wake";
import type { WakerApi } from "../src/waker-client";

function cfg(over: Partial<WakeConfig> = {}): WakeConfig {
  return { ...WakeConfigSchema.parse({ wakerUrl: "http://waker.test:8790", tenants: { a: { pauseAfterS: 1, stopAfterS: 2 }, b: { stopAfterS: 1 } } }), readyPollMs: 5, ...over };
}

/** A tenant "gateway": ready or not; the fake waker makes it ready after `startMs`. */
class Fake implements WakerApi {
  ready = new Set<string>();
  wakes: string[] = [];
  suspends: [string, string][] = [];
  horizons: (number | undefined)[] = [];
  startMs = 30;
  fail = false;
  hang = false;
  async wake(tenant: string): Promise<void> {
    this.wakes.push(tenant);
    if (this.hang) return new Promise(() => {});
    await new Promise((r) => setTimeout(r, this.startMs));
    if (this.fail) throw new Error("waker answered 502");
    this.ready.add(tenant);
  }
  async suspend(tenant: string, tier: string, horizonS?: number): Promise<void> {
    this.suspends.push([tenant, tier]);
    this.horizons.push(horizonS);
    await new Promise((r) => setTimeout(r, 5));
    this.ready.delete(tenant);
  }
  probe = (tenant: string) => Promise.resolve(this.ready.has(tenant));
}

function make(over: Partial<WakeConfig> = {}, nowMs?: () => number) {
  const fake = new Fake();
  const w = new WakeCoordinator(cfg(over), { waker: fake, probe: (t) => fake.probe(t), ...(nowMs ? { nowMs } : {}) });
  return { fake, w };
}

describe("WakeCoordinator: hold and wake", () => {
  it("N concurrent holds of a suspended tenant start exactly one wake and all go on", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 20 }), async (n, startMs) => {
        const { fake, w } = make();
        fake.startMs = startMs;
        const outcomes = await Promise.all(Array.from({ length: n }, () => w.hold("a", 5_000)));
        expect(fake.wakes).toEqual(["a"]);
        expect(outcomes.every((o) => o.ok)).toBe(true);
        expect(w.holding).toBe(0);
        // now running: no further wake, no wait
        expect(await w.hold("a", 5_000)).toEqual({ ok: true, waited: false });
        expect(fake.wakes).toHaveLength(1);
      }),
      { numRuns: 25 },
    );
  });

  it("after an edge restart (state unknown) a ready gateway is probed, not woken", async () => {
    const { fake, w } = make();
    fake.ready.add("a");
    expect(w.state("a")).toBe("unknown");
    expect(await w.hold("a", 1_000)).toEqual({ ok: true, waited: true });
    expect(fake.wakes).toEqual([]);
    expect(w.state("a")).toBe("running");
  });

  it("a tenant not in the wake config is never held or woken", async () => {
    const { fake, w } = make();
    expect(await w.hold("zz", 1_000)).toEqual({ ok: true, waited: false });
    w.unreachable("zz");
    expect(fake.wakes).toEqual([]);
  });

  it("the queue is bounded per tenant and in total: the one over the bound is refused at once", async () => {
    const { fake, w } = make({ maxHeldPerTenant: 3, maxHeldTotal: 4 });
    fake.startMs = 100;
    const held = [w.hold("a", 5_000), w.hold("a", 5_000), w.hold("a", 5_000)];
    expect(await w.hold("a", 5_000)).toMatchObject({ ok: false, reason: "queue_full", retryAfterSec: 5 });
    const b1 = w.hold("b", 5_000);
    expect(await w.hold("b", 5_000)).toMatchObject({ ok: false, reason: "queue_full" });
    expect((await Promise.all([...held, b1])).every((o) => o.ok)).toBe(true);
    expect(fake.wakes.sort()).toEqual(["a", "b"]);
  });

  it("a hold is bounded in time (503 + Retry-After), the wake goes on, and a later request joins it", async () => {
    const { fake, w } = make();
    fake.startMs = 150;
    const t0 = Date.now();
    expect(await w.hold("a", 30)).toMatchObject({ ok: false, reason: "hold_timeout" });
    expect(Date.now() - t0).toBeLessThan(140);
    expect(await w.hold("a", 5_000)).toEqual({ ok: true, waited: true });
    expect(fake.wakes).toEqual(["a"]);
  });

  it("a waker that never answers ends in wake_timeout, never a hang", async () => {
    const { fake, w } = make({ wakeTimeoutMs: 500, holdTimeoutMs: 5_000 });
    fake.hang = true;
    // the fake ignores the timeout it is given; the coordinator's hold bound still ends the wait
    expect(await w.hold("a", 700)).toMatchObject({ ok: false });
  });

  it("a gateway that never gets ready after the waker's answer ends in wake_timeout", async () => {
    const { fake, w } = make({ wakeTimeoutMs: 500 });
    fake.probe = () => Promise.resolve(false);
    const t0 = Date.now();
    expect(await w.hold("a", 5_000)).toMatchObject({ ok: false, reason: "wake_timeout" });
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it("a failed wake fails every held request, and for Retry-After seconds new ones are refused without a new wake", async () => {
    let now = 0;
    const { fake, w } = make({}, () => now);
    fake.fail = true;
    const r = await Promise.all([w.hold("a", 5_000), w.hold("a", 5_000)]);
    expect(r.map((o) => o.ok)).toEqual([false, false]);
    expect(r[0]).toMatchObject({ reason: "wake_failed", retryAfterSec: 5 });
    expect(await w.hold("a", 5_000)).toMatchObject({ ok: false, reason: "wake_failed" });
    expect(fake.wakes).toHaveLength(1);
    now += 5_000;
    fake.fail = false;
    expect(await w.hold("a", 5_000)).toEqual({ ok: true, waited: true });
    expect(fake.wakes).toHaveLength(2);
  });

  it("unreachable() on a running tenant probes, and wakes only when the probe fails — once", async () => {
    const { fake, w } = make();
    fake.ready.add("a");
    await w.hold("a", 1_000);
    fake.ready.delete("a"); // suspended behind the edge's back
    w.unreachable("a");
    w.unreachable("a");
    expect(await w.hold("a", 5_000)).toEqual({ ok: true, waited: true });
    expect(fake.wakes).toEqual(["a"]);
  });

  it("a name that does not resolve makes even a 'running' tenant be checked (suspectDown)", async () => {
    const { fake, w } = make();
    fake.ready.add("a");
    await w.hold("a", 1_000);
    fake.ready.delete("a");
    expect(await w.hold("a", 5_000, true)).toEqual({ ok: true, waited: true });
    expect(fake.wakes).toEqual(["a"]);
  });
});

describe("WakeCoordinator: idle suspend", () => {
  it("pauses after pauseAfterS, stops after stopAfterS, never while something is in flight", async () => {
    let now = 0;
    const { fake, w } = make({}, () => now);
    fake.ready.add("a");
    fake.ready.add("b");
    await w.hold("a", 1_000);
    w.begin("b"); // b has a request (or WebSocket) open
    now = 1_000;
    w.tick();
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.suspends).toEqual([["a", "paused"]]);
    now = 5_000;
    w.tick();
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.suspends).toEqual([["a", "paused"], ["a", "stopped"]]);
    w.tick();
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.suspends).toHaveLength(2); // already stopped: nothing more
    w.end("b");
    now = 5_999;
    w.tick();
    expect(fake.suspends).toHaveLength(2); // b idle 999 ms < 1 s
    now = 6_000;
    w.tick();
    expect(fake.suspends).toEqual([["a", "paused"], ["a", "stopped"], ["b", "stopped"]]);
  });

  it("a request during a suspend waits for it, then wakes (one wake, after the suspend)", async () => {
    let now = 0;
    const { fake, w } = make({}, () => now);
    fake.ready.add("b");
    await w.hold("b", 1_000);
    now = 1_000;
    w.tick(); // suspend of b in flight (5 ms)
    const o = await w.hold("b", 5_000);
    expect(o).toEqual({ ok: true, waited: true });
    expect(fake.suspends.filter(([t]) => t === "b")).toEqual([["b", "stopped"]]);
    expect(fake.wakes).toEqual(["b"]);
    expect(fake.ready.has("b")).toBe(true);
  });

  it("each suspend carries the tenant's own stop threshold (the waker's horizon for scheduled jobs)", async () => {
    let now = 0;
    const { fake, w } = make({}, () => now);
    now = 2_000;
    w.tick();
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.suspends).toEqual([["a", "stopped"], ["b", "stopped"]]);
    expect(fake.horizons).toEqual([2, 1]);
  });

  it("a tenant believed stopped that is found serving (woken for a scheduled job) is running again, idle from then, and suspended again", async () => {
    let now = 0;
    const { fake, w } = make({}, () => now);
    now = 2_000;
    w.tick();
    await new Promise((r) => setTimeout(r, 20));
    expect(w.state("a")).toBe("stopped");
    // The waker wakes "a" for its job, behind the edge's back.
    fake.ready.add("a");
    now = RECHECK_MS - 1; // the first recheck comes RECHECK_MS after the start
    w.tick();
    await new Promise((r) => setTimeout(r, 20));
    expect(w.state("a")).toBe("stopped"); // not yet rechecked
    now = RECHECK_MS;
    w.tick();
    await new Promise((r) => setTimeout(r, 20));
    expect(w.state("a")).toBe("running");
    expect(w.state("b")).toBe("stopped"); // probed, not serving: still believed stopped
    const suspendsBefore = fake.suspends.length;
    now += 999; // idle since it was found: pauseAfterS is 1 s
    w.tick();
    expect(fake.suspends).toHaveLength(suspendsBefore);
    now += 1;
    w.tick();
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.suspends.slice(suspendsBefore)).toEqual([["a", "paused"]]);
  });

  it("a failed suspend is retried only after suspendRetryMs", async () => {
    let now = 0;
    const fake = new Fake();
    let calls = 0;
    fake.suspend = () => {
      calls++;
      return Promise.reject(new Error("waker answered 502"));
    };
    const w = new WakeCoordinator(cfg({ suspendRetryMs: 10_000 }), { waker: fake, probe: (t) => fake.probe(t), nowMs: () => now });
    now = 1_500;
    w.tick();
    await new Promise((r) => setTimeout(r, 5));
    expect(calls).toBe(2); // a (paused) and b (stopped)
    now = 5_000;
    w.tick();
    expect(calls).toBe(2);
    now = 11_500;
    w.tick();
    expect(calls).toBe(4);
  });
});

describe("the starting page", () => {
  it("is asked for only by a page request, and refreshes itself", () => {
    expect(wantsHtml("GET", "text/html,application/xhtml+xml,*/*;q=0.8")).toBe(true);
    expect(wantsHtml("GET", "application/json")).toBe(false);
    expect(wantsHtml("POST", "text/html")).toBe(false);
    expect(wantsHtml("GET", "text/htmlx")).toBe(false);
    expect(wantsHtml("GET", undefined)).toBe(false);
    expect(startingPage(3, false)).toContain('<meta http-equiv="refresh" content="3">');
    expect(startingPage(3, true)).toContain("could not be started");
  });
});
