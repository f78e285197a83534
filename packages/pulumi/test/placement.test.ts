// The placement planner (src/planners/placement.ts): pins honoured, unpinned tenants on the home
// host, every host within its budget or the config refused with the numbers, and stability —
// adding a host or a tenant, or removing a tenant, never moves an existing tenant.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { capacityReport, planPlacement, rendezvousOrder, type PlacementHost, type PlacementTenant } from "../src/index.js";

const HOST_NAMES = ["a", "b", "c", "d", "e", "f"];

const arbCapacity = fc.option(
  fc.record({ hostMemoryMb: fc.integer({ min: 1024, max: 12_000 }), maxActive: fc.integer({ min: 0, max: 4 }), residentMbPerTenant: fc.constantFrom(512, 720), reservedMb: fc.constantFrom(0, 1024) }),
  { nil: undefined },
);
const arbHosts = fc.uniqueArray(fc.constantFrom(...HOST_NAMES), { minLength: 1, maxLength: 5 }).chain((names) =>
  fc.tuple(...names.map((name, j) => arbCapacity.map((capacity): PlacementHost => ({ name, budgetPath: `hosts[${j}].capacity.hostMemoryMb`, ...(capacity ? { capacity } : {}) })))),
);
const arbTenantShape = fc.record({
  pin: fc.option(fc.constantFrom(...HOST_NAMES), { nil: undefined }),
  suspend: fc.constantFrom<PlacementTenant["suspend"]>("alwaysOn", { stopAfterS: 600 }),
  memoryLimitMb: fc.constantFrom(768, 1536, 4096),
});
/** Tenants whose pins name only hosts that exist. */
const tenantsFor = (hosts: readonly PlacementHost[]) =>
  fc.array(arbTenantShape, { maxLength: 14 }).map((shapes) =>
    shapes.map((s, i): PlacementTenant => ({
      id: `t${i}`,
      suspend: s.suspend,
      memoryLimitMb: s.memoryLimitMb,
      ...(s.pin !== undefined && hosts.some((h) => h.name === s.pin) ? { host: s.pin } : {}),
    })),
  );
const arbPlatform = arbHosts.chain((hosts) => tenantsFor(hosts).map((tenants) => ({ hosts, tenants })));

const placedOk = (hosts: readonly PlacementHost[], tenants: readonly PlacementTenant[]) => planPlacement(hosts, tenants).problems.length === 0;

describe("placement: the rule", () => {
  it("a pinned tenant is on its host, an unpinned one on the first host; every tenant on exactly one host", () => {
    fc.assert(
      fc.property(arbPlatform, ({ hosts, tenants }) => {
        const p = planPlacement(hosts, tenants);
        fc.pre(p.problems.length === 0);
        for (const t of tenants) expect(p.hostOf.get(t.id)).toBe(t.host ?? hosts[0]!.name);
        const listed = [...p.tenantsOf.values()].flat();
        expect(listed.sort()).toEqual(tenants.map((t) => t.id).sort());
        expect([...p.tenantsOf.keys()]).toEqual(hosts.map((h) => h.name));
      }),
      { numRuns: 300 },
    );
  });

  it("a placed config has every host within its budget; a refused one names a host's budget path with the numbers", () => {
    fc.assert(
      fc.property(arbPlatform, ({ hosts, tenants }) => {
        const p = planPlacement(hosts, tenants);
        const over = hosts.filter((h) => {
          const mine = tenants.filter((t) => (t.host ?? hosts[0]!.name) === h.name);
          return h.capacity !== undefined && !capacityReport(h.capacity, mine).fits;
        });
        expect(p.problems.map((x) => x.path)).toEqual(over.map((h) => h.budgetPath));
        for (const x of p.problems) expect(x.message).toMatch(/= \d+ MiB; hostMemoryMb is \d+ MiB/);
        if (over.length === 0) expect(p.hostOf.size).toBe(tenants.length);
        else expect(p.hostOf.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it("the planner's proposals, once recorded as pins, make the config fit (when it says they are enough)", () => {
    fc.assert(
      fc.property(arbPlatform, ({ hosts, tenants }) => {
        const p = planPlacement(hosts, tenants);
        fc.pre(p.problems.length > 0 && p.problems.every((x) => x.message.includes("the planner proposes")));
        const pinned = tenants.map((t, i) => (p.proposals.has(i) ? { ...t, host: p.proposals.get(i)! } : t));
        expect(planPlacement(hosts, pinned).problems).toEqual([]);
        // proposals only ever re-home unpinned tenants
        for (const i of p.proposals.keys()) expect(tenants[i]!.host).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it("a pin naming no host is refused at the tenant's field, listing the hosts", () => {
    const p = planPlacement([{ name: "a", budgetPath: "x" }, { name: "b", budgetPath: "y" }], [{ id: "t0", host: "zz", suspend: "alwaysOn", memoryLimitMb: 1536 }]);
    expect(p.problems).toEqual([{ path: "tenants[0].host", message: "names no host of this platform (hosts: a, b)" }]);
  });

  it("an over-budget host: the error gives the sum and proposes the newest unpinned tenants elsewhere, by rendezvous order", () => {
    const hosts: PlacementHost[] = [
      { name: "a", budgetPath: "hosts[0].capacity.hostMemoryMb", capacity: { hostMemoryMb: 2464, maxActive: 0 } }, // 1024 + 2 × 720
      { name: "b", budgetPath: "hosts[1].capacity.hostMemoryMb" },
      { name: "c", budgetPath: "hosts[2].capacity.hostMemoryMb" },
    ];
    const t = (id: string, host?: string): PlacementTenant => ({ id, suspend: "alwaysOn", memoryLimitMb: 1536, ...(host ? { host } : {}) });
    const p = planPlacement(hosts, [t("one"), t("two", "a"), t("three"), t("four")]);
    const expected = { four: rendezvousOrder(["b", "c"], "four")[0]!, three: rendezvousOrder(["b", "c"], "three")[0]! };
    expect(p.problems).toEqual([
      {
        path: "hosts[0].capacity.hostMemoryMb",
        message:
          `is too small for the tenants that can be resident at once on host "a": 4 always-on tenant(s) = 2880 MiB + 0 active of 0 suspendable tenant(s) = 0 MiB ` +
          `(resident cost 720 MiB per tenant) + 1024 MiB reserved = 3904 MiB; hostMemoryMb is 2464 MiB; ` +
          `the planner proposes pinning tenants[3].host: "${expected.four}", tenants[2].host: "${expected.three}"`,
      },
    ]);
    expect([...p.proposals]).toEqual([[3, expected.four], [2, expected.three]]);
  });

  it("no other host with room: refused, saying so", () => {
    const hosts: PlacementHost[] = [
      { name: "a", budgetPath: "hosts[0].capacity.hostMemoryMb", capacity: { hostMemoryMb: 1024, maxActive: 0, reservedMb: 1024 } },
      { name: "b", budgetPath: "hosts[1].capacity.hostMemoryMb", capacity: { hostMemoryMb: 1024, maxActive: 0, reservedMb: 1024 } },
    ];
    const p = planPlacement(hosts, [{ id: "x", suspend: "alwaysOn", memoryLimitMb: 1536 }]);
    expect(p.problems[0]!.message).toMatch(/no other host has room for its unpinned tenants: add a host or raise a budget$/);
    expect(p.proposals.size).toBe(0);
  });

  it("rendezvous order is a permutation, deterministic, and unchanged for the hosts that were there when one is added", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.constantFrom(...HOST_NAMES), { minLength: 2 }), fc.string({ minLength: 1, maxLength: 8 }), (hosts, tenant) => {
        const order = rendezvousOrder(hosts, tenant);
        expect([...order].sort()).toEqual([...hosts].sort());
        expect(rendezvousOrder([...hosts].reverse(), tenant)).toEqual(order);
        expect(rendezvousOrder(hosts.slice(1), tenant)).toEqual(order.filter((h) => h !== hosts[0]));
      }),
    );
  });
});

describe("placement: stability (nothing moves unless its own pin changes)", () => {
  it("adding a host anywhere but first moves no tenant", () => {
    fc.assert(
      fc.property(arbPlatform, fc.constantFrom("g", "h"), fc.nat(), arbCapacity, ({ hosts, tenants }, name, at, capacity) => {
        const before = planPlacement(hosts, tenants);
        fc.pre(before.problems.length === 0);
        const index = 1 + (at % hosts.length);
        const more = [...hosts.slice(0, index), { name, budgetPath: "new", ...(capacity ? { capacity } : {}) }, ...hosts.slice(index)];
        const after = planPlacement(more, tenants);
        expect(after.problems).toEqual([]);
        expect(after.hostOf).toEqual(before.hostOf);
      }),
      { numRuns: 300 },
    );
  });

  it("adding a tenant anywhere in the list moves no existing tenant (it fits, or the config is refused)", () => {
    fc.assert(
      fc.property(arbPlatform, arbTenantShape, fc.nat(), ({ hosts, tenants }, shape, at) => {
        const before = planPlacement(hosts, tenants);
        fc.pre(before.problems.length === 0);
        const fresh: PlacementTenant = { id: "new", suspend: shape.suspend, memoryLimitMb: shape.memoryLimitMb, ...(shape.pin && hosts.some((h) => h.name === shape.pin) ? { host: shape.pin } : {}) };
        const index = at % (tenants.length + 1);
        const after = planPlacement(hosts, [...tenants.slice(0, index), fresh, ...tenants.slice(index)]);
        if (after.problems.length) return;
        for (const [id, h] of before.hostOf) expect(after.hostOf.get(id)).toBe(h);
      }),
      { numRuns: 300 },
    );
  });

  it("removing a tenant moves no other tenant, and still fits", () => {
    fc.assert(
      fc.property(arbPlatform, fc.nat(), ({ hosts, tenants }, at) => {
        fc.pre(tenants.length > 0);
        const before = planPlacement(hosts, tenants);
        fc.pre(before.problems.length === 0);
        const gone = tenants[at % tenants.length]!;
        const after = planPlacement(hosts, tenants.filter((t) => t !== gone));
        expect(after.problems).toEqual([]);
        for (const [id, h] of before.hostOf) if (id !== gone.id) expect(after.hostOf.get(id)).toBe(h);
      }),
      { numRuns: 300 },
    );
  });

  it("changing one tenant's pin moves that tenant only", () => {
    fc.assert(
      fc.property(arbPlatform, fc.nat(), fc.nat(), ({ hosts, tenants }, which, to) => {
        fc.pre(tenants.length > 0 && placedOk(hosts, tenants));
        const i = which % tenants.length;
        const moved = tenants.map((t, k) => (k === i ? { ...t, host: hosts[to % hosts.length]!.name } : t));
        const after = planPlacement(hosts, moved);
        if (after.problems.length) return;
        const before = planPlacement(hosts, tenants);
        for (const [id, h] of before.hostOf) if (id !== tenants[i]!.id) expect(after.hostOf.get(id)).toBe(h);
        expect(after.hostOf.get(tenants[i]!.id)).toBe(hosts[to % hosts.length]!.name);
      }),
      { numRuns: 300 },
    );
  });
});
