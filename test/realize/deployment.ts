// A realized deployment across several runs of a program: what `pulumi preview` and `pulumi up`
// do, modelled on the engine and the providers, on the real Docker engine and Postgres.
//
// The first `up` creates everything (through the realizing mock's per-resource realizer). Each
// later run registers the program's resources again and, for each one, asks the provider model
// for the Diff of the prior state against the new inputs — the state being what the provider's
// Read returned after the last create/update, as in a real stack (`pulumi up` does not refresh
// by default). The engine's step generation (pulumi/pulumi pkg/resource/deploy/step_generator.go)
// is modelled as far as the components need it:
//  - same: nothing reaches the provider; the prior outputs are handed back;
//  - update: the provider's Update (for Docker containers: ContainerUpdate of the few fields it
//    supports — see provider-model/docker.ts), then its Read;
//  - replace: deleteBeforeReplace (the option, or a dynamic provider's diff) deletes first —
//    after the resources that depend on it and would be replaced too (calculateDependentReplacements:
//    their diff with the dependency's outputs unknown) — otherwise the new one is created first
//    and the old one deleted at the end of the run;
//  - delete: resources not registered again, newest first; `retainOnDelete` drops them from the
//    state without calling the provider; `protect` refuses.
// In preview nothing reaches the engine: created and replaced resources hand back unknown
// outputs, so dependents see unknowns exactly where the engine would show "(known after apply)".
import type Dockerode from "dockerode";
import * as pulumi from "@pulumi/pulumi";
import { createRequire } from "node:module";
import { installRegisterOptionCapture, takeRegisterOptions, type RegisterOptions } from "./register-options";
import { createResourceRealizer, readStackReference, sweepRun, type Created, type DynamicProvider, type RealizingMocksOptions } from "./realizing-mocks";
import { unwrapSecrets } from "./secrets";
import { STACK_REFERENCE } from "./stack-references";
import { canonical, diffByRules, hasUnknown, markUnknowns, stateFromConfig, type DiffResult, type FieldChange, type ResourceRules } from "./provider-model/diff";
import { CONTAINER_RULES, NETWORK_RULES, REMOTE_IMAGE_RULES, VOLUME_RULES, readContainer, readNetwork, readVolume, updateContainer } from "./provider-model/docker";
import { POSTGRES_RULES } from "./provider-model/postgresql";
import { randomRules } from "./provider-model/random";

const wireUnknowns = (v: unknown): unknown =>
  hasUnknown(v) && !Array.isArray(v) && (typeof v !== "object" || v === null) ? UNKNOWN_WIRE
    : Array.isArray(v) ? v.map(wireUnknowns)
    : typeof v === "object" && v !== null ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, wireUnknowns(x)]))
    : v;
const UNKNOWN_WIRE = (createRequire(import.meta.url)("@pulumi/pulumi/runtime/rpc.js") as { unknownValue: string }).unknownValue;

export type StepOp = "same" | "create" | "update" | "replace" | "delete";

export interface PlanStep {
  op: StepOp;
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  changes: FieldChange[];
  /** why, where it is not the resource's own diff (a dependent replacement, a retained delete) */
  note?: string;
}

export interface StateEntry {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  provider?: string;
  id?: string;
  /** the inputs as registered, secret envelopes removed */
  inputs: Record<string, unknown>;
  secretPaths: string[];
  /** what the SDK got back (raw inputs + outputs, secrets kept) */
  returned: Record<string, unknown>;
  /** outputs without secret envelopes */
  outputs: Record<string, unknown>;
  /** the provider's state the next Diff compares against */
  state: Record<string, unknown>;
  options: RegisterOptions;
  seq: number;
  destroy: () => Promise<void>;
  dynamic?: DynamicProvider;
}

export class Plan {
  constructor(readonly steps: PlanStep[]) {}

  /** counts of custom resources (components are shown in the table but never updated or replaced) */
  counts(): Record<StepOp, number> {
    const c: Record<StepOp, number> = { same: 0, create: 0, update: 0, replace: 0, delete: 0 };
    for (const s of this.steps) if (s.custom) c[s.op]++;
    return c;
  }

  changed(): PlanStep[] {
    return this.steps.filter((s) => s.op !== "same");
  }

  /** The plan as a pull-request preview comment would show it. */
  table(title: string): string {
    const c = this.counts();
    const sym: Record<StepOp, string> = { create: "+", update: "~", replace: "+-", delete: "-", same: " " };
    const rows = this.changed()
      .sort((a, b) => a.urn.localeCompare(b.urn))
      .map((s) => {
        const fields = s.changes.map((ch) => `${ch.field}${ch.action === "replace" ? " (forces replacement)" : ""}`).join(", ");
        return `| ${sym[s.op]} | ${s.op} | ${s.type} | ${s.name} | ${[fields, s.note].filter(Boolean).join("; ")} |`;
      });
    return [
      `### ${title}`,
      `Resources: ${c.create} to create, ${c.update} to update, ${c.replace} to replace, ${c.delete} to delete, ${c.same} unchanged`,
      "",
      "| | op | type | name | changed fields |",
      "|---|---|---|---|---|",
      ...(rows.length ? rows : ["| | | | (no changes) | |"]),
    ].join("\n");
  }
}

export interface DeploymentOptions extends RealizingMocksOptions {
  project: string;
  stack: string;
  /** `pulumi.getOrganization()` in the program (a real backend always has one; the mock's default is none) */
  organization?: string;
}

type Program = () => unknown;

interface Run {
  mode: "preview" | "up";
  registered: Set<string>;
  steps: PlanStep[];
  pending: Set<Promise<unknown>>;
  errors: Error[];
  /** urns deleted during this run ahead of their own registration (dependent replacements) */
  deletedForReplace: Map<string, string>;
  /** old copies of create-before-delete replacements, deleted at the end */
  oldCopies: StateEntry[];
}

export interface Deployment {
  preview(program: Program): Promise<Plan>;
  up(program: Program): Promise<Plan>;
  /** `pulumi destroy`: deletes every resource with the engine's semantics (retainOnDelete, protect) */
  destroy(): Promise<Plan>;
  /** `pulumi refresh` (or `up --refresh`): every Docker resource's state re-read from the engine by the provider's Read */
  refresh(): Promise<void>;
  entries(): StateEntry[];
  find(type: string, name: string): StateEntry | undefined;
  /** test teardown: removes everything this deployment made, retained resources included */
  cleanup(): Promise<void>;
}

function rulesFor(type: string, inputs: Record<string, unknown>): ResourceRules | undefined {
  if (type === CONTAINER_RULES.type) return CONTAINER_RULES;
  if (type === NETWORK_RULES.type) return NETWORK_RULES;
  if (type === VOLUME_RULES.type) return VOLUME_RULES;
  if (type === REMOTE_IMAGE_RULES.type) return REMOTE_IMAGE_RULES;
  if (type.startsWith("postgresql:")) {
    const r = POSTGRES_RULES[type];
    if (!r) throw new Error(`provider model: ${type} has no rules`);
    return r;
  }
  if (type.startsWith("random:")) return randomRules(type, inputs);
  return undefined;
}

/** Computed outputs per type: in preview a created resource hands these back unknown. */
const COMPUTED_OUTPUTS: Record<string, string[]> = {
  "docker:index/container:Container": ["name", "hostname", "bridge", "networkDatas", "exitCode", "containerLogs"],
  "docker:index/network:Network": ["name", "driver", "scope", "internal", "ipamDriver", "ipamConfigs"],
  "docker:index/volume:Volume": ["name", "driver", "mountpoint"],
  "docker:index/remoteImage:RemoteImage": ["imageId", "repoDigest"],
  "random:index/randomPassword:RandomPassword": ["result", "bcryptHash"],
  "random:index/randomBytes:RandomBytes": ["base64", "hex"],
  "random:index/randomString:RandomString": ["result"],
  "random:index/randomId:RandomId": ["hex", "b64Std", "b64Url", "dec"],
};

export function createDeployment(opts: DeploymentOptions): Deployment {
  installRegisterOptionCapture();
  const realizer = createResourceRealizer(opts);
  const log = opts.log ?? (() => undefined);
  const state = new Map<string, StateEntry>();
  const retained: StateEntry[] = [];
  let seq = 0;
  let run: Run | undefined;

  async function readState(type: string, id: string, inputs: Record<string, unknown>, created: Created, provider: string | undefined): Promise<Record<string, unknown>> {
    // the provider's Read, on the engine of the resource's provider
    const docker: Dockerode = realizer.dockerFor(provider).docker;
    if (type === CONTAINER_RULES.type) {
      try {
        return readContainer(await docker.getContainer(id).inspect(), inputs);
      } catch (e) {
        // CF Read: a container that is gone leaves an empty id: "Root resource was present, but now absent"
        if ((e as { statusCode?: number }).statusCode === 404) throw new Error(`provider model: container ${String(inputs.name)} is gone right after create (rm with attach?): the provider would fail the create`);
        throw e;
      }
    }
    if (type === NETWORK_RULES.type) return readNetwork((await docker.getNetwork(id).inspect()) as Parameters<typeof readNetwork>[0]);
    if (type === VOLUME_RULES.type) return readVolume((await docker.getVolume(id).inspect()));
    const rules = rulesFor(type, inputs);
    if (rules) return stateFromConfig(rules, inputs);
    if (type === "pulumi-nodejs:dynamic:Resource") return created.outputs;
    return inputs;
  }

  async function diff(prior: StateEntry, news: Record<string, unknown>): Promise<DiffResult & { deleteBeforeReplace?: boolean }> {
    const type = prior.type;
    let result: DiffResult & { deleteBeforeReplace?: boolean };
    if (type === "pulumi-nodejs:dynamic:Resource") {
      // cmd/dynamic-provider/index.js diff: the provider's diff on (olds = prior outputs incl.
      // __provider, news); without one the engine compares old and new inputs (an update)
      const p = prior.dynamic ?? realizer.loadDynamic(prior.name, news);
      if (p.diff) {
        // the host hands the provider the wire form: an unknown input is the unknown sentinel string
        const d = await p.diff(prior.id ?? "", prior.outputs, wireUnknowns(news) as Record<string, unknown>);
        const replaces = d.replaces ?? [];
        const changes: FieldChange[] = replaces.map((k) => ({ field: k, action: "replace", prior: prior.outputs[k], next: news[k] }));
        if (d.changes && !replaces.length) {
          for (const k of Object.keys(news)) {
            if (k !== "__provider" && canonical(prior.outputs[k]) !== canonical(news[k])) changes.push({ field: k, action: "update", prior: prior.outputs[k], next: news[k] });
          }
          if (!changes.length) changes.push({ field: "(provider diff)", action: "update", prior: undefined, next: undefined });
        }
        result = { op: replaces.length ? "replace" : d.changes ? "update" : "same", changes, deleteBeforeReplace: d.deleteBeforeReplace ?? false };
      } else {
        const changes: FieldChange[] = Object.keys({ ...prior.inputs, ...news })
          .filter((k) => k !== "__provider" && canonical(prior.inputs[k]) !== canonical(news[k]))
          .map((k) => ({ field: k, action: "update" as const, prior: prior.inputs[k], next: news[k] }));
        result = { op: changes.length ? "update" : "same", changes };
      }
    } else if (type.startsWith("pulumi:providers:")) {
      const changes: FieldChange[] = Object.keys({ ...prior.inputs, ...news })
        .filter((k) => canonical(prior.inputs[k]) !== canonical(news[k]))
        .map((k) => ({ field: k, action: "update" as const, prior: prior.inputs[k], next: news[k] }));
      result = { op: changes.length ? "update" : "same", changes };
    } else {
      const rules = rulesFor(type, news);
      if (!rules) throw new Error(`provider model: ${type} has no diff rules`);
      result = diffByRules(rules, prior.name, prior.state, news);
    }
    // engine options: ignoreChanges drops fields, replaceOnChanges turns updates into replacements
    const opt = prior.options;
    let changes = result.changes.filter((c) => !opt.ignoreChanges.includes(c.field));
    const current = takeCurrentOptions(prior.urn);
    if (current) changes = changes.filter((c) => !current.ignoreChanges.includes(c.field));
    const roc = current?.replaceOnChanges ?? opt.replaceOnChanges;
    changes = changes.map((c) => (roc.includes(c.field) || roc.includes("*") ? { ...c, action: "replace" as const } : c));
    const op = changes.some((c) => c.action === "replace") ? "replace" : changes.length ? "update" : "same";
    return { ...result, op, changes };
  }

  // the options of the registration now being diffed (ignoreChanges etc. come from the new program)
  const currentOptions = new Map<string, RegisterOptions>();
  const takeCurrentOptions = (urn: string) => currentOptions.get(urn);

  function unknownState(type: string, rawInputs: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...rawInputs };
    for (const k of COMPUTED_OUTPUTS[type] ?? []) if (!(k in rawInputs)) out[k] = UNKNOWN_WIRE;
    if (type === "pulumi-nodejs:dynamic:Resource") for (const k of Object.keys(out)) if (k !== "__provider") out[k] = UNKNOWN_WIRE;
    return out;
  }

  async function createEntry(urn: string, type: string, name: string, custom: boolean, provider: string | undefined, inputs: Record<string, unknown>, secretPaths: string[], rawInputs: Record<string, unknown>, options: RegisterOptions): Promise<StateEntry> {
    if (!custom) {
      return { urn, type, name, custom, inputs, secretPaths, returned: rawInputs, outputs: {}, state: {}, options, seq: ++seq, destroy: () => Promise.resolve() };
    }
    const created = await realizer.create(type, name, inputs, provider);
    const entry: StateEntry = {
      urn, type, name, custom, ...(provider ? { provider } : {}), id: created.id, inputs, secretPaths,
      returned: { ...rawInputs, ...created.outputs },
      outputs: unwrapSecrets(created.outputs) as Record<string, unknown>,
      state: {}, options, seq: ++seq, destroy: created.destroy,
      ...(created.dynamic ? { dynamic: created.dynamic } : {}),
    };
    entry.state = await readState(type, created.id, inputs, created, provider);
    if (type === CONTAINER_RULES.type && entry.state.exitCode !== undefined) {
      entry.outputs.exitCode = entry.state.exitCode;
      entry.returned.exitCode = entry.state.exitCode;
    }
    return entry;
  }

  async function engineDelete(e: StateEntry, why: string): Promise<void> {
    if (e.options.protect) throw new Error(`engine: ${e.type} "${e.name}" is protected and cannot be deleted (${why}); unprotect it first`);
    if (e.options.retainOnDelete) {
      log(`retained ${e.type} ${e.name} (${why}): the provider is not called`);
      retained.push(e);
    } else {
      await e.destroy();
    }
    state.delete(e.urn);
  }

  /** calculateDependentReplacements: dependents of `r` whose diff, with r's outputs unknown, replaces them. */
  async function dependentReplacements(r: StateEntry, seen = new Set<string>()): Promise<StateEntry[]> {
    const out: StateEntry[] = [];
    for (const e of state.values()) {
      if (!e.custom || seen.has(e.urn) || e.urn === r.urn) continue;
      const props = e.options.propertyDependencies;
      const fromR = Object.entries(props).filter(([, urns]) => urns.includes(r.urn)).map(([k]) => k);
      if (!fromR.length && !e.options.dependencies.includes(r.urn)) continue;
      const news = { ...e.inputs };
      for (const k of fromR) news[k] = markUnknowns(pulumi.unknown);
      const d = await diff(e, news);
      if (d.op !== "replace") continue;
      seen.add(e.urn);
      out.push(...(await dependentReplacements(e, seen)), e);
    }
    return out;
  }

  async function handle(args: pulumi.runtime.MockResourceArgs, options: RegisterOptions): Promise<pulumi.runtime.MockResourceResult> {
    const r = run!;
    const { urn } = options;
    if (r.registered.has(urn)) throw new Error(`engine: duplicate resource URN ${urn}`);
    r.registered.add(urn);
    currentOptions.set(urn, options);
    const custom = args.custom ?? true;
    if (args.id) throw new Error(`realizing deployment: ${args.type} "${args.name}": reads/imports are not modelled`);
    const secretPaths: string[] = [];
    const marked = markUnknowns(args.inputs) as Record<string, unknown>;
    const inputs = unwrapSecrets(marked, secretPaths) as Record<string, unknown>;
    const rawInputs = args.inputs as Record<string, unknown>;
    const step = (op: StepOp, changes: FieldChange[] = [], note?: string) =>
      r.steps.push({ op, urn, type: args.type, name: args.name, custom, changes, ...(note ? { note } : {}) });
    const prior = state.get(urn);
    const dependentNote = r.deletedForReplace.get(urn);

    if (!prior || dependentNote !== undefined) {
      if (prior && dependentNote !== undefined && r.mode === "up") throw new Error(`engine: ${urn} was deleted for replacement but is still in state`);
      step(dependentNote !== undefined ? "replace" : "create", [], dependentNote);
      if (r.mode === "preview") return { id: undefined, state: custom ? unknownState(args.type, rawInputs) : rawInputs };
      const e = await createEntry(urn, args.type, args.name, custom, args.provider, inputs, secretPaths, rawInputs, options);
      state.set(urn, e);
      return { id: e.id, state: e.returned };
    }
    if (!custom) {
      step("same");
      prior.options = options;
      return { id: undefined, state: rawInputs };
    }
    // step_generator.go providerChanged: another provider (by URN) is diffed by the new provider's
    // DiffConfig; the model takes another engine to be another resource (a replacement), which is
    // what a docker.Provider with another `host` means. The platform never relies on it: a tenant
    // that moves between hosts changes its URNs.
    const providerUrn = (ref: string | undefined) => (ref ? ref.slice(0, ref.lastIndexOf("::")) : "");
    const d = providerUrn(prior.provider) !== providerUrn(args.provider)
      ? { op: "replace" as const, changes: [{ field: "provider", action: "replace" as const, prior: prior.provider, next: args.provider }] }
      : await diff(prior, inputs);
    step(d.op, d.changes);
    if (d.op === "same") {
      prior.options = options;
      return { id: prior.id, state: prior.returned };
    }
    if (r.mode === "preview") {
      if (d.op === "update") return { id: prior.id, state: { ...prior.returned, ...rawInputs } };
      if (options.deleteBeforeReplace || d.deleteBeforeReplace) {
        for (const dep of await dependentReplacements(prior)) r.deletedForReplace.set(dep.urn, `dependent of replaced ${prior.name}`);
      }
      return { id: undefined, state: unknownState(args.type, rawInputs) };
    }
    if (d.op === "update") {
      const changed = d.changes.map((c) => c.field);
      let outs: Record<string, unknown> = {};
      if (args.type === CONTAINER_RULES.type) {
        await updateContainer(realizer.dockerFor(prior.provider).docker, prior.id!, prior.state, inputs, changed);
      } else if (args.type === "pulumi-nodejs:dynamic:Resource") {
        const p = realizer.loadDynamic(args.name, inputs);
        const news = Object.fromEntries(Object.entries(inputs).filter(([k]) => k !== "__provider"));
        const u = p.update ? await p.update(prior.id!, prior.outputs, news) : undefined;
        outs = { ...(u?.outs ?? {}), __provider: inputs.__provider };
        prior.dynamic = p;
      } else if (args.type.startsWith("postgresql:")) {
        throw new Error(`realizing deployment: in-place update of ${args.type} "${args.name}" (${changed.join(", ")}) is not modelled`);
      }
      // anything else: the provider's Update only rewrites its state (all other fields force replacement)
      prior.inputs = inputs;
      prior.secretPaths = secretPaths;
      prior.options = options;
      prior.returned = { ...rawInputs, ...(args.type === "pulumi-nodejs:dynamic:Resource" ? outs : prior.outputs) };
      if (args.type === "pulumi-nodejs:dynamic:Resource") prior.outputs = unwrapSecrets(outs) as Record<string, unknown>;
      prior.state = await readState(args.type, prior.id!, inputs, { id: prior.id!, outputs: prior.outputs, destroy: prior.destroy, kind: "other" }, prior.provider);
      return { id: prior.id, state: prior.returned };
    }
    // replace
    if (prior.options.protect) throw new Error(`engine: ${args.type} "${args.name}" is protected; replacing it (${d.changes.map((c) => c.field).join(", ")}) is refused`);
    if (options.deleteBeforeReplace || d.deleteBeforeReplace) {
      for (const dep of await dependentReplacements(prior)) {
        r.deletedForReplace.set(dep.urn, `dependent of replaced ${prior.name}`);
        await engineDelete(dep, `replaced as a dependent of ${prior.name}`);
      }
      await engineDelete({ ...prior, options: { ...prior.options, retainOnDelete: false } }, "delete before replace");
    } else {
      state.delete(urn);
      r.oldCopies.push(prior);
    }
    const e = await createEntry(urn, args.type, args.name, custom, args.provider, inputs, secretPaths, rawInputs, options);
    state.set(urn, e);
    return { id: e.id, state: e.returned };
  }

  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      // a StackReference is read, not registered (no register options, no step): as in a real
      // preview and up, it answers with the referenced stack's outputs
      if (args.type === STACK_REFERENCE) {
        if (!run) throw new Error("realizing deployment: a read outside a run");
        try {
          return readStackReference(opts, args);
        } catch (e) {
          // the run fails with it, as every failed resource does (never completes downstream)
          run.errors.push(e instanceof Error ? e : new Error(String(e)));
          return new Promise<never>(() => undefined);
        }
      }
      const options = takeRegisterOptions();
      const r = run;
      if (!r || !options) throw new Error("realizing deployment: a registration outside a run (or a read)");
      const p = handle(args, options);
      const tracked = p.then(
        () => undefined,
        (e: unknown) => {
          const err = e instanceof Error ? e : new Error(String(e));
          r.errors.push(err);
          log(`FAILED ${args.type} ${args.name}: ${err.message}`);
        },
      );
      r.pending.add(tracked);
      void tracked.finally(() => r.pending.delete(tracked));
      return p.catch(() => new Promise<never>(() => undefined));
    },
    call(args) {
      throw new Error(`realizing deployment: function ${args.token} is not implemented`);
    },
  };

  async function execute(mode: Run["mode"], program: Program): Promise<Plan> {
    if (run) throw new Error("realizing deployment: runs do not overlap");
    const r: Run = { mode, registered: new Set(), steps: [], pending: new Set(), errors: [], deletedForReplace: new Map(), oldCopies: [] };
    run = r;
    currentOptions.clear();
    try {
      await pulumi.runtime.setMocks(mocks, opts.project, opts.stack, mode === "preview", opts.organization);
      await program();
      for (;;) {
        while (r.pending.size) await Promise.allSettled([...r.pending]);
        await new Promise((res) => setTimeout(res, 200));
        if (!r.pending.size) break;
      }
      if (r.errors.length) throw new AggregateError(r.errors, `${mode}: ${r.errors.length} resource(s) failed:\n${r.errors.map((e) => e.message).join("\n")}`);
      // resources no longer declared: deleted, newest first
      const gone = [...state.values()].filter((e) => !r.registered.has(e.urn)).sort((a, b) => b.seq - a.seq);
      for (const e of gone) {
        r.steps.push({ op: "delete", urn: e.urn, type: e.type, name: e.name, custom: e.custom, changes: [], ...(e.options.retainOnDelete ? { note: "retainOnDelete: left on the engine" } : {}) });
        if (mode === "up") await engineDelete(e, "no longer declared");
      }
      if (mode === "up") for (const old of r.oldCopies.sort((a, b) => b.seq - a.seq)) await engineDelete(old, "old copy of a replacement");
      return new Plan(r.steps);
    } finally {
      run = undefined;
    }
  }

  return {
    preview: (program) => execute("preview", program),
    up: (program) => execute("up", program),
    async destroy() {
      const steps: PlanStep[] = [];
      for (const e of [...state.values()].sort((a, b) => b.seq - a.seq)) {
        steps.push({ op: "delete", urn: e.urn, type: e.type, name: e.name, custom: e.custom, changes: [], ...(e.options.retainOnDelete ? { note: "retainOnDelete: left on the engine" } : {}) });
        await engineDelete(e, "pulumi destroy");
      }
      return new Plan(steps);
    },
    async refresh() {
      for (const e of state.values()) {
        if (!e.custom || !e.id || !e.type.startsWith("docker:")) continue;
        e.state = await readState(e.type, e.id, e.inputs, { id: e.id, outputs: e.outputs, destroy: e.destroy, kind: "other" }, e.provider);
      }
    },
    entries: () => [...state.values()],
    find: (type, name) => [...state.values()].find((e) => e.type === type && e.name === name),
    async cleanup() {
      const failures: unknown[] = [];
      const all = [...state.values(), ...retained].sort((a, b) => b.seq - a.seq);
      // Postgres roles last: they may own the databases made after them
      const ordered = [...all.filter((e) => e.type !== "postgresql:index/role:Role"), ...all.filter((e) => e.type === "postgresql:index/role:Role")];
      for (const e of ordered) {
        try {
          await e.destroy();
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          // a retained Postgres object of an embedded server that `destroy` already removed: the
          // server is gone with its container, and the sweep below removes its data volume
          if (e.type.startsWith("postgresql:") && retained.includes(e) && /connect|terminated|ECONNREFUSED|EHOSTUNREACH|timeout/i.test(msg)) continue;
          failures.push(new Error(`cleanup of ${e.type} ${e.name}: ${msg}`));
        }
      }
      state.clear();
      retained.length = 0;
      for (const e of realizer.engines()) failures.push(...(await sweepRun(e.docker, opts.runId, log)));
      if (failures.length) throw new AggregateError(failures, `realizing deployment cleanup: ${failures.length} error(s)`);
    },
  };
}
