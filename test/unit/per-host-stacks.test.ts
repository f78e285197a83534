/**
 * stacks/per-host (the layout the README recommends past one host) evaluates under mocks as
 * `pulumi up` would run each of its stacks: the shared stack exports what the host stacks read;
 * each host stack declares its own tenants only, with its own engine's provider and key.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { MockRecorder, PINNED, TYPES, settle } from "../../packages/pulumi/test/harness.js";
import { SHARED_AUDIT_OUTPUT } from "@octw/pulumi";

const recorder = new MockRecorder();
let sharedExports: Record<string, unknown> = {};
const references: string[] = [];

beforeAll(async () => {
  process.env.OCTW_IMAGE_OPENCLAW = PINNED.openclaw;
  process.env.OCTW_IMAGE_EGRESS = PINNED.egressProxy;
  process.env.OCTW_IMAGE_EDGE = `sha256:${"e".repeat(64)}`;
  process.env.OCTW_ENGINE_CA = "CA-PEM";
  process.env.OCTW_ENGINE_CERT = "CERT-PEM";
  const base = recorder.mocks;
  await pulumi.runtime.setMocks(
    {
      ...base,
      newResource: (args) => {
        if (args.type !== "pulumi:pulumi:StackReference") return base.newResource(args);
        references.push(String((args.inputs as { name: unknown }).name));
        return { id: args.name, state: { name: args.name, outputs: sharedExports, secretOutputNames: [SHARED_AUDIT_OUTPUT] } };
      },
    },
    "octw-per-host",
    "stack",
    false,
    "organization",
  );
});

const valueOf = (o: unknown): Promise<unknown> => {
  const out: pulumi.Output<unknown> = pulumi.output(o as pulumi.Input<string>);
  return new Promise((resolve) => out.apply(resolve));
};

async function runStack(config: Record<string, string>, secretKeys: string[]): Promise<Record<string, unknown>> {
  pulumi.runtime.setAllConfig(config, secretKeys);
  recorder.reset();
  const { default: program } = await import("../../stacks/per-host/index.js");
  const outputs = program();
  await settle();
  return Object.fromEntries(await Promise.all(Object.entries(outputs).map(async ([k, v]) => [k, await valueOf(v)] as const)));
}

describe("stacks/per-host", () => {
  it("the shared stack declares the audit store and no Docker part; a host stack only its tenants, with its engine's provider and key, the audit from the shared stack", async () => {
    const shared = await runStack({ "octw:layout": "shared", "octw:auditAdminPassword": "admin-password-secret" }, ["octw:auditAdminPassword"]);
    expect(recorder.resources.filter((r) => r.type.startsWith("docker:"))).toEqual([]);
    expect(recorder.ofType("octw:index:AuditStore").length).toBe(1);
    expect(Object.keys(shared).sort()).toEqual(["auditOperator", SHARED_AUDIT_OUTPUT, "tenantAddresses"].sort());
    expect(shared.tenantAddresses).toEqual({
      alpha: { host: "home", url: "https://alpha.agents.example.com/", serveAt: "home.edge.example.com:8443" },
      bravo: { host: "b", url: "https://bravo.agents.example.com/", serveAt: "b.edge.example.com:8443" },
    });
    sharedExports = { [SHARED_AUDIT_OUTPUT]: shared[SHARED_AUDIT_OUTPUT] };

    const b = await runStack({ "octw:layout": "host", "octw:host": "b", "octw:hostTlsKey": "B-KEY-SECRET" }, ["octw:hostTlsKey"]);
    expect(references.at(-1)).toBe("organization/octw-per-host/shared");
    const gateways = recorder.ofType(TYPES.container).map((c) => String(c.inputs.name)).filter((n) => n.endsWith("-gateway"));
    expect(gateways).toEqual(["octw-bravo-gateway"]);
    const providers = recorder.ofType("pulumi:providers:docker");
    expect(providers.map((p) => [p.name, p.inputs.host, p.inputs.keyMaterial])).toEqual([["octw.b-docker", "tcp://10.0.0.12:2376", "B-KEY-SECRET"]]);
    expect(providers[0]!.secretPaths).toContain("keyMaterial");
    // the tenant's reader role is declared here, with the admin password the shared stack holds (a secret)
    const admin = recorder.ofType(TYPES.pgProvider)[0]!;
    expect(admin.inputs.password).toBe("admin-password-secret");
    expect(admin.secretPaths).toContain("password");
    expect(recorder.ofType(TYPES.pgRole).map((r) => r.inputs.name)).toEqual(["octw_reader_bravo"]);
    expect(b.host).toEqual(["bravo"]);
    expect(Object.keys(b.tenants as object)).toEqual(["bravo"]);
  });
});
