import { afterEach, describe, expect, it } from "vitest";
import { INSECURE_PROVIDERS_ENV, parseRouterConfig } from "../src/index.js";
import { inferenceEgressConflicts, openclawModelsConfig, parseInferencePolicy, routerTenantEntry, routerTokenDigest } from "../src/index.js";

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

// A policy is tenant input: where its providers may point is checked here and nowhere earlier
// (ProviderSchema checks syntax only). Mutation testing showed no test refused a policy for
// its destination, nor looked at most of the OpenClaw fragment.
describe("SandboxPolicy.inference: where a provider may point", () => {
  const provider = (baseUrl: string, name = "p") => ({ name, api: "openai", baseUrl, models: ["m"] });
  afterEach(() => {
    delete process.env[INSECURE_PROVIDERS_ENV];
  });

  it.each([
    ["http://api.example.com", /inference\.providers\.0\.baseUrl: must be an https:\/\/ URL/],
    ["https://127.0.0.1", /inference\.providers\.0\.baseUrl: host /],
    ["https://169.254.169.254/latest", /inference\.providers\.0\.baseUrl: host /],
    ["https://10.64.0.3", /inference\.providers\.0\.baseUrl: host /],
    ["https://[::1]", /inference\.providers\.0\.baseUrl: host /],
    ["https://metadata.google.internal", /inference\.providers\.0\.baseUrl: host /],
    ["https://router", /inference\.providers\.0\.baseUrl: host must be a fully qualified DNS name/],
  ])("refuses %s, naming the field (default prefix `inference`)", (url, why) => {
    expect(() => parseInferencePolicy({ providers: [provider(url)] })).toThrow(why);
  });

  it("names every bad provider, one per line", () => {
    expect(() => parseInferencePolicy({ providers: [provider("https://api.example.com", "ok"), provider("https://127.0.0.1", "a"), provider("http://x.example", "b")] }))
      .toThrow(/^invalid inference policy:\n {2}inference\.providers\.1\.baseUrl: [^\n]+\n {2}inference\.providers\.2\.baseUrl: /);
  });

  it("the test hatch (plain http on listed networks) needs both the CIDRs and the env var set to 1", () => {
    const local = { providers: [provider("http://10.99.0.5:8000")] };
    expect(() => parseInferencePolicy(local, "inference", ["10.99.0.0/24"])).toThrow(/must be an https:\/\/ URL/);
    process.env[INSECURE_PROVIDERS_ENV] = "true";
    expect(() => parseInferencePolicy(local, "inference", ["10.99.0.0/24"])).toThrow(/must be an https:\/\/ URL/);
    process.env[INSECURE_PROVIDERS_ENV] = "1";
    expect(() => parseInferencePolicy(local, "inference", [])).toThrow(/must be an https:\/\/ URL/);
    expect(() => parseInferencePolicy(local)).toThrow(/must be an https:\/\/ URL/);
    expect(parseInferencePolicy(local, "inference", ["10.99.0.0/24"]).providers[0]!.baseUrl).toBe("http://10.99.0.5:8000");
    // Only on the listed networks.
    expect(() => parseInferencePolicy({ providers: [provider("http://10.98.0.5")] }, "inference", ["10.99.0.0/24"])).toThrow(/inference\.providers\.0\.baseUrl: host /);
  });
});

describe("OpenClaw models fragment", () => {
  it("one provider per allowed provider, its api, the router token as a file SecretRef, the listed models, mode replace", () => {
    const oc = openclawModelsConfig({ routerAddress: "10.64.0.35", tokenFile: "/t", inference, port: 9090 });
    expect(oc.models.mode).toBe("replace");
    expect(Object.keys(oc.models.providers)).toEqual(["openai", "claude"]);
    expect(oc.models.providers.openai).toEqual({
      baseUrl: "http://10.64.0.35:9090/openai/v1",
      api: "openai-completions",
      apiKey: { source: "file", provider: "octwrouter", id: "value" },
      models: [{ id: "gpt-x", name: "gpt-x" }],
    });
    expect(oc.models.providers.claude).toEqual({
      baseUrl: "http://10.64.0.35:9090/claude",
      api: "anthropic-messages",
      apiKey: { source: "file", provider: "octwrouter", id: "value" },
      models: [{ id: "claude-y", name: "claude-y" }],
    });
  });
});

describe("provider hosts must not be egress destinations: edges", () => {
  it("a plain-http provider without a port is on port 80", () => {
    const http80 = { ...inference, providers: [{ ...inference.providers[0]!, baseUrl: "http://models.example" }] };
    expect(inferenceEgressConflicts(http80, [{ host: "models.example", ports: [80] }])).toHaveLength(1);
    expect(inferenceEgressConflicts(http80, [{ host: "models.example", ports: [443] }])).toEqual([]);
  });
  it("only a `*.` rule is a wildcard; the message names every port of the rule", () => {
    expect(inferenceEgressConflicts(inference, [{ host: "xapi.openai.example", ports: [443] }])).toEqual([]);
    expect(inferenceEgressConflicts(inference, [{ host: "*.anthropic.example", ports: [443, 8443] }])).toEqual([
      'inference provider "claude" (api.anthropic.example:443) is also allowed as egress by *.anthropic.example:443,8443',
    ]);
  });
});
