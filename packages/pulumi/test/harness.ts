/**
 * Test harness for programs under `pulumi.runtime.setMocks`: records every registered resource
 * with its inputs (secret wrappers unwrapped) and the paths of the inputs that arrived secret.
 */
import * as pulumi from "@pulumi/pulumi";
import { OpenClawPlatform, type OpenClawPlatformArgs } from "../src/components/openclaw-platform.js";
import { OctwConfigError } from "../src/validation.js";

/** The marker Pulumi's RPC layer puts on a secret value (runtime/rpc.js `specialSigKey`/`specialSecretSig`). */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface RecordedResource {
  type: string;
  name: string;
  custom: boolean;
  /** Inputs with secret wrappers removed. */
  inputs: Record<string, unknown>;
  /** Inputs exactly as the mock received them (secret wrappers kept). */
  rawInputs: Record<string, unknown>;
  /** JSON-pointer-like paths of inputs that were secret, e.g. `uploads`, `password`. */
  secretPaths: string[];
}

function isSecretWrapper(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function unwrapSecrets(value: unknown, path = "", secretPaths: string[] = []): unknown {
  if (isSecretWrapper(value)) {
    secretPaths.push(path);
    return unwrapSecrets(value.value, path, secretPaths);
  }
  if (Array.isArray(value)) return value.map((v, i) => unwrapSecrets(v, `${path}[${i}]`, secretPaths));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v, path ? `${path}.${k}` : k, secretPaths)]));
  }
  return value;
}

/** Deterministic fake outputs for resources whose real values the program reads. */
function fakeOutputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case "docker:index/remoteImage:RemoteImage":
      return { imageId: `sha256:${Buffer.from(String(inputs.name)).toString("hex").padEnd(64, "0").slice(0, 64)}`, repoDigest: String(inputs.name) };
    case "random:index/randomPassword:RandomPassword":
      return { result: `pw-${name}`, bcryptHash: `hash-${name}` };
    case "docker:index/container:Container":
      // the provider's Read records exit_code for a container that is not running: a one-shot
      // (`attach`) container that ran to completion reports 0
      return inputs.attach === true ? { exitCode: 0 } : {};
    case "random:index/randomBytes:RandomBytes":
      return { base64: Buffer.from(`bytes-${name}`).toString("base64"), hex: Buffer.from(`bytes-${name}`).toString("hex") };
    case "pulumi-nodejs:dynamic:Resource":
      // EgressCa: a recognisable fake per tenant (the real one is made by its provider, run in egress-ca.test.ts).
      return "validityDays" in inputs && "tenantId" in inputs
        ? { certPem: `CERT-OF-${String(inputs.tenantId)}`, keyPem: `KEY-OF-${String(inputs.tenantId)}`, sha256: `sha-${String(inputs.tenantId)}`, notAfter: "2031-01-01T00:00:00.000Z" }
        : "masterKeyring" in inputs && "providers" in inputs
          ? // EgressCredentials: one recognisable secret per tenant and bound provider (the real reader runs in egress-credentials.pg.test.ts).
            {
              secrets: Object.fromEntries((inputs.providers as string[]).map((p) => [p, { TOKEN: `SECRET-OF-${String(inputs.tenantId)}-${p}` }])),
              versions: (inputs.providers as string[]).map((p) => `${p}/TOKEN@1`),
            }
          : {};
    default:
      return {};
  }
}

export class MockRecorder {
  resources: RecordedResource[] = [];

  readonly mocks: pulumi.runtime.Mocks = {
    newResource: (args) => {
      const secretPaths: string[] = [];
      const rawInputs = args.inputs as Record<string, unknown>;
      const inputs = unwrapSecrets(rawInputs, "", secretPaths) as Record<string, unknown>;
      this.resources.push({ type: args.type, name: args.name, custom: args.custom ?? true, inputs, rawInputs, secretPaths });
      return { id: `${args.name}-id`, state: { ...rawInputs, ...fakeOutputs(args.type, args.name, inputs) } };
    },
    call: (args) => args.inputs as Record<string, unknown>,
  };

  reset(): void {
    this.resources = [];
  }

  /** Declares a platform from `config` (recording nothing else) and returns what it registered. */
  async deploy(name: string, config: unknown): Promise<RecordedResource[]> {
    await settle();
    this.reset();
    new OpenClawPlatform(name, config as OpenClawPlatformArgs);
    await settle();
    return this.resources;
  }

  ofType(type: string): RecordedResource[] {
    return this.resources.filter((r) => r.type === type);
  }
}

/** The problems (`path: message`) of the OctwConfigError `f` throws; fails when it throws none. */
export function configProblems(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof OctwConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error("expected an OctwConfigError");
}

/** Waits until every outstanding registration has reached the mocks. */
export async function settle(): Promise<void> {
  const runtime = pulumi.runtime as unknown as { waitForRPCs(): Promise<void> };
  await runtime.waitForRPCs();
}

export const TYPES = {
  container: "docker:index/container:Container",
  network: "docker:index/network:Network",
  volume: "docker:index/volume:Volume",
  image: "docker:index/remoteImage:RemoteImage",
  password: "random:index/randomPassword:RandomPassword",
  bytes: "random:index/randomBytes:RandomBytes",
  pgRole: "postgresql:index/role:Role",
  pgGrant: "postgresql:index/grant:Grant",
  pgDatabase: "postgresql:index/database:Database",
  pgProvider: "pulumi:providers:postgresql",
  dynamic: "pulumi-nodejs:dynamic:Resource",
} as const;

export const PINNED = {
  openclaw: `sha256:${"a".repeat(64)}`,
  egressProxy: `sha256:${"b".repeat(64)}`,
  postgres: `sha256:${"c".repeat(64)}`,
};

/** A pinned edge image and a token verification the edge accepts (a static public EC key). */
export const EDGE_IMAGE = `sha256:${"e".repeat(64)}`;
export const EDGE_JWK = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "dev-1" };
export const EDGE_JWT = { issuer: "https://issuer.test", audience: "octw", algorithms: ["ES256"], jwks: [EDGE_JWK] };

/** A minimal valid platform config with the given tenants. */
export function platformConfig(tenants: { id: string; slot?: number; presets?: string[]; policy?: unknown }[]) {
  return {
    prefix: "octwtest",
    images: { ...PINNED },
    tenants,
    audit: { mode: "embedded" as const },
  };
}

/** Declares an OpenClawPlatform of these tenants (platformConfig) on a reset recorder; returns what it registered. */
export function deployPlatform(recorder: MockRecorder, name: string, tenants: Parameters<typeof platformConfig>[0]): Promise<RecordedResource[]> {
  return recorder.deploy(name, platformConfig(tenants));
}
