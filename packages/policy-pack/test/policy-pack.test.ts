/**
 * The policy pack, run the way the engine runs it (test/engine.ts) against the resources the
 * repository's programs register under mocks: no violations there; one mutated stack per rule,
 * each firing exactly that rule and naming the resource and the field; a hand-written
 * privileged container next to an OpenClawPlatform is caught; enforcement levels and
 * exemptions (with their required reason) work as configured.
 */
import { readFileSync } from "node:fs";
import * as docker from "@pulumi/docker";
import { Ajv2020 } from "ajv/dist/2020.js";
import { OpenClawPlatform, type OpenClawPlatformArgs } from "@octw/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { platformConfig } from "../../pulumi/test/harness.js";
import { MIN_REASON_LENGTH } from "../src/exemptions.js";
import { RULES, policies } from "../src/policies.js";
import { analyze, type PackConfig } from "./engine.js";
import { REPO_PROGRAMS, configureRepoPrograms } from "./repo-programs.js";
import { StackRecorder, type EngineResource } from "./stack-under-mocks.js";

const stack = new StackRecorder();
const evaluated: Record<string, EngineResource[]> = {};

beforeAll(async () => {
  configureRepoPrograms();
  await stack.install();
  for (const [name, run] of Object.entries(REPO_PROGRAMS)) evaluated[name] = await run(stack);
});

const CONTAINER = "docker:index/container:Container";
const NETWORK = "docker:index/network:Network";

describe("the repository's programs", () => {
  it.each(Object.keys(REPO_PROGRAMS))("%s: every rule passes on every resource", async (program) => {
    const resources = evaluated[program]!;
    // The rules had something to look at: containers, tenant networks, images.
    expect(resources.filter((r) => r.type === CONTAINER).length).toBeGreaterThanOrEqual(5);
    expect(resources.filter((r) => r.type === NETWORK).length).toBeGreaterThanOrEqual(3);
    expect(await analyze(policies, resources)).toEqual([]);
  });
});

// --- one mutated stack per rule -------------------------------------------------------------

type Mutation = { rule: string; resource: string; field: string; mutate(rs: EngineResource[]): void };

function find(rs: EngineResource[], type: string, dockerName: string): EngineResource {
  const r = rs.find((x) => x.type === type && x.props.name === dockerName);
  if (!r) throw new Error(`no ${type} named ${dockerName}`);
  return r;
}
const gateway = (rs: EngineResource[]) => find(rs, CONTAINER, "octw-alpha-gateway");

const MUTATIONS: Mutation[] = [
  { rule: "octw-no-privileged", resource: "octw-alpha-gateway", field: "privileged", mutate: (rs) => void (gateway(rs).props.privileged = true) },
  { rule: "octw-capabilities-dropped", resource: "octw-alpha-gateway", field: "capabilities.adds[0]", mutate: (rs) => void (gateway(rs).props.capabilities = { drops: ["ALL"], adds: ["SYS_ADMIN"] }) },
  { rule: "octw-capabilities-dropped", resource: "octw-alpha-gateway", field: "capabilities.drops", mutate: (rs) => void (gateway(rs).props.capabilities = { drops: ["NET_RAW"] }) },
  { rule: "octw-no-new-privileges", resource: "octw-alpha-gateway", field: "securityOpts", mutate: (rs) => void (gateway(rs).props.securityOpts = (gateway(rs).props.securityOpts as string[]).filter((o) => !o.startsWith("no-new"))) },
  { rule: "octw-seccomp-profile", resource: "octw-alpha-gateway", field: "securityOpts[1]", mutate: (rs) => void (gateway(rs).props.securityOpts = ["no-new-privileges:true", "seccomp=unconfined"]) },
  { rule: "octw-seccomp-profile", resource: "octw-alpha-gateway", field: "securityOpts", mutate: (rs) => void (gateway(rs).props.securityOpts = ["no-new-privileges:true"]) },
  { rule: "octw-read-only-root", resource: "octw-alpha-gateway", field: "readOnly", mutate: (rs) => void (gateway(rs).props.readOnly = false) },
  {
    rule: "octw-no-host-mounts",
    resource: "octw-alpha-gateway",
    field: "mounts[1]",
    mutate: (rs) => void (gateway(rs).props.mounts as unknown[]).push({ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }),
  },
  { rule: "octw-no-host-mounts", resource: "octw-alpha-gateway", field: "volumes[0].hostPath", mutate: (rs) => void (gateway(rs).props.volumes = [{ hostPath: "/etc", containerPath: "/host-etc" }]) },
  {
    rule: "octw-images-pinned",
    resource: "octw-alpha-gateway",
    field: "image",
    mutate: (rs) => void (gateway(rs).props.image = "ghcr.io/openclaw/openclaw:latest"),
  },
  {
    rule: "octw-images-pinned",
    resource: "local-alpha-image",
    field: "name",
    mutate: (rs) => void (rs.find((r) => r.name === "local-alpha-image")!.props.name = "ghcr.io/openclaw/openclaw:2026.11"),
  },
  { rule: "octw-no-host-namespaces", resource: "octw-alpha-gateway", field: "pidMode", mutate: (rs) => void (gateway(rs).props.pidMode = "host") },
  { rule: "octw-no-host-namespaces", resource: "octw-alpha-egress", field: "networkMode", mutate: (rs) => void (find(rs, CONTAINER, "octw-alpha-egress").props.networkMode = "host") },
  { rule: "octw-no-published-ports", resource: "octw-alpha-gateway", field: "ports[0]", mutate: (rs) => void (gateway(rs).props.ports = [{ internal: 18789, external: 18789, ip: "0.0.0.0", protocol: "tcp" }]) },
  { rule: "octw-tenant-network-internal", resource: "octw-alpha-net", field: "internal", mutate: (rs) => void (find(rs, NETWORK, "octw-alpha-net").props.internal = false) },
  {
    rule: "octw-tenant-network-internal",
    resource: "octw-alpha-net",
    field: 'options["com.docker.network.bridge.inhibit_ipv4"]',
    mutate: (rs) => void ((find(rs, NETWORK, "octw-alpha-net").props.options as Record<string, string>)["com.docker.network.bridge.inhibit_ipv4"] = "false"),
  },
  {
    rule: "octw-gateway-own-network",
    resource: "octw-alpha-gateway",
    field: "networksAdvanced[1]",
    mutate: (rs) => void (gateway(rs).props.networksAdvanced as unknown[]).push({ name: "octw-bravo-net", ipv4Address: "10.64.0.70" }),
  },
  {
    rule: "octw-gateway-own-network",
    resource: "octw-bravo-egress",
    field: "networksAdvanced[2]",
    mutate: (rs) => void (find(rs, CONTAINER, "octw-bravo-egress").props.networksAdvanced as unknown[]).push({ name: "octw-alpha-net", ipv4Address: "10.64.0.44" }),
  },
  {
    rule: "octw-no-generated-secret-in-env",
    resource: "octw-alpha-gateway",
    field: "envs",
    mutate: (rs) => {
      const token = rs.find((r) => r.type === "random:index/randomPassword:RandomPassword" && r.name === "local-alpha-router-token")!;
      (gateway(rs).props.envs as string[]).push("ROUTER_TOKEN=pw-local-alpha-router-token");
      gateway(rs).propertyDependencies.envs = [token.urn];
    },
  },
  { rule: "octw-distinct-tenant-uids", resource: "octw-bravo-gateway", field: "user", mutate: (rs) => void (find(rs, CONTAINER, "octw-bravo-gateway").props.user = "200004:200004") },
];

describe("mutated stacks: exactly the broken rule fires, naming resource, field and fix", () => {
  it("every rule has at least one mutation", () => {
    expect(new Set(MUTATIONS.map((m) => m.rule))).toEqual(new Set(RULES.map((r) => r.name)));
  });

  it.each(MUTATIONS.map((m) => [`${m.rule} / ${m.resource}.${m.field}`, m] as const))("%s", async (_label, m) => {
    const resources = structuredClone(evaluated["stacks/index.ts"]!);
    m.mutate(resources);
    const violations = await analyze(policies, resources);
    expect(violations.map((v) => v.policy)).toEqual([m.rule]);
    const [v] = violations;
    expect(v!.enforcementLevel).toBe("mandatory");
    expect(v!.message).toContain(m.resource);
    expect(v!.message).toContain(`: ${m.field} `);
    expect(v!.message).toMatch(/\. Fix: .+\.$/);
    expect(v!.urn).toMatch(/^urn:pulumi:local::octw::/);
  });
});

// --- a container declared by hand next to the platform ----------------------------------------

describe("a hand-written container next to an OpenClawPlatform", () => {
  async function platformWith(extra: () => void): Promise<EngineResource[]> {
    return stack.evaluate(async () => {
      new OpenClawPlatform("prod", platformConfig([{ id: "acme", slot: 1 }]) as OpenClawPlatformArgs);
      extra();
      await Promise.resolve();
    });
  }

  it("a privileged debug container is caught, and only it", async () => {
    const resources = await platformWith(() => {
      new docker.Container("debug", { name: "debug", image: `busybox@sha256:${"1".repeat(64)}`, privileged: true, networksAdvanced: [{ name: "octwtest-acme-net" }] });
    });
    const violations = await analyze(policies, resources);
    expect(violations.find((v) => v.policy === "octw-no-privileged")?.message).toMatch(/^debug: privileged is true: .*\. Fix: /);
    // Everything else it lacks is named too, and nothing of the platform's is.
    expect(new Set(violations.map((v) => v.policy))).toEqual(new Set(["octw-no-privileged", "octw-capabilities-dropped", "octw-no-new-privileges", "octw-seccomp-profile", "octw-read-only-root", "octw-gateway-own-network"]));
    expect(violations.every((v) => v.message.startsWith("debug: "))).toBe(true);
  });

  it("control: the same platform alone has no violation", async () => {
    expect(await analyze(policies, await platformWith(() => undefined))).toEqual([]);
  });
});

// --- enforcement levels and exemptions --------------------------------------------------------

describe("configuration", () => {
  const privileged = () => {
    const resources = structuredClone(evaluated["stacks/index.ts"]!);
    MUTATIONS[0]!.mutate(resources);
    return resources;
  };
  const reason = "debugging a kernel issue with the vendor, removed after INC-4711";

  it("each rule's enforcement level is configurable: advisory reports, disabled skips", async () => {
    expect((await analyze(policies, privileged(), { "octw-no-privileged": { enforcementLevel: "advisory" } })).map((v) => v.enforcementLevel)).toEqual(["advisory"]);
    expect(await analyze(policies, privileged(), { "octw-no-privileged": { enforcementLevel: "disabled" } })).toEqual([]);
    // another rule's level does not touch this one
    expect((await analyze(policies, privileged(), { "octw-read-only-root": { enforcementLevel: "disabled" } })).map((v) => v.policy)).toEqual(["octw-no-privileged"]);
  });

  it("an exemption with a reason waives the rule for the resources it names only", async () => {
    for (const resource of ["octw-alpha-gateway", "local-alpha-gateway", "octw-alpha-*", "urn:pulumi:local::octw::*::local-alpha-gateway"]) {
      expect(await analyze(policies, privileged(), { "octw-no-privileged": { exemptions: [{ resource, reason }] } }), resource).toEqual([]);
    }
    // control: an exemption for another resource, or for another rule, leaves the violation
    expect(await analyze(policies, privileged(), { "octw-no-privileged": { exemptions: [{ resource: "octw-bravo-gateway", reason }] } })).toHaveLength(1);
    expect(await analyze(policies, privileged(), { "octw-read-only-root": { exemptions: [{ resource: "octw-alpha-gateway", reason }] } })).toHaveLength(1);
  });

  it("an exemption without a written reason fails the run, naming the entry", async () => {
    const bad: [unknown, string][] = [
      [{ resource: "octw-alpha-gateway" }, "octw-no-privileged.exemptions[0].reason: required, at least"],
      [{ resource: "octw-alpha-gateway", reason: "because" }, `at least ${MIN_REASON_LENGTH} characters`],
      [{ resource: "octw-alpha-gateway", reason: " ".repeat(40) }, "octw-no-privileged.exemptions[0].reason"],
      [{ reason }, "octw-no-privileged.exemptions[0].resource: required"],
      [{ resource: "x", reason, until: "never" }, "octw-no-privileged.exemptions[0]: 1 unknown field(s)"],
    ];
    for (const [entry, message] of bad) {
      const config: PackConfig = { "octw-no-privileged": { exemptions: [entry] } };
      await expect(analyze(policies, privileged(), config)).rejects.toThrow(message);
    }
  });

  it("the capability allowlist is configurable", async () => {
    const resources = structuredClone(evaluated["stacks/index.ts"]!);
    MUTATIONS[1]!.mutate(resources); // adds SYS_ADMIN
    expect(await analyze(policies, resources, { "octw-capabilities-dropped": { allowedAdds: ["CHOWN", "FOWNER", "SYS_ADMIN"] } })).toEqual([]);
    // and narrowing it catches the components' init containers' CHOWN
    const narrowed = await analyze(policies, evaluated["stacks/index.ts"]!, { "octw-capabilities-dropped": { allowedAdds: ["FOWNER"] } });
    expect(narrowed.length).toBeGreaterThan(0);
    expect(narrowed.every((v) => v.message.includes("adds CHOWN"))).toBe(true);
  });
});

describe("the PR workflow's policy config (examples/github-pr-preview/policy-config.json)", () => {
  it("fits every rule's config schema, as the engine checks it, and passes the local stack", async () => {
    const config = JSON.parse(readFileSync(new URL("../../../examples/github-pr-preview/policy-config.json", import.meta.url), "utf8")) as PackConfig;
    const ajv = new Ajv2020({ strict: false });
    for (const [name, entry] of Object.entries(config)) {
      const p = policies.find((x) => x.name === name);
      expect(p, `${name} is not a rule of the pack`).toBeDefined();
      const { enforcementLevel, ...rest } = entry;
      expect(["advisory", "mandatory", "disabled", undefined]).toContain(enforcementLevel);
      const validate = ajv.compile({ type: "object", ...p!.configSchema, additionalProperties: false });
      expect(validate(rest), JSON.stringify(validate.errors)).toBe(true);
    }
    // control: the schema refuses an exemption without its reason
    const schema = policies.find((x) => x.name === "octw-no-published-ports")!.configSchema!;
    expect(ajv.compile({ type: "object", ...schema })({ exemptions: [{ resource: "x" }] })).toBe(false);
    expect(await analyze(policies, evaluated["stacks/index.ts"]!, config)).toEqual([]);
  });
});

describe("unknown values during preview", () => {
  it("a container image computed from a RemoteImage is left to the RemoteImage's check; an unknown security field never passes", async () => {
    const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    const UNKNOWN_BOOL = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7";
    const resources = structuredClone(evaluated["stacks/index.ts"]!);
    gateway(resources).props.image = UNKNOWN_STRING;
    expect(await analyze(policies, resources)).toEqual([]);
    gateway(resources).props.privileged = UNKNOWN_BOOL;
    const v = await analyze(policies, resources);
    expect(v.map((x) => [x.policy, x.enforcementLevel])).toEqual([["octw-no-privileged", "advisory"]]);
    expect(v[0]!.message).toContain("can't run policy during preview");
  });
});
