import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { capacityReport, planPlatform, resolveSuspendPolicy, type SuspendPolicy } from "../src/index.js";
import { PINNED, configProblems } from "./harness.js";

const ids = (n: number, prefix = "t") => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, slot: i + 1 }));
const JWK = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "dev-1" };
/** Suspendable tenants need the edge (idle clock) and the waker (engine socket). */
const WAKE = {
  images: { ...PINNED, edge: `sha256:${"e".repeat(64)}`, waker: `sha256:${"8".repeat(64)}` },
  edge: { jwt: { issuer: "https://issuer.test", audience: "octw", algorithms: ["ES256"], jwks: [JWK] } },
  waker: { dockerSocketGid: 998 },
};
const plan = (extra: Record<string, unknown>, tenants: Record<string, unknown>[] = [{ id: "alpha", slot: 1 }]) =>
  planPlatform({ ...WAKE, tenants, audit: { mode: "embedded" }, ...extra }, "p");
const problems = configProblems;

describe("suspend policy", () => {
  it("the tenant's own policy wins over the platform default; neither means always on", () => {
    const p = plan({ suspend: { pauseAfterS: 60, stopAfterS: 600 } }, [
      { id: "alpha", slot: 1 },
      { id: "bravo", slot: 2, suspend: "alwaysOn" },
      { id: "charlie", slot: 3, suspend: { stopAfterS: 30 } },
    ]);
    expect(p.tenants.map((t) => [t.config.id, t.suspend])).toEqual([
      ["alpha", { pauseAfterS: 60, stopAfterS: 600 }],
      ["bravo", "alwaysOn"],
      ["charlie", { stopAfterS: 30 }],
    ]);
    expect(plan({}).tenants[0]!.suspend).toBe("alwaysOn");
    expect(resolveSuspendPolicy(undefined, undefined)).toBe("alwaysOn");
  });

  it("refuses bad policies naming the field and what is allowed", () => {
    expect(problems(() => plan({ suspend: { pauseAfterS: 600, stopAfterS: 60 } }))).toEqual(["suspend.stopAfterS: must be greater than pauseAfterS (a tenant is paused before it is stopped)"]);
    expect(problems(() => plan({}, [{ id: "alpha", slot: 1, suspend: {} }]))).toEqual(['tenants[0].suspend: needs pauseAfterS, stopAfterS or both (or use "alwaysOn")']);
    expect(problems(() => plan({}, [{ id: "alpha", slot: 1, suspend: { pauseAfterS: 1.5 } }]))[0]).toMatch(/^tenants\[0\]\.suspend/);
    expect(problems(() => plan({}, [{ id: "alpha", slot: 1, suspend: { pauseAfterS: 0 } }]))[0]).toMatch(/^tenants\[0\]\.suspend/);
    expect(problems(() => plan({ suspend: "sometimes" }))[0]).toMatch(/^suspend: /);
    expect(problems(() => plan({ suspend: { pauseAfterS: 10, idleAfterS: 5 } }))[0]).toMatch(/^suspend/);
    // the value is never echoed
    expect(problems(() => plan({ suspend: "hunter2-secretish" })).join("\n")).not.toContain("hunter2");
  });
});

describe("suspendable tenants need the edge and the waker", () => {
  it("refuses a suspend policy without edge, waker or images.waker, naming each; always-on tenants need neither", () => {
    const bare = (extra: Record<string, unknown>) => planPlatform({ images: PINNED, tenants: [{ id: "alpha", slot: 1 }], audit: { mode: "embedded" }, ...extra }, "p");
    expect(problems(() => bare({ suspend: { stopAfterS: 60 } }))).toEqual([
      `edge: is required: tenant alpha's suspend policy is not "alwaysOn" (the edge keeps the idle clock and wakes tenants on request)`,
      `waker: is required: tenant alpha's suspend policy is not "alwaysOn" (give the engine socket's group: waker.dockerSocketGid)`,
      `images.waker: is required: tenant alpha's suspend policy is not "alwaysOn"`,
    ]);
    expect(() => bare({ suspend: "alwaysOn" })).not.toThrow();
    expect(() => plan({ suspend: { stopAfterS: 60 } })).not.toThrow(); // positive control: with all three
  });

  it("the waker's socket group follows the socket-group rule; the socket holders may share it, nobody else", () => {
    expect(problems(() => plan({ suspend: { stopAfterS: 60 }, waker: { dockerSocketGid: 10002 } }))[0]).toMatch(/^waker\.dockerSocketGid: is reserved for a shared service/);
    expect(problems(() => plan({ suspend: { stopAfterS: 60 }, waker: { dockerSocketGid: 0 } }))[0]).toMatch(/^waker\.dockerSocketGid/);
    expect(problems(() => plan({ suspend: { stopAfterS: 60 }, waker: { dockerSocketGid: 200_004 } }))[0]).toMatch(/^waker\.dockerSocketGid: is inside the tenant id range/);
    // egress-audit and the waker both hold the socket: one group, no clash
    expect(() => plan({ suspend: { stopAfterS: 60 }, images: { ...WAKE.images, egressAudit: `sha256:${"9".repeat(64)}` }, egressAudit: { dockerSocketGid: 998 } })).not.toThrow();
  });
});

describe("capacity", () => {
  it("the issue's first bar: 100 registered tenants, 30 active, fit 24 GiB at the measured resident cost", () => {
    const r = capacityReport({ hostMemoryMb: 24_576, maxActive: 30 }, ids(100).map((t) => ({ id: t.id, suspend: { pauseAfterS: 300, stopAfterS: 1800 }, memoryLimitMb: 1536 })));
    expect(r).toMatchObject({ alwaysOn: 0, suspendable: 100, neededMb: 1024 + 30 * 720, fits: true });
  });

  it("refuses at preview a config whose always-on tenants and active headroom do not fit, naming the numbers", () => {
    const tenants = [...ids(30, "on").map((t) => ({ ...t, suspend: "alwaysOn" })), ...ids(10, "s").map((t) => ({ ...t, slot: t.slot + 100 }))];
    const msgs = problems(() => plan({ suspend: { pauseAfterS: 60, stopAfterS: 600 }, capacity: { hostMemoryMb: 24_576, maxActive: 5 } }, tenants));
    expect(msgs).toEqual([
      "capacity.hostMemoryMb: is too small for the tenants that can be resident at once: 30 always-on tenant(s) = 21600 MiB + 5 active of 10 suspendable tenant(s) = 3600 MiB (resident cost 720 MiB per tenant) + 1024 MiB reserved = 26224 MiB; hostMemoryMb is 24576 MiB",
    ]);
    // positive control: the same tenants with less headroom fit
    expect(() => plan({ suspend: { pauseAfterS: 60, stopAfterS: 600 }, capacity: { hostMemoryMb: 24_576, maxActive: 2 } }, tenants)).not.toThrow();
  });

  it("is not checked without a capacity, and its own fields are validated by name", () => {
    expect(() => plan({}, ids(60).map((t) => ({ ...t, suspend: "alwaysOn" })))).not.toThrow();
    expect(problems(() => plan({ capacity: { hostMemoryMb: 100, maxActive: 1 } }))).toEqual(["capacity.hostMemoryMb: must be at least 1024 (MiB)"]);
    expect(problems(() => plan({ capacity: { hostMemoryMb: 4096 } }))[0]).toMatch(/^capacity\.maxActive/);
    expect(problems(() => plan({ capacity: { hostMemoryMb: 4096, maxActive: -1 } }))).toEqual(["capacity.maxActive: must be >= 0"]);
  });

  it("property: needed memory never falls when a tenant is added or made always-on, and fits iff needed <= host", () => {
    const policy = fc.oneof(fc.constant<SuspendPolicy>("alwaysOn"), fc.constant<SuspendPolicy>({ pauseAfterS: 60, stopAfterS: 600 }));
    const tenant = fc.record({ suspend: policy, memoryLimitMb: fc.integer({ min: 768, max: 4096 }) });
    fc.assert(
      fc.property(fc.array(tenant, { maxLength: 60 }), tenant, fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1024, max: 65_536 }), (ts, extra, maxActive, host) => {
        const cap = { hostMemoryMb: host, maxActive };
        const named = (xs: typeof ts) => xs.map((t, i) => ({ id: `t${i}`, ...t }));
        const before = capacityReport(cap, named(ts));
        const after = capacityReport(cap, named([...ts, extra]));
        expect(after.neededMb).toBeGreaterThanOrEqual(before.neededMb);
        const allOn = capacityReport(cap, named(ts.map((t) => ({ ...t, suspend: "alwaysOn" as const }))));
        expect(allOn.neededMb).toBeGreaterThanOrEqual(before.neededMb);
        expect(before.fits).toBe(before.neededMb <= host);
      }),
      { numRuns: Number(process.env.OCTW_FUZZ_RUNS ?? 200) },
    );
  });
});
