// Edges of the denial aggregation (aggregator.ts) beyond aggregator.test.ts, each one a rule a
// changed line would break (`npm run mutation -- egress-audit/aggregator`): window and source
// bounds, the default chunk size, first/last seen, the key format, which windows close when.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DenialAggregator, destinationOf, type Denial } from "../src/aggregator";

const T0 = 1_764_000_000_000;
const d = (timeMs: number, host: string, port = 443, method = "CONNECT"): Denial => ({ timeMs, host, port, method, destination: destinationOf(host, port, "") });

describe("aggregator edges", () => {
  it("windows of whole seconds, at least one; sources of 1-64 key-safe characters", () => {
    expect(() => new DenialAggregator({ tenant: "a", source: "c", windowMs: 0 })).toThrow(/windowMs: must be a multiple of 1000 \(got 0\)/);
    expect(() => new DenialAggregator({ tenant: "a", source: "c", windowMs: 999 })).toThrow(/windowMs/);
    expect(() => new DenialAggregator({ tenant: "a", source: "c", windowMs: 1_000 })).not.toThrow();
    expect(() => new DenialAggregator({ tenant: "a", source: "A-z.0_9".padEnd(64, "x"), windowMs: 1_000 })).not.toThrow();
    for (const source of ["", "x".repeat(65), "a b", "a/b", "ä"]) {
      expect(() => new DenialAggregator({ tenant: "a", source, windowMs: 1_000 }), JSON.stringify(source)).toThrow("source: must be 1-64 characters of [A-Za-z0-9._-] (it is part of idempotency keys)");
    }
  });

  it("a window is [start, start + windowMs): its last millisecond belongs to it, the next does not", () => {
    const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 1_000 });
    expect(a.windowOf(T0 + 999)).toBe(T0);
    expect(a.windowOf(T0 + 1_000)).toBe(T0 + 1_000);
    a.add(d(T0 + 999, "x.example"));
    // it closes exactly when closedBeforeMs reaches its end
    expect(a.takeClosed(T0 + 999)).toEqual([]);
    expect(a.takeClosed(T0 + 1_000)).toHaveLength(1);
  });

  it("the default chunk holds 1000 destinations; the 1001st seals it", () => {
    const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 10_000 });
    for (let i = 0; i < 1_000; i++) a.add(d(T0, `h${i}.example`));
    expect(a.takeClosed(T0)).toEqual([]);
    expect(a.heldGroups()).toBe(1_000);
    a.add(d(T0, "h0.example")); // one already held: no new group, nothing sealed
    expect(a.takeClosed(T0)).toEqual([]);
    a.add(d(T0, "h1000.example"));
    const sealed = a.takeClosed(T0);
    expect(sealed).toHaveLength(1_000);
    expect(sealed.every((e) => e.chunk === 0)).toBe(true);
    expect(a.heldGroups()).toBe(1);
    expect(a.takeClosed(Number.MAX_SAFE_INTEGER).map((e) => [e.destination, e.chunk])).toEqual([["h1000.example:443", 1]]);
  });

  it("first and last seen are the earliest and latest times whatever the order of the lines", () => {
    const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 10_000 });
    for (const t of [5, 1, 9, 3]) a.add(d(T0 + t, "x.example"));
    const [e] = a.takeClosed(Number.MAX_SAFE_INTEGER);
    expect(e).toMatchObject({ count: 4, firstSeen: new Date(T0 + 1).toISOString(), lastSeen: new Date(T0 + 9).toISOString() });
  });

  it("the key: source, window start, chunk and a digest of method and destination (method counts)", () => {
    const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 1_000 });
    a.add(d(T0 + 5, "x.example", 443, "CONNECT"));
    a.add(d(T0 + 6, "x.example", 443, "GET"));
    const ev = a.takeClosed(Number.MAX_SAFE_INTEGER);
    const digest = (m: string, dest: string) => createHash("sha256").update(`${m}\u0000${dest}`).digest("hex").slice(0, 40);
    expect(ev.map((e) => e.idempotencyKey)).toEqual([`egress.denied:c1:${T0}:0:${digest("CONNECT", "x.example:443")}`, `egress.denied:c1:${T0}:0:${digest("GET", "x.example:443")}`]);
  });

  it("closed windows come out oldest first; the oldest open window and the held groups span every window", () => {
    const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 1_000 });
    expect(a.oldestOpenWindow()).toBeUndefined();
    expect(a.heldGroups()).toBe(0);
    // windows added out of order, and the newest last (so "the last added" is not the oldest)
    a.add(d(T0 + 2_000, "mid.example"));
    a.add(d(T0 + 1_000, "early.example"));
    a.add(d(T0 + 3_000, "late.example"));
    a.add(d(T0 + 2_001, "mid2.example"));
    expect(a.oldestOpenWindow()).toBe(T0 + 1_000);
    expect(a.heldGroups()).toBe(4);
    expect(a.takeClosed(T0 + 3_000).map((e) => e.host)).toEqual(["early.example", "mid.example", "mid2.example"]);
    expect(a.oldestOpenWindow()).toBe(T0 + 3_000);
    expect(a.heldGroups()).toBe(1);
  });

  it("destinationOf: host:port; else the request as logged; else the host; else a marker", () => {
    expect(destinationOf("x.example", 0, "")).toBe("x.example");
    expect(destinationOf("x.example", 0, "-")).toBe("x.example");
    expect(destinationOf("", 443, "")).toBe("(no destination logged)");
    expect(destinationOf("", 0, "-")).toBe("(no destination logged)");
    expect(destinationOf("x.example", 8443, "ignored")).toBe("x.example:8443");
  });
});
