/**
 * Identities are not for tenants to choose. Every principal (a tenant's gateway, a tenant's
 * egress proxy, each shared service) runs under its own numeric UID and GID, so per-UID
 * limits (RLIMIT_NPROC) and file ownership separate them; a policy that names a numeric id is
 * refused; the one id the operator names (the engine socket's group) must be nobody else's.
 * Checked on what the components actually declare (the containers' `user` and `groupAdds`).
 */
import * as pulumi from "@pulumi/pulumi";
import fc from "fast-check";
import { generateKeyPairSync } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { EDGE_UID, EGRESS_AUDIT_UID, OctwConfigError, OpenClawPlatform, POSTGRES_UID, ROUTER_UID, planPlatform, type OpenClawPlatformArgs } from "../src/index.js";
import { MIN_UID_BASE, SERVICE_IDS, platformPrincipals, sharedIdentities, socketGroupProblem, tenantIdRange, tenantPrincipalIdSchema } from "../src/planners/identity-plan.js";
import { parseIpv4Cidr } from "../src/planners/network-plan.js";
import { MockRecorder, PINNED, TYPES, settle } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

const jwk = { ...generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" }), kid: "k1" };
const img = (c: string) => `sha256:${c.repeat(64)}`;
const IMAGES = { ...PINNED, edge: img("d"), inferenceRouter: img("e"), egressAudit: img("f") };
const INFERENCE = { providers: [{ name: "openai", api: "openai", baseUrl: "https://api.openai.example", models: ["m"] }] };

interface Declared {
  name: string;
  tenant?: string;
  component?: string;
  uid: number;
  gid: number;
  groups: number[];
  networkMode?: string;
}

function declaredContainers(): Declared[] {
  return recorder.ofType(TYPES.container).map((r) => {
    const i = r.inputs as { name: string; user?: string; groupAdds?: string[]; labels?: { label: string; value: string }[]; networkMode?: string };
    const label = (k: string) => i.labels?.find((l) => l.label === k)?.value;
    const [uid, gid] = (i.user ?? "").split(":").map(Number);
    return { name: i.name, tenant: label("octw.tenant"), component: label("octw.component"), uid: uid!, gid: gid!, groups: (i.groupAdds ?? []).map(Number), ...(i.networkMode ? { networkMode: i.networkMode } : {}) };
  });
}

/** Principal of a declared container: its tenant and role, or the shared service. */
const principalOf = (c: Declared) => (c.tenant ? `tenant:${c.tenant}/${c.component}` : `service:${c.component}`);

/** Pairs of distinct principals that share an id, over what was declared (root init containers aside). */
function declaredClashes(containers: readonly Declared[]): string[] {
  const owners = new Map<string, string>();
  const out: string[] = [];
  for (const c of containers) {
    if (c.component?.endsWith("-init")) continue;
    for (const key of [`uid:${c.uid}`, `gid:${c.gid}`, ...c.groups.map((g) => `gid:${g}`)]) {
      const prev = owners.get(key);
      if (prev !== undefined && prev !== principalOf(c)) out.push(`${key}: ${prev} and ${principalOf(c)}`);
      else owners.set(key, principalOf(c));
    }
  }
  return out;
}

const tenantIdArb = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/);
const tenantsArb = fc
  .uniqueArray(fc.record({ id: tenantIdArb, slot: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }), inference: fc.boolean(), policyProcess: fc.boolean() }), { minLength: 1, maxLength: 5, selector: (t) => t.id })
  .filter((ts) => new Set(ts.filter((t) => t.slot !== undefined).map((t) => t.slot)).size === ts.filter((t) => t.slot !== undefined).length);

const platformArb = fc.record({
  tenants: tenantsArb,
  uidBase: fc.option(fc.integer({ min: MIN_UID_BASE, max: 2 ** 31 - 2 ** 24 }), { nil: undefined }),
  addressPool: fc.constantFrom("10.64.0.0/10", "10.64.0.0/16", "172.20.0.0/20"),
  edge: fc.boolean(),
  socketGid: fc.option(fc.integer({ min: 1, max: 99_999 }).filter((g) => !(Object.values(SERVICE_IDS) as number[]).includes(g)), { nil: undefined }),
  embedded: fc.boolean(),
});

type PlatformSample = typeof platformArb extends fc.Arbitrary<infer T> ? T : never;

function configOf(s: PlatformSample) {
  return {
    prefix: "octwid",
    addressPool: s.addressPool,
    ...(s.uidBase !== undefined ? { uidBase: s.uidBase } : {}),
    images: IMAGES,
    ...(s.edge ? { edge: { jwt: { issuer: "i", audience: "a", algorithms: ["ES256"], jwks: [jwk] } } } : {}),
    ...(s.socketGid !== undefined ? { egressAudit: { dockerSocketGid: s.socketGid } } : {}),
    tenants: s.tenants.map((t) => ({
      id: t.id,
      ...(t.slot !== undefined ? { slot: t.slot } : {}),
      policy: { version: 1, ...(t.inference ? { inference: INFERENCE } : {}), ...(t.policyProcess ? { process: { run_as_user: "sandbox", run_as_group: "tenant" } } : {}) },
    })),
    audit: s.embedded ? { mode: "embedded" } : { mode: "external", host: "192.0.2.22", adminUser: "admin", adminPassword: "pw" },
  };
}

let n = 0;

describe("identities", () => {
  it("the planner's service ids are the ones the components run the services as", () => {
    expect(SERVICE_IDS.edge).toBe(EDGE_UID);
    expect(SERVICE_IDS.inferenceRouter).toBe(ROUTER_UID);
    expect(SERVICE_IDS.egressAudit).toBe(EGRESS_AUDIT_UID);
    expect(SERVICE_IDS.postgres).toBe(POSTGRES_UID);
    for (const id of Object.values(SERVICE_IDS)) expect(id).toBeLessThan(MIN_UID_BASE);
  });

  it("positive control: the clash detectors see a shared id", () => {
    const p = platformPrincipals({ tenants: [{ id: "a", gatewayUid: 10002, gatewayGid: 200004, egressProxyUid: 200005, egressProxyGid: 200005 }], embeddedPostgres: false, edge: true, inferenceRouter: false });
    expect(sharedIdentities(p)).toEqual(["uid:10002 is held by tenant:a/gateway and service:edge/edge"]);
    expect(declaredClashes([{ name: "x", tenant: "a", component: "gateway", uid: 5, gid: 6, groups: [] }, { name: "y", component: "edge", uid: 7, gid: 8, groups: [6] }])).toEqual(["gid:6: tenant:a/gateway and service:edge"]);
  });

  it("property: over generated tenant sets, no two principals the platform declares share a UID or GID", async () => {
    let platforms = 0;
    let principals = 0;
    await fc.assert(
      fc.asyncProperty(platformArb, async (s) => {
        let plan;
        try {
          plan = planPlatform(configOf(s), "p");
        } catch (err) {
          // Generated slots may not fit a small pool, or derived slots may collide: refused, never shifted.
          expect(err).toBeInstanceOf(OctwConfigError);
          expect((err as OctwConfigError).problems.every((p) => /^tenants\[\d+\]\.slot$/.test(p.path))).toBe(true);
          return;
        }
        recorder.reset();
        new OpenClawPlatform(`id-${n++}`, configOf(s) as unknown as OpenClawPlatformArgs);
        await settle();
        const declared = declaredContainers();
        platforms++;
        principals += new Set(declared.filter((c) => !c.component?.endsWith("-init")).map(principalOf)).size;
        expect(declaredClashes(declared)).toEqual([]);
        // Root only for one-shot init containers without a network.
        for (const c of declared) {
          if (c.uid === 0 || c.gid === 0) {
            expect(c.component, c.name).toMatch(/-init$/);
            expect(c.networkMode, c.name).toBe("none");
          }
        }
        // Each tenant's containers run as exactly the ids its slot gives it, inside the tenant range.
        const pool = parseIpv4Cidr(s.addressPool)!;
        const range = tenantIdRange(s.uidBase ?? 200_000, pool);
        for (const t of plan.tenants) {
          const mine = declared.filter((c) => c.tenant === t.config.id && !c.component?.endsWith("-init"));
          expect(mine.map((c) => `${c.component}=${c.uid}:${c.gid}`).sort()).toEqual([`egress-proxy=${t.identity.egressProxyUid}:${t.identity.egressProxyGid}`, `gateway=${t.identity.gatewayUid}:${t.identity.gatewayGid}`]);
          for (const c of mine) {
            expect(c.uid).toBeGreaterThanOrEqual(range.first);
            expect(c.uid).toBeLessThanOrEqual(range.last);
          }
        }
        // Shared services run as their reserved ids, all outside the tenant range.
        for (const c of declared.filter((d) => !d.tenant && !d.component?.endsWith("-init"))) {
          expect(Object.values(SERVICE_IDS) as number[], c.name).toContain(c.uid);
          expect(c.uid < range.first || c.uid > range.last).toBe(true);
        }
        // What the planner lists is what was declared.
        expect(sharedIdentities(platformPrincipals({
          tenants: plan.tenants.map((t) => ({ id: t.config.id, ...t.identity })),
          embeddedPostgres: s.embedded,
          edge: s.edge,
          inferenceRouter: s.tenants.some((t) => t.inference),
          ...(s.socketGid !== undefined ? { egressAudit: { dockerSocketGid: s.socketGid } } : {}),
        }))).toEqual([]);
      }),
      { numRuns: 40 },
    );
    expect(platforms).toBeGreaterThan(20);
    expect(principals).toBeGreaterThan(platforms * 2);
  }, 300_000);

  it("property: a policy naming any numeric id (another tenant's, a service's, root, its own) is refused, naming the field", () => {
    const base = (policy: unknown) => ({ images: IMAGES, tenants: [{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2, policy }], audit: { mode: "embedded" } });
    const plan = planPlatform(base(undefined), "p");
    const alpha = plan.tenants[0]!.identity;
    const bravo = plan.tenants[1]!.identity;
    const interesting = [alpha.gatewayUid, alpha.egressProxyUid, bravo.gatewayUid, bravo.egressProxyUid, ...Object.values(SERVICE_IDS), 0, 1000, 65534];
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...interesting), fc.integer({ min: -5, max: 2 ** 31 })),
        fc.constantFrom("run_as_user", "run_as_group"),
        fc.boolean(),
        (id, field, asString) => {
          let err: unknown;
          try {
            planPlatform(base({ version: 1, process: { [field]: asString ? String(id) : id } }), "p");
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(OctwConfigError);
          expect((err as OctwConfigError).problems).toEqual([{ path: `tenants[1].policy.process.${field}`, message: expect.stringMatching(/must be "sandbox" or "tenant"/) as unknown }]);
        },
      ),
      { numRuns: 400 },
    );
    // Positive control: the symbolic names are accepted, and mean the tenant's own ids.
    const ok = planPlatform(base({ version: 1, process: { run_as_user: "sandbox", run_as_group: "tenant" } }), "p");
    expect(ok.tenants[1]!.identity).toEqual(bravo);
    expect(ok.tenants[1]!.policy.enforced.runAsUser).toBeUndefined();
  });

  it("the same through a YAML policy text", () => {
    expect(() => planPlatform({ images: IMAGES, tenants: [{ id: "alpha", slot: 1, policy: "version: 1\nprocess:\n  run_as_user: 10002\n" }], audit: { mode: "embedded" } }, "p")).toThrow(/tenants\[0\]\.policy\.process\.run_as_user: must be "sandbox" or "tenant"/);
  });

  it("the engine socket's group may be no tenant's and no service's id", () => {
    const pool = parseIpv4Cidr("10.64.0.0/10")!;
    const cfg = (gid: number, uidBase?: number) => ({ images: IMAGES, ...(uidBase ? { uidBase } : {}), egressAudit: { dockerSocketGid: gid }, tenants: [{ id: "alpha", slot: 1 }], audit: { mode: "embedded" } });
    const planOf = planPlatform(cfg(998), "p");
    const refused = [planOf.tenants[0]!.identity.gatewayGid, planOf.tenants[0]!.identity.egressProxyGid, 200_000 + 4 * 9999, ...Object.values(SERVICE_IDS)];
    for (const gid of refused) {
      expect(() => planPlatform(cfg(gid), "p"), String(gid)).toThrow(/egressAudit\.dockerSocketGid: is (inside the tenant id range|reserved for a shared service)/);
    }
    expect(socketGroupProblem(0, 200_000, pool)).toMatch(/not root/);
    // Positive controls: the usual docker group, and an id just below the tenant range.
    expect(() => planPlatform(cfg(998), "p")).not.toThrow();
    expect(() => planPlatform(cfg(199_999), "p")).not.toThrow();
  });

  it("tenantPrincipalIdSchema (for components taking a tenant uid/gid) refuses every service, host and root id", () => {
    for (const id of [0, 1000, 65534, ...Object.values(SERVICE_IDS), MIN_UID_BASE, MIN_UID_BASE + 3]) expect(tenantPrincipalIdSchema.safeParse(id).success, String(id)).toBe(false);
    // Positive control: every id the slot plan hands out is accepted.
    fc.assert(
      fc.property(fc.integer({ min: MIN_UID_BASE, max: 2 ** 31 - 2 ** 24 }), fc.integer({ min: 1, max: 131_071 }), fc.constantFrom(0, 1), (base, slot, k) => {
        expect(tenantPrincipalIdSchema.safeParse(base + 4 * slot + k).success).toBe(true);
      }),
    );
  });
});
