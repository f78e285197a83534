import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hostPatternMatches, hostProblem, ipOrCidrProblem, isLocalNetworkName, parsePolicyDocument, planEnforcement } from "../src/index.js";

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
