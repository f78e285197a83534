import { describe, expect, it } from "vitest";
import { TenantLimiter } from "../src/limits";

describe("per-tenant limits", () => {
  it("rate: burst then refill at ratePerSec; tenants independent", () => {
    let t = 0;
    const l = new TenantLimiter(() => t);
    const rate = { ratePerSec: 2, burst: 2 };
    expect([l.rate("a", rate).ok, l.rate("a", rate).ok, l.rate("a", rate).ok]).toEqual([true, true, false]);
    expect(l.rate("b", rate).ok).toBe(true);
    t = 499;
    expect(l.rate("a", rate).ok).toBe(false);
    t = 1_001;
    expect(l.rate("a", rate).ok).toBe(true);
  });
  it("concurrency: at most max in flight; release is idempotent", () => {
    const l = new TenantLimiter();
    const r1 = l.acquire("a", 2)!;
    const r2 = l.acquire("a", 2)!;
    expect(l.acquire("a", 2)).toBeUndefined();
    expect(l.acquire("b", 2)).toBeDefined();
    r1();
    r1();
    expect(l.inFlight("a")).toBe(1);
    expect(l.acquire("a", 2)).toBeDefined();
    r2();
  });
});
