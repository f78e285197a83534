/**
 * The stack program and the examples evaluate under mocks exactly as `pulumi up` would run
 * them: config from the stack file, images from the environment (`env:` references).
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { MockRecorder, PINNED, TYPES, settle } from "../../packages/pulumi/test/harness.js";
import { configureRepoPrograms, runStackProgram } from "../../packages/pulumi/test/repo-programs.js";

const recorder = new MockRecorder();

beforeAll(async () => {
  configureRepoPrograms();
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "local", false);
});

describe("programs", () => {
  it("stacks/index.ts deploys the two demo tenants of Pulumi.local.yaml with images resolved from the environment", async () => {
    recorder.reset();
    const keys = await runStackProgram(settle);
    const edgeInit = recorder.ofType(TYPES.container).find((c) => c.inputs.name === "octw-edge-state-init")!;
    const edgeConfig = JSON.parse((edgeInit.inputs.uploads as { file: string; content: string }[]).find((u) => u.file === "/state/config/config.json")!.content) as { jwt: { keys: { jwks: { kid: string }[] } } };
    expect(edgeConfig.jwt.keys.jwks.map((k) => k.kid)).toEqual([keys.kid]);
    const gateways = recorder.ofType(TYPES.container).filter((r) => (r.inputs.labels as { label: string; value: string }[]).some((l) => l.label === "octw.component" && l.value === "gateway"));
    expect(gateways.map((g) => g.inputs.name).sort()).toEqual(["octw-alpha-gateway", "octw-bravo-gateway"]);
    expect(recorder.ofType(TYPES.image).map((i) => i.inputs.name).sort()).toEqual([PINNED.openclaw, PINNED.openclaw, PINNED.egressProxy, PINNED.egressProxy, PINNED.postgres, process.env.OCTW_IMAGE_EDGE, process.env.OCTW_IMAGE_INFERENCE_ROUTER].sort());
    expect(recorder.ofType(TYPES.container).map((c) => c.inputs.name)).toContain("octw-inference-router");
    const bravoProxy = recorder.ofType(TYPES.container).find((c) => c.inputs.name === "octw-bravo-egress")!;
    const squid = Buffer.from(String((bravoProxy.inputs.envs as string[])[0]).split("=")[1]!, "base64").toString();
    expect(squid).toContain("acl ep0_host dstdomain -n api.telegram.org");
    expect(squid).toContain("api.open-meteo.com");
  });

  it("examples/single-tenant declares the four components piecemeal", async () => {
    recorder.reset();
    await import("../../examples/single-tenant/index.js");
    await settle();
    const types = new Set(recorder.resources.map((r) => r.type));
    for (const t of ["octw:index:TenantNetwork", "octw:index:SandboxPolicy", "octw:index:TenantGateway", "octw:index:AuditStore"]) expect(types.has(t), t).toBe(true);
    expect(recorder.ofType(TYPES.container).map((c) => c.inputs.name)).toContain("acme-acme-gateway");
  });

  it("examples/platform-external-postgres uses the external server, with the admin password as a secret", async () => {
    recorder.reset();
    await import("../../examples/platform-external-postgres/index.js");
    await settle();
    const provider = recorder.ofType(TYPES.pgProvider)[0]!;
    expect(provider.inputs.host).toBe("db.example.com");
    expect(provider.secretPaths).toContain("password");
    expect(recorder.ofType(TYPES.container).some((c) => String(c.inputs.name).includes("postgres"))).toBe(false);
    const initech = recorder.ofType(TYPES.container).find((c) => c.inputs.name === "oc-initech-gateway")!;
    expect(initech.inputs.runtime).toBe("runsc");
    expect(initech.inputs.memory).toBe(3072);
  });
});
