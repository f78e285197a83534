// The per-host stack layout at registration level (URN, provider, inputs, secret paths of every
// resource the engine would get), each stack evaluated as its own program under mocks, the host
// stacks reading the shared stack's outputs through a StackReference the mock answers with what
// the shared program exported:
//  - the shared stack plus every host stack register what the single stack registers, nothing
//    more than the joins (a StackReference and an audit admin provider per host stack);
//  - second runs: adding a host plans only the new host's stack; adding a tenant plans only its
//    host's stack; moving a tenant's pin plans only that tenant (and the two edges' wake lists)
//    in the two host stacks involved; the shared stack plans nothing in any of them.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { OpenClawPlatform, OpenClawPlatformShared, SHARED_AUDIT_OUTPUT, hostPartOf, type OpenClawPlatformArgs, type SharedAuditOutputs } from "../src/index.js";
import { configProblems } from "./harness.js";
import { HOST_B, HOST_C, INFERENCE, STACK_REFERENCE, collect, multiHostConfig, recordRegistrations, type Registration, type Registrations } from "./registrations.js";

/** What the mocked StackReference answers: the shared program's exports. */
let sharedExports: Record<string, unknown> = {};

beforeAll(() => recordRegistrations((_type, inputs) => ({ name: inputs.name, outputs: sharedExports, secretOutputNames: Object.keys(sharedExports) })));

const valueOf = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

/** The single-stack form. */
const single = (config: Record<string, unknown>) => collect(() => new OpenClawPlatform("p", config as unknown as OpenClawPlatformArgs));

/** The shared stack; its exports become what the host stacks' StackReference reads. */
async function sharedStack(config: Record<string, unknown>): Promise<Registrations> {
  let shared: OpenClawPlatformShared | undefined;
  const rs = await collect(() => {
    shared = new OpenClawPlatformShared("p", config as unknown as OpenClawPlatformArgs);
  });
  sharedExports = { [SHARED_AUDIT_OUTPUT]: await valueOf(shared!.sharedAudit) };
  return rs;
}

/** One host's stack, as stacks/per-host.ts declares it. */
const hostStack = (config: Record<string, unknown>, host: string) =>
  collect(() => {
    const joined = hostPartOf(config as unknown as OpenClawPlatformArgs, host, new pulumi.StackReference("organization/octw/shared"));
    new OpenClawPlatform("p", joined.config, undefined, joined.part);
  });

/** The whole layout: the shared stack, then each host's. */
async function layout(config: Record<string, unknown>): Promise<{ shared: Registrations; hosts: Record<string, Registrations> }> {
  const shared = await sharedStack(config);
  const hosts: Record<string, Registrations> = {};
  for (const h of (config.hosts as { name: string }[]).map((x) => x.name)) hosts[h] = await hostStack(config, h);
  return { shared, hosts };
}

const B = HOST_B;
const C = HOST_C;
const TENANTS: Record<string, unknown>[] = [
  { id: "alpha", slot: 1, policy: { version: 1, inference: INFERENCE } },
  { id: "bravo", slot: 2, host: "b", suspend: { stopAfterS: 600 } },
  { id: "charlie", slot: 3, host: "b", policy: { version: 1, inference: INFERENCE } },
  { id: "delta", slot: 4, host: "c" },
];
/** Every per-host part on some host: edge, waker, router, egress-audit shipper; tenants on three hosts. */
const full = (hosts: unknown[] = [{ name: "local" }, B, C], tenants: Record<string, unknown>[] = TENANTS) => multiHostConfig({ domain: "agents.example.com", hosts }, tenants);

const own = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);
/** A provider is compared by its name: a host stack's own audit admin provider has another parent. */
const comparable = (r: Registration) => ({ type: r.type, provider: r.provider && own(r.provider), inputs: r.inputs, secretPaths: [...r.secretPaths].sort() });
const ROOT = "octw:index:OpenClawPlatform";
const isJoin = (r: Registration) => r.type === STACK_REFERENCE || (r.type === "pulumi:providers:postgresql" && !r.urn.includes("octw:index:AuditStore"));

/** The plan between two evaluations of one stack: what is created, deleted, and whose inputs change. */
function planOf(before: Registrations, after: Registrations): { created: string[]; deleted: string[]; changed: string[] } {
  const created = [...after.keys()].filter((u) => !before.has(u)).map(own).sort();
  const deleted = [...before.keys()].filter((u) => !after.has(u)).map(own).sort();
  const changed = [...before.keys()].filter((u) => after.has(u) && JSON.stringify(comparable(after.get(u)!)) !== JSON.stringify(comparable(before.get(u)!))).map(own).sort();
  return { created, deleted, changed };
}
const NOTHING = { created: [], deleted: [], changed: [] };

describe("the per-host stack layout", () => {
  it("the shared stack and every host stack together register what the single stack registers, plus only the joins", async () => {
    const config = full();
    const one = await single(config);
    const { shared, hosts } = await layout(config);
    const union = new Map<string, Registration>();
    for (const [stack, rs] of [["shared", shared], ...Object.entries(hosts)] as const) {
      for (const [urn, r] of rs) {
        if (r.type === ROOT || isJoin(r)) continue;
        expect(union.has(urn), `${urn} is declared by two stacks (again by ${stack})`).toBe(false);
        union.set(urn, r);
      }
    }
    const declared = [...one.values()].filter((r) => r.type !== ROOT);
    expect(declared.length).toBeGreaterThan(100);
    expect([...union.keys()].sort()).toEqual(declared.map((r) => r.urn).sort());
    for (const r of declared) expect(comparable(union.get(r.urn)!), r.urn).toEqual(comparable(r));

    // the joins: each host stack one StackReference to the shared stack and one admin provider
    // with the inputs of the store's own (its password secret), nothing else
    const singleAdmin = [...one.values()].find((r) => r.type === "pulumi:providers:postgresql")!;
    for (const [h, rs] of Object.entries(hosts)) {
      const joins = [...rs.values()].filter(isJoin);
      expect(joins.map((r) => [r.type, own(r.urn)]).sort(), h).toEqual([["pulumi:providers:postgresql", "p-audit-admin"], [STACK_REFERENCE, "organization/octw/shared"]]);
      const admin = joins.find((r) => r.type !== STACK_REFERENCE)!;
      expect(comparable(admin), h).toEqual(comparable(singleAdmin));
      expect(admin.secretPaths).toContain("password");
    }
    // the shared stack: no Docker resource, nothing of a tenant
    for (const r of shared.values()) {
      expect(r.type.startsWith("docker:") || r.type.startsWith("pulumi:providers:docker"), r.urn).toBe(false);
      expect(own(r.urn), r.urn).not.toMatch(/alpha|bravo|charlie|delta/);
    }
    // a host stack holds only its own engine's provider
    expect([...hosts.local!.values()].filter((r) => r.type === "pulumi:providers:docker")).toEqual([]);
    expect([...hosts.b!.values()].filter((r) => r.type === "pulumi:providers:docker").map((r) => own(r.urn))).toEqual(["p.b-docker"]);
    expect([...hosts.c!.values()].filter((r) => r.type === "pulumi:providers:docker").map((r) => own(r.urn))).toEqual(["p.c-docker"]);
  });

  it("what crosses from the shared stack arrives secret wherever a service gets it", async () => {
    const { hosts } = await layout(full());
    // the admin password and the service roles' passwords (the mock's `r-<name>`) reach a host
    // stack only through the shared stack's outputs, and never outside a secret path
    let carrying = 0;
    for (const rs of Object.values(hosts)) {
      for (const r of rs.values()) {
        const raw = JSON.stringify(r.inputs);
        if (!raw.includes("x".repeat(24)) && !/r-p-audit-(edge|router|shipper|waker|owner)-password/.test(raw)) continue;
        carrying++;
        expect(r.visible.includes("x".repeat(24)) || /r-p-audit-[a-z]+-password/.test(r.visible), `${r.urn} carries an audit credential outside a secret`).toBe(false);
      }
    }
    // positive control: the edges, shippers, wakers, routers, admin providers and reader bindings carry them
    expect(carrying).toBeGreaterThanOrEqual(10);
  });

  it("a second run of the unchanged config plans nothing in any stack", async () => {
    const a = await layout(full());
    const b = await layout(full());
    expect(planOf(a.shared, b.shared)).toEqual(NOTHING);
    for (const h of Object.keys(a.hosts)) expect(planOf(a.hosts[h]!, b.hosts[h]!), h).toEqual(NOTHING);
  });

  it("adding a host plans only that host's stack (its own parts); the shared and the other host stacks plan nothing", async () => {
    const before = await layout(full([{ name: "local" }, B], TENANTS.filter((t) => t.host !== "c")));
    const after = await layout(full([{ name: "local" }, B, C], TENANTS.filter((t) => t.host !== "c")));
    expect(planOf(before.shared, after.shared)).toEqual(NOTHING);
    expect(planOf(before.hosts.local!, after.hosts.local!)).toEqual(NOTHING);
    expect(planOf(before.hosts.b!, after.hosts.b!)).toEqual(NOTHING);
    const c = [...after.hosts.c!.values()].filter((r) => r.type !== ROOT && !isJoin(r)).map((r) => own(r.urn));
    expect(c.length).toBeGreaterThan(5);
    for (const n of c) expect(n).toMatch(/^p\.c-/);
  });

  it("adding a tenant plans only its host's stack: the shared and every other host stack plan nothing", async () => {
    const before = await layout(full());
    const after = await layout(full(undefined, [...TENANTS, { id: "echo", slot: 5, host: "c" }]));
    expect(planOf(before.shared, after.shared)).toEqual(NOTHING);
    // Each edge lists the tenants it holds (routing.hostedHere), not the other hosts': a tenant
    // added to c is refused with 421 at the other edges without changing their configs.
    expect(planOf(before.hosts.local!, after.hosts.local!)).toEqual(NOTHING);
    expect(planOf(before.hosts.b!, after.hosts.b!)).toEqual(NOTHING);
    const c = planOf(before.hosts.c!, after.hosts.c!);
    expect(c.deleted).toEqual([]);
    // c's own edge now serves echo (its list of the tenants it holds)
    expect(c.changed).toEqual(["p.c-edge-state-init"]);
    expect(c.created.length).toBeGreaterThan(5);
    for (const n of c.created) expect(n).toMatch(/^p(\.c)?-echo($|-)/);
  });

  it("moving a tenant's pin plans only that tenant's resources (and the two edges' wake lists) in the two host stacks involved", async () => {
    const before = await layout(full());
    const after = await layout(full(undefined, TENANTS.map((t) => (t.id === "bravo" ? { ...t, host: "c" } : t))));
    expect(planOf(before.shared, after.shared)).toEqual(NOTHING);
    expect(planOf(before.hosts.local!, after.hosts.local!)).toEqual(NOTHING);
    const b = planOf(before.hosts.b!, after.hosts.b!);
    const c = planOf(before.hosts.c!, after.hosts.c!);
    // bravo was b's only suspendable tenant: b's waker goes with it, c gets one
    expect(b.created).toEqual([]);
    for (const n of b.deleted) expect(n).toMatch(/^p(\.b)?-(bravo($|-)|waker)/);
    expect(b.deleted.filter((n) => /bravo/.test(n)).length).toBeGreaterThan(5);
    expect(b.deleted).toContain("p-bravo-audit-reader");
    expect(c.deleted).toEqual([]);
    for (const n of c.created) expect(n).toMatch(/^p(\.c)?-(bravo($|-)|waker)/);
    expect(c.created).toContain("p-bravo-audit-reader");
    expect(b.changed).toEqual(["p.b-edge-state-init"]);
    expect(c.changed).toEqual(["p.c-edge-state-init"]);
  });

  it("refuses a part the layout cannot build, naming the field", () => {
    const ref = { requireOutput: () => pulumi.output({} as SharedAuditOutputs) } as unknown as pulumi.StackReference;
    const embedded = { ...full([{ name: "local" }], TENANTS.slice(0, 1)), audit: { mode: "embedded" } };
    expect(configProblems(() => new OpenClawPlatformShared("p", embedded as unknown as OpenClawPlatformArgs))).toEqual([
      'audit.mode: must be "external" in the per-host stack layout: the shared stack holds the audit store and no Docker part',
    ]);
    const joined = hostPartOf(full() as unknown as OpenClawPlatformArgs, "zulu", ref);
    expect(configProblems(() => new OpenClawPlatform("p", joined.config, undefined, joined.part))).toEqual(["host: names no host of this platform (hosts: local, b, c)"]);
  });
});
