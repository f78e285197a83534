import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OctwConfigError, OpenClawPlatform, SandboxPolicy, TenantGateway, TenantNetwork, type OpenClawPlatformArgs } from "../src/index.js";
import { MockRecorder, PINNED, platformConfig, settle } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});
beforeEach(async () => {
  await settle(); // registrations of the previous test must not leak into this one
  recorder.reset();
});

const ok = () => platformConfig([{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2 }]);
const tenant = (extra: Record<string, unknown>) => ({ ...ok(), tenants: [{ id: "alpha", slot: 1, ...extra }] });
const policy = (endpoint: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  tenant({ policy: { version: 1, network_policies: { p: { endpoints: [{ port: 443, ...endpoint }], ...extra } } } });

const EC_PUBLIC = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" };
const withEdge = (jwt: Record<string, unknown>, roles?: Record<string, string[]>) => ({
  ...ok(),
  images: { ...PINNED, edge: `octw/edge@sha256:${"1".repeat(64)}` },
  edge: { jwt: { issuer: "https://idp.example.com", audience: "octw", algorithms: ["ES256"], jwks: [EC_PUBLIC], ...jwt }, ...(roles ? { roles } : {}) },
});

/** Each case: a malformed config, the field path the error must name, and a fragment of what it must say. */
const CASES: { name: string; config: unknown; path: string; says: RegExp }[] = [
  { name: "duplicate tenant id", config: { ...ok(), tenants: [{ id: "alpha", slot: 1 }, { id: "alpha", slot: 2 }] }, path: "tenants[1].id", says: /already used/ },
  { name: "tenant id not a DNS label", config: tenant({ id: "Alpha_1" }), path: "tenants[0].id", says: /DNS label/ },
  { name: "tenant id too long", config: tenant({ id: "a".repeat(40) }), path: "tenants[0].id", says: /at most 32/ },
  { name: "IP literal host", config: policy({ host: "203.0.113.7" }), path: "tenants[0].policy.network_policies.p.endpoints[0].host", says: /not an IP literal/ },
  { name: "wildcard in a middle label", config: policy({ host: "api.*.example.com" }), path: "tenants[0].policy.network_policies.p.endpoints[0].host", says: /wildcard only as its whole first label/ },
  { name: "double wildcard inside a label", config: policy({ host: "api**.example.com" }), path: "tenants[0].policy.network_policies.p.endpoints[0].host", says: /wildcard only/ },
  { name: "loopback name", config: policy({ host: "localhost" }), path: "tenants[0].policy.network_policies.p.endpoints[0].host", says: /at least two labels/ },
  // A metadata name without allowed_ips is accepted and confined to public addresses (squid-acl.test.ts: metadata.google.internal resolving to 169.254.169.254 is denied); a loopback name is never a destination.
  { name: "loopback subdomain", config: policy({ host: "metadata.localhost" }), path: "tenants[0].policy.network_policies.p.endpoints[0].host", says: /loopback/ },
  { name: "link-local allowed_ips", config: policy({ host: "api.example.com", allowed_ips: ["169.254.169.254"] }), path: "tenants[0].policy.network_policies.p.endpoints[0].allowed_ips[0]", says: /metadata/ },
  { name: "unpinned image", config: { ...ok(), images: { ...PINNED, openclaw: "openclaw/openclaw:latest" } }, path: "images.openclaw", says: /not pinned/ },
  { name: "unpinned tenant image override", config: tenant({ image: "openclaw/openclaw:2026.9.6" }), path: "tenants[0].image", says: /not pinned/ },
  { name: "malformed digest", config: { ...ok(), images: { ...PINNED, egressProxy: "squid@sha256:1234" } }, path: "images.egressProxy", says: /sha256/ },
  { name: "overlapping subnet (egress inside the tenant pool)", config: { ...ok(), egressSubnet: "10.64.0.0/24" }, path: "egressSubnet", says: /overlaps addressPool/ },
  { name: "overlapping tenant subnets (same slot)", config: { ...ok(), tenants: [{ id: "alpha", slot: 7 }, { id: "bravo", slot: 7 }] }, path: "tenants[1].slot", says: /already taken/ },
  { name: "CIDR with host bits", config: { ...ok(), addressPool: "10.64.0.1/10" }, path: "addressPool", says: /IPv4 CIDR without host bits/ },
  { name: "negative memory", config: tenant({ limits: { memoryMb: -1 } }), path: "tenants[0].limits.memoryMb", says: /at least 768/ },
  { name: "memory below OpenClaw's floor", config: tenant({ limits: { memoryMb: 512 } }), path: "tenants[0].limits.memoryMb", says: /OOM/ },
  { name: "zero cpus", config: tenant({ limits: { cpus: 0 } }), path: "tenants[0].limits.cpus", says: /> 0/ },
  { name: "unknown field at the top", config: { ...ok(), tenantz: [] }, path: "", says: /a field not allowed here; allowed: prefix, .*tenants/ },
  { name: "unknown field in a tenant", config: tenant({ memory: 1024 }), path: "tenants[0]", says: /a field not allowed here; allowed: id, slot, .*limits/ },
  { name: "unknown field in an endpoint", config: policy({ host: "api.example.com", methods: ["GET"] }), path: "tenants[0].policy.network_policies.p.endpoints[0]", says: /a field not allowed here; allowed: host, port, ports/ },
  { name: "L7 rules without allowUnenforced", config: policy({ host: "api.example.com", rules: [{ allow: { method: "GET", path: "/**" } }] }), path: "tenants[0].policy.network_policies.p.endpoints[0].rules", says: /cannot be enforced.*allowUnenforced/ },
  { name: "binaries without allowUnenforced", config: policy({ host: "api.example.com" }, { binaries: [{ path: "/usr/bin/node" }] }), path: "tenants[0].policy.network_policies.p.binaries", says: /process identity/ },
  { name: "enforcement: audit", config: policy({ host: "api.example.com", enforcement: "audit" }), path: "tenants[0].policy.network_policies.p.endpoints[0].enforcement", says: /audit mode cannot be honoured/ },
  { name: "access: read-only (L7 method filter)", config: policy({ host: "api.example.com", access: "read-only" }), path: "tenants[0].policy.network_policies.p.endpoints[0].access", says: /TLS inspection/ },
  { name: "port out of range", config: policy({ host: "api.example.com", port: 70000 }), path: "tenants[0].policy.network_policies.p.endpoints[0].port", says: /1\.\.65535/ },
  { name: "endpoint without port", config: tenant({ policy: { version: 1, network_policies: { p: { endpoints: [{ host: "api.example.com" }] } } } }), path: "tenants[0].policy.network_policies.p.endpoints[0].port", says: /needs `port` or `ports`/ },
  { name: "wrong policy version", config: tenant({ policy: { version: 2 } }), path: "tenants[0].policy.version", says: /must be 1/ },
  { name: "read_write on a system path", config: tenant({ policy: { version: 1, filesystem_policy: { read_write: ["/tmp", "/usr/local"] } } }), path: "tenants[0].policy.filesystem_policy.read_write[1]", says: /never writable/ },
  { name: "read_write without /tmp", config: tenant({ presets: [], policy: { version: 1, filesystem_policy: { read_write: ["/sandbox"] } } }), path: "tenants[0].policy.filesystem_policy.read_write", says: /must include "\/tmp"/ },
  { name: "run as root", config: tenant({ policy: { version: 1, process: { run_as_user: 0 } } }), path: "tenants[0].policy.process.run_as_user", says: /must be "sandbox" or "tenant"/ },
  { name: "run as another principal's uid", config: tenant({ policy: { version: 1, process: { run_as_user: 10002, run_as_group: "sandbox" } } }), path: "tenants[0].policy.process.run_as_user", says: /cannot choose a numeric UID/ },
  { name: "run as a numeric gid string", config: tenant({ policy: { version: 1, process: { run_as_group: "200008" } } }), path: "tenants[0].policy.process.run_as_group", says: /cannot choose a numeric UID\/GID/ },
  { name: "invalid YAML policy", config: tenant({ policy: "version: 1\nnetwork_policies: [unclosed" }), path: "tenants[0].policy", says: /not valid YAML/ },
  { name: "unknown preset", config: tenant({ presets: ["everything"] }), path: "tenants[0].presets[0]", says: /restricted/ },
  { name: "embedded audit without a postgres image", config: { ...ok(), images: { openclaw: PINNED.openclaw, egressProxy: PINNED.egressProxy } }, path: "images.postgres", says: /required/ },
  { name: "external audit without credentials", config: { ...ok(), audit: { mode: "external", host: "192.0.2.21" } }, path: "audit.adminUser", says: /required/ },
  { name: "no tenants", config: { ...ok(), tenants: [] }, path: "tenants", says: /at least one tenant/ },
  // The edge's own key and role rules apply to the platform's edge section before anything is declared.
  { name: "edge JWK with a private part", config: withEdge({ jwks: [{ ...EC_PUBLIC, d: "private-part" }] }), path: "edge.jwt.jwks[0]", says: /must be a public key/ },
  { name: "symmetric edge JWK", config: withEdge({ jwks: [{ kty: "oct", k: "c2VjcmV0" }] }), path: "edge.jwt.jwks[0].kty", says: /RSA.*EC.*OKP/ },
  { name: "HMAC algorithm", config: withEdge({ algorithms: ["HS256"] }), path: "edge.jwt.algorithms[0]", says: /only asymmetric/ },
  { name: "role with an unknown scope", config: withEdge({}, { member: ["operator.read", "admin"] }), path: "edge.roles.member[1]", says: /OpenClaw operator scope/ },
  { name: "role name not lower-case", config: withEdge({}, { Member: ["operator.read"] }), path: "edge.roles", says: /not allowed.*lower-case role name/ },
  { name: "JWKS over plain http", config: withEdge({ jwks: undefined, jwksUrl: "ftp://idp.example.com/jwks" }), path: "edge.jwt.jwksUrl", says: /URL/i },
  { name: "name prefix too long", config: { ...ok(), prefix: "a".repeat(22) }, path: "prefix", says: /at most 21/ },
];

describe("OpenClawPlatform refuses bad input, names the field, and registers nothing", () => {
  it("has at least 15 cases", () => expect(CASES.length).toBeGreaterThanOrEqual(15));

  it.each(CASES)("$name", async ({ config, path, says }) => {
    let error: unknown;
    try {
      new OpenClawPlatform("bad", config as OpenClawPlatformArgs);
    } catch (err) {
      error = err;
    }
    await settle();
    expect(error).toBeInstanceOf(OctwConfigError);
    const problems = (error as OctwConfigError).problems;
    const hit = problems.find((p) => p.path === path);
    expect(hit, `expected a problem at ${path}, got ${JSON.stringify(problems)}`).toBeDefined();
    expect(`${hit!.path}: ${hit!.message}`).toMatch(says);
    expect((error as Error).message).toContain(path === "" ? "(root)" : path);
    expect(recorder.resources).toEqual([]);
  });

  it("positive control: the unmodified config is accepted and registers resources", async () => {
    new OpenClawPlatform("good", ok() as OpenClawPlatformArgs);
    await settle();
    expect(recorder.resources.length).toBeGreaterThan(10);
  });

  it("positive control of the edge cases: the same edge section with a public key and known scopes is accepted", async () => {
    const p = new OpenClawPlatform("good-edge", withEdge({}, { member: ["operator.read", "operator.write"] }) as OpenClawPlatformArgs);
    await settle();
    expect(p.edge).toBeDefined();
    expect(recorder.resources.some((r) => r.type === "docker:index/container:Container" && r.name === "good-edge-edge-edge")).toBe(true);
  });

  it("accepts an unenforceable field when allowUnenforced lists it, and reports it as not enforced", async () => {
    const cfg = policy({ host: "api.example.com", rules: [{ allow: { method: "GET" } }] });
    (cfg.tenants[0] as Record<string, unknown>).allowUnenforced = ["rules"];
    const p = new OpenClawPlatform("unenforced", cfg);
    const summary = await new Promise<Record<string, { notEnforced: string[] }>>((r) => p.tenantSummary.apply(r));
    expect(summary.alpha!.notEnforced).toHaveLength(1);
    expect(summary.alpha!.notEnforced[0]).toMatch(/^policy\.network_policies\.p\.endpoints\[0\]\.rules: L7 rules/);
  });
});

describe("the individual components validate before declaring", () => {
  it("TenantNetwork: slot outside the pool", async () => {
    expect(() => new TenantNetwork("n", { tenantId: "alpha", slot: 10, addressPool: "10.64.0.0/26" })).toThrow(OctwConfigError);
    expect(() => new TenantNetwork("n", { tenantId: "alpha", slot: 10, addressPool: "10.64.0.0/26" })).toThrow(/slot: must be < 2/);
    expect(() => new TenantNetwork("n", { tenantId: "alpha", slot: 1, addressPool: "10.64.0.1/26" })).toThrow(/addressPool: must be an IPv4 CIDR/);
    // a handed-over plan of another slot is refused; its own slot's plan is accepted
    expect(() => new TenantNetwork("n", { tenantId: "alpha", slot: 1, planned: TenantNetwork.plan("m", { tenantId: "alpha", slot: 2 }) })).toThrow(/planned: is not the address plan of this slot/);
    expect(TenantNetwork.plan("n", { tenantId: "alpha", slot: 2, planned: TenantNetwork.plan("m", { tenantId: "alpha", slot: 2 }) }).subnet).toBe(TenantNetwork.plan("m", { tenantId: "alpha", slot: 2 }).subnet);
    await settle();
    expect(recorder.resources).toEqual([]);
  });
  it("TenantGateway: tag-only image unless allowUnpinnedImage", async () => {
    const args = { tenantId: "alpha", image: "openclaw:latest", networkName: "n", address: "10.64.0.37", edgeAddress: "10.64.0.34", proxyUrl: "http://10.64.0.36:3128", tmpfs: [{ path: "/tmp", sizeMb: 64 }], uid: 200004, gid: 200004 };
    expect(() => new TenantGateway("g", args)).toThrow(/image: is not pinned/);
    await settle();
    expect(recorder.resources).toEqual([]);
    new TenantGateway("g2", { ...args, allowUnpinnedImage: true });
    await settle();
    expect(recorder.resources.length).toBeGreaterThan(0);
  });
  it("TenantGateway: uid 0 and a missing /tmp are refused", () => {
    const args = { tenantId: "alpha", image: PINNED.openclaw, networkName: "n", address: "10.64.0.37", edgeAddress: "10.64.0.34", proxyUrl: "http://10.64.0.36:3128", tmpfs: [{ path: "/tmp", sizeMb: 64 }], uid: 200004, gid: 200004 };
    expect(() => new TenantGateway("g", { ...args, uid: 0 })).toThrow(/uid: must be a tenant id/);
    // a shared service's id (the edge's 10002) is not a tenant's to take either
    expect(() => new TenantGateway("g", { ...args, uid: 10002, gid: 10002 })).toThrow(/uid: must be a tenant id[\s\S]*gid: must be a tenant id/);
    expect(() => new TenantGateway("g", { ...args, tmpfs: [{ path: "/sandbox", sizeMb: 64 }] })).toThrow(/tmpfs: must include \/tmp/);
  });
  it("SandboxPolicy: unpinned proxy image", () => {
    expect(() =>
      new SandboxPolicy("s", { tenantId: "alpha", tenantNetworkName: "n", proxyAddress: "10.64.0.36", egressNetworkName: "e", proxyImage: "squid", proxyUid: 200005, proxyGid: 200005 }),
    ).toThrow(/proxyImage: is not pinned/);
  });
});

describe("one planning pass", () => {
  it("the platform hands each tenant's planned policy to its SandboxPolicy: the very object planPlatform made, not a second plan", async () => {
    const p = new OpenClawPlatform("once", platformConfig([{ id: "alpha", slot: 1, presets: ["restricted", "github"] }]) as OpenClawPlatformArgs);
    await settle();
    expect(p.tenants.alpha!.policy.plan.enforced).toBe(p.plan.tenants[0]!.policy.enforced);
    // control: a SandboxPolicy planned from presets makes its own (equal, not identical) plan
    const own = SandboxPolicy.plan("own", { tenantId: "alpha", presets: ["restricted", "github"], tenantNetworkName: "n", proxyAddress: "10.64.0.36", egressNetworkName: "e", proxyImage: PINNED.egressProxy, proxyUid: 200005, proxyGid: 200005 });
    expect(own.enforced).not.toBe(p.plan.tenants[0]!.policy.enforced);
    expect(own.enforced.egress).toEqual(p.plan.tenants[0]!.policy.enforced.egress);
  });
  it("SandboxPolicy refuses a plan together with the inputs it was made from", () => {
    const planned = SandboxPolicy.plan("p", { tenantId: "alpha", tenantNetworkName: "n", proxyAddress: "10.64.0.36", egressNetworkName: "e", proxyImage: PINNED.egressProxy, proxyUid: 200005, proxyGid: 200005 });
    expect(() =>
      SandboxPolicy.plan("s", { tenantId: "alpha", planned, presets: ["github"], tenantNetworkName: "n", proxyAddress: "10.64.0.36", egressNetworkName: "e", proxyImage: PINNED.egressProxy, proxyUid: 200005, proxyGid: 200005 }),
    ).toThrow(/presets: must not be set together with planned/);
  });
});
