/**
 * Facts about a resource as the policy engine hands it over (type, URN, props): which OCTW
 * component declared it, its Docker labels, its tenant, whether a container is one-shot. Values
 * the engine cannot know during preview arrive as sentinels that throw when read (the engine's
 * unknown-checking proxy); `known` turns that into `undefined` for the fields a rule may skip.
 */
import * as proxy from "@pulumi/policy/proxy.js";

// The error the engine's proxy throws on reading an unknown value; marked internal in the
// package's declarations, so typed here.
const { UnknownValueError } = proxy as unknown as { UnknownValueError: new (...args: never[]) => Error };

export const TYPES = {
  container: "docker:index/container:Container",
  network: "docker:index/network:Network",
  remoteImage: "docker:index/remoteImage:RemoteImage",
  buildImage: "docker:index/image:Image",
} as const;

/** Resource types whose outputs are generated secrets. */
export const GENERATED_SECRET_TYPES: ReadonlySet<string> = new Set([
  "random:index/randomPassword:RandomPassword",
  "random:index/randomBytes:RandomBytes",
  "random:index/randomString:RandomString",
  "random:index/randomId:RandomId",
  "tls:index/privateKey:PrivateKey",
]);

export const UNKNOWN = Symbol("unknown during preview");

/** The value, or UNKNOWN when the engine cannot know it during preview. */
export function known<T>(read: () => T): T | typeof UNKNOWN {
  try {
    return read();
  } catch (e) {
    if (e instanceof UnknownValueError) return UNKNOWN;
    throw e;
  }
}

/** The component types in a URN's type chain, outermost first ("octw:index:OpenClawPlatform", …). */
export function typeChain(urn: string): string[] {
  // urn:pulumi:<stack>::<project>::<parentType$…$type>::<name>
  const parts = urn.split("::");
  return (parts[2] ?? "").split("$");
}

/** Whether the resource was declared inside a component of this type (at any depth). */
export function declaredBy(urn: string, componentType: string): boolean {
  return typeChain(urn).slice(0, -1).includes(componentType);
}

export function labels(props: Record<string, unknown>): Record<string, string> {
  const raw = known(() => props.labels);
  if (!Array.isArray(raw)) return {};
  const out: Record<string, string> = {};
  for (const l of raw as { label?: unknown; value?: unknown }[]) {
    const label = known(() => l.label);
    const value = known(() => l.value);
    if (typeof label === "string" && typeof value === "string") out[label] = value;
  }
  return out;
}

/** How a violation names the resource: its Pulumi name, and its Docker name when that differs. */
export function describe(name: string, props: Record<string, unknown>): string {
  const dockerName = known(() => props.name);
  return typeof dockerName === "string" && dockerName !== name ? `${name} (Docker name ${dockerName})` : name;
}

/**
 * A container that runs once and stays stopped (the components' init containers): the Docker
 * provider neither keeps it running (`mustRun: false`) nor restarts it (`restart` "no").
 */
export function isOneShot(props: Record<string, unknown>): boolean {
  const mustRun = known(() => props.mustRun);
  const restart = known(() => props.restart);
  return mustRun === false && (restart === undefined || restart === "no");
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
