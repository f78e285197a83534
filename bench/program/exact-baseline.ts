/**
 * The exact baseline: the resources the components register — same types, same names, same
 * input keys and values, same explicit providers, and the same Output wiring — declared
 * directly with the provider packages' own classes. Generated from the components'
 * registrations under the same mocks (`child.ts capture`), so it cannot drift from what the
 * components declare.
 *
 * The wiring: where a component passed a resource's output property as an input (an image id,
 * a network or volume name, a generated password), the replay passes that same property of the
 * replayed resource; where it passed an Output derived from resources (an apply, a secret, a
 * digest), the replay passes an Output over the same resources that yields the recorded value.
 * Left out: resource options other than `provider` (dependsOn, deleteBeforeReplace, …), and the
 * work inside a derived Output (the replay's yields a recorded value), so it is at most as
 * costly as a hand-written program of these resources.
 */
import * as docker from "@pulumi/docker";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createRequire } from "node:module";
import { AuditSql, type AuditSqlArgs } from "@octw/pulumi";

/** One custom resource as the mocks saw it registered. */
export interface Registration {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** Provider reference (`<urn>::<id>`) when the resource names an explicit provider. */
  provider?: string;
  /** The inputs that were Outputs when the components declared the resource. */
  wiring?: Wire[];
}

/** An input that was an Output: a resource's output property (`ref`), or derived from resources (`deps`). */
export interface Wire {
  path: (string | number)[];
  ref?: { key: string; prop: string };
  deps?: string[];
}

const keyOf = (type: string, name: string) => `${type}::${name}`;

/**
 * Records, while the components declare, which inputs of each custom resource are Outputs and
 * where they come from (the SDK's registerResource sees the inputs before they resolve).
 * Returns the lookup by type and name.
 */
export function captureWiring(): (type: string, name: string) => Wire[] | undefined {
  const runtime = createRequire(import.meta.url)("@pulumi/pulumi/runtime/resource") as { registerResource: (...args: unknown[]) => unknown };
  const keys = new Map<pulumi.Resource, string>();
  const wiring = new Map<string, Wire[]>();
  const register = runtime.registerResource;
  runtime.registerResource = (...args: unknown[]) => {
    const [res, , type, name, custom, , , props] = args as [pulumi.Resource, unknown, string, string, boolean, unknown, unknown, Record<string, unknown>];
    if (custom) {
      const key = keyOf(type, name);
      keys.set(res, key);
      const wires: Wire[] = [];
      const walk = (v: unknown, path: (string | number)[]) => {
        if (pulumi.Output.isInstance(v)) {
          const from = [...(v as unknown as { resources(): Set<pulumi.Resource> }).resources()].filter((r) => keys.has(r));
          for (const r of from) {
            const prop = Object.keys(r).find((k) => (r as unknown as Record<string, unknown>)[k] === v);
            if (prop) return void wires.push({ path, ref: { key: keys.get(r)!, prop } });
          }
          return void wires.push({ path, deps: from.map((r) => keys.get(r)!) });
        }
        if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
        else if (typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
      };
      walk(props, []);
      if (wires.length > 0) wiring.set(key, wires);
    }
    return register(...args);
  };
  return (type, name) => wiring.get(keyOf(type, name));
}

type Ctor = new (name: string, args: never, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;
const CLASSES: Record<string, Ctor> = {
  "docker:index/container:Container": docker.Container,
  "docker:index/network:Network": docker.Network,
  "docker:index/volume:Volume": docker.Volume,
  "docker:index/remoteImage:RemoteImage": docker.RemoteImage,
  "random:index/randomPassword:RandomPassword": random.RandomPassword,
  "random:index/randomBytes:RandomBytes": random.RandomBytes,
  "postgresql:index/role:Role": postgresql.Role,
  "postgresql:index/database:Database": postgresql.Database,
  "postgresql:index/grant:Grant": postgresql.Grant,
  "pulumi:providers:postgresql": postgresql.Provider,
};

// How the mocks hand over a secret input: Pulumi's wire form of a secret.
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** A recorded value as a program would pass it: secrets as pulumi secrets again. */
function revive(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(revive);
  if (typeof v !== "object" || v === null) return v;
  const o = v as Record<string, unknown>;
  if (o[SECRET_SIG] === SECRET_VALUE) return pulumi.secret(revive(o.value));
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, revive(x)]));
}

/** A provider's inputs arrive as its config: non-string values JSON-encoded. */
function providerArgs(inputs: Record<string, unknown>): Record<string, unknown> {
  const decode = (v: unknown): unknown => {
    if (typeof v !== "string") return v;
    try {
      const parsed: unknown = JSON.parse(v);
      return typeof parsed === "string" ? v : parsed;
    } catch {
      return v;
    }
  };
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, decode(v)]));
}

/** Puts the Output a wire describes at its place in the inputs (the recorded value stays where there is none). */
/** Takes the secret markers off the values on `path`; whether there was one. */
function unwrapSecrets(root: Record<string, unknown>, path: readonly (string | number)[]): boolean {
  let found = false;
  let parent = root as Record<string | number, unknown>;
  for (const step of path) {
    let v = parent[step];
    while (typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE) {
      v = (v as Record<string, unknown>).value;
      parent[step] = v;
      found = true;
    }
    if (typeof v !== "object" || v === null) break;
    parent = v as Record<string | number, unknown>;
  }
  return found;
}

function wire(inputs: Record<string, unknown>, w: Wire, declared: ReadonlyMap<string, pulumi.Resource>, secret: boolean): void {
  if (w.path.length === 0) return;
  let parent = inputs as Record<string | number, unknown>;
  for (const step of w.path.slice(0, -1)) {
    const next = parent[step];
    if (typeof next !== "object" || next === null) return;
    parent = next as Record<string | number, unknown>;
  }
  const last = w.path.at(-1)!;
  if (!(last in parent)) return;
  const recorded = parent[last];
  const source = w.ref ? declared.get(w.ref.key) : undefined;
  if (w.ref && source) {
    // The same property of the replayed resource (secret where the source's property is).
    parent[last] = (source as unknown as Record<string, pulumi.Output<unknown>>)[w.ref.prop];
    return;
  }
  // Derived: an Output over the same resources that yields what the components' Output yielded.
  const deps = (w.deps ?? []).map((k) => declared.get(k)).filter((x): x is pulumi.Resource => x !== undefined);
  const derived = deps.length === 0 ? pulumi.output(recorded) : pulumi.all(deps.map((d) => d.urn)).apply(() => recorded);
  parent[last] = secret ? pulumi.secret(derived) : derived;
}

/** The provider resource's name in a `<urn>::<id>` reference (urn:pulumi:stack::project::type::name). */
const providerName = (ref: string): string | undefined => ref.split("::")[3];

/**
 * Declares every recorded resource. A type it does not know is an error, so a component that
 * starts declaring something new cannot silently drop out of the comparison.
 */
export function declareExactBaseline(records: readonly Registration[]): void {
  const providers = new Map<string, pulumi.ProviderResource>();
  const declared = new Map<string, pulumi.Resource>();
  for (const r of records) {
    // Secret markers on the way to a wired input come from that input (the SDK marks the
    // enclosing top-level value secret): taken off here, put back on the wired Output.
    const raw = structuredClone(r.type.startsWith("pulumi:providers:") ? providerArgs(r.inputs) : r.inputs);
    const secret = (r.wiring ?? []).map((w) => unwrapSecrets(raw, w.path));
    const inputs = revive(raw) as Record<string, unknown>;
    (r.wiring ?? []).forEach((w, i) => wire(inputs, w, declared, secret[i]!));
    const provider = r.provider ? providers.get(providerName(r.provider) ?? "") : undefined;
    const opts = provider ? { provider } : {};
    if (r.type === "pulumi-nodejs:dynamic:Resource") {
      // The only dynamic resource of the program: AuditSql (it adds sqlSha256 and __provider itself).
      const { host, port, database, user, password, sslMode, sql } = inputs as unknown as AuditSqlArgs;
      if (typeof sql !== "string") throw new Error(`exact baseline: dynamic resource ${r.name} is not an AuditSql`);
      declared.set(keyOf(r.type, r.name), new AuditSql(r.name, { host, port, database, user, password, sslMode, sql }, opts));
      continue;
    }
    const Class = CLASSES[r.type];
    if (!Class) throw new Error(`exact baseline: no class for ${r.type} (${r.name}); add it to CLASSES`);
    const resource = new Class(r.name, inputs as never, opts);
    declared.set(keyOf(r.type, r.name), resource);
    if (r.type.startsWith("pulumi:providers:")) providers.set(r.name, resource);
  }
}
