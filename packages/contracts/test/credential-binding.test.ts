import { describe, expect, it } from "vitest";
import { OctwConfigError, mergePolicyDocuments, parsePolicyDocument, planEnforcement, type EnforcedSandboxPolicy } from "../src/index.js";

const CAPS = { l7Rest: true, credentials: true } as const;

function plan(endpoint: Record<string, unknown>, caps: { l7Rest?: boolean; credentials?: boolean } = CAPS, ack: "credentials"[] = []): EnforcedSandboxPolicy {
  const base = parsePolicyDocument({ version: 1, filesystem_policy: { read_write: ["/tmp"] } }, "base");
  const doc = parsePolicyDocument({ version: 1, network_policies: { api: { endpoints: [{ host: "api.example.org", port: 443, ...endpoint }] } } }, "t");
  return planEnforcement(mergePolicyDocuments([base, doc], "t"), ack, "t", "policy", caps);
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof OctwConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`).join("\n");
    throw err;
  }
  return "";
}

const AT = "policy.network_policies.api.endpoints[0]";
const bound = { protocol: "rest", credential_binding: { provider: "gh" } };

describe("credential_binding", () => {
  it("is enforced on an inspected REST endpoint: intercepted, every method and path allowed, the provider named", () => {
    const p = plan({ ...bound, access: "full" });
    expect(p.notEnforced).toEqual([]);
    expect(p.egress[0]!.credentials).toEqual({ provider: "gh" });
    expect(p.egress[0]!.l7).toEqual({ allow: [{ method: "*", path: "/**" }], deny: [], allowEncodedSlash: false });
  });

  it("keeps the endpoint's own rules, and its `path` scopes the binding", () => {
    expect(plan({ ...bound, rules: [{ allow: { method: "GET", path: "/repos/**" } }] }).egress[0]!.l7!.allow).toEqual([{ method: "GET", path: "/repos/**" }]);
    expect(plan({ ...bound, access: "full", path: "/v1/**" }).egress[0]!.l7!.allow).toEqual([{ method: "*", path: "/v1/**" }]);
  });

  it("control: without the capability it is reported not enforced, and refused unacknowledged", () => {
    expect(plan({ ...bound, access: "full" }, { l7Rest: true }, ["credentials"]).egress[0]!.credentials).toBeUndefined();
    expect(refusal(() => plan({ ...bound, access: "full" }, { l7Rest: true }))).toContain(`${AT}.credential_binding: cannot be enforced`);
  });

  it.each([
    [{ protocol: "websocket", access: "full" }, /protocol websocket: secrets are put only into inspected REST requests/],
    [{ tls: "skip" }, /protocol unset/],
    [{ protocol: "rest", tls: "skip", access: "full" }, /`tls: skip` asks that the traffic not be inspected/],
    [{ protocol: "rest", rules: [{ allow: { method: "GET", path: "/x", query: { q: "a" } } }] }, /L7 rules are not enforced, so its requests are not inspected/],
  ])("is not enforced, with the precise reason, where nothing inspected carries it: %j", (ep, reason) => {
    const p = plan({ ...ep, credential_binding: { provider: "gh" } }, CAPS, ["credentials", "rules" as never]);
    const line = p.notEnforced.find((n) => n.startsWith(`${AT}.credential_binding: `));
    expect(line).toMatch(reason);
    expect(p.egress[0]!.credentials).toBeUndefined();
  });

  it("a provider name that cannot name a tenant secret is not enforced (and not echoed)", () => {
    const p = plan({ ...bound, access: "full", credential_binding: { provider: "a b/c" } }, CAPS, ["credentials"]);
    expect(p.notEnforced.join("\n")).toMatch(/provider name must be 1-64 characters/);
    expect(p.notEnforced.join("\n")).not.toContain("a b/c");
  });

  it.each([
    [{ request_body_credential_rewrite: true }, "request_body_credential_rewrite", /request bodies are not rewritten/],
    [{ websocket_credential_rewrite: true }, "websocket_credential_rewrite", /WebSocket messages are not inspected after the upgrade/],
    [{ credential_signing: "sigv4", signing_service: "s3" }, "credential_signing", /SigV4 re-signing is not performed/],
  ])("other forms stay not enforced with their reason, even beside an enforced binding: %j", (extra, field, reason) => {
    expect(refusal(() => plan({ ...bound, access: "full", ...extra }))).toContain(`${AT}.${field}: cannot be enforced`);
    const p = plan({ ...bound, access: "full", ...extra }, CAPS, ["credentials"]);
    expect(p.notEnforced.find((n) => n.startsWith(`${AT}.${field}: `))).toMatch(reason);
    expect(p.egress[0]!.credentials).toEqual({ provider: "gh" });
  });
});
