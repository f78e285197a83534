import { describe, expect, it } from "vitest";
import { OctwConfigError, planTenantPolicy } from "../src/index.js";

// Written for this test in the shape of a NemoClaw base policy and preset file.
const BASE = `
version: 1
filesystem_policy:
  include_workdir: false
  read_write: [/tmp, /dev/null, /sandbox/.state]
landlock:
  compatibility: best_effort
process:
  run_as_user: sandbox
  run_as_group: sandbox
network_policies:
  docs:
    endpoints:
      - { host: docs.example.org, port: 443, protocol: rest, access: full }
`;
const PRESET = `
preset:
  name: chat
  description: "Chat API"
network_policies:
  chat:
    endpoints:
      - { host: api.chat.example, port: 443 }
`;

const problems = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof OctwConfigError) return e.problems;
    throw e;
  }
  return [];
};

describe("a tenant policy as a list of fragments (NemoClaw's base + presets)", () => {
  it("merges them in order: the preset's endpoints join the base's", () => {
    const plan = planTenantPolicy({ presets: [], policy: [BASE, PRESET] }, "t", "tenants[0].policy");
    expect(plan.enforced.egress.map((r) => r.host)).toEqual(["docs.example.org", "api.chat.example"]);
    expect(plan.enforced.readWritePaths).toEqual(["/sandbox/.state", "/tmp"]);
    expect(plan.enforced.notEnforced).toEqual([]);
  });
  it("the same as one document when there is one fragment (control)", () => {
    const one = planTenantPolicy({ presets: [], policy: BASE }, "t");
    const list = planTenantPolicy({ presets: [], policy: [BASE] }, "t");
    expect(list).toEqual(one);
  });
  it("a problem names the fragment it is in", () => {
    const bad = PRESET.replace("api.chat.example", "host.openshell.internal");
    const p = problems(() => planTenantPolicy({ presets: [], policy: [BASE, bad] }, "t", "tenants[0].policy"));
    expect(p.map((x) => x.path)).toEqual(["tenants[0].policy[1].network_policies.chat.endpoints[0].host"]);
  });
  it("two fragments defining one key differently are refused, not silently overridden", () => {
    const clash = PRESET.replace("chat:", "docs:");
    const p = problems(() => planTenantPolicy({ presets: [], policy: [BASE, clash] }, "t", "tenants[0].policy"));
    expect(p.map((x) => x.path)).toEqual(["tenants[0].policy.network_policies.docs"]);
  });
});
