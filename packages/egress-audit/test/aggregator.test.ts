import { describe, expect, it } from "vitest";
import { DenialAggregator, OTHER_HOST } from "../src/aggregator";

const T0 = 1_764_000_000_000;

describe("denial aggregation", () => {
  it("a retry loop of 10 000 denials in one window is one event with a count", () => {
    const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 10_000 });
    for (let i = 0; i < 10_000; i++) a.add({ timeMs: T0 + (i % 9_000), host: "evil.example.com", port: 443, method: "CONNECT" });
    const ev = a.takeClosed(T0 + 10_000);
    expect(ev).toEqual([
      {
        tenant: "a", host: "evil.example.com", port: 443, method: "CONNECT", count: 10_000,
        firstSeen: new Date(T0).toISOString(), lastSeen: new Date(T0 + 8_999).toISOString(),
        windowStartMs: T0, idempotencyKey: `egress.denied:c1:${T0}:CONNECT:evil.example.com:443`,
      },
    ]);
    expect(a.takeClosed(T0 + 20_000)).toEqual([]);
  });
  it("separates destinations, ports, methods and windows; an open window is kept", () => {
    const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 10_000 });
    a.add({ timeMs: T0 + 1, host: "x.com", port: 443, method: "CONNECT" });
    a.add({ timeMs: T0 + 2, host: "x.com", port: 80, method: "CONNECT" });
    a.add({ timeMs: T0 + 3, host: "x.com", port: 443, method: "GET" });
    a.add({ timeMs: T0 + 10_001, host: "x.com", port: 443, method: "CONNECT" });
    expect(a.takeClosed(T0 + 10_000).map((e) => [e.port, e.method, e.count])).toEqual([[443, "CONNECT", 1], [80, "CONNECT", 1], [443, "GET", 1]]);
    expect(a.oldestOpenWindow()).toBe(T0 + 10_000);
  });
  it("the same lines give the same windows and keys (replay after restart is idempotent)", () => {
    const run = () => {
      const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 5_000 });
      for (let i = 0; i < 100; i++) a.add({ timeMs: T0 + i * 173, host: `h${i % 3}.com`, port: 443, method: "CONNECT" });
      return a.takeClosed(Number.MAX_SAFE_INTEGER);
    };
    expect(run()).toEqual(run());
  });
  it("random names beyond maxGroups fold into one (other) row per method", () => {
    const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 1_000, maxGroups: 3 });
    for (let i = 0; i < 50; i++) a.add({ timeMs: T0, host: `r${i}.example.com`, port: 443, method: "CONNECT" });
    const ev = a.takeClosed(Number.MAX_SAFE_INTEGER);
    expect(ev).toHaveLength(4);
    expect(ev.find((e) => e.host === OTHER_HOST)?.count).toBe(47);
  });
  it("refuses a window that is not whole seconds", () => {
    expect(() => new DenialAggregator({ tenant: "a", source: "c", windowMs: 1_500 })).toThrow(/windowMs: must be a multiple of 1000/);
  });
});
