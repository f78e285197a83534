// `octw approvals approve` edits the stack config file: only the named tenant's policy node
// changes, comments and formatting elsewhere survive, and the result is a valid policy whose
// rendered egress proxy config differs for that tenant only.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { planEnforcement, parsePolicyDocument, renderSquidConfig } from "@octw/pulumi";
import { isMap, isSeq, parseDocument } from "yaml";
import { describe, expect, it } from "vitest";
import { approvalPolicyKey, approveInStackFile, parseDestination } from "../src/commands/approvals";

const LOCAL_STACK = readFileSync(fileURLToPath(new URL("../../../stacks/Pulumi.local.yaml", import.meta.url)), "utf8");

const STACK = `# header comment stays
config:
  octw:platform:
    prefix: octw # inline comment stays
    tenants:
      - id: alpha
        slot: 1
        presets: [restricted, github]
      - id: bravo
        slot: 2
        # the weather API, approved in PR #12
        policy: |
          version: 1
          network_policies:
            weather:
              name: weather-api
              endpoints:
                - host: api.open-meteo.com
                  port: 443
      - id: charlie
        slot: 3
        policy:
          version: 1
          network_policies:
            pypi:
              endpoints: [{ host: pypi.org, port: 443 }]
    audit:
      mode: embedded
`;

/** Each tenant's node as YAML text, by id. */
function tenantTexts(text: string): Map<string, string> {
  const doc = parseDocument(text);
  const seq = doc.getIn(["config", "octw:platform", "tenants"], true);
  if (!isSeq(seq)) throw new Error("no tenants");
  return new Map(seq.items.map((t) => [String(isMap(t) ? t.get("id") : "?"), JSON.stringify(isMap(t) ? t.toJSON() : null)]));
}

function policyOf(text: string, id: string): unknown {
  const doc = parseDocument(text).toJS() as { config: { "octw:platform": { tenants: { id: string; policy?: unknown }[] } } };
  return doc.config["octw:platform"].tenants.find((t) => t.id === id)!.policy;
}

function squidFor(text: string, id: string): string {
  const policy = policyOf(text, id);
  if (policy === undefined) return renderSquidConfig({ tenantId: id, rules: [] });
  const enforced = planEnforcement(parsePolicyDocument(policy, id), [], id);
  return renderSquidConfig({ tenantId: id, rules: enforced.egress });
}

describe("approve: the stack file edit", () => {
  const d = parseDestination("evil.example.com:443");

  for (const [tenant, shape] of [["alpha", "absent"], ["bravo", "YAML text in a block scalar"], ["charlie", "a mapping"]] as const) {
    it(`adds the rule to ${tenant}'s policy (${shape}) and to no other tenant`, () => {
      const before = tenantTexts(STACK);
      const { text, policyKey } = approveInStackFile(STACK, tenant, d);
      expect(policyKey).toBe("approved_evil_example_com_443");
      const after = tenantTexts(text);
      for (const [id, node] of before) {
        if (id === tenant) expect(after.get(id)).not.toBe(node);
        else expect(after.get(id)).toBe(node);
      }
      const parsed = parsePolicyDocument(policyOf(text, tenant), tenant);
      expect(parsed.network_policies?.[policyKey]).toEqual({ name: "approved-evil-example-com-443", endpoints: [{ host: "evil.example.com", port: 443 }] });
      // Rendered egress proxies: this tenant's allows the host now, the others are byte-identical.
      for (const id of ["alpha", "bravo", "charlie"]) {
        if (id === tenant) {
          expect(squidFor(STACK, id)).not.toContain("evil.example.com");
          expect(squidFor(text, id)).toContain("dstdomain -n evil.example.com");
        } else expect(squidFor(text, id)).toBe(squidFor(STACK, id));
      }
      // Comments and untouched formatting survive.
      for (const kept of ["# header comment stays", "prefix: octw # inline comment stays", "# the weather API, approved in PR #12", "presets: [restricted, github]"]) expect(text).toContain(kept);
    });
  }

  it("adds lines and changes none: every original line is kept, in order (alpha: new policy; bravo: block scalar)", () => {
    for (const tenant of ["alpha", "bravo"]) {
      const { text } = approveInStackFile(STACK, tenant, d);
      const orig = STACK.split("\n");
      const now = text.split("\n");
      // The original is a subsequence of the new text: lines were only inserted.
      let i = 0;
      for (const line of now) if (i < orig.length && line === orig[i]) i++;
      expect(i).toBe(orig.length);
      expect(now.length - orig.length).toBeGreaterThanOrEqual(5);
    }
  });

  it("pins allowed_ips when given (a non-public destination), and the proxy config pins them too", () => {
    const { text, policyKey } = approveInStackFile(STACK, "charlie", { ...d, allowedIps: ["198.51.100.7"] });
    const parsed = parsePolicyDocument(policyOf(text, "charlie"), "charlie");
    expect(parsed.network_policies?.[policyKey]?.endpoints).toEqual([{ host: "evil.example.com", port: 443, allowed_ips: ["198.51.100.7"] }]);
    // The proxy allows the name only if no address is outside 198.51.100.7 (its complement is listed).
    const squid = squidFor(text, "charlie");
    expect(squid).toMatch(/acl ep\d+_outside dst .*198\.51\.100\.6\/32 198\.51\.100\.8\/29/);
    expect(squid).toMatch(/http_access allow CONNECT ep\d+_host ep\d+_port !ep\d+_outside/);
    expect(squid).not.toMatch(/198\.51\.100\.7\//);
  });

  it("keeps a block-scalar policy a block scalar", () => {
    const { text } = approveInStackFile(STACK, "bravo", d);
    expect(text).toMatch(/policy: \|/);
    expect(policyOf(text, "bravo")).toEqual(expect.any(String));
  });

  it("works on the repository's own local stack file, touching one tenant", () => {
    const { text } = approveInStackFile(LOCAL_STACK, "bravo", parseDestination("api.example.org:443"));
    const before = tenantTexts(LOCAL_STACK);
    const after = tenantTexts(text);
    expect(after.get("alpha")).toBe(before.get("alpha"));
    expect(after.get("bravo")).not.toBe(before.get("bravo"));
    // Everything outside the tenants list is unchanged, line for line.
    const outside = (t: string) => t.split("\n").filter((l) => !l.startsWith("      ") && !l.startsWith("    tenants:") && !l.startsWith("        "));
    expect(outside(text)).toEqual(outside(LOCAL_STACK));
  });

  it("refuses what it must, naming the field", () => {
    expect(() => approveInStackFile(STACK, "delta", d)).toThrow(/tenant: "delta" is not in the stack file \(tenants: alpha, bravo, charlie\)/);
    expect(() => approveInStackFile(STACK, "bravo", parseDestination("api.open-meteo.com:443"))).toThrow(/already allowed for tenant "bravo" \(network_policies\.weather\)/);
    const once = approveInStackFile(STACK, "charlie", d).text;
    expect(() => approveInStackFile(once, "charlie", d)).toThrow(/already allowed/);
    expect(() => approveInStackFile("config: [", "alpha", d)).toThrow(/stack file: not valid YAML/);
    expect(() => approveInStackFile("config: {}\n", "alpha", d)).toThrow(/tenants is missing or not a list/);
  });
});

describe("destinations", () => {
  it("accepts host:port of an allowlistable DNS name", () => {
    expect(parseDestination("API.Example.com:8443")).toEqual({ host: "api.example.com", port: 8443 });
  });
  it("refuses IP literals, metadata names, bad ports and missing ports", () => {
    expect(() => parseDestination("169.254.169.254:80")).toThrow(/destination: host "169.254.169.254" must be a DNS name/);
    expect(() => parseDestination("metadata.google.internal:80")).toThrow(/destination: host/);
    expect(() => parseDestination("example.com:0")).toThrow(/port must be 1..65535/);
    expect(() => parseDestination("example.com")).toThrow(/must be host:port/);
  });
  it("policy keys are valid network_policies keys, also for long names", () => {
    const long = approvalPolicyKey({ host: `${"a".repeat(60)}.example.com`, port: 443 });
    expect(long).toMatch(/^[a-z0-9][a-z0-9_-]{0,62}$/);
  });
});
