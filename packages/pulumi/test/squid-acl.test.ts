/**
 * An allowlisted name must not become a path to a forbidden address. Squid's `dst` ACL matches
 * when ANY resolved address matches, so the rendered config must refuse a name as soon as ONE
 * of its addresses is outside what its endpoint allows. Checked here with a small evaluator of
 * the Squid subset the planner emits (same "any address" semantics), over generated policies
 * and DNS answers; test/conformance/egress-dns-mixed.docker.test.ts checks it with real Squid.
 */
import fc from "fast-check";
import { BlockList, isIP } from "node:net";
import { describe, expect, it } from "vitest";
import { parsePolicyDocument, planEnforcement } from "@octw/contracts";
import { NON_PUBLIC_IPV4, NON_PUBLIC_IPV6, renderSquidConfig, type EgressRule } from "../src/index.js";
import { cidrContains, complementCidrs, parseCidrRange } from "../src/planners/ip-ranges.js";

interface Acl {
  type: string;
  values: string[];
}

/** Evaluates the config's http_access for a CONNECT, with Squid's semantics for the ACL types the planner uses. */
function squidDecides(config: string, req: { method: string; host: string; port: number; addresses: string[] }): "allow" | "deny" {
  const acls = new Map<string, Acl>();
  const access: { action: string; terms: string[] }[] = [];
  for (const raw of config.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("acl ")) {
      const [, name, type, ...rest] = line.split(/\s+/);
      const values = rest.filter((v) => v !== "-n" && v !== "-i");
      const acl = acls.get(name!) ?? { type: type!, values: [] };
      expect(acl.type).toBe(type);
      acl.values.push(...values);
      acls.set(name!, acl);
    } else if (line.startsWith("http_access ")) {
      const [, action, ...terms] = line.split(/\s+/);
      access.push({ action: action!, terms });
    }
  }
  const matches = (acl: Acl): boolean => {
    switch (acl.type) {
      case "method":
        return acl.values.includes(req.method);
      case "dstdomain":
        // Squid compares the target's host as written first (an IP literal by its text: what the
        // router's entry relies on); -n: never a reverse lookup, so an IP literal matches no name.
        return acl.values.some((v) => (v.startsWith(".") ? req.host.endsWith(v) || req.host === v.slice(1) : req.host === v));
      case "dstdom_regex":
        return isIP(req.host) === 0 && acl.values.some((v) => new RegExp(v, "i").test(req.host));
      case "port":
        return acl.values.map(Number).includes(req.port);
      case "dst":
        // ANY resolved address in ANY listed network.
        return req.addresses.some((a) => acl.values.some((c) => cidrContains(c, a)));
      case "all":
        return true;
      default:
        throw new Error(`evaluator does not know acl type ${acl.type}`);
    }
  };
  for (const rule of access) {
    const all = rule.terms.every((t) => {
      if (t === "all") return true;
      const neg = t.startsWith("!");
      const acl = acls.get(neg ? t.slice(1) : t);
      if (!acl) throw new Error(`undefined acl ${t}`);
      return matches(acl) !== neg;
    });
    if (all) return rule.action === "allow" ? "allow" : "deny";
  }
  return "deny";
}

// Two lists: node's BlockList would match every IPv4 address against ::ffff:0:0/96.
const nonPublic4 = new BlockList();
const nonPublic6 = new BlockList();
for (const c of NON_PUBLIC_IPV4) nonPublic4.addSubnet(c.split("/")[0]!, Number(c.split("/")[1]), "ipv4");
for (const c of NON_PUBLIC_IPV6) nonPublic6.addSubnet(c.split("/")[0]!, Number(c.split("/")[1]), "ipv6");
const isPublic = (a: string) => !(isIP(a) === 4 ? nonPublic4.check(a, "ipv4") : nonPublic6.check(a, "ipv6"));

/** The intended semantics: some endpoint matches name and port, and EVERY address is acceptable to it. */
function intended(rules: readonly EgressRule[], req: { host: string; port: number; addresses: string[] }): "allow" | "deny" {
  if (req.addresses.length === 0) return "deny";
  const ok = rules.some((r) => {
    // Without host (OpenShell's hostless form), any name or IP literal: the addresses decide.
    const nameOk = r.host === undefined || (r.host.startsWith("*.") ? req.host.endsWith(r.host.slice(1)) && req.host.split(".").length === r.host.split(".").length : req.host === r.host);
    if (!nameOk || !r.ports.includes(req.port)) return false;
    return req.addresses.every((a) => (r.allowedIps.length ? r.allowedIps.some((c) => cidrContains(c, a)) : isPublic(a)));
  });
  return ok ? "allow" : "deny";
}

const METADATA = "169.254.169.254";

describe("ip-ranges", () => {
  it("complement: every address is in exactly one of the set and its complement (v4 and v6)", () => {
    const v4cidr = fc.tuple(fc.ipV4(), fc.integer({ min: 8, max: 32 })).map(([a, l]) => {
      const r = parseCidrRange(`${a}/${l}`);
      return `${[24n, 16n, 8n, 0n].map((s) => ((r.range.start >> s) & 255n).toString()).join(".")}/${l}`;
    });
    fc.assert(
      fc.property(fc.array(v4cidr, { minLength: 1, maxLength: 4 }), fc.array(fc.ipV4(), { minLength: 1, maxLength: 20 }), (set, probes) => {
        const comp = complementCidrs(set, 4);
        for (const p of probes) expect(set.some((c) => cidrContains(c, p)) !== comp.some((c) => cidrContains(c, p))).toBe(true);
        for (const c of set) expect(comp.some((x) => cidrContains(x, c.split("/")[0]!))).toBe(false);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 32, max: 128 }), fc.array(fc.ipV6(), { minLength: 1, maxLength: 10 }), (a, l, probes) => {
        const r = parseCidrRange(`${a}/${l}`);
        const base = complementCidrs([], 6)[0]!; // "::/0"
        expect(base).toBe("::/0");
        const comp = complementCidrs([`${a}/${l}`], 6);
        for (const p of [...probes, a]) {
          const inSet = parseCidrRange(p).range.start >= r.range.start && parseCidrRange(p).range.start <= r.range.end;
          expect(inSet !== comp.some((c) => cidrContains(c, p)), p).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
    expect(complementCidrs(["10.250.12.10"], 4)).toHaveLength(32);
    expect(complementCidrs([], 4)).toEqual(["0.0.0.0/0"]);
  });
});

describe("Squid config: a name with ANY forbidden resolved address is refused", () => {
  const allowedPrivate: EgressRule = { policy: "git", host: "git.corp.example", ports: [443], allowedIps: ["10.20.0.7"] };
  const publicOnly: EgressRule = { policy: "api", host: "api.example.com", ports: [443], allowedIps: [] };
  const config = renderSquidConfig({ tenantId: "t", rules: [allowedPrivate, publicOnly] });

  it.each([
    ["allowed private address only (positive control)", "git.corp.example", ["10.20.0.7"], "allow"],
    ["allowed private + metadata", "git.corp.example", ["10.20.0.7", METADATA], "deny"],
    ["metadata + allowed private (order)", "git.corp.example", [METADATA, "10.20.0.7"], "deny"],
    ["allowed private + another private", "git.corp.example", ["10.20.0.7", "10.20.0.8"], "deny"],
    ["allowed private + a public address", "git.corp.example", ["10.20.0.7", "93.184.216.34"], "deny"],
    ["allowed private + IPv6 link-local", "git.corp.example", ["10.20.0.7", "fe80::1"], "deny"],
    ["public only (positive control)", "api.example.com", ["93.184.216.34", "2606:2800:220:1::1"], "allow"],
    ["public + metadata", "api.example.com", ["93.184.216.34", METADATA], "deny"],
    ["public + IPv4-mapped metadata", "api.example.com", ["93.184.216.34", "::ffff:169.254.169.254"], "deny"],
    ["public + NAT64 of metadata", "api.example.com", ["93.184.216.34", "64:ff9b::a9fe:a9fe"], "deny"],
    ["public + 6to4 of metadata", "api.example.com", ["93.184.216.34", "2002:a9fe:a9fe::1"], "deny"],
    ["public + Teredo", "api.example.com", ["93.184.216.34", "2001:0:4136:e378:8000:63bf:3fff:fdd2"], "deny"],
  ] as const)("%s", (_name, host, addresses, expected) => {
    expect(squidDecides(config, { method: "CONNECT", host, port: 443, addresses: [...addresses] })).toBe(expected);
  });

  it("the previous rendering (allow when ANY address is allowed) lets the mixed name through: the evaluator sees the hole", () => {
    const old = config.replace(/acl ep0_outside dst .*\n/g, "").replace("acl ep0_port port 443", "acl ep0_port port 443\nacl ep0_ips dst 10.20.0.7").replace("!ep0_outside", "ep0_ips");
    expect(squidDecides(old, { method: "CONNECT", host: "git.corp.example", port: 443, addresses: ["10.20.0.7", METADATA] })).toBe("allow");
  });

  it("property: over generated policies and DNS answers, Squid's decision is the intended one (allow only if EVERY address is acceptable)", () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/);
    const hostArb = fc.tuple(fc.constantFrom("", "*."), label, fc.constantFrom("example.com", "corp.example")).map(([w, l, d]) => `${w}${l}.${d}`);
    const allowedIpArb = fc.oneof(fc.constantFrom("10.20.0.7", "10.20.0.0/24", "192.168.4.0/30", "203.0.113.9", "2001:db9::7", "fd00::/64"), fc.ipV4().filter((a) => !a.startsWith("127.") && !a.startsWith("169.254.") && !a.startsWith("0.")));
    const ruleArb = fc.record({ policy: label, host: hostArb, ports: fc.uniqueArray(fc.constantFrom(443, 8443, 22), { minLength: 1, maxLength: 2 }), allowedIps: fc.uniqueArray(allowedIpArb, { maxLength: 2 }) });
    const addressArb = fc.oneof(fc.constantFrom(METADATA, "10.20.0.7", "10.20.0.8", "192.168.4.1", "203.0.113.9", "2001:db9::7", "fd00::5", "fe80::1", "93.184.216.34", "127.0.0.1"), fc.ipV4());
    let allowed = 0;
    let denied = 0;
    fc.assert(
      fc.property(fc.array(ruleArb, { minLength: 1, maxLength: 4 }), fc.nat(), fc.constantFrom(443, 8443, 22), fc.array(addressArb, { minLength: 1, maxLength: 4 }), fc.boolean(), (rules, pick, port, addresses, sub) => {
        const r = rules[pick % rules.length]!;
        const host = r.host.startsWith("*.") ? `${sub ? "x1" : "yy"}${r.host.slice(1)}` : r.host;
        const cfg = renderSquidConfig({ tenantId: "t", rules });
        const got = squidDecides(cfg, { method: "CONNECT", host, port, addresses });
        expect(got, JSON.stringify({ rules, host, port, addresses })).toBe(intended(rules, { host, port, addresses }));
        if (got === "allow") allowed++;
        else denied++;
        // Whatever is allowed, no address of the name is outside its endpoint's allowance: metadata never.
        if (got === "allow") expect(addresses).not.toContain(METADATA);
      }),
      { numRuns: 1_500 },
    );
    // Both outcomes occur often enough for the property to mean something.
    expect(allowed).toBeGreaterThan(50);
    expect(denied).toBeGreaterThan(50);
  });
});

describe("Squid config: a policy's local-network name without allowed_ips reaches public addresses only", () => {
  // Planned from a policy as a tenant writes it (OpenShell's examples name `*.internal` services
  // unpinned), so the test covers the path from the parser to the rendered rule.
  const rulesOf = (hosts: readonly string[]) =>
    planEnforcement(
      parsePolicyDocument({ version: 1, filesystem_policy: { read_write: ["/tmp"] }, network_policies: { svc: { endpoints: hosts.map((host) => ({ host, port: 8080 })) } } }, "t"),
      [],
      "t",
    ).egress;

  it.each([
    ["a private address (what an internal name usually resolves to)", "data-svc.internal", ["10.0.5.7"], "deny"],
    ["the metadata address (metadata.google.internal)", "metadata.google.internal", [METADATA], "deny"],
    ["a public and a private address", "docs.internal", ["93.184.216.34", "192.168.1.10"], "deny"],
    ["loopback", "printer.local", ["127.0.0.1"], "deny"],
    ["a unique-local IPv6 address", "nas.home.arpa", ["fd00::5"], "deny"],
    ["public addresses only (positive control)", "docs.internal", ["93.184.216.34", "2606:2800:220:1::1"], "allow"],
  ] as const)("resolving to %s: %s", (_name, host, addresses, expected) => {
    const config = renderSquidConfig({ tenantId: "t", rules: rulesOf([host]) });
    expect(squidDecides(config, { method: "CONNECT", host, port: 8080, addresses: [...addresses] })).toBe(expected);
  });

  it("property: over generated local-network names and DNS answers, a CONNECT is allowed exactly when EVERY address is public", () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/);
    const nameArb = fc.tuple(label, fc.constantFrom("internal", "corp.internal", "local", "lan", "intranet", "home.arpa")).map(([l, s]) => `${l}.${s}`);
    const addressArb = fc.oneof(fc.constantFrom(METADATA, "10.0.5.7", "172.17.0.2", "192.168.1.10", "100.64.0.1", "127.0.0.1", "fd00::5", "fe80::1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "93.184.216.34"), fc.ipV4(), fc.ipV6());
    let allowed = 0;
    let denied = 0;
    fc.assert(
      fc.property(fc.uniqueArray(nameArb, { minLength: 1, maxLength: 3 }), fc.nat(), fc.array(addressArb, { minLength: 1, maxLength: 4 }), (hosts, pick, addresses) => {
        const host = hosts[pick % hosts.length]!;
        const got = squidDecides(renderSquidConfig({ tenantId: "t", rules: rulesOf(hosts) }), { method: "CONNECT", host, port: 8080, addresses });
        expect(got, JSON.stringify({ host, addresses })).toBe(addresses.every(isPublic) ? "allow" : "deny");
        if (got === "allow") allowed++;
        else denied++;
      }),
      { numRuns: 1_000 },
    );
    expect(allowed).toBeGreaterThan(50);
    expect(denied).toBeGreaterThan(50);
  });
});

describe("Squid config: OpenShell's hostless endpoint (allowed_ips only) admits exactly its private addresses", () => {
  const planned = (allowedIps: readonly string[], ports: readonly number[]) =>
    planEnforcement(
      parsePolicyDocument({ version: 1, filesystem_policy: { read_write: ["/tmp"] }, network_policies: { p: { endpoints: [{ ports: [...ports], allowed_ips: [...allowedIps] }, { host: "api.example.com", port: 443 }] } } }, "t"),
      [],
      "t",
    );

  it("is planned without host and reported as mapped", () => {
    const plan = planned(["10.0.5.0/24"], [8080]);
    expect(plan.egress[0]).toEqual({ policy: "p", ports: [8080], allowedIps: ["10.0.5.0/24"] });
    expect(plan.mapped).toEqual([expect.stringMatching(/^policy\.network_policies\.p\.endpoints\[0\]\.host: absent \(OpenShell's legacy hostless form/)]);
  });

  it.each([
    ["an IP literal inside the range (positive control)", "10.0.5.7", 8080, ["10.0.5.7"], "allow"],
    ["a name resolving inside the range (positive control)", "svc.example.net", 8080, ["10.0.5.9"], "allow"],
    ["an IP literal inside the range, another port", "10.0.5.7", 22, ["10.0.5.7"], "deny"],
    ["an IP literal outside the range", "10.0.6.7", 8080, ["10.0.6.7"], "deny"],
    ["metadata", METADATA, 8080, [METADATA], "deny"],
    ["a name resolving inside the range and to metadata", "svc.example.net", 8080, ["10.0.5.9", METADATA], "deny"],
    ["a name resolving inside the range and to a public address", "svc.example.net", 8080, ["10.0.5.9", "93.184.216.34"], "deny"],
    ["the named endpoint still works (control)", "api.example.com", 443, ["93.184.216.34"], "allow"],
  ] as const)("%s", (_name, host, port, addresses, expected) => {
    const config = renderSquidConfig({ tenantId: "t", rules: planned(["10.0.5.0/24"], [8080]).egress });
    expect(squidDecides(config, { method: "CONNECT", host, port, addresses: [...addresses] })).toBe(expected);
  });

  it("property: over generated private ranges, names, literals and DNS answers, Squid allows exactly when every address is in the range", () => {
    const privateCidr = fc.constantFrom("10.0.5.0/24", "10.0.0.0/8", "172.20.0.0/16", "192.168.7.0/28", "100.64.3.0/24", "fd00:5::/64", "10.9.9.9");
    const addressArb = fc.oneof({ arbitrary: fc.constantFrom(METADATA, "10.0.5.7", "10.1.2.3", "172.20.3.4", "192.168.7.3", "100.64.3.9", "fd00:5::1", "10.9.9.9", "127.0.0.1", "93.184.216.34"), weight: 5 }, { arbitrary: fc.ipV4(), weight: 1 });
    let allowed = 0;
    let denied = 0;
    fc.assert(
      fc.property(fc.uniqueArray(privateCidr, { minLength: 1, maxLength: 2 }), fc.array(addressArb, { minLength: 1, maxLength: 2 }), fc.boolean(), (ranges, addresses, literal) => {
        const rules = planned(ranges, [8080]).egress;
        const host = literal && addresses.length === 1 ? addresses[0]! : "svc.example.net";
        const got = squidDecides(renderSquidConfig({ tenantId: "t", rules }), { method: "CONNECT", host, port: 8080, addresses });
        expect(got, JSON.stringify({ ranges, host, addresses })).toBe(addresses.every((a) => ranges.some((c) => cidrContains(c, a))) ? "allow" : "deny");
        if (got === "allow") allowed++;
        else denied++;
      }),
      { numRuns: 800 },
    );
    expect(allowed).toBeGreaterThan(30);
    expect(denied).toBeGreaterThan(30);
  });
});

describe("Squid config: the tenant's inference router, by its address only", () => {
  const ROUTER = "10.64.0.35";
  const rules: EgressRule[] = [{ policy: "api", host: "api.example.com", ports: [443], allowedIps: [] }];
  const withRouter = renderSquidConfig({ tenantId: "t", rules, inferenceRouter: { address: ROUTER, port: 8080 } });
  const without = renderSquidConfig({ tenantId: "t", rules });

  it.each([
    ["the router's address and port (OpenClaw's model call)", ROUTER, 8080, [ROUTER], "allow"],
    ["the router's address, another port", ROUTER, 22, [ROUTER], "deny"],
    ["another address of the tenant network", "10.64.0.36", 8080, ["10.64.0.36"], "deny"],
    ["a name that resolves to the router", "router.evil.example", 8080, [ROUTER], "deny"],
    ["a name that resolves to the router and to metadata", "router.evil.example", 8080, [ROUTER, METADATA], "deny"],
    ["metadata on the router's port", METADATA, 8080, [METADATA], "deny"],
    ["the allowlisted name still works (control)", "api.example.com", 443, ["93.184.216.34"], "allow"],
  ] as const)("%s", (_name, host, port, addresses, expected) => {
    expect(squidDecides(withRouter, { method: "CONNECT", host, port, addresses: [...addresses] })).toBe(expected);
  });

  it("a rule by `dst` alone would let a name resolving to the router (and to metadata) through: the evaluator sees that hole", () => {
    const dstOnly = `${without.replace("http_access deny all", "")}\nacl r dst ${ROUTER}/32\nacl rp port 8080\nhttp_access allow CONNECT r rp\nhttp_access deny all\n`;
    expect(squidDecides(dstOnly, { method: "CONNECT", host: "router.evil.example", port: 8080, addresses: [ROUTER, METADATA] })).toBe("allow");
  });

  it("without an inference section the router is not reachable through the proxy (control)", () => {
    expect(squidDecides(without, { method: "CONNECT", host: ROUTER, port: 8080, addresses: [ROUTER] })).toBe("deny");
  });

  it("property: with the router's entry, a CONNECT passes only to the router's address and port, or by the allowlist", () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const addr = fc.tuple(fc.constantFrom(10, 169, 172, 93), octet, octet, octet).map((p) => p.join("."));
    fc.assert(
      fc.property(fc.oneof(addr, fc.constant(ROUTER), fc.constantFrom("api.example.com", "x.example.com")), fc.constantFrom(443, 8080, 22), fc.array(fc.oneof(addr, fc.constant(ROUTER), fc.constant(METADATA)), { minLength: 1, maxLength: 3 }), (host, port, resolved) => {
        const addresses = isIP(host) ? [host] : resolved;
        const expected = host === ROUTER && port === 8080 ? "allow" : intended(rules, { host, port, addresses });
        expect(squidDecides(withRouter, { method: "CONNECT", host, port, addresses })).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});
