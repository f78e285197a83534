import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BlockList } from "node:net";
import { NON_PUBLIC_IPV4, hostPatternMatches, hostProblem, ipOrCidrProblem, isLocalNetworkName, isNonPublicRange, parsePolicyDocument, planEnforcement } from "../src/index.js";

describe("host rules", () => {
  it.each(["api.github.com", "a.b", "*.slack.com", "x-1.example.co.uk", "xn--bcher-kva.example", "*a.example.com", "**.example.com", "*-aiplatform.googleapis.com"])("accepts %s", (h) => expect(hostProblem(h)).toBeUndefined());
  it.each([
    ["", /empty/],
    ["203.0.113.7", /IP literal/],
    ["::1", /IP literal/],
    ["[::1]", /IP literal/],
    ["2130706433", /two labels/],
    ["0x7f.1", /numeric/],
    ["127.1", /numeric/],
    ["example.com:443", /IP literal or host:port/],
    ["API.GITHUB.COM", /lowercase/],
    ["api.github.com.", /dot/],
    ["localhost", /two labels/],
    ["foo.localhost", /loopback/],
    ["printer.local", /loopback, local-network or metadata/],
    ["metadata.google.internal", /metadata/],
    ["router.home.arpa", /metadata|local/],
    ["*.com", /at least two labels/],
    ["a.*.example.com", /first label/],
    ["a**.example.com", /only as its whole first label/],
    ["*_x.example.com", /not a valid DNS label/],
    ["-bad.example.com", /valid DNS label/],
    ["a_b.example.com", /valid DNS label/],
    [`${"a".repeat(64)}.example.com`, /valid DNS label/],
    [`${"a.".repeat(127)}com`, /longer than 253/],
  ])("refuses %j", (h, why) => expect(hostProblem(h)).toMatch(why));

  it.each(["203.0.113.7", "198.18.80.80/32", "10.0.0.0/8", "2001:db8::1", "192.168.1.0/24"])("allowed_ips accepts %s", (ip) => expect(ipOrCidrProblem(ip)).toBeUndefined());
  it.each([
    ["127.0.0.1", /loopback/],
    ["169.254.169.254", /metadata/],
    ["0.0.0.0", /loopback/],
    ["::1", /loopback/],
    ["fe80::1", /link-local/],
    ["::ffff:127.0.0.1", /IPv4-mapped/],
    // IPv6 forms that embed a forbidden IPv4 address.
    ["64:ff9b::a9fe:a9fe", /metadata/],
    ["64:ff9b::127.0.0.1", /loopback/],
    ["2002:a9fe:a9fe::1", /metadata/],
    ["2002:7f00:1::", /loopback/],
    ["2002::/16", /too wide/],
    ["64:ff9b::a900:0/104", /contains 64:ff9b::a9fe:0\/112/],
    ["64:ff9b::/96", /never an egress destination/],
    ["0.0.0.0/0", /too wide/],
    ["168.0.0.0/7", /too wide/],
    ["169.254.0.0/15", /link-local|contains 169.254.0.0\/16/],
    ["169.0.0.0/8", /contains 169.254.0.0\/16/],
    ["127.0.0.0/8", /loopback/],
    ["10.0.0.0/33", /prefix length/],
    ["example.com", /IP address or CIDR/],
    ["1.2.3.4/8/9", /IP address or CIDR/],
  ])("allowed_ips refuses %s", (ip, why) => expect(ipOrCidrProblem(ip)).toMatch(why));
});

describe("host patterns (the proxy's ACL and the inference-overlap check read the same regex)", () => {
  it.each([
    ["*.example.com", "a.example.com", true],
    ["*.example.com", "a.b.example.com", false],
    ["*.example.com", "example.com", false],
    ["**.cdn.example.com", "a.cdn.example.com", true],
    ["**.cdn.example.com", "a.b.cdn.example.com", true],
    ["**.cdn.example.com", "cdn.example.com", false],
    ["**.cdn.example.com", "xcdn.example.com", false],
    ["*-ml.apis.example.com", "vision-ml.apis.example.com", true],
    ["*-ml.apis.example.com", "x.vision-ml.apis.example.com", false],
    ["*-ml.apis.example.com", "visionml.apis.example.com", false],
    ["api.example.com", "api.example.com", true],
    ["api.example.com", "api.example.com.", false],
    ["api.example.com", "apixexample.com", false],
  ])("%s covers %s: %s", (pattern, host, covered) => expect(hostPatternMatches(pattern, host)).toBe(covered));
});

describe("local-network names without allowed_ips (a policy's: confined to public addresses by the proxy)", () => {
  const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
  const suffix = fc.constantFrom("internal", "local", "lan", "intranet", "home.arpa", "arpa");
  const localName = fc.tuple(fc.constantFrom("", "*.", "**."), fc.array(label, { minLength: 1, maxLength: 3 }), suffix).map(([w, ls, s]) => `${w}${ls.join(".")}.${s}`);

  it("property: a policy may name one (public-only), a typed destination may not (default), and the plan maps it only when unpinned", () => {
    fc.assert(
      fc.property(localName, (host) => {
        expect(isLocalNetworkName(host)).toBe(true);
        expect(hostProblem(host, { unpinnedLocal: "public-only" })).toBeUndefined();
        expect(hostProblem(host)).toMatch(/unless `allowed_ips` pins/);
        const endpoint = (pinned: boolean) => ({ host, port: 443, ...(pinned ? { allowed_ips: ["10.30.0.0/28"] } : {}) });
        const plan = (pinned: boolean) =>
          planEnforcement(parsePolicyDocument({ version: 1, filesystem_policy: { read_write: ["/tmp"] }, network_policies: { p: { endpoints: [endpoint(pinned)] } } }, "t"), [], "t");
        const unpinned = plan(false);
        expect(unpinned.egress).toEqual([{ policy: "p", host, ports: [443], allowedIps: [] }]);
        expect(unpinned.mapped).toEqual([expect.stringMatching(/^policy\.network_policies\.p\.endpoints\[0\]\.host: a local-network name without `allowed_ips`: reachable only at public addresses/)]);
        const pinned = plan(true);
        expect(pinned.mapped).toEqual([]);
        expect(pinned.egress[0]!.allowedIps).toEqual(["10.30.0.0/28"]);
      }),
      { numRuns: 300 },
    );
  });

  it("positive control: public names are not local-network names and are not mapped", () => {
    fc.assert(
      fc.property(label, fc.constantFrom("example.com", "internal.example.com", "local.example.net"), (l, d) => {
        expect(isLocalNetworkName(`${l}.${d}`)).toBe(false);
        expect(hostProblem(`${l}.${d}`)).toBeUndefined();
      }),
    );
  });

  it.each([
    ["foo.localhost", /loopback/],
    ["host.openshell.internal", /alias for the machine that runs the sandbox/],
    ["host.docker.internal", /alias for the machine/],
    ["db.ns.svc.cluster.local", /Kubernetes cluster-internal/],
    ["*.svc.cluster.local", /Kubernetes cluster-internal/],
  ])("still refuses %s whatever the option", (h, why) => {
    expect(hostProblem(h, { unpinnedLocal: "public-only" })).toMatch(why);
    expect(hostProblem(h, { pinned: true, unpinnedLocal: "public-only" })).toMatch(why);
  });
});

describe("isNonPublicRange (what a hostless endpoint may list)", () => {
  it.each([["10.0.5.0/24"], ["10.0.0.0/8"], ["192.168.1.7"], ["100.64.0.0/10"], ["fd00::/64"], ["fc00::/7"], ["198.51.100.0/24"]])("%s is wholly non-public", (c) => expect(isNonPublicRange(c)).toBe(true));
  it.each([["8.8.8.0/24"], ["10.0.0.0/7"], ["172.0.0.0/8"], ["198.51.0.0/16"], ["2001:db9::/32"], ["93.184.216.34"]])("%s reaches public addresses", (c) => expect(isNonPublicRange(c)).toBe(false));

  it("property: a range judged non-public holds no public address (first, last and a random inner address); one judged public is inside no single listed block", () => {
    const nonPublic = new BlockList();
    for (const c of NON_PUBLIC_IPV4) nonPublic.addSubnet(c.split("/")[0]!, Number(c.split("/")[1]), "ipv4");
    const toIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
    const listedStart = fc.constantFrom(...NON_PUBLIC_IPV4.map((c) => c.split("/")[0]!.split(".").reduce((acc, o) => acc * 256 + Number(o), 0)));
    let judgedNonPublic = 0;
    let judgedPublic = 0;
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), listedStart), fc.integer({ min: 8, max: 32 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, len, f) => {
        const size = 2 ** (32 - len);
        const start = Math.floor(n / size) * size;
        const cidr = `${toIp(start)}/${len}`;
        if (isNonPublicRange(cidr)) {
          judgedNonPublic++;
          for (const a of [toIp(start), toIp(start + size - 1), toIp(start + Math.floor(f * (size - 1)))]) expect(nonPublic.check(a, "ipv4"), `${a} in ${cidr}`).toBe(true);
        } else {
          judgedPublic++;
          // Conservative by design: a range spanning two adjacent listed blocks counts as public.
          expect(NON_PUBLIC_IPV4.some((c) => cidrInside(cidr, c))).toBe(false);
        }
      }),
      { numRuns: 2_000 },
    );
    expect(judgedNonPublic).toBeGreaterThan(100);
    expect(judgedPublic).toBeGreaterThan(100);
  });
});

/** Whether CIDR a lies inside CIDR b (IPv4). */
function cidrInside(a: string, b: string): boolean {
  const [an, al] = a.split("/");
  const [bn, bl] = b.split("/");
  if (Number(al) < Number(bl)) return false;
  const list = new BlockList();
  list.addSubnet(bn!, Number(bl), "ipv4");
  return list.check(an!, "ipv4");
}
