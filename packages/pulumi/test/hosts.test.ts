// The platform's `hosts` (src/planners/hosts.ts): endpoints checked without echoing them, the
// multi-host rules (external audit, verified), and per-host budgets through planPlatform.
import { describe, expect, it } from "vitest";
import { parseEndpoint, planPlatform } from "../src/index.js";
import { PINNED, configProblems } from "./harness.js";
import { JWK } from "./registrations.js";

const TLS = { ca: "ca-pem", cert: "cert-pem", key: "key-pem" };
const EXTERNAL = { mode: "external", host: "192.0.2.20", adminUser: "octw_admin", adminPassword: "x".repeat(24), sslMode: "verify-full" };
const plan = (extra: Record<string, unknown>, tenants: Record<string, unknown>[] = [{ id: "alpha", slot: 1 }]) =>
  planPlatform({ images: PINNED, tenants, audit: { mode: "embedded" }, ...extra }, "p");
const problems = configProblems;

describe("parseEndpoint", () => {
  it.each([
    ["unix:///var/run/docker.sock", false, { kind: "unix", socketPath: "/var/run/docker.sock" }],
    ["tcp://192.0.2.5:2376", true, { kind: "tcp", address: "192.0.2.5", port: 2376 }],
    ["ssh://octw@host-b.internal", false, { kind: "ssh", user: "octw", address: "host-b.internal", port: 22 }],
    ["ssh://octw@host-b.internal:2222", false, { kind: "ssh", port: 2222 }],
  ])("accepts %s", (endpoint, tls, expected) => {
    expect(parseEndpoint(endpoint, tls)).toMatchObject({ endpoint: expected });
  });

  it("no endpoint is the program's own engine", () => {
    expect(parseEndpoint(undefined, false)).toEqual({ endpoint: { kind: "default" } });
  });

  it.each([
    ["tcp://192.0.2.5:2376", false, /plaintext engine API/],
    ["tcp://192.0.2.5", true, /must name the port/],
    ["tcp://admin@192.0.2.5:2376", true, /must not carry a user name/],
    ["ssh://octw:hunter2pw@host-b:22", false, /must not carry a password/],
    ["ssh://host-b", false, /must name the ssh user/],
    ["ssh://octw@host-b", true, /tls applies to tcp:\/\/ endpoints only/],
    ["unix://relative.sock", false, /absolute socket path/],
    ["unix:///run/docker.sock", true, /tls applies to tcp:\/\/ endpoints only/],
    ["http://192.0.2.5:2375", false, /must be unix/],
    ["tcp://192.0.2.5:2376/v1.41", true, /must not have a path/],
    ["not a url", false, /must be unix/],
  ])("refuses %s (tls: %s)", (endpoint, tls, why) => {
    const r = parseEndpoint(endpoint, tls);
    expect(r.endpoint).toBeUndefined();
    expect(r.problem).toMatch(why);
    // never the value: an endpoint may carry a credential
    expect(r.problem).not.toContain(endpoint);
    expect(r.problem).not.toContain("hunter2");
  });
});

describe("hosts in the platform config", () => {
  it("without hosts: one default host named local, every tenant on it, the platform's capacity as its budget", () => {
    const p = plan({ capacity: { hostMemoryMb: 24_576, maxActive: 0 } }, [{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2 }]);
    expect(p.hosts).toEqual([{ name: "local", endpoint: { kind: "default" }, sshOpts: [], capacity: { hostMemoryMb: 24_576, maxActive: 0 }, resourceInfix: "" }]);
    expect(p.tenants.map((t) => t.host)).toEqual(["local", "local"]);
  });

  it("several hosts: pins honoured, unpinned tenants on the first; only the program's own engine keeps the bare names", () => {
    const p = plan(
      { audit: EXTERNAL, hosts: [{ name: "home" }, { name: "b", endpoint: "tcp://192.0.2.5:2376", tls: TLS }, { name: "c", endpoint: "ssh://octw@host-c", sshOpts: ["-o", "BatchMode=yes"] }] },
      [{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2, host: "c" }, { id: "charlie", slot: 3, host: "b" }],
    );
    expect(p.tenants.map((t) => [t.config.id, t.host])).toEqual([["alpha", "home"], ["bravo", "c"], ["charlie", "b"]]);
    expect(p.hosts.map((h) => [h.name, h.endpoint.kind, h.resourceInfix, h.label])).toEqual([["home", "default", "", undefined], ["b", "tcp", ".b", "b"], ["c", "ssh", ".c", "c"]]);
    expect(p.placement.tenantsOf.get("b")).toEqual(["charlie"]);
  });

  it("refuses bad host lists naming each field, never echoing an endpoint", () => {
    const secretish = "ssh://octw:hunter2pw@host-b";
    const msgs = problems(() =>
      plan({
        audit: EXTERNAL,
        hosts: [
          { name: "a" },
          { name: "a", endpoint: "tcp://192.0.2.5:2376", tls: TLS },
          { name: "c" },
          { name: "d", endpoint: "tcp://192.0.2.5:2376", tls: TLS, sshOpts: ["-v"] },
          { name: "e", endpoint: secretish },
        ],
      }),
    );
    expect(msgs).toEqual([
      "hosts[1].name: is already used by hosts[0]; host names are unique",
      "hosts[2].endpoint: is required: hosts[0] already is the program's own engine (the one host without an endpoint)",
      "hosts[3].endpoint: is the engine of hosts[1] too; each host is its own engine",
      "hosts[3].sshOpts: applies to ssh:// endpoints only",
      "hosts[4].endpoint: must not carry a password: use the ssh client's keys (sshOpts -i) for ssh://, tls for tcp://",
    ]);
    expect(msgs.join("\n")).not.toContain("hunter2");
  });

  it("schema problems name the field: host name, empty list, unknown field, tenant pin", () => {
    expect(problems(() => plan({ hosts: [] }))).toEqual(["hosts: must list at least one host (or leave hosts out: the program's own engine)"]);
    expect(problems(() => plan({ hosts: [{ name: "Bad_Name" }] }))[0]).toMatch(/^hosts\[0\]\.name: must be a lowercase DNS label/);
    expect(problems(() => plan({ hosts: [{ name: "a", port: 1 }] }))[0]).toMatch(/^hosts\[0\]/);
    expect(problems(() => plan({}, [{ id: "alpha", slot: 1, host: "nope" }]))).toEqual(["tenants[0].host: names no host of this platform (hosts: local)"]);
  });

  it("more than one host needs the external audit store with verify-full (or the embedded one published: audit-publish.test.ts): no audit traffic crosses hosts unverified", () => {
    const two = [{ name: "a" }, { name: "b", endpoint: "unix:///run/octw-b/docker.sock" }];
    expect(problems(() => plan({ hosts: two }))).toEqual([
      'audit.publish: is required with mode "embedded" when the platform has more than one host: the store is reachable on its own host only, and no audit traffic crosses hosts in plaintext (or use mode "external" with sslMode "verify-full")',
    ]);
    expect(problems(() => plan({ hosts: two, audit: { ...EXTERNAL, sslMode: "require" } }))).toEqual([
      "audit.sslMode: must be \"verify-full\" when the platform has more than one host: audit connections cross hosts, so the server's certificate is verified",
    ]);
    // one remote host: the program could not reach the embedded store on it
    expect(problems(() => plan({ hosts: [{ name: "b", endpoint: "ssh://octw@host-b" }] }))).toEqual([
      "audit.publish: is required with mode \"embedded\" when the host is a remote engine (tcp:// or ssh://): the program reaches an unpublished store at its address on that host's control network, which only that machine routes (or use mode \"external\")",
    ]);
    expect(() => plan({ hosts: [{ name: "b", endpoint: "unix:///run/octw-b/docker.sock" }] })).not.toThrow();
    // positive controls: one host may keep the embedded store; verify-full is accepted
    expect(() => plan({ hosts: [{ name: "a" }] })).not.toThrow();
    expect(() => plan({ hosts: two, audit: EXTERNAL })).not.toThrow();
  });

  it("an external store named by a DNS name is refused while an edge, waker or shipper must reach it (they resolve only container names); an IP address, or no such service, is accepted", () => {
    const edge = { edge: { jwt: { issuer: "https://issuer.test", audience: "octw", algorithms: ["ES256"], jwks: [JWK] } }, images: { ...PINNED, edge: `sha256:${"e".repeat(64)}` } };
    const named = { ...EXTERNAL, host: "audit.example.com" };
    const refused = problems(() => plan({ ...edge, audit: named }));
    expect(refused).toEqual([expect.stringMatching(/^audit\.host: must be an IP address when the platform runs the edge: they resolve only container names \(dns 127\.0\.0\.1/)]);
    // never the value
    expect(refused.join()).not.toContain("audit.example.com");
    // controls: the same name without any such service; the same services with an address
    expect(() => plan({ audit: named })).not.toThrow();
    expect(() => plan({ ...edge, audit: EXTERNAL })).not.toThrow();
    expect(() => plan({ ...edge, audit: { ...EXTERNAL, host: "2001:db8::20" } })).not.toThrow();
  });

  it("a host's engine socket group is checked like the platform's (not root, not a tenant's id), naming hosts[i]", () => {
    const two = (gid: number) => [{ name: "a" }, { name: "b", endpoint: "unix:///run/octw-b/docker.sock", dockerSocketGid: gid }];
    expect(problems(() => plan({ hosts: two(0), audit: EXTERNAL }))).toEqual([expect.stringMatching(/^hosts\[1\]\.dockerSocketGid: must be the engine socket's group \(not root\)/)]);
    expect(problems(() => plan({ hosts: two(10_005), audit: EXTERNAL }))).toEqual([expect.stringMatching(/^hosts\[1\]\.dockerSocketGid: is reserved for a shared service/)]);
    // control: an ordinary docker group
    expect(() => plan({ hosts: two(998), audit: EXTERNAL })).not.toThrow();
  });

  it("per-host budgets: the host's own, else the platform's; a refusal names that path and proposes pins", () => {
    const tenants = [{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2 }, { id: "charlie", slot: 3 }];
    const hosts = [{ name: "a" }, { name: "b", endpoint: "unix:///run/octw-b/docker.sock", capacity: { hostMemoryMb: 8192, maxActive: 0 } }];
    const msgs = problems(() => plan({ audit: EXTERNAL, hosts, capacity: { hostMemoryMb: 2464, maxActive: 0 } }, tenants));
    expect(msgs).toEqual([
      'capacity.hostMemoryMb: is too small for the tenants that can be resident at once on host "a": 3 always-on tenant(s) = 2160 MiB + 0 active of 0 suspendable tenant(s) = 0 MiB (resident cost 720 MiB per tenant) + 1024 MiB reserved = 3184 MiB; hostMemoryMb is 2464 MiB; the planner proposes pinning tenants[2].host: "b"',
    ]);
    // the proposal recorded as a pin fits
    const p = plan({ audit: EXTERNAL, hosts, capacity: { hostMemoryMb: 2464, maxActive: 0 } }, [...tenants.slice(0, 2), { ...tenants[2]!, host: "b" }]);
    expect(p.tenants.map((t) => t.host)).toEqual(["a", "a", "b"]);
    // a host's own budget is named by its own path
    expect(problems(() => plan({ audit: EXTERNAL, hosts: [{ name: "a", capacity: { hostMemoryMb: 1024, maxActive: 0 } }, hosts[1]] }, tenants))[0]).toMatch(
      /^hosts\[0\]\.capacity\.hostMemoryMb: is too small .* on host "a": .*= 3184 MiB; hostMemoryMb is 1024 MiB; the planner proposes pinning tenants\[2\]\.host: "b", tenants\[1\]\.host: "b", tenants\[0\]\.host: "b"$/,
    );
  });
});
