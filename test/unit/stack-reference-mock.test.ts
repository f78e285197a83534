// StackReference under the realizing mock and the realizing deployment (test/realize/stack-references.ts):
// a program's stack outputs are recorded as the engine keeps them, and a program of another stack
// reads them with Pulumi's semantics — secret outputs stay secret, plain ones do not,
// getOutput/requireOutput behave as @pulumi/pulumi's stackReference.ts, a stack that was never run
// fails the run naming it, and a second run plans nothing for a read. Only @pulumi/random
// resources (realized in memory): no engine is touched.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import Dockerode from "dockerode";
import { describe, expect, it } from "vitest";
import { createDeployment } from "../realize/deployment";
import { createRealizingMocks } from "../realize/realizing-mocks";
import { StackOutputStore, recordedOutputs, type RecordedOutputs } from "../realize/stack-references";

// never reached: the programs below declare no Docker resource (and nothing here sweeps an engine)
const docker = new Dockerode({ socketPath: "/nonexistent/docker.sock" });
const SHARED = "acme/platform/shared";

const valueOf = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply((x) => {
  resolve(x);
  return x;
}));

/** The shared stack: one plain output, one secret, one plain object holding a secret, one from a resource. */
async function runShared(store: StackOutputStore): Promise<RecordedOutputs> {
  const dep = createDeployment({ runId: "rstackref", docker, project: "platform", stack: "shared", organization: "acme", stackOutputs: store });
  let exports: Record<string, unknown> = {};
  await dep.up(() => {
    const pw = new random.RandomPassword("pw", { length: 20, special: false });
    exports = { domain: "example.test", token: pulumi.secret("token-value"), nested: { inner: pulumi.secret("inner-value"), plain: 1 }, password: pw.result };
  });
  const outputs = await recordedOutputs(exports);
  store.record(`${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`, outputs);
  return outputs;
}

describe("StackReference under the realizing deployment", () => {
  it("records the shared program's outputs as the engine does: a value holding a secret is secret as a whole", async () => {
    const store = new StackOutputStore();
    const outputs = await runShared(store);
    expect(store.get(SHARED)).toBe(outputs);
    expect(outputs.domain).toEqual({ value: "example.test", secret: false });
    expect(outputs.token).toEqual({ value: "token-value", secret: true });
    expect(outputs.nested).toEqual({ value: { inner: "inner-value", plain: 1 }, secret: true });
    // a RandomPassword's result is secret (additionalSecretOutputs) and a realized CSPRNG value
    expect(outputs.password!.secret).toBe(true);
    expect(String(outputs.password!.value)).toMatch(/^[A-Za-z0-9]{20}$/);
  });

  it("a host program reads them: getOutput/requireOutput keep each output's secretness, outputs is secret as a whole and holds exactly the recorded names; a second run plans nothing for the read", async () => {
    const store = new StackOutputStore();
    const shared = await runShared(store);
    const dep = createDeployment({ runId: "rstackref", docker, project: "platform", stack: "host-a", organization: "acme", stackOutputs: store });
    let ref: pulumi.StackReference | undefined;
    const program = () => {
      ref = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/shared`);
      // a resource of this stack built from a secret of the other: its input arrives secret
      new random.RandomString("from-shared", { length: 8, special: false, keepers: { token: ref.requireOutput("token") as pulumi.Output<string> } });
    };
    const first = await dep.up(program);
    expect(first.counts()).toMatchObject({ create: 1, update: 0, replace: 0, delete: 0 });
    // the read is no step of the plan (a real `pulumi up` shows it as a read, not a change)
    expect(first.steps.map((s) => s.type)).toEqual(["random:index/randomString:RandomString"]);
    const r = ref!;
    expect(await valueOf(r.getOutput("domain"))).toBe("example.test");
    expect(await pulumi.isSecret(r.getOutput("domain"))).toBe(false);
    expect(await valueOf(r.requireOutput("token"))).toBe("token-value");
    expect(await pulumi.isSecret(r.requireOutput("token"))).toBe(true);
    expect(await pulumi.isSecret(r.getOutput("nested"))).toBe(true);
    expect(await valueOf(r.getOutput("password"))).toBe(shared.password!.value);
    expect(await pulumi.isSecret(r.outputs)).toBe(true);
    expect(await valueOf(r.secretOutputNames)).toEqual(["nested", "password", "token"]);
    expect(await valueOf(r.getOutput("absent"))).toBeUndefined();
    expect(await r.getOutputValue("domain")).toBe("example.test");
    await expect(r.getOutputValue("token")).rejects.toThrow(/is a secret/);
    // requireOutput throws for a name `outputs` does not own (stackReference.ts): exactly the recorded names are there
    expect(Object.keys(await valueOf(r.outputs)).sort()).toEqual(["domain", "nested", "password", "token"]);
    const created = dep.find("random:index/randomString:RandomString", "from-shared")!;
    expect(created.secretPaths).toContain("keepers");
    expect(created.inputs.keepers).toEqual({ token: "token-value" });

    // a second run of the host stack, nothing changed: no step but "same"
    const again = await dep.preview(program);
    expect(again.changed()).toEqual([]);
    // the shared stack's token changes: the host stack's resource that uses it is replaced (keepers)
    store.record(SHARED, { ...shared, token: { value: "rotated", secret: true } });
    const rotated = await dep.preview(program);
    expect(rotated.changed().map((s) => `${s.op} ${s.name}`)).toEqual(["replace from-shared"]);
  });

  it("a stack that was never run fails the run, naming the stack (and only its name)", async () => {
    const store = new StackOutputStore();
    await runShared(store);
    const dep = createDeployment({ runId: "rstackref", docker, project: "platform", stack: "host-b", organization: "acme", stackOutputs: store });
    const run = dep.up(() => {
      const ref = new pulumi.StackReference("acme/platform/sharde");
      new random.RandomString("x", { length: 8, keepers: { v: ref.requireOutput("domain") as pulumi.Output<string> } });
    });
    await expect(run).rejects.toThrow("no stack named 'acme/platform/sharde' found (stacks run so far: acme/platform/shared)");
    expect(dep.entries()).toEqual([]);
  });
});

describe("StackReference under the realizing mock (one run)", () => {
  it("answers from the recorded stacks, and a reference without any recorded stack fails settled() naming the stack", async () => {
    const store = new StackOutputStore();
    store.record("org/p/shared", { addr: { value: "10.0.0.1", secret: false }, key: { value: "k", secret: true } });
    const rm = createRealizingMocks({ runId: "rstackref", docker, stackOutputs: store });
    await pulumi.runtime.setMocks(rm.mocks, "p", "host", false, "org");
    const ref = new pulumi.StackReference("shared", { name: "org/p/shared" });
    await rm.settled();
    expect(await valueOf(ref.getOutput("addr"))).toBe("10.0.0.1");
    expect(await pulumi.isSecret(ref.getOutput("addr"))).toBe(false);
    expect(await pulumi.isSecret(ref.requireOutput("key"))).toBe(true);
    expect(rm.find("pulumi:pulumi:StackReference", "shared")?.outputs).toMatchObject({ name: "org/p/shared", secretOutputNames: ["key"] });

    const none = createRealizingMocks({ runId: "rstackref", docker });
    await pulumi.runtime.setMocks(none.mocks, "p", "host", false, "org");
    new pulumi.StackReference("org/p/shared");
    await expect(none.settled()).rejects.toThrow("no stack named 'org/p/shared' found");
  });
});
