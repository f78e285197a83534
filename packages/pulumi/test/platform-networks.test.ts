// The platform's own networks are never an inference provider, in whatever address range the
// operator runs them: a tenant's baseUrl into the address pool (another tenant's gateway), the
// control network (the audit Postgres), the egress or ingress network is refused at preview,
// naming the field; the router gets the same networks to refuse at connect time.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { OpenClawPlatform, planPlatform, type OpenClawPlatformArgs } from "../src/index.js";
import { MockRecorder, PINNED, TYPES, settle } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

// public ranges on purpose: the non-public ones are refused anyway, which would hide the rule
const NETS = { addressPool: "44.0.0.0/24", egressSubnet: "45.0.1.0/24", controlSubnet: "45.0.0.0/28", ingressSubnet: "45.0.2.0/28" };
const config = (baseUrl: string): OpenClawPlatformArgs => ({
  prefix: "octwtest",
  ...NETS,
  images: { ...PINNED, inferenceRouter: `sha256:${"f".repeat(64)}` },
  tenants: [
    { id: "alpha", slot: 1, policy: { version: 1, inference: { providers: [{ name: "p", api: "openai", baseUrl, models: ["m"] }] } } },
    { id: "bravo", slot: 2 },
  ],
  audit: { mode: "embedded" },
});

describe("inference providers never on the platform's own networks", () => {
  it.each([
    ["bravo's gateway (address pool)", "https://44.0.0.69/v1"],
    ["the audit Postgres (control network)", "https://45.0.0.2:5432/v1"],
    ["the egress network", "https://45.0.1.9/v1"],
    ["the ingress network (the edge)", "https://45.0.2.2/v1"],
  ])("%s is refused at preview, naming the field and not the value", (_what, baseUrl) => {
    expect(() => planPlatform(config(baseUrl), "t")).toThrow(/tenants\[0\]\.policy\.inference\.providers\[0\]\.baseUrl: host is one of the platform's own networks/);
    try {
      planPlatform(config(baseUrl), "t");
    } catch (e) {
      expect(String(e)).not.toContain(new URL(baseUrl).hostname);
    }
  });

  it("control: a public provider outside the platform's networks is accepted, and the router refuses the platform's networks at connect time", async () => {
    expect(() => planPlatform(config("https://45.0.3.1/v1"), "t")).not.toThrow();
    await settle();
    recorder.reset();
    new OpenClawPlatform("n", config("https://api.provider.example/v1"));
    await settle();
    const tenantsFile = recorder.resources.find((r) => r.type === TYPES.dynamic && r.name.endsWith("-tenants"))!;
    const routerConfig = JSON.parse(tenantsFile.inputs.content as string) as { platformNetworks: string[]; tenants: { id: string }[] };
    // bravo has no inference section, so it is not in the router's tenant list: only the
    // platform networks keep the router from reaching bravo's gateway
    expect(routerConfig.tenants.map((t) => t.id)).toEqual(["alpha"]);
    expect(routerConfig.platformNetworks).toEqual(["44.0.0.0/24", "45.0.1.0/24", "45.0.0.0/28", "45.0.2.0/28"]);
  });
});
