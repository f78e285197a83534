import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { OctwConfigError, OpenClawPlatform, type OpenClawPlatformArgs } from "../src/index.js";
import { MockRecorder, PINNED, TYPES, settle, type RecordedResource } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

const ROUTER_IMAGE = `sha256:${"f".repeat(64)}`;
const inference = { providers: [{ name: "openai", api: "openai", baseUrl: "https://api.openai.example", models: ["gpt-4.1-mini"] }], limits: { maxConcurrent: 4 } };
const config = (alphaPolicy: unknown, images: Record<string, string> = { ...PINNED, inferenceRouter: ROUTER_IMAGE }) => ({
  prefix: "octwtest",
  images,
  tenants: [
    { id: "alpha", slot: 1, policy: alphaPolicy },
    { id: "bravo", slot: 2 },
  ],
  audit: { mode: "embedded" },
});
const deploy = (name: string, cfg: unknown) => recorder.deploy(name, cfg);
const upload = (rs: RecordedResource[], container: string, file: string) =>
  (rs.find((r) => r.type === TYPES.container && r.inputs.name === container)!.inputs.uploads as { file: string; content: string }[]).find((u) => u.file === file)!.content;

describe("inference routing", () => {
  it("points the tenant's OpenClaw at the router on its own network with the router token file as key, never the provider", async () => {
    const rs = await deploy("i1", config({ version: 1, inference }));
    const cfg = JSON.parse(upload(rs, "octwtest-alpha-state-init", "/state/openclaw.json")) as {
      models: { mode: string; providers: Record<string, { baseUrl: string; apiKey: unknown }> };
      secrets: { providers: Record<string, { path: string }> };
    };
    expect(cfg.models.mode).toBe("replace");
    expect(cfg.models.providers.openai!.baseUrl).toBe("http://10.64.0.35:8080/openai/v1");
    expect(cfg.models.providers.openai!.apiKey).toEqual({ source: "file", provider: "octwrouter", id: "value" });
    expect(cfg.secrets.providers.octwrouter!.path).toBe("/var/lib/openclaw/.octw/router-token");
    expect(JSON.stringify(cfg)).not.toContain("api.openai.example");
    // bravo has no inference section: no providers at all.
    expect(JSON.parse(upload(rs, "octwtest-bravo-state-init", "/state/openclaw.json"))).not.toHaveProperty("models");
  });

  it("declares the router with token digests (never tokens), its secrets as 0400 files, and attaches it to alpha's network only", async () => {
    const rs = await deploy("i2", config({ version: 1, inference }));
    const tenantsFile = rs.find((r) => r.type === TYPES.dynamic && r.name.endsWith("-tenants"))!;
    expect(tenantsFile.inputs).toMatchObject({ path: "/state/config/config.json", uid: 10003, gid: 10003, mode: 0o400 });
    const routerCfg = JSON.parse(tenantsFile.inputs.content as string) as { tenants: { id: string; routerAddress: string; subnet: string; tokenSha256: string }[] };
    const token = "pw-i2-alpha-router-token";
    expect(routerCfg.tenants).toEqual([
      expect.objectContaining({ id: "alpha", routerAddress: "10.64.0.35", subnet: "10.64.0.32/27", tokenSha256: createHash("sha256").update(token).digest("hex") }),
    ]);
    const init = rs.find((r) => r.type === TYPES.container && r.inputs.name === "octwtest-router-state-init")!;
    expect(JSON.stringify(init.inputs.uploads)).not.toContain(`"${token}"`);
    expect(upload(rs, "octwtest-router-state-init", "/state/secrets/master-keyring")).toMatch(/^1:/);
    expect(upload(rs, "octwtest-router-state-init", "/state/secrets/db-url")).toMatch(/^postgres:\/\/octwtest_audit_router:pw-i2-audit-router-password@/);
    expect(init.secretPaths.some((p) => p.startsWith("uploads"))).toBe(true);
    const router = rs.find((r) => r.type === TYPES.container && r.inputs.name === "octwtest-inference-router")!;
    expect((router.inputs.networksAdvanced as { name: string }[]).map((n) => n.name)).toEqual(["octwtest-egress", "octwtest-control"]);
    expect(router.inputs.readOnly).toBe(true);
    expect(JSON.stringify(router.inputs.envs)).not.toContain("pw-");
    const attachments = rs.filter((r) => r.type === TYPES.dynamic && r.name.endsWith("-router-attachment")).map((r) => r.inputs);
    expect(attachments).toEqual([expect.objectContaining({ container: `${router.name}-id`, network: "octwtest-alpha-net", ipv4Address: "10.64.0.35" })]);
  });

  it("refuses a policy whose egress allowlist would let the sandbox reach a provider directly", async () => {
    await settle();
    recorder.reset();
    const policy = { version: 1, inference, network_policies: { leak: { endpoints: [{ host: "api.openai.example", port: 443 }] } } };
    let err: unknown;
    try {
      new OpenClawPlatform("i3", config(policy) as unknown as OpenClawPlatformArgs);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OctwConfigError);
    expect((err as Error).message).toMatch(/tenants\[0\]\.policy\.inference\.providers\[0\]\.baseUrl: is also allowed as egress by tenants\[0\]\.policy\.network_policies\.leak/);
    await settle();
    expect(recorder.resources).toEqual([]);
  });

  it("names the field of a bad inference section, and asks for the router image", () => {
    expect(() => new OpenClawPlatform("i4", config({ version: 1, inference: { providers: [{ name: "x", api: "grpc", baseUrl: "https://a.example", models: ["m"] }] } }) as unknown as OpenClawPlatformArgs)).toThrow(
      /tenants\[0\]\.policy\.inference\.providers\[0\]\.api: must be one of: openai, anthropic/,
    );
    expect(() => new OpenClawPlatform("i5", config({ version: 1, inference }, { ...PINNED }) as unknown as OpenClawPlatformArgs)).toThrow(/images\.inferenceRouter: is required/);
  });
});
