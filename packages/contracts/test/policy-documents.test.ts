import { describe, expect, it } from "vitest";
import { OctwConfigError, POLICY_PRESETS, POLICY_PRESET_NAMES, mergePolicyDocuments, parsePolicyDocument, planEnforcement } from "../src/index.js";

describe("policy documents", () => {
  it("parses YAML and objects to the same document", () => {
    const yaml = "version: 1\nnetwork_policies:\n  gh:\n    endpoints:\n      - host: api.github.com\n        ports: [443, 8443]\n";
    const obj = { version: 1, network_policies: { gh: { endpoints: [{ host: "api.github.com", ports: [443, 8443] }] } } };
    expect(parsePolicyDocument(yaml, "t")).toEqual(parsePolicyDocument(obj, "t"));
  });
  it("refuses duplicate YAML keys (a silent override in review)", () => {
    expect(() => parsePolicyDocument("version: 1\nversion: 1\n", "t")).toThrow(/not valid YAML/);
  });
  it("every preset is valid and enforceable on its own", () => {
    for (const name of POLICY_PRESET_NAMES) {
      const doc = parsePolicyDocument(POLICY_PRESETS[name], "t", `presets.${name}`);
      const plan = planEnforcement(mergePolicyDocuments([doc], "t"), [], "t");
      expect(plan.notEnforced).toEqual([]);
      if (name === "restricted") expect(plan.egress).toEqual([]);
      else expect(plan.egress.length).toBeGreaterThan(0);
    }
  });
  it("presets merge; the same key with different contents is refused", () => {
    const docs = ["restricted", "github", "telegram", "discord", "slack"].map((n) => parsePolicyDocument(POLICY_PRESETS[n as "github"], "t"));
    const plan = planEnforcement(mergePolicyDocuments(docs, "t"), [], "t");
    expect(new Set(plan.egress.map((e) => e.policy))).toEqual(new Set(["github", "telegram", "discord", "slack"]));
    const clash = parsePolicyDocument({ version: 1, network_policies: { github: { endpoints: [{ host: "github.com", port: 443 }] } } }, "t");
    expect(() => mergePolicyDocuments([docs[1]!, clash], "t")).toThrow(/two fragments with different contents/);
  });
  it("reports, never drops, what allowUnenforced accepts", () => {
    const doc = parsePolicyDocument(
      {
        version: 1,
        filesystem_policy: { read_only: ["/usr"], read_write: ["/tmp", "/dev/null", "/sandbox"] },
        network_policies: { a: { binaries: [{ path: "/usr/bin/node" }], endpoints: [{ host: "a.example.com", port: 443, access: "read-only", enforcement: "audit" }] } },
      },
      "t",
    );
    expect(() => planEnforcement(doc, [], "t")).toThrow(OctwConfigError);
    const plan = planEnforcement(doc, ["binaries", "access", "enforcement:audit", "filesystem_policy.read_only"], "t");
    expect(plan.notEnforced.map((n) => n.split(":")[0])).toEqual([
      "policy.filesystem_policy.read_only",
      "policy.network_policies.a.binaries",
      "policy.network_policies.a.endpoints[0].access",
      "policy.network_policies.a.endpoints[0].enforcement",
    ]);
    expect(plan.readWritePaths).toEqual(["/sandbox", "/tmp"]);
  });
});
