import { describe, expect, it } from "vitest";
import { parseRouterConfig } from "../src/index.js";

const hash = (c: string) => c.repeat(64);
const tenant = (id: string, n: number, extra: Record<string, unknown> = {}) => ({
  id,
  routerAddress: `10.64.0.${n * 32 + 3}`,
  subnet: `10.64.0.${n * 32}/27`,
  tokenSha256: hash(String(n)),
  providers: [{ name: "openai", api: "openai", baseUrl: "https://api.example.test", models: ["gpt-x"] }],
  ...extra,
});

describe("router config", () => {
  it("fills defaults: key secret name, limits, listener, key cache bounds", () => {
    const c = parseRouterConfig({ tenants: [tenant("a", 1)] });
    expect(c.tenants[0]!.providers[0]!.keySecret).toBe("openai/api-key");
    expect(c.tenants[0]!.limits).toEqual({ rate: { ratePerSec: 10, burst: 20 }, maxConcurrent: 8, maxConnections: 64 });
    expect(c.listen).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(c.keys.cacheTtlMs).toBeLessThan(c.keys.maxStaleMs);
  });

  const bad: [string, unknown, RegExp][] = [
    ["tenant id", { tenants: [tenant("A_1", 1)] }, /tenants\.0\.id: a lower-case DNS label/],
    ["router address outside subnet", { tenants: [tenant("a", 1, { routerAddress: "10.64.0.99" })] }, /tenants\.0\.routerAddress: 10\.64\.0\.99 is not inside the tenant's subnet/],
    ["subnet with host bits", { tenants: [tenant("a", 1, { subnet: "10.64.0.33/27" })] }, /tenants\.0\.subnet: must be an IPv4 CIDR/],
    ["token as plain text", { tenants: [tenant("a", 1, { tokenSha256: "my-token" })] }, /tenants\.0\.tokenSha256: 64 lower-case hex/],
    ["shared token", { tenants: [tenant("a", 1), tenant("b", 2, { tokenSha256: hash("1") })] }, /tenants\.1\.tokenSha256: is the same as tenant "a"'s/],
    ["overlapping subnets", { tenants: [tenant("a", 1), tenant("b", 2, { subnet: "10.64.0.0/24", routerAddress: "10.64.0.200" })] }, /tenants\.1\.subnet: 10\.64\.0\.0\/24 overlaps the subnet of tenant "a"/],
    ["duplicate tenant", { tenants: [tenant("a", 1), tenant("a", 2)] }, /tenants\.1\.id: "a" is already used/],
    ["unknown api", { tenants: [tenant("a", 1, { providers: [{ name: "x", api: "gemini", baseUrl: "https://x.test", models: ["m"] }] })] }, /providers\.0\.api: must be one of: openai, anthropic/],
    ["base URL with credentials", { tenants: [tenant("a", 1, { providers: [{ name: "x", api: "openai", baseUrl: "https://u:p@x.test", models: ["m"] }] })] }, /providers\.0\.baseUrl: must not carry a query, a fragment or credentials/],
    ["empty model list", { tenants: [tenant("a", 1, { providers: [{ name: "x", api: "openai", baseUrl: "https://x.test", models: [] }] })] }, /providers\.0\.models: list at least one model/],
    ["provider twice", { tenants: [tenant("a", 1, { providers: [{ name: "x", api: "openai", baseUrl: "https://x.test", models: ["m"] }, { name: "x", api: "anthropic", baseUrl: "https://y.test", models: ["m"] }] })] }, /providers\.1\.name: "x" is listed twice/],
    ["unknown field", { tenants: [tenant("a", 1, { apiKey: "sk-123" })] }, /tenants\.0: Unrecognized key: "apiKey"/],
  ];
  for (const [name, input, message] of bad) {
    it(`refuses ${name}, naming the field`, () => {
      expect(() => parseRouterConfig(input)).toThrow(message);
    });
  }
});
