import { describe, expect, it } from "vitest";
import { parseRouterConfig } from "../src/config";
import { inferenceEgressConflicts, openclawModelsConfig, parseInferencePolicy, routerTenantEntry, routerTokenDigest } from "../src/policy";

const inference = parseInferencePolicy({
  providers: [
    { name: "openai", api: "openai", baseUrl: "https://api.openai.example", models: ["gpt-x"] },
    { name: "claude", api: "anthropic", baseUrl: "https://api.anthropic.example", models: ["claude-y"], keySecret: "anthropic/key" },
  ],
  limits: { maxConcurrent: 4 },
});

describe("SandboxPolicy.inference", () => {
  it("defaults: no providers, default limits; key secret names derived", () => {
    expect(parseInferencePolicy(undefined)).toEqual({ providers: [], limits: { rate: { ratePerSec: 10, burst: 20 }, maxConcurrent: 8, maxConnections: 64 } });
    expect(inference.providers.map((p) => p.keySecret)).toEqual(["openai/api-key", "anthropic/key"]);
  });
  it("errors name the field", () => {
    expect(() => parseInferencePolicy({ providers: [{ name: "x", api: "openai", baseUrl: "ftp://x", models: ["m"] }] }, "tenants[1].policy.inference")).toThrow(/tenants\[1\]\.policy\.inference\.providers\.0\.baseUrl: must be an https URL/);
    expect(() => parseInferencePolicy({ providers: [], apiKey: "sk" })).toThrow(/Unrecognized key: "apiKey"/);
    expect(() => parseInferencePolicy({ providers: [inference.providers[0], inference.providers[0]] })).toThrow(/providers\.1\.name: "openai" is listed twice/);
  });
  it("a router tenant entry built from it is a valid router config", () => {
    const entry = routerTenantEntry({ tenantId: "alpha", routerAddress: "10.64.0.35", subnet: "10.64.0.32/27", tokenSha256: routerTokenDigest("t"), inference });
    const c = parseRouterConfig({ tenants: [entry] });
    expect(c.tenants[0]!.limits.maxConcurrent).toBe(4);
    expect(c.tenants[0]!.tokenSha256).toMatch(/^[0-9a-f]{64}$/);
  });
  it("OpenClaw config points at the router with the token file, never the provider's host", () => {
    const oc = openclawModelsConfig({ routerAddress: "10.64.0.35", tokenFile: "/var/lib/openclaw/.octw/router-token", inference });
    expect(oc.models.providers.openai!.baseUrl).toBe("http://10.64.0.35:8080/openai/v1");
    expect(oc.models.providers.claude).toMatchObject({ baseUrl: "http://10.64.0.35:8080/claude", api: "anthropic-messages" });
    expect(oc.secrets.providers.octwrouter).toEqual({ source: "file", path: "/var/lib/openclaw/.octw/router-token", mode: "singleValue" });
    const text = JSON.stringify(oc);
    expect(text).not.toContain("api.openai.example");
    expect(text).not.toContain("api.anthropic.example");
  });
});

describe("provider hosts must not be egress destinations", () => {
  it("finds exact and wildcard matches on the provider's port, nothing else", () => {
    expect(inferenceEgressConflicts(inference, [{ host: "api.openai.example", ports: [443] }])).toEqual([
      'inference provider "openai" (api.openai.example:443) is also allowed as egress by api.openai.example:443',
    ]);
    expect(inferenceEgressConflicts(inference, [{ host: "*.anthropic.example", ports: [443, 8443] }])).toHaveLength(1);
    expect(inferenceEgressConflicts(inference, [{ host: "api.openai.example", ports: [8443] }, { host: "*.example", ports: [443] }, { host: "pypi.org", ports: [443] }])).toEqual([]);
  });
});
