// The realizing Pulumi mock: under `pulumi.runtime.setMocks`, every declared resource is really
// created — Docker objects on the local engine, @pulumi/postgresql objects on the server their
// provider points at, @pulumi/random values from the CSPRNG, dynamic resources by running their
// serialized provider — and the program's `apply`s see the real ids and outputs. Unknown resource
// types and unknown input fields throw. `destroyAll()` removes everything in reverse order, also
// after a failure.
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";
import DockerodeClass from "dockerode";
import type Dockerode from "dockerode";
import type * as pulumi from "@pulumi/pulumi";
import { unwrapSecrets } from "./secrets";
import { PID_LABEL, RUN_LABEL, realizeContainer, realizeNetwork, realizeRemoteImage, realizeVolume, type DockerContext } from "./docker-resources";
import { pgTargetFromProvider, realizePostgres, type PgContext, type PgTarget } from "./postgres-resources";
import { realizeRandom } from "./random-values";
import { checkFields, fail, str } from "./field-check";
import { STACK_REFERENCE, type StackOutputStore } from "./stack-references";

export interface RealizedRecord {
  type: string;
  name: string;
  custom: boolean;
  /** inputs with secret envelopes removed */
  inputs: Record<string, unknown>;
  /** dotted paths of the inputs that arrived as secrets ("envs", "uploads.0.content") */
  secretPaths: string[];
  provider?: string;
  id?: string;
  outputs: Record<string, unknown>;
  /** ms from registration to realized */
  ms: number;
}

export interface RealizingMocksOptions {
  /** lowercase alphanumeric token every engine object / database / role name must contain */
  runId: string;
  docker: Dockerode;
  log?: (line: string) => void;
  /** where `require` inside serialized dynamic providers resolves from (a file path) */
  requireFrom?: string;
  /** Postgres URL for @pulumi/postgresql resources that name no explicit provider */
  defaultPostgresUrl?: string;
  /**
   * Engines besides `docker` (the program's own engine, DOCKER_HOST) that a `docker.Provider` of
   * the program may name: their `host` URLs (`tcp://…`, `unix://…`), each an engine the test
   * itself started. The mock connects to one with the provider's own TLS material, as
   * pulumi-docker does; a provider naming any other engine is refused (tests reach only what they created).
   */
  extraEngines?: string[];
  /** The stacks a `pulumi:pulumi:StackReference` of the program may read (stack-references.ts); none: every read fails naming the stack. */
  stackOutputs?: StackOutputStore;
}

export interface RealizingMocks {
  mocks: pulumi.runtime.Mocks;
  records: RealizedRecord[];
  /** resolves once no registration is in flight; rejects with every realization error */
  settled(): Promise<void>;
  /** removes everything this run created, newest first; collects and rethrows errors */
  destroyAll(): Promise<void>;
  find(type: string, name: string): RealizedRecord | undefined;
}

export function newRunId(): string {
  return `r${randomBytes(4).toString("hex")}`;
}

interface Teardown {
  label: string;
  kind: "role" | "other";
  destroy: () => Promise<void>;
}

// pulumi-docker's Provider: `host` is the engine every resource of the provider is created on
// (kreuzwerker/terraform-provider-docker internal/provider/provider.go: `host`, Required, default
// from DOCKER_HOST else unix:///var/run/docker.sock; `ca_material`, `cert_material`,
// `key_material` make a tcp:// engine TLS with a client certificate — config.go buildHTTPClientFromBytes;
// `ssh_opts` for ssh://, through `docker system dial-stdio`).
const DOCKER_PROVIDER_FIELDS = ["host", "version", "caMaterial", "certMaterial", "keyMaterial", "sshOpts"];

/** What creating one resource left behind: the engine object, its outputs, and how to undo it. */
export interface Created {
  id: string;
  outputs: Record<string, unknown>;
  /** the provider's Delete of this resource */
  destroy: () => Promise<void>;
  /** Postgres roles are dropped after the objects they own */
  kind: "role" | "other";
  /** the provider's state after Create + Read (what its next Diff compares against), where modelled */
  read?: Record<string, unknown>;
  /** the serialized dynamic provider, for diff/update/delete of a dynamic resource */
  dynamic?: DynamicProvider;
}

export interface DynamicProvider {
  check?: (olds: unknown, news: Record<string, unknown>) => Promise<{ inputs?: Record<string, unknown>; failures?: { property: string; reason: string }[] }>;
  create: (inputs: Record<string, unknown>) => Promise<{ id: string; outs?: Record<string, unknown> }>;
  diff?: (id: string, olds: Record<string, unknown>, news: Record<string, unknown>) => Promise<{ changes?: boolean; replaces?: string[]; deleteBeforeReplace?: boolean }>;
  update?: (id: string, olds: Record<string, unknown>, news: Record<string, unknown>) => Promise<{ outs?: Record<string, unknown> } | undefined>;
  delete?: (id: string, props: Record<string, unknown>) => Promise<void>;
}

export interface ResourceRealizer {
  /** creates one custom resource for real; `inputs` are unwrapped (no secret envelopes) */
  create(type: string, name: string, inputs: Record<string, unknown>, provider: string | undefined): Promise<Created>;
  /** loads a dynamic resource's serialized provider */
  loadDynamic(name: string, inputs: Record<string, unknown>): DynamicProvider;
  /** the program's own engine */
  docker: DockerContext;
  /** the engine of a resource's provider reference (`<urn>::<id>`; none: the program's own engine) */
  dockerFor(provider: string | undefined): DockerContext;
  /** every engine a provider of this run named, the program's own first */
  engines(): DockerContext[];
}

/** The per-resource half of the realizing mock: one create per declared resource, on the engine, Postgres or the CSPRNG. */
export function createResourceRealizer(opts: RealizingMocksOptions): ResourceRealizer {
  const { runId, docker } = opts;
  if (!/^[a-z0-9]{4,}$/.test(runId)) throw new Error(`realizing mock: runId ("${runId}") must be lowercase alphanumeric, ≥4 chars`);
  const log = opts.log ?? (() => undefined);
  const pgProviders = new Map<string, PgTarget>();
  const dctx: DockerContext = { docker, runId, log };
  const dockerProviders = new Map<string, DockerContext>();
  const extraEngines = new Map<string, DockerContext>();
  const dockerFor = (provider: string | undefined): DockerContext => {
    if (!provider) return dctx;
    const id = provider.slice(provider.lastIndexOf("::") + 2);
    // a provider reference this mock did not hand out would be a default provider of the engine
    // (the SDK registers one per package): the program's own engine
    return dockerProviders.get(id) ?? dctx;
  };
  const pctx: PgContext = { runId, log, createdDatabases: new Set() };
  const requireFrom = opts.requireFrom ?? path.join(process.cwd(), "package.json");
  let providerSeq = 0;
  // Catalog updates on one server run one at a time: concurrent GRANT/REVOKE on the same
  // object fails with "tuple concurrently updated", and the upstream provider serializes them
  // (advisory locks) too.
  const pgQueues = new Map<string, Promise<unknown>>();
  function serializedPg<R>(t: PgTarget, op: () => Promise<R>): Promise<R> {
    const key = `${t.host}:${t.port}`;
    const prev = pgQueues.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(op);
    pgQueues.set(key, next);
    return next;
  }

  const defaultPg = (): PgTarget | undefined => {
    if (!opts.defaultPostgresUrl) return undefined;
    const u = new URL(opts.defaultPostgresUrl);
    return {
      host: u.hostname, port: Number(u.port || 5432), user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password), database: u.pathname.slice(1) || "postgres",
      ssl: u.searchParams.get("sslmode") === "require" ? "require" : false, connectTimeoutS: 30,
    };
  };

  const pgTargetFor = (type: string, name: string, provider: string | undefined): PgTarget => {
    // a provider reference is "<urn>::<id>"; the id is what this mock handed out
    const id = provider ? provider.slice(provider.lastIndexOf("::") + 2) : "";
    const t = pgProviders.get(id) ?? defaultPg();
    if (!t) fail(type, name, "provider", `(${provider ?? "none"}) is not a postgresql provider this mock created, and no defaultPostgresUrl was given`);
    return t;
  };

  async function create(t: string, name: string, inputs: Record<string, unknown>, provider: string | undefined): Promise<Created> {
    if (t === "pulumi:providers:postgresql") {
      const target = pgTargetFromProvider(name, inputs);
      const id = `pgprovider-${++providerSeq}`;
      pgProviders.set(id, target);
      return { id, outputs: {}, destroy: () => Promise.resolve(), kind: "other" };
    }
    if (t === "pulumi:providers:docker") {
      checkFields(t, name, inputs, DOCKER_PROVIDER_FIELDS);
      const host = str(t, name, "host", inputs.host);
      const ours = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
      const id = `dockerprovider-${++providerSeq}`;
      if (host && host !== ours) {
        if (!opts.extraEngines?.includes(host)) fail(t, name, "host", `("${host}") must be the engine under test (${ours}) or one of the engines the test started (extraEngines)`);
        dockerProviders.set(id, engineContext(t, name, host, inputs));
      } else {
        dockerProviders.set(id, dctx);
      }
      return { id, outputs: {}, destroy: () => Promise.resolve(), kind: "other" };
    }
    if (t === "pulumi:providers:random") {
      checkFields(t, name, inputs, ["version"]);
      return { id: `randomprovider-${++providerSeq}`, outputs: {}, destroy: () => Promise.resolve(), kind: "other" };
    }
    if (t.startsWith("pulumi:providers:")) fail(t, name, "type", "is a provider the realizing mock does not implement");
    if (t.startsWith("docker:")) {
      // on the engine of the resource's provider, as pulumi-docker's resources are
      const ctx = dockerFor(provider);
      const r = t === "docker:index/network:Network" ? await realizeNetwork(ctx, name, inputs)
        : t === "docker:index/volume:Volume" ? await realizeVolume(ctx, name, inputs)
        : t === "docker:index/remoteImage:RemoteImage" ? await realizeRemoteImage(ctx, name, inputs)
        : t === "docker:index/container:Container" ? await realizeContainer(ctx, name, inputs)
        : fail(t, name, "type", "is not implemented by the realizing mock");
      return { ...r, kind: "other" };
    }
    if (t.startsWith("postgresql:")) {
      const target = pgTargetFor(t, name, provider);
      const r = await serializedPg(target, () => realizePostgres(pctx, t, name, inputs, target));
      return r;
    }
    if (t.startsWith("random:")) {
      const r = realizeRandom(t, name, inputs);
      return { id: r.id, outputs: r.outputs, destroy: () => Promise.resolve(), kind: "other" };
    }
    if (t === "pulumi-nodejs:dynamic:Resource") {
      const p = loadDynamic(name, inputs);
      let news = Object.fromEntries(Object.entries(inputs).filter(([k]) => k !== "__provider"));
      if (p.check) {
        const c = await p.check({}, news);
        if (c.failures?.length) {
          throw new Error(`realizing mock: dynamic resource "${name}" check failed: ${c.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
        }
        if (c.inputs) news = c.inputs;
      }
      const r = await p.create(news);
      // As the dynamic-provider host does (cmd/dynamic-provider/index.js create): the state is the
      // provider's outs plus the serialized provider itself.
      const outs = { ...(r.outs ?? {}), __provider: inputs.__provider };
      log(`dynamic resource ${name} created (${r.id})`);
      return {
        id: r.id, outputs: outs, kind: "other", dynamic: p,
        destroy: async () => {
          if (p.delete) await p.delete(r.id, outs);
        },
      };
    }
    return fail(t, name, "type", "is not implemented by the realizing mock");
  }

  function loadDynamic(name: string, inputs: Record<string, unknown>): DynamicProvider {
    const text = inputs.__provider;
    if (typeof text !== "string") fail("pulumi-nodejs:dynamic:Resource", name, "__provider", "must be the serialized provider module");
    const req = createRequire(requireFrom);
    const mod: { exports: Record<string, unknown> } = { exports: {} };
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- evaluating the serialized provider is exactly what Pulumi's dynamic-provider host does (require-from-string)
    const load = new Function("exports", "require", "module", "__filename", "__dirname", text) as (...a: unknown[]) => void;
    load(mod.exports, req, mod, requireFrom, path.dirname(requireFrom));
    const handler = mod.exports.handler as (() => Record<string, unknown>) | undefined;
    if (typeof handler !== "function") fail("pulumi-nodejs:dynamic:Resource", name, "__provider", "does not export handler()");
    return handler() as unknown as DynamicProvider;
  }

  /** One engine's context, connected the way the provider's config says (one client per engine). */
  function engineContext(t: string, name: string, host: string, inputs: Record<string, unknown>): DockerContext {
    const known = extraEngines.get(host);
    if (known) return known;
    let client: Dockerode;
    if (host.startsWith("unix://")) {
      client = new DockerodeClass({ socketPath: host.slice("unix://".length) });
    } else if (host.startsWith("tcp://")) {
      const u = new URL(host);
      const [ca, cert, key] = [inputs.caMaterial, inputs.certMaterial, inputs.keyMaterial].map((v, i) => str(t, name, ["caMaterial", "certMaterial", "keyMaterial"][i]!, v));
      if (!ca || !cert || !key) fail(t, name, "caMaterial", "a tcp:// engine needs caMaterial, certMaterial and keyMaterial (the mock speaks TLS only, as the platform requires)");
      client = new DockerodeClass({ host: u.hostname, port: Number(u.port), protocol: "https", ca, cert, key });
    } else {
      return fail(t, name, "host", "is an ssh:// engine: the realizing mock implements unix:// and tcp:// (TLS) engines");
    }
    const ctx: DockerContext = { docker: client, runId, log };
    extraEngines.set(host, ctx);
    return ctx;
  }

  return { create, loadDynamic, docker: dctx, dockerFor, engines: () => [dctx, ...extraEngines.values()] };
}

export function createRealizingMocks(opts: RealizingMocksOptions): RealizingMocks {
  const realizer = createResourceRealizer(opts);
  const { runId } = opts;
  const log = opts.log ?? (() => undefined);
  const records: RealizedRecord[] = [];
  const teardowns: Teardown[] = [];
  const errors: Error[] = [];
  const pending = new Set<Promise<unknown>>();

  async function realize(args: pulumi.runtime.MockResourceArgs): Promise<pulumi.runtime.MockResourceResult> {
    const started = Date.now();
    const secretPaths: string[] = [];
    const inputs = unwrapSecrets(args.inputs, secretPaths) as Record<string, unknown>;
    const rawInputs = args.inputs as Record<string, unknown>;
    const rec: RealizedRecord = {
      type: args.type, name: args.name, custom: args.custom ?? true, inputs, secretPaths,
      ...(args.provider ? { provider: args.provider } : {}), outputs: {}, ms: 0,
    };
    if (args.type === STACK_REFERENCE) {
      // a read, not a resource of the run: nothing to create or tear down
      const answer = readStackReference(opts, args);
      records.push({ ...rec, id: answer.id ?? "", outputs: unwrapSecrets(answer.state) as Record<string, unknown> });
      return answer;
    }
    if (args.id) fail(args.type, args.name, "id", "reads/imports of existing resources are not implemented");
    if (!rec.custom) {
      // component resources only group children
      records.push(rec);
      return { id: undefined, state: rawInputs };
    }
    const r = await realizer.create(args.type, args.name, inputs, args.provider);
    teardowns.push({ label: `${args.type} ${args.name}`, kind: r.kind, destroy: r.destroy });
    rec.id = r.id;
    rec.outputs = unwrapSecrets(r.outputs) as Record<string, unknown>;
    rec.ms = Date.now() - started;
    records.push(rec);
    // the raw inputs keep their secret envelopes, so outputs of secret inputs stay secret
    return { id: r.id, state: { ...rawInputs, ...r.outputs } };
  }

  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      const p = realize(args);
      const tracked = p.then(
        () => undefined,
        (e: unknown) => {
          const err = e instanceof Error ? e : new Error(String(e));
          errors.push(err);
          log(`FAILED ${args.type} ${args.name}: ${err.message}`);
        },
      );
      pending.add(tracked);
      void tracked.finally(() => pending.delete(tracked));
      // A failed resource never completes, so nothing downstream runs on a value that does not
      // exist, and the SDK raises no unhandled rejection; settled() reports the error instead.
      return p.catch(() => new Promise<never>(() => undefined));
    },
    call(args) {
      throw new Error(`realizing mock: function ${args.token} is not implemented`);
    },
  };

  async function settled(): Promise<void> {
    // registrations arrive in waves (children register once their parents' outputs resolve),
    // so wait until nothing has been in flight for a short quiet period
    for (;;) {
      while (pending.size) await Promise.allSettled([...pending]);
      await new Promise((r) => setTimeout(r, 200));
      if (!pending.size) break;
    }
    if (errors.length) {
      throw new AggregateError(errors, `realizing mock: ${errors.length} resource(s) failed:\n${errors.map((e) => e.message).join("\n")}`);
    }
  }

  async function destroyAll(): Promise<void> {
    while (pending.size) await Promise.allSettled([...pending]);
    const failures: unknown[] = [];
    const run = async (t: Teardown) => {
      try {
        await t.destroy();
      } catch (e) {
        failures.push(new Error(`teardown of ${t.label}: ${e instanceof Error ? e.message : String(e)}`));
      }
    };
    // Newest first. A role may own a database created after it, so roles wait until the
    // Postgres objects created after them are gone — but not past a non-Postgres resource,
    // which may be the very server they live on.
    const deferredRoles: Teardown[] = [];
    const items = teardowns.splice(0).reverse();
    for (const t of items) {
      if (t.kind === "role") {
        deferredRoles.push(t);
        continue;
      }
      if (!t.label.startsWith("postgresql:")) {
        for (const r of deferredRoles.splice(0)) await run(r);
      }
      await run(t);
    }
    for (const r of deferredRoles.splice(0)) await run(r);
    // belt and braces: anything an engine still holds with this run's label
    for (const e of realizer.engines()) failures.push(...(await sweepRun(e.docker, runId, log)));
    if (failures.length) throw new AggregateError(failures, `realizing mock teardown: ${failures.length} error(s)`);
  }

  return {
    mocks,
    records,
    settled,
    destroyAll,
    find: (type, name) => records.find((r) => r.type === type && r.name === name),
  };
}

/** A StackReference read, answered from the test's recorded stacks. */
export function readStackReference(opts: RealizingMocksOptions, args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
  if (!opts.stackOutputs) throw new Error(`stack reference "${args.name}": no stack named '${String((args.inputs as { name?: unknown }).name)}' found (the test recorded no stacks: stackOutputs)`);
  return opts.stackOutputs.read(args);
}

/** Removes every container, network and volume labelled with this run id. */
export async function sweepRun(docker: Dockerode, runId: string, log: (l: string) => void = () => undefined): Promise<unknown[]> {
  const failures: unknown[] = [];
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
  const tryDo = async (what: string, f: () => Promise<unknown>) => {
    try {
      await f();
      log(`swept ${what}`);
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) failures.push(new Error(`sweep ${what}: ${String(e)}`));
    }
  };
  for (const c of await docker.listContainers({ all: true, filters })) {
    await tryDo(`container ${c.Names.join(",")}`, () => docker.getContainer(c.Id).remove({ force: true, v: true }));
  }
  for (const n of await docker.listNetworks({ filters })) {
    await tryDo(`network ${n.Name}`, () => docker.getNetwork(n.Id).remove());
  }
  const vols = await docker.listVolumes({ filters });
  for (const v of vols.Volumes ?? []) {
    await tryDo(`volume ${v.Name}`, () => docker.getVolume(v.Name).remove({ force: true }));
  }
  return failures;
}

/**
 * Removes what runs of dead test processes left behind (a run killed before its teardown):
 * objects carry the run id and the pid of the process that made them; a run whose process no
 * longer exists on this host is swept. Runs of live processes (parallel suites) are untouched.
 */
export async function sweepDeadRuns(docker: Dockerode, log: (l: string) => void = () => undefined): Promise<string[]> {
  const filters = JSON.stringify({ label: [RUN_LABEL, PID_LABEL] });
  const runs = new Map<string, number>();
  const note = (labels: Record<string, string> | undefined) => {
    const run = labels?.[RUN_LABEL];
    const pid = Number(labels?.[PID_LABEL]);
    if (run && Number.isInteger(pid)) runs.set(run, pid);
  };
  for (const c of await docker.listContainers({ all: true, filters })) note(c.Labels);
  for (const n of await docker.listNetworks({ filters })) note(n.Labels);
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) note(v.Labels);
  const swept: string[] = [];
  for (const [run, pid] of runs) {
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = (e as { code?: string }).code === "EPERM";
    }
    if (alive) continue;
    const failures = await sweepRun(docker, run, log);
    if (failures.length) throw new AggregateError(failures, `sweeping leftovers of dead run ${run} failed`);
    swept.push(run);
  }
  return swept;
}
