// The idle clock's rules, as properties over random sequences of requests, suspends and time.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IdleClock, tierFor, type KnownState } from "../src/idle-clock";

describe("tierFor", () => {
  it("is the deepest threshold reached, and nothing before the first", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 3_000_000 }), (pause, extra, idleMs) => {
        const p = { pauseAfterS: pause, stopAfterS: pause + extra };
        const t = tierFor(p, idleMs);
        if (idleMs >= p.stopAfterS * 1000) expect(t).toBe("stopped");
        else if (idleMs >= pause * 1000) expect(t).toBe("paused");
        else expect(t).toBeUndefined();
        // a stop-only policy never pauses, a pause-only one never stops
        expect(tierFor({ stopAfterS: pause }, idleMs)).toBe(idleMs >= pause * 1000 ? "stopped" : undefined);
        expect(tierFor({ pauseAfterS: pause }, idleMs)).toBe(idleMs >= pause * 1000 ? "paused" : undefined);
      }),
    );
  });
});

type Op = { kind: "begin" | "end" | "advance" | "suspendOk" | "suspendFail" | "wake"; tenant: number; ms: number };

describe("IdleClock", () => {
  it("suggests a suspend only for a tenant with nothing in flight, idle past a threshold, and not already that deep", () => {
    const op = fc.record({
      kind: fc.constantFrom<Op["kind"]>("begin", "end", "advance", "suspendOk", "suspendFail", "wake"),
      tenant: fc.integer({ min: 0, max: 2 }),
      ms: fc.integer({ min: 0, max: 5_000 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const ids = ["a", "b", "c"];
        const policies = { a: { pauseAfterS: 1, stopAfterS: 3 }, b: { stopAfterS: 2 }, c: { pauseAfterS: 2 } };
        let now = 1_000_000;
        const clock = new IdleClock(policies, now);
        // A model: in-flight count and last activity per tenant.
        const active = new Map(ids.map((i) => [i, 0]));
        const last = new Map(ids.map((i) => [i, now]));
        const state = new Map<string, KnownState>(ids.map((i) => [i, "unknown"]));
        const retryAt = new Map<string, number>();
        for (const o of ops) {
          const t = ids[o.tenant]!;
          if (o.kind === "advance") now += o.ms;
          else if (o.kind === "begin") {
            clock.begin(t, now);
            active.set(t, active.get(t)! + 1);
            last.set(t, now);
          } else if (o.kind === "end") {
            clock.end(t, now);
            active.set(t, Math.max(0, active.get(t)! - 1));
            last.set(t, now);
          } else if (o.kind === "wake") {
            clock.setState(t, "running");
            clock.touch(t, now);
            state.set(t, "running");
            last.set(t, now);
          } else {
            const due = clock.due(now).find((d) => d.tenant === t);
            if (!due) continue;
            clock.suspendStarted(t, due.tier);
            clock.suspendFinished(t, o.kind === "suspendOk", now, 1_000);
            state.set(t, o.kind === "suspendOk" ? due.tier : "unknown");
            if (o.kind === "suspendFail") retryAt.set(t, now + 1_000);
          }
          for (const d of clock.due(now)) {
            expect(active.get(d.tenant)).toBe(0);
            expect(now).toBeGreaterThanOrEqual(retryAt.get(d.tenant) ?? 0);
            expect(tierFor(policies[d.tenant as "a"], now - last.get(d.tenant)!)).toBe(d.tier);
            const depth = { unknown: 0, running: 0, paused: 1, stopped: 2 };
            expect(depth[d.tier]).toBeGreaterThan(depth[state.get(d.tenant)!]);
          }
          // and every tenant that satisfies all of that IS suggested (nothing idle is forgotten)
          for (const id of ids) {
            const tier = tierFor(policies[id as "a"], now - last.get(id)!);
            const depth = { unknown: 0, running: 0, paused: 1, stopped: 2 };
            const expected = active.get(id) === 0 && now >= (retryAt.get(id) ?? 0) && tier !== undefined && depth[tier] > depth[state.get(id)!];
            expect(clock.due(now).some((d) => d.tenant === id)).toBe(expected);
          }
        }
      }),
    );
  });

  it("a tenant with a suspend in flight is not suggested again, and a request during it means it must be woken", () => {
    const clock = new IdleClock({ a: { pauseAfterS: 1 } }, 0);
    expect(clock.due(1_000)).toEqual([{ tenant: "a", tier: "paused" }]);
    clock.suspendStarted("a", "paused");
    expect(clock.due(5_000)).toEqual([]);
    expect(clock.state("a")).toBe("paused");
    clock.suspendFinished("a", true, 5_000, 1_000);
    expect(clock.due(6_000)).toEqual([]);
  });

  it("adding and removing tenants: new ones start idle now, removed ones are forgotten, unlisted are never suspended", () => {
    const clock = new IdleClock({ a: { pauseAfterS: 1 } }, 0);
    clock.setPolicies({ b: { stopAfterS: 1 } }, 10_000);
    expect(clock.has("a")).toBe(false);
    expect(clock.due(10_500)).toEqual([]);
    expect(clock.due(11_000)).toEqual([{ tenant: "b", tier: "stopped" }]);
    clock.begin("zz", 0); // not listed: ignored
    expect(clock.tenants).toEqual(["b"]);
  });
});
