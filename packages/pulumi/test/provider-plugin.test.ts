/**
 * @octw/pulumi as a component provider plugin, started as the engine starts a plugin: the
 * nodejs language host runs `node <nodeargs> <plugin dir> <engine address>` (PulumiPlugin.yaml's
 * nodeargs, package.json's main), the plugin prints its port, and the engine speaks the
 * ResourceProvider protocol to it. The schema fetched over GetSchema must validate against
 * Pulumi's package metaschema (test/fixtures/pulumi-package-metaschema.json: pkg/codegen/schema/
 * pulumi.json of pulumi/pulumi at 1b5949891b3cefcb9974752b24a5ecef0acc86c8), list every
 * component with its documented inputs, and be what the TypeScript declarations generate today.
 * Generating SDKs from it (`pulumi package add`) needs the Pulumi CLI and is not run here.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSchema } from "../provider/generate-schema.js";
import * as octw from "../src/index.js";

const require = createRequire(import.meta.url);
const PKG_DIR = fileURLToPath(new URL("..", import.meta.url));
const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const providerRpc = require("@pulumi/pulumi/proto/provider_grpc_pb.js") as { ResourceProviderClient: new (addr: string, creds: grpc.ChannelCredentials) => grpc.Client & Record<string, (req: unknown, cb: (err: grpc.ServiceError | null, res: { getSchema(): string; getVersion(): string }) => void) => void> };
const providerPb = require("@pulumi/pulumi/proto/provider_pb.js") as { GetSchemaRequest: new () => { setVersion(v: number): void } };
const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb.js") as { EngineService: grpc.ServiceDefinition };
const emptyPb = require("google-protobuf/google/protobuf/empty_pb.js") as { Empty: new () => unknown };

type Spec = Record<string, unknown>;
type Schema = { name: string; version: string; resources: Record<string, { isComponent?: boolean; description?: string; inputProperties: Record<string, { description?: string; default?: unknown }>; requiredInputs?: string[] }> };

let engine: grpc.Server;
let plugin: ChildProcess;
let client: InstanceType<typeof providerRpc.ResourceProviderClient>;
const engineLogs: unknown[] = [];
let served: string;

/** A stand-in for the engine's own gRPC endpoint, which a plugin may log to. */
async function startEngine(): Promise<string> {
  engine = new grpc.Server();
  const ok = (_call: unknown, cb: (e: null, r: unknown) => void) => cb(null, new emptyPb.Empty());
  engine.addService(engineRpc.EngineService, {
    log: (call: { request: unknown }, cb: (e: null, r: unknown) => void) => {
      engineLogs.push(call.request);
      cb(null, new emptyPb.Empty());
    },
    getRootResource: ok,
    setRootResource: ok,
    startDebugging: ok,
    requirePulumiVersion: ok,
  });
  const port = await new Promise<number>((res, rej) => engine.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  return `127.0.0.1:${port}`;
}

/** Starts the plugin the way the nodejs language host does and returns the port it prints. */
function startPlugin(engineAddress: string): Promise<number> {
  const pluginYaml = parse(readFileSync(new URL("../PulumiPlugin.yaml", import.meta.url), "utf8")) as { runtime: { name: string; options: { nodeargs: string } } };
  expect(pluginYaml.runtime.name).toBe("nodejs");
  plugin = spawn(process.execPath, [...pluginYaml.runtime.options.nodeargs.split(" "), PKG_DIR, engineAddress], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  plugin.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    let out = "";
    plugin.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\s*$/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    plugin.on("exit", (code) => reject(new Error(`the plugin exited (${code}) before printing its port:\n${stderr}`)));
  });
}

function call<T>(method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) => client[method]!(req, (err, res) => (err ? reject(err) : resolve(res as T))));
}

beforeAll(async () => {
  const port = await startPlugin(await startEngine());
  client = new providerRpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const req = new providerPb.GetSchemaRequest();
  req.setVersion(0);
  served = (await call<{ getSchema(): string }>("getSchema", req)).getSchema();
}, 60_000);

afterAll(async () => {
  client?.close();
  plugin?.kill("SIGTERM");
  await new Promise<void>((r) => (engine ? engine.tryShutdown(() => r()) : r()));
});

describe("the component provider plugin", () => {
  it("serves over GetSchema a schema that Pulumi's package metaschema accepts", () => {
    const metaschema = JSON.parse(readFileSync(new URL("./fixtures/pulumi-package-metaschema.json", import.meta.url), "utf8")) as object;
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(metaschema);
    const schema = JSON.parse(served) as Schema;
    expect(validate(schema), JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true);
    // control: the validator refuses a schema the metaschema forbids
    expect(validate({ ...schema, name: "1-not-a-package-name" })).toBe(false);
    expect(validate({ ...schema, resources: { "octw:index:X": { isComponent: "yes" } } })).toBe(false);
  });

  it("lists every component @octw/pulumi exports, under the type token it registers, with inputs and documentation", () => {
    const schema = JSON.parse(served) as Schema;
    // The token each exported component registers (OpenClawPlatformShared registers under
    // OpenClawPlatform's token on purpose: the shared stack's audit store keeps the URN the
    // single stack gives it), so the schema has one resource per distinct token.
    const components = [
      ...new Set(
        Object.values(octw)
          .filter((v) => typeof v === "function")
          .map((v) => /super\("(octw:index:[A-Za-z]+)"/.exec(String(v))?.[1])
          .filter((t): t is string => t !== undefined),
      ),
    ].sort();
    expect(components.length).toBeGreaterThanOrEqual(10);
    expect(Object.keys(schema.resources).sort()).toEqual(components);
    for (const [token, r] of Object.entries(schema.resources)) {
      expect(r.isComponent, token).toBe(true);
      expect(r.description, token).toBeTruthy();
      expect(Object.keys(r.inputProperties).length, token).toBeGreaterThan(0);
    }
    // the TypeScript declarations' documentation and defaults, carried over
    const gw = schema.resources["octw:index:TenantGateway"]!;
    const net = schema.resources["octw:index:TenantNetwork"]!;
    expect(net.inputProperties.addressPool).toMatchObject({ default: "10.64.0.0/10", description: "IPv4 pool that tenant /27s are carved from." });
    // TypeScript-only handoffs (`@internal`: plan objects) are not part of the multi-language schema
    expect(net.inputProperties.planned).toBeUndefined();
    expect(schema.resources["octw:index:SandboxPolicy"]!.inputProperties.planned).toBeUndefined();
    expect(gw.inputProperties.allowUnpinnedImage).toMatchObject({ default: false });
    expect(gw.inputProperties.limits!.description).toContain("Default: { memoryMb: 1536, cpus: 1, nproc: 512, nofile: 8192 }");
    expect(gw.requiredInputs).toEqual(expect.arrayContaining(["tenantId", "image", "networkName"]));
    expect(schema.resources["octw:index:OpenClawPlatform"]!.inputProperties.prefix).toMatchObject({ default: "octw" });
  });

  it("every reference in it resolves to a type or resource of the schema (what Pulumi's schema binder checks next)", () => {
    const schema = JSON.parse(served) as Schema & { types: Record<string, unknown> };
    const refs = [...served.matchAll(/"\$ref":\s*"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) {
      if (ref.startsWith("pulumi.json#/")) expect(["pulumi.json#/Any", "pulumi.json#/Json", "pulumi.json#/Asset", "pulumi.json#/Archive"], ref).toContain(ref);
      else if (ref.startsWith("#/types/")) expect(schema.types, ref).toHaveProperty([ref.slice("#/types/".length)]);
      else if (ref.startsWith("#/resources/")) expect(schema.resources, ref).toHaveProperty([ref.slice("#/resources/".length)]);
      else throw new Error(`unexpected reference ${ref}`);
    }
  });

  it("constructs a component as a TypeScript program would, returning its URN and outputs", async () => {
    const pulumi = await import("@pulumi/pulumi");
    const { OctwComponentProvider } = await import("../provider/provider.js");
    await pulumi.runtime.setMocks({ newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs as Record<string, unknown> }), call: (a) => a.inputs as Record<string, unknown> }, "octw", "plugin", false);
    const result = await new OctwComponentProvider().construct("acme", "octw:index:TenantNetwork", { tenantId: "acme", slot: 1 }, {});
    const urn = await new Promise<string>((ok) => pulumi.output(result.urn).apply((u) => ok(u)));
    expect(urn).toContain("octw:index:TenantNetwork::acme");
    const networkName = await new Promise<unknown>((ok) => pulumi.output(result.state.networkName).apply((v) => ok(v)));
    expect(networkName).toBe("octw-acme-net");
    await expect(new OctwComponentProvider().construct("x", "octw:index:Nope", {}, {})).rejects.toThrow("type: octw:index:Nope is not a component of this package; allowed: octw:index:AuditStore");
  });

  it("the YAML example program (examples/yaml-platform) fits the schema: known properties, required ones present, enum values allowed", () => {
    const schema = JSON.parse(served) as Schema & { types: Record<string, Spec> };
    const program = parse(readFileSync(new URL("../../../examples/yaml-platform/Pulumi.yaml", import.meta.url), "utf8")) as { resources: Record<string, { type: string; properties: Record<string, unknown> }> };
    const problems: string[] = [];
    const check = (spec: Spec, value: unknown, path: string): void => {
      if (typeof value === "string" && value.startsWith("${")) return; // an interpolation: known at run time
      const ref = typeof spec.$ref === "string" && spec.$ref.startsWith("#/types/") ? schema.types[spec.$ref.slice("#/types/".length)] : undefined;
      const t = ref ?? spec;
      if (Array.isArray(t.oneOf)) return; // a union: any member may match
      if (Array.isArray(t.enum)) {
        if (!(t.enum as { value: unknown }[]).some((e) => e.value === value)) problems.push(`${path}: ${JSON.stringify(value)} is not one of the enum's values`);
        return;
      }
      if (t.type === "array") {
        if (!Array.isArray(value)) problems.push(`${path}: not a list`);
        else value.forEach((v, i) => check(t.items as Spec, v, `${path}[${i}]`));
        return;
      }
      if (t.type === "object" && t.properties) checkObject(t as { properties: Record<string, Spec>; required?: string[] }, value, path);
    };
    const checkObject = (t: { properties: Record<string, Spec>; required?: string[] }, value: unknown, path: string) => {
      const obj = (value ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(obj)) {
        if (!t.properties[k]) problems.push(`${path}.${k}: not an input of the schema`);
        else check(t.properties[k], obj[k], `${path}.${k}`);
      }
      for (const r of t.required ?? []) if (!(r in obj)) problems.push(`${path}.${r}: required, missing`);
    };
    const declared = Object.entries(program.resources).filter(([, r]) => r.type.startsWith("octw:"));
    expect(declared.length).toBeGreaterThan(0);
    for (const [name, r] of declared) {
      const res = schema.resources[r.type];
      if (!res) problems.push(`${name}: ${r.type} is not in the schema`);
      else checkObject({ properties: res.inputProperties, ...(res.requiredInputs ? { required: res.requiredInputs } : {}) }, r.properties, name);
    }
    expect(problems).toEqual([]);
    // control: the check catches a misspelled property and a preset that does not exist
    const bad = structuredClone(program.resources.platform!.properties) as { tenants: { presets?: string[] }[]; prefixx?: string };
    bad.prefixx = "x";
    bad.tenants[0]!.presets = ["restricted", "gitlab"];
    checkObject({ properties: schema.resources["octw:index:OpenClawPlatform"]!.inputProperties }, bad, "bad");
    expect(problems.sort()).toEqual(['bad.prefixx: not an input of the schema', 'bad.tenants[0].presets[1]: "gitlab" is not one of the enum\'s values'].sort());
  });

  it("is the schema the TypeScript declarations generate today (provider/schema.json is current)", () => {
    expect(JSON.parse(served)).toEqual(generateSchema());
  });

  it("reports its version over GetPluginInfo", async () => {
    const info = await call<{ getVersion(): string }>("getPluginInfo", new emptyPb.Empty());
    expect(info.getVersion()).toBe((JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version);
  });
});
