// The embedded audit store published to other hosts over TLS (audit.publish): every rule of the
// planner and of AuditStore names its field and what is allowed (and never repeats the key); the
// certificate checks (chain, subjectAltName, validity, key) with controls that pass; the store's
// pg_hba.conf; and, at registration level, what a published store declares — and that a stack
// without `publish` registers what it always did.
import { beforeAll, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { AuditStore, OpenClawPlatform, planPlatform, type OpenClawPlatformArgs } from "../src/index.js";
import { publishAddressProblem, publishedStoreHba, serverCertificateProblems, serverKeyProblem } from "../src/planners/audit-tls.js";
import { configProblems, PINNED } from "./harness.js";
import { HOST_B, collect, multiHostConfig, recordRegistrations, type Registration, type Registrations } from "./registrations.js";
import { makeAuditTlsPki, type AuditTlsPki } from "../../../test/support/audit-tls-pki.js";

const ADDR = "192.0.2.10";
let pki: AuditTlsPki;
beforeAll(async () => {
  pki = makeAuditTlsPki(ADDR);
  await recordRegistrations();
});

const TWO = [{ name: "a" }, { name: "b", endpoint: "unix:///run/octw-b/docker.sock" }];
const publish = (extra: Record<string, unknown> = {}) => ({ address: ADDR, certificate: pki.cert, key: pulumi.secret(pki.key), ...extra });
const embedded = (extra: Record<string, unknown> = {}) => ({ mode: "embedded", caCertificate: pki.ca, publish: publish(), ...extra });
const plan = (audit: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  planPlatform({ images: PINNED, tenants: [{ id: "alpha", slot: 1 }], audit, hosts: TWO, ...extra }, "p");
const problems = (audit: Record<string, unknown>, extra: Record<string, unknown> = {}) => configProblems(() => plan(audit, extra));

describe("planner: where the audit store may be across hosts", () => {
  it("accepts an embedded store published with a certificate of its CA, on the first host or a named one (controls)", () => {
    expect(plan(embedded()).auditHost).toBe("a");
    expect(plan(embedded({ publish: publish({ host: "b", port: 15432 }) })).auditHost).toBe("b");
    expect(plan(embedded({ sslMode: "verify-full" })).auditHost).toBe("a");
    // a key given as a plain string is checked now, and passes
    expect(plan(embedded({ publish: publish({ key: pki.key }) })).auditHost).toBe("a");
    // one remote host: published, the program reaches it
    expect(() => plan(embedded(), { hosts: [{ name: "b", endpoint: "ssh://octw@host-b" }] })).not.toThrow();
  });

  it("embedded without publish is refused on several hosts and on one remote host, naming audit.publish", () => {
    expect(problems({ mode: "embedded" })).toEqual([
      'audit.publish: is required with mode "embedded" when the platform has more than one host: the store is reachable on its own host only, and no audit traffic crosses hosts in plaintext (or use mode "external" with sslMode "verify-full")',
    ]);
    expect(problems({ mode: "embedded" }, { hosts: [{ name: "b", endpoint: "ssh://octw@host-b" }] })[0]).toMatch(/^audit\.publish: is required with mode "embedded" when the host is a remote engine/);
    // control: one local host keeps the unpublished store
    expect(() => plan({ mode: "embedded" }, { hosts: [{ name: "a" }] })).not.toThrow();
  });

  it("publish with mode external, an unknown host, the wildcard or loopback, or a weaker sslMode is refused", () => {
    const external = { mode: "external", host: "192.0.2.21", adminUser: "u", adminPassword: "x".repeat(24), sslMode: "verify-full", caCertificate: pki.ca };
    expect(problems({ ...external, publish: publish() })).toEqual(['audit.publish: is used only by mode "embedded" (an external server is published by its operator)']);
    expect(problems(embedded({ publish: publish({ host: "zz" }) }))).toEqual(["audit.publish.host: must name one of hosts[].name"]);
    expect(problems(embedded({ publish: publish({ address: "0.0.0.0" }) }))).toContain("audit.publish.address: must be one address of the host, not 0.0.0.0 (every interface, the Docker bridges included)");
    expect(problems(embedded({ publish: publish({ address: "127.0.0.1" }) }))).toContain("audit.publish.address: must be an address other hosts reach, not loopback");
    expect(problems(embedded({ publish: publish({ address: "not-an-ip" }) }))[0]).toMatch(/^audit\.publish\.address: /);
    for (const sslMode of ["disable", "require", "verify-ca"]) {
      expect(problems(embedded({ sslMode }))).toEqual(['audit.sslMode: must be "verify-full" (or unset) with audit.publish: every connection from outside the store\'s control network verifies the server']);
    }
    expect(problems(embedded({ publish: publish({ port: 0 }) }))[0]).toMatch(/^audit\.publish\.port: /);
  });

  it("the CA is required; the certificate must chain to it, name the address, be valid; the key must be the certificate's (never echoed)", () => {
    expect(problems({ mode: "embedded", publish: publish() })).toEqual(["audit.caCertificate: is required with audit.publish: the CA every client verifies the published store against"]);
    // another CA's certificate
    expect(problems(embedded({ publish: publish({ certificate: pki.otherCert }) }))).toEqual([
      "audit.publish.certificate: must be issued and signed by audit.caCertificate (every client verifies the server against that CA)",
    ]);
    // a certificate for another address
    expect(problems(embedded({ publish: publish({ address: "192.0.2.11" }) }))).toEqual([
      "audit.publish.certificate: must name audit.publish.address in its subjectAltName (IP:192.0.2.11): clients connect with sslmode verify-full, which checks it",
    ]);
    // the key of the other certificate, given as a plain string (an Output is checked at deployment: AuditStore below)
    const wrongKey = problems(embedded({ publish: publish({ key: pki.otherKey }) }));
    expect(wrongKey).toEqual(["audit.publish.key: is not the private key of the certificate"]);
    expect(problems(embedded({ publish: publish({ key: "not a key" }) }))).toEqual(["audit.publish.key: must be a PEM private key (unencrypted: Postgres reads it at start without a passphrase)"]);
    // the server certificate is not a CA: it cannot be the CA
    expect(problems(embedded({ caCertificate: pki.cert }))).toContain("audit.caCertificate: must be a CA certificate (basicConstraints CA:TRUE): the clients verify the server against it");
    expect(problems(embedded({ publish: publish({ certificate: "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n" }) }))).toContain("audit.publish.certificate: must be a PEM certificate that parses as X.509");
    // no message repeats key material
    for (const m of [...wrongKey, ...problems(embedded({ publish: publish({ key: "not a key" }) }))]) expect(m).not.toMatch(/PRIVATE KEY|not a key/);
  });

  it("validity is checked against the clock (a certificate past its end is refused)", () => {
    const t = { caCertificate: pki.ca, certificate: pki.cert, address: ADDR };
    const at = { caCertificate: "ca", certificate: "cert", address: "addr" };
    expect(serverCertificateProblems(t, at)).toEqual([]);
    const later = new Date(Date.now() + 10 * 86_400_000);
    expect(serverCertificateProblems(t, at, later).map((p) => p.path)).toEqual(["cert", "ca"]);
    expect(serverCertificateProblems(t, at, later)[0]!.message).toMatch(/^is not valid now/);
  });

  it("audit.caCertificate stays refused where nothing verifies against it", () => {
    expect(configProblems(() => planPlatform({ images: PINNED, tenants: [{ id: "alpha", slot: 1 }], audit: { mode: "embedded", caCertificate: pki.ca } }, "p"))).toEqual([
      'audit.caCertificate: is used only by mode "external" with sslMode "verify-ca" or "verify-full", or mode "embedded" with audit.publish (a CA nobody verifies against would be a false assurance)',
    ]);
  });

  it("external stores keep their rules (controls)", () => {
    const external = { mode: "external", host: "192.0.2.21", adminUser: "u", adminPassword: "x".repeat(24) };
    expect(problems({ ...external, sslMode: "require" })[0]).toMatch(/^audit\.sslMode: must be "verify-full" when the platform has more than one host/);
    expect(() => plan({ ...external, sslMode: "verify-full" })).not.toThrow();
  });
});

describe("pure rules", () => {
  it("the published address is one address: not the wildcard, not loopback", () => {
    expect(publishAddressProblem("0.0.0.0")).toMatch(/not 0\.0\.0\.0/);
    expect(publishAddressProblem("127.0.0.5")).toMatch(/loopback/);
    expect(publishAddressProblem("10.0.0.12")).toBeUndefined();
  });

  it("pg_hba: the control network's gateway without TLS is refused before the control network's plaintext line; everyone else hostssl only", () => {
    const lines = publishedStoreHba("10.63.1.0/28").split("\n").filter((l) => l && !l.startsWith("#"));
    expect(lines).toEqual(["local all all scram-sha-256", "hostnossl all all 10.63.1.1/32 reject", "host all all 10.63.1.0/28 scram-sha-256", "hostssl all all 0.0.0.0/0 scram-sha-256"]);
    // no line admits a plaintext login from outside the control network: the only `host` line is the subnet's
    expect(lines.filter((l) => l.startsWith("host ")).map((l) => l.split(/\s+/)[3])).toEqual(["10.63.1.0/28"]);
    expect(() => publishedStoreHba("nope")).toThrow(/controlSubnet/);
  });

  it("a key is checked against the certificate without being repeated", () => {
    expect(serverKeyProblem(pki.cert, pki.key)).toBeUndefined();
    expect(serverKeyProblem(pki.cert, pki.otherKey)).toBe("is not the private key of the certificate");
  });
});

describe("AuditStore with embedded.publish", () => {
  const args = (p: Record<string, unknown> = {}) => ({
    mode: "embedded" as const,
    embedded: { image: PINNED.postgres, networkName: "octw-control", address: "10.63.1.2", publish: { address: ADDR, certificate: pki.cert, key: pulumi.secret(pki.key), caCertificate: pki.ca, controlSubnet: "10.63.1.0/28", ...p } },
  });
  const fails = (a: unknown) => configProblems(() => AuditStore.validate("s", a as never));

  it("validates like the planner, with its own field names", () => {
    expect(() => AuditStore.validate("s", args() as never)).not.toThrow();
    expect(fails(args({ address: "0.0.0.0" }))).toContain("embedded.publish.address: must be one address of the host, not 0.0.0.0 (every interface, the Docker bridges included)");
    expect(fails(args({ caCertificate: pki.otherCa }))).toEqual(["embedded.publish.certificate: must be issued and signed by embedded.publish.caCertificate (every client verifies the server against that CA)"]);
    expect(fails(args({ controlSubnet: "10.99.0.0/24" }))).toEqual(["embedded.publish.controlSubnet: must contain embedded.address (the store's control network)"]);
    expect(fails(args({ key: pki.otherKey }))).toEqual(["embedded.publish.key: is not the private key of the certificate"]);
  });
});

const program = (config: Record<string, unknown>): Promise<Registrations> => collect(() => new OpenClawPlatform("p", config as unknown as OpenClawPlatformArgs));
const byName = (rs: Registrations, suffix: string): Registration => {
  const r = [...rs.values()].find((x) => x.urn.endsWith(`::${suffix}`));
  if (!r) throw new Error(`no ${suffix}`);
  return r;
};
const uploads = (r: Registration) => (r.inputs.uploads ?? []) as { file: string; content: string; permissions: string; owner: string }[];
const urlIn = (r: Registration) => new URL(uploads(r).find((u) => /^\/state\/secrets\/(audit-)?db-url$/.test(u.file))!.content);

describe("a platform with a published embedded store (registrations)", () => {
  const tenants = [{ id: "alpha", slot: 1, policy: { version: 1, inference: { providers: [{ name: "openai", api: "openai", baseUrl: "https://api.openai.example", models: ["m"] }] } } }, { id: "bravo", slot: 2, host: "b", suspend: { stopAfterS: 600 } }];
  const config = (audit: Record<string, unknown>, hosts: unknown[] = [{ name: "local" }, HOST_B]) => multiHostConfig({ hosts, audit }, tenants);

  it("the store: TLS volume filled by a no-network init (key 0400 owned by postgres, secret), port on the named address only, ssl and hba settings", async () => {
    const rs = await program(config(embedded()));
    const init = byName(rs, "p-audit-tls-init");
    expect(init.inputs.networkMode).toBe("none");
    const files = Object.fromEntries(uploads(init).map((u) => [u.file.slice(u.file.lastIndexOf("/") + 1), u]));
    expect(Object.keys(files).sort()).toEqual(["pg_hba.conf", "server.crt", "server.key"]);
    expect(files["server.key"]).toMatchObject({ content: pki.key, permissions: "0400", owner: "5432" });
    expect(init.secretPaths.length).toBeGreaterThan(0);
    expect(init.visible).not.toContain("PRIVATE KEY");
    expect(files["pg_hba.conf"]!.content).toBe(publishedStoreHba("10.63.1.0/28"));
    const pg = byName(rs, "p-audit-postgres");
    expect(pg.inputs.ports).toEqual([{ internal: 5432, external: 5432, ip: ADDR, protocol: "tcp" }]);
    expect(pg.inputs.command).toEqual(expect.arrayContaining(["ssl=on", "hba_file=/var/lib/postgresql/tls/pg_hba.conf", "ssl_key_file=/var/lib/postgresql/tls/server.key"]));
    expect((pg.inputs.mounts as { target: string; readOnly?: boolean }[]).find((m) => m.target === "/var/lib/postgresql/tls")?.readOnly).toBe(true);
    // the mapping needs a network that is not internal (Docker maps no port of an internal one): the store's own, icc off
    const net = byName(rs, "p-audit-publish");
    expect(net.inputs).toMatchObject({ name: "octwtest-audit-publish", internal: false, options: { "com.docker.network.bridge.enable_icc": "false" } });
    expect((pg.inputs.networksAdvanced as { name: string }[]).map((n) => n.name)).toEqual(["octwtest-control", "octwtest-audit-publish"]);
    // the program's own connections: the provider, the migrations, the tenant reader bindings
    const provider = byName(rs, "p-audit-admin");
    expect(provider.inputs).toMatchObject({ host: ADDR, port: "5432", sslmode: "verify-full" });
    const sql = [...rs.values()].filter((r) => r.type === "pulumi-nodejs:dynamic:Resource" && "sql" in r.inputs);
    expect(sql.length).toBe(3);
    for (const r of sql) expect(r.inputs, r.urn).toMatchObject({ host: ADDR, port: 5432, sslMode: "verify-full", caCertificate: pki.ca });
  });

  it("services on other hosts connect to the published address with verify-full against the CA; the store host's keep the control network", async () => {
    const rs = await program(config(embedded()));
    const remote = ["p.b-edge-state-init", "p.b-waker-state-init", "p.b-egress-audit-state-init"];
    for (const n of remote) {
      const r = byName(rs, n);
      const url = urlIn(r);
      expect([url.hostname, url.port, url.searchParams.get("sslmode")], n).toEqual([ADDR, "5432", "verify-full"]);
      expect(url.searchParams.get("sslrootcert"), n).toMatch(/\/config\/audit-ca\.pem$/);
      expect(uploads(r).find((u) => u.file.endsWith("/config/audit-ca.pem"))?.content, n).toBe(pki.ca);
    }
    for (const n of ["p-edge-state-init", "p-inference-router-state-init", "p-egress-audit-state-init"]) {
      const r = byName(rs, n);
      const url = urlIn(r);
      expect([url.hostname, url.port, url.searchParams.get("sslmode")], n).toEqual(["10.63.1.2", "5432", null]);
      expect(uploads(r).some((u) => u.file.endsWith("audit-ca.pem")), n).toBe(false);
    }
    // The socket holders' only network is the internal control network: on another host it cannot
    // reach the store, so there (only there) they also get the host's egress network, a route out.
    const networks = (n: string) => (byName(rs, n).inputs.networksAdvanced as { name: string }[]).map((x) => x.name);
    expect(networks("p.b-waker-waker")).toEqual(["octwtest-control", "octwtest-egress"]);
    expect(networks("p.b-egress-audit-shipper")).toEqual(["octwtest-control", "octwtest-egress"]);
    expect(networks("p-egress-audit-shipper")).toEqual(["octwtest-control"]);
  });

  it("a host's own engine socket (hosts[].dockerSocketGid/Path) is what its waker and shipper use; the other hosts keep the platform's", async () => {
    const tenants = [{ id: "alpha", slot: 1, suspend: { stopAfterS: 600 } }, { id: "bravo", slot: 2, host: "b", suspend: { stopAfterS: 600 } }];
    const rs = await program(multiHostConfig({ hosts: [{ name: "local" }, { ...HOST_B, dockerSocketGid: 4321, dockerSocketPath: "/run/docker-b.sock" }] }, tenants));
    const text = (n: string) => JSON.stringify(byName(rs, n).inputs);
    for (const n of ["p.b-waker-waker", "p.b-egress-audit-shipper"]) {
      expect(text(n), n).toContain("/run/docker-b.sock");
      expect(text(n), n).toContain("4321");
      expect(text(n), n).not.toContain("/var/run/docker.sock");
    }
    expect(byName(rs, "p.b-egress-audit-shipper").inputs.groupAdds).toEqual(["4321"]);
    // control: the first host's keep the platform's socket (998, the default path)
    for (const n of ["p-waker-waker", "p-egress-audit-shipper"]) {
      expect(text(n), n).toContain("/var/run/docker.sock");
      expect(text(n), n).not.toContain("4321");
    }
    expect(byName(rs, "p-egress-audit-shipper").inputs.groupAdds).toEqual(["998"]);
  });

  it("with an external store every host's waker and shipper get the route (control: an embedded store on one host: control network only)", async () => {
    const rs = await program(multiHostConfig({ hosts: [{ name: "local" }, HOST_B] }, [{ id: "alpha", slot: 1, suspend: { stopAfterS: 600 } }, { id: "bravo", slot: 2, host: "b", suspend: { stopAfterS: 600 } }]));
    const networks = (r: Registrations, n: string) => (byName(r, n).inputs.networksAdvanced as { name: string }[]).map((x) => x.name);
    for (const n of ["p-waker-waker", "p.b-waker-waker", "p-egress-audit-shipper", "p.b-egress-audit-shipper"]) expect(networks(rs, n), n).toEqual(["octwtest-control", "octwtest-egress"]);
    const single = await program(multiHostConfig({ audit: { mode: "embedded" } }, [{ id: "alpha", slot: 1, suspend: { stopAfterS: 600 } }]));
    for (const n of ["p-waker-waker", "p-egress-audit-shipper"]) expect(networks(single, n), n).toEqual(["octwtest-control"]);
  });

  it("a tenant's credential bindings are read by the program over verify-full against the same CA (control: no CA without one)", async () => {
    const bound = { version: 1, network_policies: { code: { endpoints: [{ host: "api.code.example", port: 443, protocol: "rest", access: "full", credential_binding: { provider: "gh" } }] } } };
    const withBinding = [{ id: "alpha", slot: 1, policy: bound }, { id: "bravo", slot: 2, host: "b", policy: bound }];
    const creds = (rs: Registrations) => [...rs.values()].filter((r) => r.type === "pulumi-nodejs:dynamic:Resource" && "masterKeyring" in r.inputs);
    const published = creds(await program(multiHostConfig({ hosts: [{ name: "local" }, HOST_B], audit: embedded() }, withBinding)));
    expect(published.length).toBe(2);
    for (const r of published) expect([r.inputs.caCertificate, (r.inputs.connection as { host: string; sslMode: string }).sslMode], r.urn).toEqual([pki.ca, "verify-full"]);
    const local = creds(await program(multiHostConfig({ audit: { mode: "embedded" } }, [withBinding[0]!])));
    expect(local.length).toBe(1);
    expect(local[0]!.inputs).not.toHaveProperty("caCertificate");
  });

  it("audit.publish.host moves the store (and which services are local) to that host", async () => {
    const rs = await program(config(embedded({ publish: publish({ host: "b" }) })));
    expect(byName(rs, "p-audit-postgres").provider).toMatch(/p\.b-docker$/);
    expect(urlIn(byName(rs, "p.b-edge-state-init")).hostname).toBe("10.63.1.2");
    expect(urlIn(byName(rs, "p-edge-state-init")).hostname).toBe(ADDR);
  });

  it("a single-host stack without publish registers what it did before: no TLS part, plaintext on the control network (and adding publish changes only the store's connections)", async () => {
    const one = await program(multiHostConfig({ audit: { mode: "embedded" } }, [tenants[0]!, { id: "bravo", slot: 2 }]));
    const types = [...one.values()].map((r) => r.urn.slice(r.urn.lastIndexOf("::") + 2));
    expect(types.filter((n) => /audit-tls/.test(n))).toEqual([]);
    const pg = byName(one, "p-audit-postgres");
    expect(pg.inputs).not.toHaveProperty("ports");
    expect(pg.inputs).not.toHaveProperty("command");
    expect(byName(one, "p-audit-admin").inputs).toMatchObject({ host: "10.63.1.2", sslmode: "disable" });
    expect(urlIn(byName(one, "p-edge-state-init")).searchParams.get("sslmode")).toBeNull();
  });
});
