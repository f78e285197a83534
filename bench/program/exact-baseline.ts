/**
 * The exact baseline: the resources the components register — same types, same names, same
 * input keys and values, same explicit providers — declared directly with the provider
 * packages' own classes. Generated from the components' registrations under the same mocks
 * (`child.ts capture`), so it cannot drift from what the components declare.
 *
 * What it leaves out, so it is a lower bound on any hand-written program of these resources:
 * the values are the resolved ones (a hand-written program would pass image ids, network and
 * volume names and passwords as Outputs of other resources; secrets are marked secret again,
 * as the components mark them), and resource
 * options other than `provider` (dependsOn, deleteBeforeReplace, …) are not replayed. Both make
 * this baseline cheaper than the real thing, so the ratio against it overstates what the
 * components cost.
 */
import * as docker from "@pulumi/docker";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { AuditSql, type AuditSqlArgs } from "@octw/pulumi";

/** One custom resource as the mocks saw it registered. */
export interface Registration {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** Provider reference (`<urn>::<id>`) when the resource names an explicit provider. */
  provider?: string;
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

/** The provider resource's name in a `<urn>::<id>` reference (urn:pulumi:stack::project::type::name). */
const providerName = (ref: string): string | undefined => ref.split("::")[3];

/**
 * Declares every recorded resource. A type it does not know is an error, so a component that
 * starts declaring something new cannot silently drop out of the comparison.
 */
export function declareExactBaseline(records: readonly Registration[]): void {
  const providers = new Map<string, pulumi.ProviderResource>();
  for (const r of records) {
    const inputs = revive(r.type.startsWith("pulumi:providers:") ? providerArgs(r.inputs) : r.inputs) as Record<string, unknown>;
    const provider = r.provider ? providers.get(providerName(r.provider) ?? "") : undefined;
    const opts = provider ? { provider } : {};
    if (r.type === "pulumi-nodejs:dynamic:Resource") {
      // The only dynamic resource of the program: AuditSql (it adds sqlSha256 and __provider itself).
      const { host, port, database, user, password, sslMode, sql } = inputs as unknown as AuditSqlArgs;
      if (typeof sql !== "string") throw new Error(`exact baseline: dynamic resource ${r.name} is not an AuditSql`);
      new AuditSql(r.name, { host, port, database, user, password, sslMode, sql }, opts);
      continue;
    }
    const Class = CLASSES[r.type];
    if (!Class) throw new Error(`exact baseline: no class for ${r.type} (${r.name}); add it to CLASSES`);
    const resource = new Class(r.name, inputs as never, opts);
    if (r.type.startsWith("pulumi:providers:")) providers.set(r.name, resource);
  }
}
