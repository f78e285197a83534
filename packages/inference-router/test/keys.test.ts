import { describe, expect, it } from "vitest";
import { KeyUnavailableError, ProviderKeyCache } from "../src/keys";

function source() {
  const s = {
    value: "k1",
    down: false,
    missing: false,
    reads: 0,
    get(tenant: string, name: string): Promise<Buffer> {
      s.reads++;
      if (s.missing) return Promise.reject(new Error(`secret ${tenant}/${name}: not found`));
      if (s.down) return Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
      return Promise.resolve(Buffer.from(`${tenant}:${s.value}`));
    },
  };
  return s;
}
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("provider key cache", () => {
  it("serves from memory within the TTL, one read for concurrent callers", async () => {
    const s = source();
    const c = new ProviderKeyCache(s, { cacheTtlMs: 1_000, maxStaleMs: 5_000, now: () => 0 });
    expect(await Promise.all([c.get("a", "k"), c.get("a", "k"), c.get("a", "k")])).toEqual(["a:k1", "a:k1", "a:k1"]);
    expect(s.reads).toBe(1);
    expect(await c.get("b", "k")).toBe("b:k1");
  });
  it("after the TTL: serves the cached key and refreshes in the background (rotation picked up)", async () => {
    let t = 0;
    const s = source();
    const c = new ProviderKeyCache(s, { cacheTtlMs: 1_000, maxStaleMs: 5_000, now: () => t });
    await c.get("a", "k");
    s.value = "k2";
    t = 1_500;
    expect(await c.get("a", "k")).toBe("a:k1");
    await tick();
    expect(await c.get("a", "k")).toBe("a:k2");
  });
  it("store down: cached key keeps serving until maxStale, then KeyUnavailableError; back up: serves again", async () => {
    let t = 0;
    const s = source();
    const errors: unknown[] = [];
    const c = new ProviderKeyCache(s, { cacheTtlMs: 1_000, maxStaleMs: 5_000, retryMs: 100, now: () => t, onRefreshError: (_t, _n, e) => errors.push(e) });
    await c.get("a", "k");
    s.down = true;
    for (t = 1_000; t < 5_000; t += 500) {
      expect(await c.get("a", "k")).toBe("a:k1");
      await tick();
    }
    expect(errors.length).toBeGreaterThan(0);
    t = 5_000;
    await expect(c.get("a", "k")).rejects.toBeInstanceOf(KeyUnavailableError);
    s.down = false;
    expect(await c.get("a", "k")).toBe("a:k1");
  });
  it("a deleted secret stops being served at the next refresh", async () => {
    let t = 0;
    const s = source();
    const c = new ProviderKeyCache(s, { cacheTtlMs: 1_000, maxStaleMs: 5_000, now: () => t });
    await c.get("a", "k");
    s.missing = true;
    t = 1_200;
    await c.get("a", "k");
    await tick();
    await expect(c.get("a", "k")).rejects.toThrow(/not stored/);
  });
  it("errors never carry the value", async () => {
    const s = source();
    s.down = true;
    const c = new ProviderKeyCache(s, { cacheTtlMs: 1_000, maxStaleMs: 5_000 });
    const err = (await c.get("a", "openai/api-key").then(() => new Error("resolved"), (e: unknown) => e)) as Error;
    expect(err.message).toBe("provider key openai/api-key of tenant a is not available (secret store unreachable and no usable cached copy)");
  });
});
