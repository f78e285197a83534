// The platform on several hosts, at registration level (the URN, provider reference and inputs of
// every resource the engine would get): a platform without `hosts` registers exactly what a
// single-host platform always did; adding a host registers only that host's shared parts; pinning
// a tenant elsewhere changes only that tenant's resources; every Docker resource carries its
// host's explicit provider, and every dynamic resource that talks to an engine carries its host's
// endpoint (so no deployment splits across engines).
import { beforeAll, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse as parseConnectionString } from "pg-connection-string";
import { OpenClawPlatform, planPlatform, type OpenClawPlatformArgs } from "../src/index.js";
import { withAuditCa } from "../src/components/audit-ca.js";
import { CA_1 } from "./test-ca-certificates.js";
import { HOST_B, HOST_C, INFERENCE, collect, multiHostConfig, recordRegistrations, type Registration, type Registrations } from "./registrations.js";

beforeAll(() => recordRegistrations());

const program = (name: string, config: Record<string, unknown>): Promise<Registrations> => collect(() => new OpenClawPlatform(name, config as unknown as OpenClawPlatformArgs));

const inference = INFERENCE;
/** Every per-host part present: edge, waker (a suspendable tenant), router (an inference tenant), egress-audit shipper. */
function full(extra: Record<string, unknown> = {}, tenants: Record<string, unknown>[] = [{ id: "alpha", slot: 1, policy: { version: 1, inference } }, { id: "bravo", slot: 2, suspend: { stopAfterS: 600 } }]): Record<string, unknown> {
  return multiHostConfig(extra, tenants);
}
const B = HOST_B;
const C = HOST_C;

const comparable = (r: Registration) => ({ type: r.type, provider: r.provider, inputs: r.inputs, secretPaths: r.secretPaths });
const isDocker = (r: Registration) => r.type.startsWith("docker:");
const talksToEngine = (r: Registration) => r.type === "pulumi-nodejs:dynamic:Resource" && ("ipv4Address" in r.inputs || "path" in r.inputs);

describe("a platform without hosts", () => {
  it("registers exactly what it registers with the one default host written out, with the default provider everywhere", async () => {
    const implicit = await program("p", full());
    const explicit = await program("p", full({ hosts: [{ name: "local" }] }));
    expect([...explicit.keys()].sort()).toEqual([...implicit.keys()].sort());
    for (const [urn, r] of implicit) expect(comparable(explicit.get(urn)!), urn).toEqual(comparable(r));
    // no explicit docker provider, no engine input: the registrations of a single-host stack
    expect([...implicit.values()].filter((r) => r.type === "pulumi:providers:docker")).toEqual([]);
    for (const r of implicit.values()) if (isDocker(r)) expect(r.provider, r.urn).toBe("");
    const engineTalkers = [...implicit.values()].filter(talksToEngine);
    expect(engineTalkers.length).toBe(4); // the edge's attachments of alpha and bravo, the router's of alpha, the router's tenant file
    for (const r of engineTalkers) expect(r.inputs.engine, r.urn).toBeUndefined();
  });
});

describe("a platform on several hosts", () => {
  it("adding hosts registers only their providers and shared parts: every resource of the existing host is the same (its edge's config gains its list once, on becoming multi-host)", async () => {
    const one = await program("p", full());
    const two = await program("p", full({ hosts: [{ name: "local" }, B] }));
    const three = await program("p", full({ hosts: [{ name: "local" }, B, C] }));
    const changedFromOne: string[] = [];
    for (const [urn, r] of one) {
      expect(three.has(urn), `${urn} is gone`).toBe(true);
      if (JSON.stringify(comparable(three.get(urn)!)) !== JSON.stringify(comparable(r))) changedFromOne.push(urn.slice(urn.lastIndexOf("::") + 2));
    }
    // One host → several: the first host's edge starts listing the tenants it holds
    // (routing.hostedHere); nothing else of it changes.
    expect(changedFromOne).toEqual(["p-edge-state-init"]);
    // Two hosts → three: nothing of the existing hosts changes at all.
    for (const [urn, r] of two) {
      expect(three.has(urn), `${urn} is gone`).toBe(true);
      expect(comparable(three.get(urn)!), urn).toEqual(comparable(r));
    }
    const added = [...three.keys()].filter((u) => !one.has(u));
    // the tenants stay on the first host, so b and c get no tenant and therefore no waker or router
    const names = added.map((u) => u.slice(u.lastIndexOf("::") + 2)).sort();
    expect(names).toEqual(
      [
        "p.b-control", "p.b-docker", "p.b-edge", "p.b-egress", "p.b-egress-audit", "p.b-ingress",
        "p.c-control", "p.c-docker", "p.c-edge", "p.c-egress", "p.c-egress-audit", "p.c-ingress",
      ].concat(names.filter((n) => /^p\.[bc]-(edge|egress-audit)-/.test(n))).sort(),
    );
  });

  it("moving a tenant (its pin) changes that tenant's resources only: deleted on the old host, created on the new", async () => {
    const before = await program("p", full({ hosts: [{ name: "local" }, B] }));
    const tenants = full().tenants as Record<string, unknown>[];
    const after = await program("p", full({ hosts: [{ name: "local" }, B] }, [tenants[0]!, { ...tenants[1]!, host: "b" }]));
    const gone = [...before.keys()].filter((u) => !after.has(u));
    const created = [...after.keys()].filter((u) => !before.has(u));
    const changed = [...before.keys()].filter((u) => after.has(u) && JSON.stringify(comparable(after.get(u)!)) !== JSON.stringify(comparable(before.get(u)!)));
    const name = (u: string) => u.slice(u.lastIndexOf("::") + 2);
    expect(gone.length).toBeGreaterThan(5);
    // bravo was the local host's only suspendable tenant: the local waker goes with it
    for (const u of gone) expect(name(u), u).toMatch(/^p-(bravo|waker)($|-)/);
    expect(gone.filter((u) => /^p-bravo($|-)/.test(name(u))).length).toBeGreaterThan(5);
    for (const u of created) expect(name(u), u).toMatch(/^p\.b-(bravo($|-)|waker)/);
    // the one shared thing that changes: each edge's config (its state-init): b's edge now serves
    // and wakes bravo, the local one no longer does
    expect(changed.map(name).sort()).toEqual(["p-edge-state-init", "p.b-edge-state-init"]);
    // the tenant's audit reader is of the platform, not of a host: untouched
    expect([...after.keys()].some((u) => name(u) === "p-bravo-audit-reader")).toBe(true);
  });

  it("each host's edge lists the tenants it holds (every other tenant gets 421 there); a host without tenants lists none; one host: no list", async () => {
    const edgeConfig = (rs: Map<string, Registration>, pulumiName: string) => {
      const init = [...rs.values()].find((r) => r.urn.endsWith(`::${pulumiName}`))!;
      const uploads = init.inputs.uploads as { file: string; content: string }[];
      return JSON.parse(uploads.find((u) => u.file === "/state/config/config.json")!.content) as { routing: Record<string, unknown> };
    };
    const tenants = full().tenants as Record<string, unknown>[];
    const rs = await program("p", full({ hosts: [{ name: "local" }, B, C] }, [{ ...tenants[0]!, host: "b" }, tenants[1]!, { id: "charlie", slot: 3, host: "b" }]));
    expect(edgeConfig(rs, "p-edge-state-init").routing.hostedHere).toEqual(["bravo"]);
    expect(edgeConfig(rs, "p.b-edge-state-init").routing.hostedHere).toEqual(["alpha", "charlie"]);
    // present and empty: an edge with no tenant serves none (absent would serve any name that resolves)
    expect(edgeConfig(rs, "p.c-edge-state-init").routing.hostedHere).toEqual([]);
    // control: the same tenants on one host: no such field, the config as it always was
    expect(edgeConfig(await program("p", full()), "p-edge-state-init").routing).not.toHaveProperty("hostedHere");
  });

  it("with audit.caCertificate every service on every host verifies the audit server against that CA (a file in its own volume, named by its URL); without, nothing changes", async () => {
    const tenants = full().tenants as Record<string, unknown>[];
    const hosts = { hosts: [{ name: "local" }, B] };
    const placed = [tenants[0]!, { ...tenants[1]!, host: "b" }];
    const withCa = await program("p", full({ ...hosts, audit: { ...(full().audit as object), caCertificate: CA_1 } }, placed));
    const inits = [...withCa.values()].filter((r) => r.type === "docker:index/container:Container" && /-state-init$/.test(r.urn) && /(edge|waker|egress-audit|router)-state-init$/.test(r.inputs.name as string));
    // local: edge, router (alpha has inference), shipper; b: edge, waker (bravo is suspendable), shipper
    expect(inits.map((r) => r.urn.slice(r.urn.lastIndexOf("::") + 2)).sort()).toEqual(
      ["p-edge-state-init", "p-egress-audit-state-init", "p-inference-router-state-init", "p.b-edge-state-init", "p.b-egress-audit-state-init", "p.b-waker-state-init"],
    );
    for (const init of inits) {
      const uploads = init.inputs.uploads as { file: string; content: string }[];
      expect(uploads.find((u) => u.file === "/state/config/audit-ca.pem")?.content, init.urn).toBe(CA_1);
      const url = new URL(uploads.find((u) => /^\/state\/secrets\/(audit-)?db-url$/.test(u.file))!.content);
      expect(url.searchParams.get("sslmode"), init.urn).toBe("verify-full");
      // the path is where the service itself mounts that volume
      const volume = (init.inputs.mounts as { source: string }[])[0]!.source;
      const mountOf = (r: Registration) => ((r.inputs.mounts ?? []) as { target: string; source: string }[]).find((m) => m.source === volume);
      const service = [...withCa.values()].find((r) => r.type === "docker:index/container:Container" && !/-init$/.test(r.inputs.name as string) && mountOf(r) !== undefined);
      expect(service, `the service of ${init.urn}`).toBeDefined();
      const stateDir = mountOf(service!)!.target;
      expect(url.searchParams.get("sslrootcert"), init.urn).toBe(`${stateDir}/config/audit-ca.pem`);
    }
    // the SQL the program runs itself (schema migrations, each tenant reader's binding) verifies against it too
    const sqlOf = (rs: Map<string, Registration>) => [...rs.values()].filter((r) => r.type === "pulumi-nodejs:dynamic:Resource" && "sql" in r.inputs);
    expect(sqlOf(withCa).map((r) => r.urn.slice(r.urn.lastIndexOf("::") + 2)).sort()).toEqual(["p-alpha-audit-reader-binding", "p-audit-schema", "p-bravo-audit-reader-binding"]);
    for (const r of sqlOf(withCa)) expect(r.inputs.caCertificate, r.urn).toBe(CA_1);
    // control: the same platform without a CA has no such file and URLs as before
    const without = await program("p", full(hosts, placed));
    for (const r of without.values()) {
      const uploads = (r.inputs.uploads ?? []) as { file: string; content: string }[];
      expect(uploads.some((u) => u.file.endsWith("audit-ca.pem") || u.content.includes("sslrootcert")), r.urn).toBe(false);
    }
    for (const r of sqlOf(without)) expect(r.inputs, r.urn).not.toHaveProperty("caCertificate");
  });

  it("the libpq URL a service gets makes its Postgres client trust that CA (node-postgres reads sslrootcert)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "octw-audit-ca-"));
    try {
      const { url, files } = withAuditCa("postgres://u:p@audit.example.com:5432/octw_audit?sslmode=verify-full", CA_1, dir);
      for (const f of files) {
        mkdirSync(dirname(join(dir, f.path)), { recursive: true });
        writeFileSync(join(dir, f.path), f.content);
      }
      const text = await new Promise<string>((resolve) => pulumi.output(url).apply(resolve));
      const parsed = parseConnectionString(text) as { ssl: { ca?: string; rejectUnauthorized?: boolean } };
      expect(parsed.ssl.ca).toBe(CA_1);
      expect(parsed.ssl.rejectUnauthorized).not.toBe(false);
      // control: the URL without it leaves the client with the public roots
      expect((parseConnectionString("postgres://u:p@audit.example.com:5432/octw_audit?sslmode=verify-full") as { ssl: { ca?: string } }).ssl.ca).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("audit.caCertificate is refused where nothing would verify against it", () => {
    for (const audit of [
      { ...(full().audit as object), sslMode: "require", caCertificate: CA_1 },
      { mode: "embedded", caCertificate: CA_1 },
    ]) {
      expect(() => planPlatform(full({ audit }) as unknown as OpenClawPlatformArgs, "t")).toThrow(/audit\.caCertificate: is used only by mode "external" with sslMode "verify-ca" or "verify-full"/);
    }
    expect(() => planPlatform(full({ audit: { ...(full().audit as object), caCertificate: "not a pem" } }) as unknown as OpenClawPlatformArgs, "t")).toThrow(/audit\.caCertificate: must be a PEM certificate/);
  });

  it("every Docker resource is registered with its host's explicit provider; the dynamic ones carry its endpoint", async () => {
    const tenants = full().tenants as Record<string, unknown>[];
    const rs = await program("p", full({ hosts: [{ name: "local" }, B, C] }, [{ ...tenants[0]!, host: "b" }, { ...tenants[1]!, host: "c" }]));
    const providers = [...rs.values()].filter((r) => r.type === "pulumi:providers:docker").sort((x, y) => x.urn.localeCompare(y.urn));
    expect(providers.map((p) => [p.urn.slice(p.urn.lastIndexOf("::") + 2), p.inputs.host])).toEqual([["p.b-docker", "tcp://192.0.2.5:2376"], ["p.c-docker", "ssh://octw@host-c.internal:2222"]]);
    const pb = providers[0]!;
    const pc = providers[1]!;
    expect(pb.inputs).toMatchObject({ caMaterial: "CA-PEM", certMaterial: "CERT-PEM", keyMaterial: "KEY-PEM-SECRET" });
    expect(pb.secretPaths).toContain("keyMaterial");
    // the SDK sends a provider's non-string config JSON-encoded
    expect(JSON.parse(pc.inputs.sshOpts as string)).toEqual(["-o", "BatchMode=yes"]);
    // every child is named after its component, so a resource's own name says its host
    const hostOf = (r: Registration) => {
      const own = r.urn.slice(r.urn.lastIndexOf("::") + 2);
      return own.startsWith("p.b-") ? "b" : own.startsWith("p.c-") ? "c" : "local";
    };
    const counted = { local: 0, b: 0, c: 0 };
    for (const r of rs.values()) {
      if (!isDocker(r)) continue;
      const h = hostOf(r);
      counted[h]++;
      expect(r.provider, `${r.urn} on ${h}`).toBe(h === "b" ? pb.urn : h === "c" ? pc.urn : "");
    }
    expect(counted.b).toBeGreaterThan(10);
    expect(counted.c).toBeGreaterThan(10);
    expect(counted.local).toBeGreaterThanOrEqual(4);
    const dyn = [...rs.values()].filter(talksToEngine);
    expect(dyn.length).toBe(4); // b: edge + router attachment of alpha, router tenant file; c: edge attachment of bravo
    for (const r of dyn) {
      const h = hostOf(r);
      expect((r.inputs.engine as { host: string }).host, r.urn).toBe(h === "b" ? "tcp://192.0.2.5:2376" : "ssh://octw@host-c.internal:2222");
      if (h === "b") {
        expect(r.inputs.engine).toMatchObject({ caMaterial: "CA-PEM", certMaterial: "CERT-PEM", keyMaterial: "KEY-PEM-SECRET" });
        expect(r.secretPaths.some((p) => p.startsWith("engine")), r.urn).toBe(true);
      } else {
        expect(r.inputs.engine).toEqual({ host: "ssh://octw@host-c.internal:2222", sshOpts: ["-o", "BatchMode=yes"] });
      }
    }
  });

  it("exports per tenant its host, its one URL and where that host's edge listens", async () => {
    const tenants = full().tenants as Record<string, unknown>[];
    const p = new OpenClawPlatform("addr", full({ domain: "agents.example.com", hosts: [{ name: "local" }, { ...B, publicAddress: "b.agents.example.com" }, C] }, [tenants[0]!, { ...tenants[1]!, host: "c" }]) as unknown as OpenClawPlatformArgs);
    const addresses = await new Promise((resolve) => p.tenantAddresses.apply(resolve));
    expect(addresses).toEqual({
      alpha: { host: "local", url: "https://alpha.agents.example.com/", serveAt: "127.0.0.1:8443" },
      bravo: { host: "c", url: "https://bravo.agents.example.com/", serveAt: "host-c.internal:8443" },
    });
    expect(Object.keys(p.hosts)).toEqual(["local", "b", "c"]);
    expect(p.hosts.c!.tenants).toEqual(["bravo"]);
    expect(p.hosts.b!.provider).toBeDefined();
    expect(p.hosts.local!.provider).toBeUndefined();
  });
});
