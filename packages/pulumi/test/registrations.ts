/**
 * Registration-level recording for multi-host and per-host-layout tests: per resource the URN the
 * engine would get, its type, its provider's URN (without the id: the mock's ids are stable across
 * programs, the URN is what matters), its inputs with secrets unwrapped and the paths that were secret.
 * A StackReference is read, not registered: `readAnswer` gives its state (its outputs).
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "vitest";
import { PINNED, settle, unwrapSecrets } from "./harness.js";
import { installRegisterOptionCapture, takeRegisterOptions } from "../../../test/realize/register-options.js";

export interface Registration {
  urn: string;
  type: string;
  /** The provider's URN, or "" for the default provider. */
  provider: string;
  inputs: Record<string, unknown>;
  secretPaths: string[];
  /** The inputs as JSON with every secret's value left out (what a log or an unmarked output could show). */
  visible: string;
}

export type Registrations = Map<string, Registration>;

export const STACK_REFERENCE = "pulumi:pulumi:StackReference";

/** The value with every secret replaced by a marker. */
function redactSecrets(v: unknown): unknown {
  const paths: string[] = [];
  unwrapSecrets(v, "", paths);
  if (paths.includes("")) return "<secret>";
  if (Array.isArray(v)) return v.map(redactSecrets);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactSecrets(x)]));
  return v;
}

let registrations: Registration[] = [];

/** Installs the recording mocks (call in beforeAll). `readAnswer`: the state of a read resource (a StackReference's outputs). */
export async function recordRegistrations(readAnswer: (type: string, inputs: Record<string, unknown>) => Record<string, unknown> = () => ({})): Promise<void> {
  installRegisterOptionCapture();
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const given = args.inputs as Record<string, unknown>;
        // a StackReference is read, not registered: no register options (and no URN) to take
        const urn = args.type === STACK_REFERENCE ? `read::${args.name}` : (takeRegisterOptions()?.urn ?? `(no urn) ${args.name}`);
        const secretPaths: string[] = [];
        const inputs = unwrapSecrets(args.inputs, "", secretPaths) as Record<string, unknown>;
        const visible = JSON.stringify(unwrapSecrets(redactSecrets(args.inputs)));
        registrations.push({ urn, type: args.type, provider: (args.provider ?? "").split("::").slice(0, -1).join("::"), inputs, secretPaths, visible });
        if (args.type === STACK_REFERENCE) return { id: args.name, state: readAnswer(args.type, given) };
        const fake: Record<string, unknown> = args.type === "docker:index/remoteImage:RemoteImage" ? { imageId: `sha256:${"0".repeat(64)}` } : args.type === "docker:index/container:Container" && given.attach === true ? { exitCode: 0 } : {};
        // an EgressCredentials reader's outputs (what it read): names only, a placeholder value
        const read = args.type === "pulumi-nodejs:dynamic:Resource" && "masterKeyring" in given && Array.isArray(given.providers)
          ? { secrets: Object.fromEntries((given.providers as string[]).map((p) => [p, { TOKEN: `secret-of-${p}` }])), versions: (given.providers as string[]).map((p) => `${p}/TOKEN@1`) }
          : {};
        const random = args.type.startsWith("random:") ? { result: `r-${args.name}`, base64: Buffer.from(args.name).toString("base64"), hex: Buffer.from(args.name).toString("hex") } : {};
        return { id: `${args.name}-id`, state: { ...given, ...fake, ...random, ...read } };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    "octw",
    "test",
    false,
  );
}

/** Runs a program's declarations and returns its registrations by URN (each URN once). */
export async function collect(declare: () => void): Promise<Registrations> {
  registrations = [];
  declare();
  await settle();
  const byUrn = new Map<string, Registration>();
  for (const r of registrations) {
    expect(byUrn.has(r.urn), `URN registered twice: ${r.urn}`).toBe(false);
    byUrn.set(r.urn, r);
  }
  return byUrn;
}

export const JWK = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "dev-1" };
export const INFERENCE = { providers: [{ name: "openai", api: "openai", baseUrl: "https://api.openai.example", models: ["gpt-4.1-mini"] }] };
/** Two remote hosts: b over TLS (its key a secret), c over ssh. */
export const HOST_B = { name: "b", endpoint: "tcp://192.0.2.5:2376", tls: { ca: "CA-PEM", cert: "CERT-PEM", key: pulumi.secret("KEY-PEM-SECRET") } };
export const HOST_C = { name: "c", endpoint: "ssh://octw@host-c.internal:2222", sshOpts: ["-o", "BatchMode=yes"] };

/** A platform with every per-host part (edge, waker, router, egress-audit shipper) and an external audit store with verified TLS; `extra` adds or overrides fields. */
export function multiHostConfig(extra: Record<string, unknown>, tenants: Record<string, unknown>[]): Record<string, unknown> {
  return {
    prefix: "octwtest",
    images: { ...PINNED, edge: `sha256:${"e".repeat(64)}`, waker: `sha256:${"8".repeat(64)}`, inferenceRouter: `sha256:${"f".repeat(64)}`, egressAudit: `sha256:${"9".repeat(64)}` },
    edge: { jwt: { issuer: "https://issuer.test", audience: "octw", algorithms: ["ES256"], jwks: [JWK] } },
    waker: { dockerSocketGid: 998 },
    egressAudit: { dockerSocketGid: 998 },
    tenants,
    audit: { mode: "external", host: "192.0.2.20", adminUser: "octw_admin", adminPassword: "x".repeat(24), sslMode: "verify-full" },
    ...extra,
  };
}
