// Every refused egress attempt reaches the audit trail: property test of the whole path from a
// Squid access-log line to the stored event — parse, aggregate, the audit trail's own event
// validation (normalizeEvent, which rejected `(other)` and bracketed IPv6 keys before), and a
// store that keeps one event per (tenant, idempotency key) as append_events does — with
// generated hosts (long names, IPv6 bracketed and bare, unicode, punycode, quotes), odd ports,
// CONNECT and other methods, and bursts of more distinct destinations than maxGroups, across
// a shipper crash and replay. Squid's lines come from squid-model.ts (checked against lines
// the real proxy wrote); test/conformance/egress-denials-hostile.docker.test.ts runs the real proxy.
import fc from "fast-check";
import { normalizeEvent, type AuditEventInput } from "@octw/audit";
import { describe, expect, it } from "vitest";
import { CheckpointStore, DenialSource, type AuditRecorder } from "../src/shipper";
import { requestArb, squidLogLine, type ModelRequest } from "./squid-model";

const T0 = 1_764_000_000_000;
/** Generated scenarios per property: 200 in `npm test`, more with `npm run fuzz` (OCTW_FUZZ_RUNS). */
const RUNS = Number(process.env.OCTW_FUZZ_RUNS ?? 200);
const WINDOW = 10_000;

/** A store with the trail's semantics: every event validated, one per (tenant, idempotency key). */
class Store implements AuditRecorder {
  readonly events = new Map<string, AuditEventInput>();
  record(e: Parameters<AuditRecorder["record"]>[0]): Promise<unknown> {
    const n = normalizeEvent(e); // throws for what Postgres would never hold
    if (!this.events.has(`${n.tenant}\u0000${n.idempotencyKey}`)) this.events.set(`${n.tenant}\u0000${n.idempotencyKey}`, e);
    return Promise.resolve();
  }
}

/** The destination an event names in full (the trail's target is cut at 1024 characters, with a digest). */
const named = (e: AuditEventInput) => String((e.details as { destination?: string } | undefined)?.destination ?? e.target);

interface Attempt {
  line: string;
  destination: string;
  method: string;
  tsMs: number;
}

function attempts(pool: ModelRequest[], picks: number[], gaps: number[]): Attempt[] {
  let t = T0;
  return picks.map((p, i) => {
    t += gaps[i % gaps.length]!;
    const { line, destination, method } = squidLogLine(pool[p % pool.length]!, t);
    return { line, destination, method, tsMs: t };
  });
}

function expected(as: readonly Attempt[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const a of as) m.set(`${a.method} ${a.destination}`, (m.get(`${a.method} ${a.destination}`) ?? 0) + 1);
  return m;
}

function stored(store: Store): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of store.events.values()) {
    const d = e.details as { method: string; count: number };
    m.set(`${d.method} ${named(e)}`, (m.get(`${d.method} ${named(e)}`) ?? 0) + d.count);
  }
  return m;
}

const scenario = fc.record({
  pool: fc.array(requestArb, { minLength: 1, maxLength: 60, size: "max" }),
  picks: fc.array(fc.nat(), { minLength: 1, maxLength: 400, size: "max" }),
  gaps: fc.array(fc.integer({ min: 0, max: 4_000 }), { minLength: 1, maxLength: 8 }),
  maxGroups: fc.integer({ min: 1, max: 12 }),
});

describe("Squid log line → stored egress.denied event", () => {
  it("property: every denied attempt is counted in exactly one stored event that names its real destination", async () => {
    let totalAttempts = 0;
    let overflowed = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async ({ pool, picks, gaps, maxGroups }) => {
        const as = attempts(pool, picks, gaps);
        const store = new Store();
        const source = new DenialSource({ tenant: "alpha", source: "c0ffee0ddba1", windowMs: WINDOW, graceMs: 0, maxGroups }, store, new CheckpointStore(undefined));
        for (const a of as) source.line(a.line);
        expect(source.stats.unparsed).toBe(0);
        expect(source.stats.denials).toBe(as.length);
        await source.flush(Number.MAX_SAFE_INTEGER);
        expect(stored(store)).toEqual(expected(as));
        for (const e of store.events.values()) expect(named(e)).not.toBe("(other)");
        totalAttempts += as.length;
        if ([...store.events.values()].some((e) => (e.details as { window_chunk: number }).window_chunk > 0)) overflowed++;
      }),
      { numRuns: RUNS },
    );
    // The runs did exercise overflowing windows, not only small ones.
    expect(overflowed).toBeGreaterThan(RUNS / 10);
    expect(totalAttempts).toBeGreaterThan(RUNS * 50);
  }, Math.max(120_000, RUNS * 600));

  it("property: a crash at any point and a replay from the checkpoint still count every attempt exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.nat(), fc.nat(), async ({ pool, picks, gaps, maxGroups }, cutAt, flushAt) => {
        const as = attempts(pool, picks, gaps);
        const store = new Store();
        const checkpoints = new CheckpointStore(undefined);
        const opts = { tenant: "alpha", source: "c0ffee0ddba1", windowMs: WINDOW, graceMs: 0, maxGroups };
        // First life: reads a prefix, flushes at some time in between, then dies.
        const cut = cutAt % (as.length + 1);
        const first = new DenialSource(opts, store, checkpoints);
        for (const a of as.slice(0, cut)) first.line(a.line);
        const now = as.length ? as[Math.min(flushAt % as.length, Math.max(cut - 1, 0))]!.tsMs : T0;
        await first.flush(now);
        // Second life: the engine replays the log from the checkpoint's second on (Docker's `since`).
        const since = (checkpoints.get(opts.source) ?? 0) * 1000;
        const second = new DenialSource(opts, store, checkpoints);
        for (const a of as) if (a.tsMs >= since) second.line(a.line);
        await second.flush(Number.MAX_SAFE_INTEGER);
        expect(stored(store)).toEqual(expected(as));
      }),
      { numRuns: RUNS },
    );
  }, Math.max(120_000, RUNS * 600));

  it("positive controls: the probe catches a lost attempt and a merged destination", async () => {
    const [a, b] = [squidLogLine({ method: "CONNECT", host: "x.example.com", port: 443 }, T0), squidLogLine({ method: "CONNECT", host: "y.example.com", port: 443 }, T0 + 1)];
    const store = new Store();
    const s = new DenialSource({ tenant: "alpha", source: "c0ffee0ddba1", windowMs: WINDOW, graceMs: 0 }, store, new CheckpointStore(undefined));
    s.line(a.line);
    await s.flush(Number.MAX_SAFE_INTEGER);
    const as: Attempt[] = [{ ...a, tsMs: T0 }, { ...b, tsMs: T0 + 1 }];
    expect(stored(store)).not.toEqual(expected(as)); // b was never fed: lost
    const merged = new Store();
    await merged.record({ tenant: "alpha", actor: "egress-audit", action: "egress.denied", target: "x.example.com:443", details: { method: "CONNECT", count: 2 }, idempotencyKey: "k" });
    expect(stored(merged)).not.toEqual(expected(as)); // one event for two destinations
  });

  it("the previous key scheme is refused by the trail: (other) and bracketed IPv6 keys failed validation", () => {
    for (const key of ["egress.denied:abc:1764000000000:CONNECT:(other):0", "egress.denied:abc:1764000000000:CONNECT:[2001:db8::1]:443"]) {
      expect(() => normalizeEvent({ tenant: "alpha", actor: "egress-audit", action: "egress.denied", idempotencyKey: key })).toThrow(/idempotencyKey/);
    }
  });
});
