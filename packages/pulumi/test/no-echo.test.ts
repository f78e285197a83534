/**
 * No error message repeats an input value: config may hold secrets (an `env:` value resolved
 * into the wrong field, a key pasted into a policy), and validation errors end up in
 * `pulumi preview` output and CI logs. Property: a generated secret-looking value placed in
 * any field of a rich platform config (every leaf, as an unknown key of every object, inside
 * YAML policy text) never appears in what OpenClawPlatform throws.
 */
import * as pulumi from "@pulumi/pulumi";
import fc from "fast-check";
import { generateKeyPairSync } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { OctwConfigError, OpenClawPlatform, planPlatform, type OpenClawPlatformArgs } from "../src/index.js";
import { MockRecorder, PINNED, settle } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

const jwk = { ...generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" }), kid: "k1", alg: "ES256", use: "sig" };
const img = (c: string) => `sha256:${c.repeat(64)}`;

/** Every field the platform config has, each with a valid value. */
const RICH = {
  prefix: "octwtest",
  domain: "example.test",
  addressPool: "10.64.0.0/10",
  egressSubnet: "10.63.0.0/24",
  controlSubnet: "10.63.1.0/28",
  ingressSubnet: "10.63.2.0/28",
  uidBase: 200_000,
  egressAudit: { dockerSocketGid: 998, dockerSocketPath: "/var/run/docker.sock", windowMs: 10_000 },
  edge: {
    hostPort: 8443,
    hostIp: "127.0.0.1",
    hostRouting: true,
    jwt: { issuer: "octw-issuer", audience: "octw-edge", algorithms: ["ES256"], jwks: [jwk], tenantClaim: "tenant", roleClaim: "role" },
    roles: { viewer: ["operator.read"] },
  },
  images: { ...PINNED, edge: img("d"), inferenceRouter: img("e"), egressAudit: img("f"), allowUnpinned: false },
  defaults: { limits: { memoryMb: 1536, cpus: 1, nproc: 512, nofile: 8192 }, presets: ["restricted"] },
  tenants: [
    {
      id: "alpha",
      slot: 1,
      presets: ["restricted", "github"],
      policy: {
        version: 1,
        filesystem_policy: { read_write: ["/tmp", "/sandbox"] },
        process: { run_as_user: "sandbox", run_as_group: "tenant" },
        network_policies: {
          api: {
            name: "api",
            endpoints: [
              { host: "api.example.com", port: 443, protocol: "rest", enforcement: "enforce", access: "full" },
              { host: "git.example.com", ports: [443, 8443], allowed_ips: ["10.20.0.7", "10.21.0.0/24"] },
            ],
            binaries: [{ path: "/usr/bin/node" }],
          },
        },
        inference: {
          providers: [{ name: "openai", api: "openai", baseUrl: "https://api.openai.example", keySecret: "openai/api-key", models: ["gpt-x", "gpt-y"] }],
          limits: { maxConcurrent: 4, maxConnections: 32, rate: { ratePerSec: 5, burst: 10 } },
        },
      },
      allowUnenforced: ["binaries"],
      limits: { memoryMb: 2048, cpus: 2, nproc: 256, nofile: 4096 },
      image: img("a"),
      runtime: "runsc",
    },
    { id: "bravo", slot: 2, policy: "version: 1\nnetwork_policies:\n  w:\n    endpoints:\n      - host: api.weather.example\n        port: 443\n" },
  ],
  audit: { mode: "external", host: "192.0.2.22", port: 5432, adminUser: "octw_admin", adminPassword: "pw-literal", sslMode: "require", databaseName: "octw_audit", masterKey: "mk-literal" },
};

type Path = (string | number)[];

function leafPaths(v: unknown, at: Path = []): Path[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leafPaths(x, [...at, i]));
  if (typeof v === "object" && v !== null) return Object.entries(v).flatMap(([k, x]) => leafPaths(x, [...at, k]));
  return [at];
}

function objectPaths(v: unknown, at: Path = []): Path[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => objectPaths(x, [...at, i]));
  if (typeof v === "object" && v !== null) return [at, ...Object.entries(v).flatMap(([k, x]) => objectPaths(x, [...at, k]))];
  return [];
}

function withAt(root: unknown, path: Path, f: (old: unknown) => unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  if (path.length === 0) return f(copy);
  let node = copy;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  node[last] = f(node[last]);
  return copy;
}

/** Values shaped like real credentials, some of them lowercase so they pass name rules. */
const secretArb = fc.oneof(
  fc.tuple(fc.constantFrom("sk-proj-", "sk-ant-api03-", "ghp_", "pul-", "xoxb-", "AKIA", "glpat-"), fc.stringMatching(/^[A-Za-z0-9]{24,40}$/)).map(([p, s]) => p + s),
  fc.stringMatching(/^[a-z][a-z0-9]{23,30}$/),
  fc.stringMatching(/^[0-9a-f]{40,64}$/),
  fc.uint8Array({ minLength: 24, maxLength: 48 }).map((b) => Buffer.from(b).toString("base64")),
);

/** A large number: a secret can be numeric too (PINs, account ids). */
const numericSecretArb = fc.integer({ min: 1_000_000_007, max: 2_000_000_000 });

const YAML_BREAKERS = [
  (s: string) => `version: 1\nnetwork_policies:\n  p:\n    endpoints:\n      - host: "${s}\n`,
  (s: string) => `version: 1\n*${s}\n`,
  (s: string) => `version: 1\nx: !${s} y\n`,
  (s: string) => `version: 1\n${s}: [\n`,
  (s: string) => `version: 1\nversion: ${s}\n`,
  (s: string) => `{ version: 1, ${s} }}`,
  (s: string) => `version: 1\nnetwork_policies:\n  p:\n    endpoints:\n      - host: ${s}\n        port: ${s}\n`,
];

/** What a reader of the failure sees: message, stack, and the structured problems. */
function visible(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return [err.message, err.stack ?? "", err instanceof OctwConfigError ? JSON.stringify(err.problems) : ""].join("\n");
}

let n = 0;
/** Builds the platform; returns what it threw (undefined when the config was accepted). */
async function attempt(config: unknown): Promise<unknown> {
  try {
    new OpenClawPlatform(`echo-${n++}`, config as OpenClawPlatformArgs);
  } catch (err) {
    return err;
  }
  await settle();
  recorder.reset();
  return undefined;
}

describe("no error message echoes an input value", () => {
  it("positive controls: the rich config is accepted, and the probe sees an echo when there is one", async () => {
    expect(await attempt(RICH)).toBeUndefined();
    expect(() => planPlatform(RICH, "p")).not.toThrow();
    const secret = "sk-proj-Zq4Vb8Xw2Lr6Tn0Ym3Kc7Hd1";
    expect(visible(new OctwConfigError("s", [{ path: "a", message: `bad value ${secret}` }]))).toContain(secret);
    expect(visible(new OctwConfigError("s", [{ path: `a.${secret}`, message: "bad" }]))).toContain(secret);
    // And a bad value really is refused: the property below exercises error paths, not only accepted configs.
    const err = await attempt(withAt(RICH, ["tenants", 0, "policy", "network_policies", "api", "endpoints", 0, "host"], () => secret));
    expect(err).toBeInstanceOf(OctwConfigError);
    expect((err as OctwConfigError).problems.map((p) => p.path)).toContain("tenants[0].policy.network_policies.api.endpoints[0].host");
  });

  const leaves = leafPaths(RICH);
  const objects = objectPaths(RICH);

  it(`covers every field: ${leaves.length} leaves, ${objects.length} objects`, () => {
    expect(leaves.length).toBeGreaterThan(60);
    expect(objects.length).toBeGreaterThanOrEqual(25);
  });

  it("a secret-looking value in any leaf (as string, number or list item) never appears in what is thrown", async () => {
    let refused = 0;
    let tried = 0;
    for (const path of leaves) {
      await fc.assert(
        fc.asyncProperty(secretArb, numericSecretArb, fc.constantFrom("string", "number", "list"), async (secret, num, shape) => {
          const value = shape === "number" ? num : shape === "list" ? [secret] : secret;
          const err = await attempt(withAt(RICH, path, () => value));
          tried++;
          if (err === undefined) return;
          refused++;
          const text = visible(err);
          expect(text, `placed at ${path.join(".")}`).not.toContain(String(shape === "number" ? num : secret));
        }),
        { numRuns: 6 },
      );
    }
    // Most placements must be refusals, or this would prove nothing about error paths.
    expect(refused / tried).toBeGreaterThan(0.6);
  }, 300_000);

  it("a secret-looking unknown key in any object never appears in what is thrown", async () => {
    // Records (edge.roles, a JWK, network_policies) take any well-formed key: their keys are names the
    // author chose and appear in field paths (`network_policies.github.endpoints[0]`); values never do.
    // So this property is about the fixed-shape objects, whose unknown keys are refused.
    const strict: Path[] = [];
    for (const path of objects) {
      const probe = await attempt(withAt(RICH, path, (o) => ({ ...(o as object), zzunknownfield: 1 })));
      // A record names the key in the field path; a fixed-shape object refuses it at its own path.
      if (probe !== undefined && !visible(probe).includes("zzunknownfield")) strict.push(path);
    }
    expect(strict.length).toBeGreaterThan(objects.length * 0.6);
    for (const path of strict) {
      await fc.assert(
        fc.asyncProperty(secretArb, async (secret) => {
          const err = await attempt(withAt(RICH, path, (o) => ({ ...(o as object), [secret]: 1 })));
          expect(err, `placed at ${path.join(".")}`).toBeInstanceOf(OctwConfigError);
          expect(visible(err), `placed at ${path.join(".")}`).not.toContain(secret);
        }),
        { numRuns: 3 },
      );
    }
  }, 300_000);

  it("a secret-looking value inside malformed YAML policy text never appears in what is thrown", async () => {
    await fc.assert(
      fc.asyncProperty(secretArb, fc.constantFrom(...YAML_BREAKERS), async (secret, yaml) => {
        const err = await attempt(withAt(RICH, ["tenants", 1, "policy"], () => yaml(secret)));
        expect(err).toBeInstanceOf(OctwConfigError);
        expect((err as OctwConfigError).problems.some((p) => p.path.startsWith("tenants[1].policy"))).toBe(true);
        expect(visible(err)).not.toContain(secret);
      }),
      { numRuns: 60 },
    );
  });
});
