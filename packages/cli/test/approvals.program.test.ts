// "After pulumi up, only that tenant's egress proxy changes": the repository's local stack
// program is evaluated (under Pulumi mocks) from its stack file before and after
// `approveInStackFile`, and every declared resource is compared. The only resource whose inputs
// differ must be alpha's egress proxy container (its rendered Squid config).
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { OpenClawPlatform, type OpenClawPlatformArgs } from "@octw/pulumi";
import { parse as parseYaml } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { PINNED, TYPES, settle, unwrapSecrets } from "../../pulumi/test/harness";
import { approveInStackFile, parseDestination } from "../src/commands/approvals";

const STACK = readFileSync(fileURLToPath(new URL("../../../stacks/Pulumi.local.yaml", import.meta.url)), "utf8");
/**
 * Mocks whose fake outputs (random values, image ids) depend on the resource's name WITHOUT
 * the deployment's prefix, so two evaluations under different deployment names produce the
 * same values wherever the declared resources are the same.
 */
let recorded: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
const mocks: pulumi.runtime.Mocks = {
  newResource: (args) => {
    const inputs = unwrapSecrets(args.inputs) as Record<string, unknown>;
    recorded.push({ type: args.type, name: args.name, inputs });
    const stable = args.name.replace(/^zqdeploy[ab]-/, "");
    const fake: Record<string, unknown> =
      args.type === "docker:index/remoteImage:RemoteImage" ? { imageId: `sha256:${Buffer.from(String(inputs.name)).toString("hex").padEnd(64, "0").slice(0, 64)}`, repoDigest: String(inputs.name) }
      : args.type === "random:index/randomPassword:RandomPassword" ? { result: `pw-${stable}`, bcryptHash: `hash-${stable}` }
      : args.type === "random:index/randomBytes:RandomBytes" ? { base64: Buffer.from(`bytes-${stable}`).toString("base64"), hex: Buffer.from(`bytes-${stable}`).toString("hex") }
      : {};
    return { id: `${stable}-id`, state: { ...(args.inputs as Record<string, unknown>), ...fake } };
  },
  call: (args) => args.inputs as Record<string, unknown>,
};

beforeAll(async () => {
  await pulumi.runtime.setMocks(mocks, "octw", "local", false);
});

const JWK = { ...generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" }), kid: "test", alg: "ES256" };

/**
 * The platform config of a stack file, with its development references (`env:` images,
 * `json-file:` issuer key, which `npm run up` resolves) replaced by fixed test values.
 */
function platformArgs(text: string): OpenClawPlatformArgs {
  const cfg = (parseYaml(text) as { config: { "octw:platform": Record<string, unknown> } }).config["octw:platform"];
  const edge = cfg.edge as { jwt?: Record<string, unknown> } | undefined;
  return {
    ...cfg,
    images: { ...PINNED, edge: `sha256:${"d".repeat(64)}`, inferenceRouter: `sha256:${"e".repeat(64)}` },
    ...(edge ? { edge: { ...edge, jwt: { ...edge.jwt, jwks: [JWK] } } } : {}),
  } as unknown as OpenClawPlatformArgs;
}

/**
 * Resources keyed by what identifies them across two evaluations (the Docker object name where
 * there is one, else the resource name without the deployment's own prefix), with their inputs;
 * the deployment name is masked in values (the mocks derive fake random values from it).
 */
async function evaluate(deployment: string, text: string): Promise<Map<string, string>> {
  await settle();
  recorded = [];
  new OpenClawPlatform(deployment, platformArgs(text));
  await settle();
  const out = new Map<string, string>();
  for (const r of recorded) {
    const id = typeof r.inputs.name === "string" && r.type.startsWith("docker:") ? `${r.type} ${r.inputs.name}` : `${r.type} ${r.name.replace(deployment, "<d>")}`;
    out.set(id, JSON.stringify(r.inputs).split(deployment).join("<d>"));
  }
  return out;
}

describe("approving changes only that tenant's egress proxy", () => {
  it("local stack: approving a destination for bravo changes exactly one declared resource, bravo's egress proxy", async () => {
    const before = await evaluate("zqdeploya", STACK);
    const { text } = approveInStackFile(STACK, "bravo", parseDestination("api.example.org:443"));
    const after = await evaluate("zqdeployb", text);
    expect(before.size).toBeGreaterThan(20);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const changed = [...before.keys()].filter((k) => before.get(k) !== after.get(k));
    expect(changed).toEqual([`${TYPES.container} octw-bravo-egress`]);
    expect(after.get(changed[0]!)).not.toBe(before.get(changed[0]!));
    // What changed is the allowlist the proxy enforces.
    const envOf = (s: string) => Buffer.from((JSON.parse(s) as { envs: string[] }).envs.find((e) => e.startsWith("OCTW_SQUID_CONFIG_B64="))!.split("=")[1]!, "base64").toString();
    expect(envOf(before.get(changed[0]!)!)).not.toContain("api.example.org");
    expect(envOf(after.get(changed[0]!)!)).toContain("dstdomain -n api.example.org");
  });
});
