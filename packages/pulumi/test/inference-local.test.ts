import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { INFERENCE_LOCAL_HOST, OpenClawPlatform, inferenceLocalPlan, type OpenClawPlatformArgs } from "../src/index.js";
import { MockRecorder, PINNED, TYPES, settle, type RecordedResource } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

describe("inference.local (planner)", () => {
  it("names the router's address and bypasses the egress proxy for that name only", () => {
    const plan = inferenceLocalPlan("10.64.0.35");
    expect(plan.hosts).toEqual([{ host: "inference.local", ip: "10.64.0.35" }]);
    expect(plan.noProxy.split(",")).toEqual(["localhost", "127.0.0.1", INFERENCE_LOCAL_HOST]);
  });
  it("a tenant without a router gets no name (and the proxy bypass it always had)", () => {
    expect(inferenceLocalPlan(undefined)).toEqual({ hosts: [], noProxy: "localhost,127.0.0.1" });
  });
});

describe("inference.local (gateway container)", () => {
  const inference = { providers: [{ name: "openai", api: "openai", baseUrl: "https://api.openai.example", models: ["gpt-4.1-mini"] }] };
  async function deploy(): Promise<RecordedResource[]> {
    await settle();
    recorder.reset();
    new OpenClawPlatform("il", {
      prefix: "octwtest",
      images: { ...PINNED, inferenceRouter: `sha256:${"f".repeat(64)}` },
      // alpha's policy was written for NemoClaw: it names inference.local as an endpoint.
      tenants: [
        { id: "alpha", slot: 1, policy: { version: 1, inference, network_policies: { managed_inference: { endpoints: [{ host: "inference.local", port: 443, protocol: "rest", access: "full" }] } } } },
        { id: "bravo", slot: 2 },
      ],
      audit: { mode: "embedded" },
    } as unknown as OpenClawPlatformArgs);
    await settle();
    return recorder.resources;
  }
  const container = (rs: RecordedResource[], name: string) => rs.find((r) => r.type === TYPES.container && r.inputs.name === name)!;

  it("resolves to the tenant's own router address, on the gateway of that tenant only, and never becomes egress", async () => {
    const rs = await deploy();
    const alpha = container(rs, "octwtest-alpha-gateway");
    expect(alpha.inputs.hosts).toEqual([{ host: "inference.local", ip: "10.64.0.35" }]);
    expect(alpha.inputs.envs).toContain("NO_PROXY=localhost,127.0.0.1,inference.local");
    // bravo has no router: the name does not resolve there (the control for the lookup above).
    const bravo = container(rs, "octwtest-bravo-gateway");
    expect(bravo.inputs.hosts ?? []).toEqual([]);
    expect(bravo.inputs.envs).toContain("NO_PROXY=localhost,127.0.0.1");
    // The policy's inference.local endpoint is mapped, not allowed through alpha's proxy by name;
    // the router is, by its address only (OpenClaw sends its model calls through the proxy).
    const proxy = container(rs, "octwtest-alpha-egress");
    const b64 = (proxy.inputs.envs as string[]).find((e) => e.startsWith("OCTW_SQUID_CONFIG_B64="))!.slice("OCTW_SQUID_CONFIG_B64=".length);
    const squid = Buffer.from(b64, "base64").toString("utf8");
    expect(squid).toContain('tenant "alpha"');
    expect(squid).not.toContain("inference.local");
    expect(squid).toMatch(/^acl ep\d+_host dstdomain -n 10\.64\.0\.35$/m);
  });
});
