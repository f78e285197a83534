import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { capacityReport, planPlatform } from "../src/index.js";
import { effectiveHeartbeatS, heartbeatKeepsResident, openclawHeartbeatEvery, resolveHeartbeatEveryS } from "../src/planners/heartbeat.js";
import { renderOpenClawConfig } from "../src/planners/openclaw-config.js";
import { PINNED, configProblems } from "./harness.js";

const JWK = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "dev-1" };
const WAKE = {
  images: { ...PINNED, edge: `sha256:${"e".repeat(64)}`, waker: `sha256:${"8".repeat(64)}` },
  edge: { jwt: { issuer: "https://issuer.test", audience: "octw", algorithms: ["ES256"], jwks: [JWK] } },
  waker: { dockerSocketGid: 998 },
};
const plan = (extra: Record<string, unknown>, tenants: Record<string, unknown>[]) => planPlatform({ ...WAKE, tenants, audit: { mode: "embedded" }, ...extra }, "p");
const every = (p: ReturnType<typeof plan>) => Object.fromEntries(p.tenants.map((t) => [t.config.id, t.heartbeatEveryS]));
type Rendered = { agents?: { defaults?: { heartbeat?: { every?: string } } } };
const rendered = (heartbeatEveryS?: number) =>
  JSON.parse(renderOpenClawConfig({ edgeAddress: "10.64.0.34", allowedOrigins: [], ...(heartbeatEveryS !== undefined ? { heartbeatEveryS } : {}) })) as Rendered;

describe("heartbeat interval per tenant", () => {
  it("unset, nothing is written for any tenant (OpenClaw's default; a suspend policy switch never rewrites a gateway's config); own value, then platform's, wins", () => {
    const tenants = [
      { id: "on", slot: 1, suspend: "alwaysOn" },
      { id: "sleepy", slot: 2, suspend: { pauseAfterS: 60, stopAfterS: 600 } },
      { id: "own", slot: 3, suspend: { stopAfterS: 600 }, heartbeatEveryS: 7200 },
      { id: "onown", slot: 4, suspend: "alwaysOn", heartbeatEveryS: 0 },
    ];
    expect(every(plan({}, tenants))).toEqual({ on: undefined, sleepy: undefined, own: 7200, onown: 0 });
    // a platform default applies to every tenant without its own, always-on ones included (it is stated, not silent)
    expect(every(plan({ heartbeatEveryS: 3600 }, tenants))).toEqual({ on: 3600, sleepy: 3600, own: 7200, onown: 0 });
    // the existing stack's shape — no suspend, no heartbeat — plans exactly OpenClaw's default
    expect(every(plan({}, [{ id: "alpha", slot: 1 }]))).toEqual({ alpha: undefined });
  });

  it("property: the tenant's value wins, then the platform's; without both, undefined", () => {
    const v = fc.option(fc.oneof(fc.constant(0), fc.integer({ min: 60, max: 604_800 })), { nil: undefined });
    fc.assert(
      fc.property(v, v, (platform, tenant) => {
        const r = resolveHeartbeatEveryS(platform, tenant);
        if (tenant !== undefined) expect(r).toBe(tenant);
        else if (platform !== undefined) expect(r).toBe(platform);
        else expect(r).toBeUndefined();
      }),
    );
  });

  it("refuses bad intervals naming the field and what is allowed", () => {
    const one = (extra: Record<string, unknown>, t: Record<string, unknown> = {}) => configProblems(() => plan(extra, [{ id: "alpha", slot: 1, ...t }]));
    expect(one({ heartbeatEveryS: 30 })).toEqual(["heartbeatEveryS: must be 0 (off) or at least 60 (s)"]);
    expect(one({}, { heartbeatEveryS: -1 })).toEqual(["tenants[0].heartbeatEveryS: must be 0 (off) or at least 60 (s)"]);
    expect(one({}, { heartbeatEveryS: 90.5 })).toEqual(["tenants[0].heartbeatEveryS: must be a whole number of seconds"]);
    expect(one({ heartbeatEveryS: 604_801 })).toEqual(["heartbeatEveryS: must be at most 604800 (s)"]);
    expect(one({ heartbeatEveryS: "30m" })[0]).toMatch(/^heartbeatEveryS: /);
    // positive control: the bounds themselves are accepted
    expect(() => plan({ heartbeatEveryS: 60 }, [{ id: "alpha", slot: 1, heartbeatEveryS: 604_800 }])).not.toThrow();
  });

  it("writes agents.defaults.heartbeat.every only when set, in OpenClaw's duration syntax", () => {
    expect(rendered()).not.toHaveProperty("agents");
    expect(rendered(0).agents?.defaults?.heartbeat).toEqual({ every: "0m" });
    expect(rendered(1800).agents?.defaults?.heartbeat?.every).toBe("30m");
    expect(rendered(7200).agents?.defaults?.heartbeat?.every).toBe("2h");
    expect(rendered(90).agents?.defaults?.heartbeat?.every).toBe("90s");
    // the rest of the config is untouched by it
    const { agents: _a, ...rest } = rendered(600) as Rendered & Record<string, unknown>;
    expect(rest).toEqual(rendered());
  });

  it("property: the duration string reads back as the same number of seconds (OpenClaw's units: s, m, h)", () => {
    const unit = { s: 1, m: 60, h: 3600 } as const;
    fc.assert(
      fc.property(fc.oneof(fc.constant(0), fc.integer({ min: 60, max: 604_800 })), (s) => {
        const m = /^([0-9]+)([smh])$/.exec(openclawHeartbeatEvery(s));
        expect(m).not.toBeNull();
        expect(Number(m![1]) * unit[m![2] as keyof typeof unit]).toBe(s);
      }),
    );
  });
});

describe("capacity counts a heartbeat that keeps a tenant resident", () => {
  const cap = { hostMemoryMb: 24_576, maxActive: 2 };
  const t = (id: string, heartbeatEveryS: number | undefined, stopAfterS = 1800) => ({ id, suspend: { pauseAfterS: 60, stopAfterS }, memoryLimitMb: 1536, heartbeatEveryS });

  it("a heartbeat at or below the stop threshold never lets the tenant stop: counted like an always-on one", () => {
    const off = capacityReport(cap, [t("a", 0), t("b", 0), t("c", 0), t("d", 0)]);
    expect(off).toMatchObject({ alwaysOn: 0, heartbeatResident: 0, suspendable: 4, neededMb: 1024 + 2 * 720 });
    const openclawDefault = capacityReport(cap, [t("a", 1800), t("b", 1800), t("c", 0), t("d", 0)]);
    expect(openclawDefault).toMatchObject({ alwaysOn: 2, heartbeatResident: 2, suspendable: 2, neededMb: 1024 + 4 * 720 });
    expect(openclawDefault.explanation).toContain("2 of them suspendable but kept resident by a heartbeat within their stop threshold");
    // a heartbeat rarer than the stop threshold lets the tenant stop between ticks
    expect(capacityReport(cap, [t("a", 1801), t("b", 7200)])).toMatchObject({ heartbeatResident: 0, suspendable: 2 });
    // the planner hands capacity the cadence the gateway will run: unset is OpenClaw's own 30 min
    expect(effectiveHeartbeatS(undefined)).toBe(1800);
    expect(effectiveHeartbeatS(0)).toBe(0);
  });

  it("is refused at preview like any over-budget config, and fits again with the heartbeat off", () => {
    const tenants = Array.from({ length: 40 }, (_, i) => ({ id: `t${i}`, slot: i + 1 }));
    const base = { suspend: { pauseAfterS: 60, stopAfterS: 1800 }, capacity: { hostMemoryMb: 24_576, maxActive: 10 } };
    expect(configProblems(() => plan({ ...base, heartbeatEveryS: 1800 }, tenants))[0]).toMatch(/^capacity\.hostMemoryMb: .*40 always-on tenant\(s\) \(40 of them suspendable but kept resident/);
    expect(() => plan({ ...base, heartbeatEveryS: 0 }, tenants)).not.toThrow();
    // unset is OpenClaw's 30 min, as resident as 1800 written out
    expect(configProblems(() => plan(base, tenants))[0]).toMatch(/^capacity\.hostMemoryMb: .*40 always-on tenant\(s\) \(40 of them suspendable but kept resident/);
  });

  it("property: heartbeatKeepsResident iff 0 < every <= stopAfterS", () => {
    fc.assert(
      fc.property(fc.option(fc.integer({ min: 0, max: 604_800 }), { nil: undefined }), fc.option(fc.integer({ min: 1, max: 604_800 }), { nil: undefined }), (e, s) => {
        expect(heartbeatKeepsResident(e, s)).toBe(e !== undefined && s !== undefined && e > 0 && e <= s);
      }),
    );
  });
});
