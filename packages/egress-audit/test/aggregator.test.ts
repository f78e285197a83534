import { describe, expect, it } from "vitest";
import { DenialAggregator, destinationOf, type Denial } from "../src/aggregator";

const T0 = 1_764_000_000_000;
const d = (timeMs: number, host: string, port: number, method = "CONNECT"): Denial => ({ timeMs, host, port, method, destination: destinationOf(host, port, "") });
const KEY = /^egress\.denied:c1:\d+:\d+:[0-9a-f]{40}$/;

describe("denial aggregation", () => {
  it("a retry loop of 10 000 denials in one window is one event with a count", () => {
    const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 10_000 });
    for (let i = 0; i < 10_000; i++) a.add(d(T0 + (i % 9_000), "evil.example.com", 443));
    const ev = a.takeClosed(T0 + 10_000);
    expect(ev).toEqual([
      {
        tenant: "a", destination: "evil.example.com:443", host: "evil.example.com", port: 443, method: "CONNECT", count: 10_000,
        firstSeen: new Date(T0).toISOString(), lastSeen: new Date(T0 + 8_999).toISOString(),
        windowStartMs: T0, chunk: 0, idempotencyKey: expect.stringMatching(KEY) as unknown,
      },
    ]);
    expect(a.takeClosed(T0 + 20_000)).toEqual([]);
  });

  it("separates destinations, ports, methods and windows; an open window is kept", () => {
    const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 10_000 });
    a.add(d(T0 + 1, "x.com", 443));
    a.add(d(T0 + 2, "x.com", 80));
    a.add(d(T0 + 3, "x.com", 443, "GET"));
    a.add(d(T0 + 10_001, "x.com", 443));
    expect(a.takeClosed(T0 + 10_000).map((e) => [e.port, e.method, e.count])).toEqual([[443, "CONNECT", 1], [80, "CONNECT", 1], [443, "GET", 1]]);
    expect(a.oldestOpenWindow()).toBe(T0 + 10_000);
  });

  it("the same lines give the same windows, chunks and keys (replay after restart is idempotent)", () => {
    const run = () => {
      const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 5_000, maxGroups: 4 });
      for (let i = 0; i < 100; i++) a.add(d(T0 + i * 173, `h${i % 7}.com`, 443));
      return a.takeClosed(Number.MAX_SAFE_INTEGER);
    };
    expect(run()).toEqual(run());
  });

  it("beyond maxGroups, a window is recorded in chunks that keep every name, even before the window closes", () => {
    const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 1_000, maxGroups: 3 });
    for (let i = 0; i < 50; i++) a.add(d(T0, `r${i}.example.com`, 443));
    a.add(d(T0, "r0.example.com", 443)); // seen again after its chunk was sealed
    expect(a.heldGroups()).toBeLessThanOrEqual(3);
    const early = a.takeClosed(T0); // window still open: only sealed chunks
    expect(early).toHaveLength(48);
    const rest = a.takeClosed(Number.MAX_SAFE_INTEGER);
    const all = [...early, ...rest];
    expect(all.reduce((n, e) => n + e.count, 0)).toBe(51);
    expect(new Set(all.map((e) => e.destination)).size).toBe(50);
    expect(all.filter((e) => e.destination === "r0.example.com:443").map((e) => e.count)).toEqual([1, 1]);
    expect(new Set(all.map((e) => e.idempotencyKey)).size).toBe(all.length);
    for (const e of all) expect(e.idempotencyKey).toMatch(KEY);
  });

  it("two long names that share their first 250 characters get distinct keys", () => {
    const a = new DenialAggregator({ tenant: "a", source: "c1", windowMs: 1_000 });
    const stem = `${"a".repeat(60)}.`.repeat(4);
    a.add(d(T0, `${stem}one.example`, 443));
    a.add(d(T0, `${stem}two.example`, 443));
    const ev = a.takeClosed(Number.MAX_SAFE_INTEGER);
    expect(ev.map((e) => e.destination)).toEqual([`${stem}one.example:443`, `${stem}two.example:443`]);
    expect(ev[0]!.idempotencyKey).not.toBe(ev[1]!.idempotencyKey);
  });

  it("names destinations unambiguously", () => {
    expect(destinationOf("[2001:db8::1]", 443, "")).toBe("[2001:db8::1]:443");
    expect(destinationOf("2001:db8::1", 443, "")).toBe("[2001:db8::1]:443");
    expect(destinationOf("odd.example.com", 0, "odd.example.com:99999")).toBe("odd.example.com:99999");
    expect(destinationOf("", 0, "error:invalid-request")).toBe("error:invalid-request");
  });

  it("refuses a window that is not whole seconds, and a source that does not fit a key", () => {
    expect(() => new DenialAggregator({ tenant: "a", source: "c", windowMs: 1_500 })).toThrow(/windowMs: must be a multiple of 1000/);
    expect(() => new DenialAggregator({ tenant: "a", source: "c:1", windowMs: 1_000 })).toThrow(/source/);
  });
});
