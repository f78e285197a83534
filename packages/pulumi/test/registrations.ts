/**
 * Registration-level recording for multi-host and per-host-layout tests: per resource the URN the
 * engine would get, its type, its provider's URN (without the id: the mock's ids are stable across
 * programs, the URN is what matters), its inputs with secrets unwrapped and the paths that were secret.
 * A StackReference is read, not registered: `readAnswer` gives its state (its outputs).
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "vitest";
import { settle, unwrapSecrets } from "./harness.js";
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
        const random = args.type.startsWith("random:") ? { result: `r-${args.name}`, base64: Buffer.from(args.name).toString("base64"), hex: Buffer.from(args.name).toString("hex") } : {};
        return { id: `${args.name}-id`, state: { ...given, ...fake, ...random } };
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
