/**
 * The policy pack as the engine runs it: started as an analyzer plugin (node with the
 * PulumiPolicy.yaml nodeargs, in the pack's directory, which prints its port), then spoken to
 * over the Analyzer gRPC protocol with @pulumi/policy's own server doing the deserialization:
 * GetAnalyzerInfo lists the rules, Analyze checks one resource, AnalyzeStack the whole stack,
 * Configure sets a rule's enforcement level and exemptions as `--policy-pack-config` would.
 * The requests carry the resources `stacks/index.ts` registers under mocks.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RULES } from "../src/policies.js";
import { REPO_PROGRAMS, configureRepoPrograms } from "./repo-programs.js";
import { StackRecorder, type EngineResource } from "./stack-under-mocks.js";

const require = createRequire(import.meta.url);
const PACK_DIR = fileURLToPath(new URL("..", import.meta.url));

interface Msg { [k: string]: (...a: never[]) => unknown }
const rpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb.js") as { AnalyzerClient: new (addr: string, creds: grpc.ChannelCredentials) => grpc.Client & Record<string, (req: unknown, cb: (err: grpc.ServiceError | null, res: Msg) => void) => void> };
const pb = require("@pulumi/pulumi/proto/analyzer_pb.js") as Record<string, (new () => Msg) & { [k: string]: unknown }> & { EnforcementLevel: Record<string, number> };
const { Struct } = require("google-protobuf/google/protobuf/struct_pb.js") as { Struct: { fromJavaScript(o: object): unknown } };
const { Empty } = require("google-protobuf/google/protobuf/empty_pb.js") as { Empty: new () => unknown };

let plugin: ChildProcess;
let client: InstanceType<typeof rpc.AnalyzerClient>;
let resources: EngineResource[];
const LEVEL = Object.fromEntries(Object.entries(pb.EnforcementLevel).map(([k, v]) => [v, k.toLowerCase()]));

function call(method: string, req: unknown): Promise<Msg> {
  return new Promise((resolve, reject) => client[method]!(req, (err, res) => (err ? reject(err) : resolve(res))));
}

function options(r: EngineResource): Msg {
  const o = new pb.AnalyzerResourceOptions!();
  (o.setProtect as (v: boolean) => void)(r.opts.protect);
  if (r.parent) (o.setParent as (v: string) => void)(r.parent);
  return o;
}

function analyzeRequest(r: EngineResource): Msg {
  const req = new pb.AnalyzeRequest!();
  (req.setType as (v: string) => void)(r.type);
  (req.setUrn as (v: string) => void)(r.urn);
  (req.setName as (v: string) => void)(r.name);
  (req.setProperties as (v: unknown) => void)(Struct.fromJavaScript(r.props));
  (req.setOptions as (v: Msg) => void)(options(r));
  return req;
}

function stackRequest(rs: EngineResource[]): Msg {
  const req = new pb.AnalyzeStackRequest!();
  (req.setResourcesList as (v: Msg[]) => void)(
    rs.map((r) => {
      const ar = new pb.AnalyzerResource!();
      (ar.setType as (v: string) => void)(r.type);
      (ar.setUrn as (v: string) => void)(r.urn);
      (ar.setName as (v: string) => void)(r.name);
      (ar.setProperties as (v: unknown) => void)(Struct.fromJavaScript(r.props));
      (ar.setOptions as (v: Msg) => void)(options(r));
      if (r.parent) (ar.setParent as (v: string) => void)(r.parent);
      (ar.setDependenciesList as (v: string[]) => void)(r.dependencies);
      const deps = (ar.getPropertydependenciesMap as () => { set(k: string, v: Msg): void })();
      for (const [k, urns] of Object.entries(r.propertyDependencies)) {
        const d = new pb.AnalyzerPropertyDependencies!();
        (d.setUrnsList as (v: string[]) => void)(urns);
        deps.set(k, d);
      }
      return ar;
    }),
  );
  return req;
}

type Diagnostic = { policy: string; level: string; message: string; urn: string };
function diagnostics(res: Msg): Diagnostic[] {
  return (res.getDiagnosticsList as () => Msg[])().map((d) => ({
    policy: (d.getPolicyname as () => string)(),
    level: LEVEL[(d.getEnforcementlevel as () => number)()]!,
    message: (d.getMessage as () => string)(),
    urn: (d.getUrn as () => string)(),
  }));
}

async function configure(config: Record<string, { level: "advisory" | "mandatory" | "disabled"; properties?: object }>): Promise<void> {
  const req = new pb.ConfigureAnalyzerRequest!();
  const map = (req.getPolicyconfigMap as () => { set(k: string, v: Msg): void })();
  for (const [name, c] of Object.entries(config)) {
    const pc = new pb.PolicyConfig!();
    (pc.setEnforcementlevel as (v: number) => void)(pb.EnforcementLevel[c.level.toUpperCase()]!);
    (pc.setProperties as (v: unknown) => void)(Struct.fromJavaScript(c.properties ?? {}));
    map.set(name, pc);
  }
  await call("configure", req);
}

beforeAll(async () => {
  const stack = new StackRecorder();
  configureRepoPrograms();
  await stack.install();
  resources = await REPO_PROGRAMS["stacks/index.ts"]!(stack);

  const yaml = parse(readFileSync(new URL("../PulumiPolicy.yaml", import.meta.url), "utf8")) as { runtime: { name: string; options: { nodeargs: string } } };
  expect(yaml.runtime.name).toBe("nodejs");
  plugin = spawn(process.execPath, [...yaml.runtime.options.nodeargs.split(" "), "."], { cwd: PACK_DIR, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  plugin.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    plugin.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\s*$/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    plugin.on("exit", (code) => reject(new Error(`the policy pack exited (${code}) before printing its port:\n${stderr}`)));
  });
  client = new rpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}, 60_000);

afterAll(() => {
  client?.close();
  plugin?.kill("SIGTERM");
});

const gatewayOf = (rs: EngineResource[]) => rs.find((r) => r.props.name === "octw-alpha-gateway")!;

describe("the policy pack as an analyzer plugin", () => {
  it("GetAnalyzerInfo lists every rule, mandatory, with its exemptions schema", async () => {
    const info = await call("getAnalyzerInfo", new Empty());
    expect((info.getName as () => string)()).toBe("octw-isolation");
    const policies = (info.getPoliciesList as () => Msg[])().map((p) => ({
      name: (p.getName as () => string)(),
      level: LEVEL[(p.getEnforcementlevel as () => number)()],
      schema: JSON.stringify(((p.getConfigschema as () => Msg)().getProperties as () => { toJavaScript(): object })().toJavaScript()),
    }));
    expect(policies.map((p) => p.name).sort()).toEqual(RULES.map((r) => r.name).sort());
    for (const p of policies) {
      expect(p.level, p.name).toBe("mandatory");
      expect(p.schema, p.name).toContain('"exemptions"');
    }
  });

  it("Analyze: the components' containers pass; a privileged one is refused, naming resource and field", async () => {
    for (const r of resources.filter((x) => x.type === "docker:index/container:Container")) {
      expect(diagnostics(await call("analyze", analyzeRequest(r))), r.name).toEqual([]);
    }
    const bad = structuredClone(gatewayOf(resources));
    bad.props.privileged = true;
    const d = diagnostics(await call("analyze", analyzeRequest(bad)));
    expect(d.map((x) => [x.policy, x.level])).toEqual([["octw-no-privileged", "mandatory"]]);
    expect(d[0]!.message).toContain("local-alpha-gateway (Docker name octw-alpha-gateway): privileged is true");
  });

  it("AnalyzeStack: the stack passes; an env computed from a generated secret is refused (property dependencies over the wire)", async () => {
    expect(diagnostics(await call("analyzeStack", stackRequest(resources)))).toEqual([]);
    const mutated = structuredClone(resources);
    const token = mutated.find((r) => r.name === "local-alpha-router-token")!;
    const gw = gatewayOf(mutated);
    (gw.props.envs as string[]).push("ROUTER_TOKEN=x");
    gw.propertyDependencies.envs = [token.urn];
    const d = diagnostics(await call("analyzeStack", stackRequest(mutated)));
    expect(d.map((x) => x.policy)).toEqual(["octw-no-generated-secret-in-env"]);
    expect(d[0]!.message).toContain("local-alpha-gateway (Docker name octw-alpha-gateway): envs is computed from the generated secret local-alpha-router-token");
  });

  it("Configure: a rule's enforcement level and exemptions, as --policy-pack-config sets them", async () => {
    const bad = structuredClone(gatewayOf(resources));
    bad.props.privileged = true;
    await configure({ "octw-no-privileged": { level: "advisory" } });
    expect(diagnostics(await call("analyze", analyzeRequest(bad))).map((x) => x.level)).toEqual(["advisory"]);
    await configure({ "octw-no-privileged": { level: "mandatory", properties: { exemptions: [{ resource: "octw-alpha-gateway", reason: "kernel debugging with the vendor, removed after INC-4711" }] } } });
    expect(diagnostics(await call("analyze", analyzeRequest(bad)))).toEqual([]);
    // an exemption without its reason fails the analysis, naming the entry
    await configure({ "octw-no-privileged": { level: "mandatory", properties: { exemptions: [{ resource: "octw-alpha-gateway" }] } } });
    await expect(call("analyze", analyzeRequest(bad))).rejects.toThrow("octw-no-privileged.exemptions[0].reason: required");
    await configure({});
  });
});
