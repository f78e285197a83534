import { describe, expect, it } from "vitest";
import { SPECIAL_PURPOSE_IPV4, NON_PUBLIC_IPV6_IN_GLOBAL, addressProblem, baseUrlProblem, blockListOf, inetAtonIPv4, nonPublicReason } from "@octw/contracts";
import { DestinationRefusedError, pinnedLookup, systemResolver, vetDestination, type Resolver } from "../src/destination";

// Edges of the destination guard pinned one by one, with the exact reason an operator reads
// (mutation testing showed the property tests in destination.test.ts pass without them).
// Nothing here opens a socket or asks a DNS server: resolvers are the test's, and the system
// resolver is only asked about IP literals (answered without any lookup).

const noDns: Resolver = () => Promise.reject(new Error("the resolver must not be asked"));
const answers = (...as: { address: string; family: 4 | 6 }[]): Resolver => () => Promise.resolve(as);

/** The address after a network's base address (inside every listed range). */
function inside(cidr: string): string {
  const [net] = cidr.split("/");
  if (net!.includes(":")) return net!.endsWith("::") ? `${net}1` : `${net}::1`;
  const o = net!.split(".").map(Number);
  o[3] = o[3]! + 1;
  return o.join(".");
}

describe("nonPublicReason: names the range", () => {
  it.each(SPECIAL_PURPOSE_IPV4.map(([cidr, name]) => [cidr, name]))("IPv4 %s (%s)", (cidr, name) => {
    expect(name.length).toBeGreaterThan(2);
    expect(nonPublicReason(inside(cidr))).toBe(`${cidr} ${name}`);
  });
  it.each(NON_PUBLIC_IPV6_IN_GLOBAL.map(([cidr, name]) => [cidr, name]))("IPv6 %s (%s)", (cidr, name) => {
    expect(name.length).toBeGreaterThan(2);
    // 2001::/23 also holds 2001:db8::/32? No: 2001:db8:: lies outside 2001::/23, so each finds itself.
    expect(nonPublicReason(inside(cidr))).toBe(`${cidr} ${name}`);
  });
  it("IPv6 outside 2000::/3: mapped and NAT64 forms are named as such (any case), the rest as not global unicast", () => {
    expect(nonPublicReason("::ffff:127.0.0.1")).toBe("IPv4-mapped IPv6 (::ffff:0:0/96)");
    expect(nonPublicReason("::FFFF:7f00:1")).toBe("IPv4-mapped IPv6 (::ffff:0:0/96)");
    expect(nonPublicReason("64:FF9B::7f00:1")).toBe("NAT64 (64:ff9b::/96, 64:ff9b:1::/48)");
    expect(nonPublicReason("::1")).toMatch(/^not global unicast IPv6 \(only 2000::\/3 is public/);
    expect(nonPublicReason("fd00::1")).toMatch(/^not global unicast IPv6/);
    // Only a PREFIX names the mapped / NAT64 forms.
    expect(nonPublicReason("fd00::ffff:7f00:1")).toMatch(/^not global unicast IPv6/);
    expect(nonPublicReason("fd00:64:ff9b::1")).toMatch(/^not global unicast IPv6/);
  });
  it("public addresses (also in brackets) have no reason; anything else is not an IP address", () => {
    expect(nonPublicReason("2606:4700::1")).toBeUndefined();
    expect(nonPublicReason("[2606:4700::1]")).toBeUndefined();
    expect(nonPublicReason("1.1.1.1")).toBeUndefined();
    for (const s of ["example.com", "", "2606:[4700::1", "2606:4700]::1"]) expect(nonPublicReason(s), s).toBe("not an IP address");
  });
});

describe("inetAtonIPv4: exactly the forms a URL parser reads as IPv4", () => {
  it.each([
    ["127.1.", "127.0.0.1"],
    ["0x", "0.0.0.0"],
    ["0x7f.1", "127.0.0.1"],
    ["0177.0.0.1", "127.0.0.1"],
    ["4294967295", "255.255.255.255"],
    ["1.16777215", "1.255.255.255"],
    ["1.2.3.255", "1.2.3.255"],
    ["255.0.0.1", "255.0.0.1"],
  ])("%s → %s", (host, quad) => expect(inetAtonIPv4(host)).toBe(quad));
  it.each(["1.2.3.4.0", "256.0.0.1", "1.2.3.256", "4294967296", "1.16777216", "0x0x1", "0x1g", "0129", "1e3", "1.-1", "1.2.3.4..", "."])("%s is no IPv4 form", (host) => {
    expect(inetAtonIPv4(host)).toBeUndefined();
  });
});

describe("blockListOf and the platform's networks", () => {
  it("takes IPv4 and IPv6 CIDRs and single addresses", () => {
    const l = blockListOf(["fd00::/8", "10.0.0.0/8", "192.0.2.1", "2001:db8::5"]);
    expect(l.check("fd12::1", "ipv6")).toBe(true);
    expect(l.check("10.9.9.9", "ipv4")).toBe(true);
    expect(l.check("192.0.2.1", "ipv4")).toBe(true);
    expect(l.check("192.0.2.2", "ipv4")).toBe(false);
    expect(l.check("2001:db8::5", "ipv6")).toBe(true);
    expect(l.check("2001:db8::6", "ipv6")).toBe(false);
  });
  it("a platform network is refused as such, for IPv6 too, and before the hatch could allow it", () => {
    const platform = blockListOf(["fd00::/8", "10.64.0.0/16"]);
    expect(addressProblem("fd00::5", { platform })).toBe("is one of the platform's own networks");
    expect(addressProblem("[fd00::5]", { platform })).toBe("is one of the platform's own networks");
    expect(addressProblem("10.64.0.3", { platform, insecureForTests: blockListOf(["10.0.0.0/8"]) })).toBe("is one of the platform's own networks");
    expect(addressProblem("10.65.0.3", { platform, insecureForTests: blockListOf(["10.0.0.0/8"]) })).toBeUndefined();
    expect(addressProblem("127.0.0.1", {})).toBe("is not a public address (127.0.0.0/8 loopback)");
    expect(addressProblem("2606:[4700::1", {})).toBe("is not a public address (not an IP address)");
    expect(addressProblem("2606:4700]::1", {})).toBe("is not a public address (not an IP address)");
  });
});

describe("baseUrlProblem: exact reasons", () => {
  it("the hatch relaxes http only, not other schemes", () => {
    expect(baseUrlProblem("ftp://models.example", { insecureForTests: blockListOf(["10.0.0.0/8"]) })).toBe("must be an https:// URL (the router sends the tenant's key there)");
    expect(baseUrlProblem("http://models.example", { insecureForTests: blockListOf(["10.0.0.0/8"]) })).toBeUndefined();
  });
  it.each([
    ["https://api.example.com.", "host must not end with a dot"],
    ["https://-abc.example.com", "host must be a DNS name of a-z, 0-9 and inner hyphens"],
    ["https://abc-.example.com", "host must be a DNS name of a-z, 0-9 and inner hyphens"],
    ["https://a_b.example.com", "host must be a DNS name of a-z, 0-9 and inner hyphens"],
    ["https://metadata", "host must be a fully qualified DNS name (a single label resolves to a container on the router's networks)"],
    ["https://x.localhost", "host names a loopback, local-network or metadata name"],
    ["https://printer.local", "host names a loopback, local-network or metadata name"],
  ])("%s: %s", (url, why) => expect(baseUrlProblem(url)).toBe(why));
  it("only the exact local names and suffixes are local: public names that merely contain them pass", () => {
    for (const host of ["localhost.example.com", "api.mylocalhost.example", "x.localhost.example.com", "x.local.example.com", "x.locality.example",
      "x.internal.example.com", "x.arpa.example.com", "metadata.example.com", "x.metadatas.example", "x.lan.example.com", "x.intranet.example.com",
      "x.home.example.com", "x.corp.example.com", "api.example.a1", "api.example.1a", "api.mylocalhost", "x.mymetadata"]) {
      expect(baseUrlProblem(`https://${host}`), host).toBeUndefined();
    }
  });
});

describe("vetDestination: exact answers and refusals", () => {
  it("an IP literal (bracketed v6 too) is its own answer, without asking the resolver", async () => {
    await expect(vetDestination("[2606:4700::1]", {}, noDns)).resolves.toEqual({ address: "2606:4700::1", family: 6 });
    await expect(vetDestination("1.1.1.1", {}, noDns)).resolves.toEqual({ address: "1.1.1.1", family: 4 });
  });
  it("no answer, a non-address answer, or a non-public answer: refused with the reason, not the address", async () => {
    await expect(vetDestination("api.example.com", {}, answers())).rejects.toThrow(new DestinationRefusedError("the provider host resolved to no address"));
    await expect(vetDestination("api.example.com", {}, answers({ address: "garbage", family: 4 }))).rejects.toThrow("the provider host resolved to an address that is not an IP address");
    const e = await vetDestination("api.example.com", {}, answers({ address: "1.1.1.1", family: 4 }, { address: "10.1.2.3", family: 4 })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DestinationRefusedError);
    expect((e as Error).name).toBe("DestinationRefusedError");
    expect((e as Error).message).toBe("the provider host resolved to an address that is not a public address (10.0.0.0/8 private)");
  });
  it("only a whole bracket pair makes a literal: a host with a stray bracket is a name for the resolver", async () => {
    for (const host of ["2606:[4700::1", "2606:4700]::1"]) {
      await expect(vetDestination(host, {}, answers({ address: "10.1.2.3", family: 4 })), host).rejects.toThrow("not a public address");
    }
  });
  it("the first answer is the one connected to", async () => {
    await expect(vetDestination("api.example.com", {}, answers({ address: "1.0.0.1", family: 4 }, { address: "2606:4700::1", family: 6 }))).resolves.toEqual({ address: "1.0.0.1", family: 4 });
  });
});

describe("systemResolver and pinnedLookup", () => {
  it("the system resolver reports each answer's family (asked about literals only: no lookup happens)", async () => {
    await expect(systemResolver("127.0.0.1")).resolves.toEqual([{ address: "127.0.0.1", family: 4 }]);
    await expect(systemResolver("::1")).resolves.toEqual([{ address: "::1", family: 6 }]);
  });
  it("the pinned lookup answers only the vetted address, in the shape node asked for", () => {
    const pinned = pinnedLookup({ address: "2606:4700::1", family: 6 });
    const calls: unknown[][] = [];
    const cb = (...args: unknown[]) => void calls.push(args);
    pinned("evil.example", { all: true }, cb);
    pinned("evil.example", { all: false }, cb);
    pinned("evil.example", {}, cb);
    pinned("evil.example", 6, cb);
    pinned("evil.example", null, cb);
    expect(calls).toEqual([
      [null, [{ address: "2606:4700::1", family: 6 }]],
      [null, "2606:4700::1", 6],
      [null, "2606:4700::1", 6],
      [null, "2606:4700::1", 6],
      [null, "2606:4700::1", 6],
    ]);
  });
});
