// The per-host stack layout realized on two engines: the program of stacks/per-host
// (program.ts, which index.ts runs with platform.ts's config) run as three stacks of one project —
// `shared` (the audit store on an external TLS-only Postgres, verify-full, and the plan's outputs),
// then `host-a` and `host-b`, each reading the shared stack's outputs through a
// `pulumi:pulumi:StackReference` the realizing deployment answers from what the shared run
// exported (test/realize/stack-references.ts). The platform is two-hosts' (multi-host-platform.ts:
// host a this engine, host b a second dockerd in its own network namespace over TLS, two tenants on
// each), so the same probes run against it (multi-host-probes.ts): cross-tenant, direct egress,
// proxy allowlist and DNS on both hosts, the cross-host probes, the 421 and one verifiable audit
// chain per tenant holding both hosts' edges' decisions — every probe with a positive control.
// Then a second run of a host stack and of the shared stack plans nothing; adding a tenant on b,
// applied stack by stack, plans nothing in the shared stack, only the edge's config in host-a's
// and that tenant's resources in host-b's. At the end every stack is destroyed (`pulumi destroy`,
// hosts first, then the shared stack; also after a failure).
//
// Traffic goes only to loopback, to the containers and namespaces this suite creates, and to the
// test environment's fake outside and DNS servers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { readEvents, verifyAuditChain } from "@octw/audit";
import { SHARED_AUDIT_OUTPUT, planPlatform, type OpenClawPlatformArgs } from "@octw/pulumi";
import { perHostProgram, NOT_HELD, type PlatformConfigOf } from "../../stacks/per-host/program";
import { createRealizingMocks, type RealizingMocks } from "../realize/index";
import { createDeployment, type Deployment, type Plan } from "../realize/deployment";
import { StackOutputStore, recordedOutputs, type RecordedOutputs } from "../realize/stack-references";
import { HOSTS, MultiHostFixture, type HostName } from "./multi-host-platform";
import { describeCrossHostProbes, describeProbeSanity, describeProbesOnEachHost } from "./multi-host-probes";

const fx = new MultiHostFixture("per-host-layout");
const ORG = "organization";
const PROJECT = "octw-per-host";
const SHARED = `${ORG}/${PROJECT}/shared`;
const store = new StackOutputStore();
const deps: Partial<Record<"shared" | HostName, Deployment>> = {};
let fixtures: RealizingMocks | undefined;
let config: OpenClawPlatformArgs;
const outputs: Partial<Record<"shared" | HostName, RecordedOutputs>> = {};
const plans: Partial<Record<"shared" | HostName, Plan>> = {};

/** What platform.ts's `platformConfig` is to the real stacks: this run's platform (`platform`), each host's key and the admin password as the stack gives them. */
const configOf = (platform: OpenClawPlatformArgs): PlatformConfigOf => (keyOf, adminPassword) => ({
  ...platform,
  hosts: platform.hosts!.map((h) => (h.tls ? { ...h, tls: { ...h.tls, key: keyOf(h.name) } } : h)),
  audit: { ...platform.audit, adminPassword },
});

/** Each stack's config, as its Pulumi.<stack>.yaml and `pulumi config set --secret` would hold it. */
function stackConfig(stack: "shared" | HostName): { values: Record<string, string>; secrets: string[] } {
  if (stack === "shared") return { values: { "octw:layout": "shared", "octw:auditAdminPassword": fx.pgTls!.adminPassword }, secrets: ["octw:auditAdminPassword"] };
  // host a is this machine's engine over its unix socket: its stack holds no engine key (the program requires one; never used)
  const key = stack === "b" ? fx.b!.tls.key : "none: host a is this machine's engine";
  return { values: { "octw:layout": "host", "octw:host": stack, "octw:hostTlsKey": key }, secrets: ["octw:hostTlsKey"] };
}

/** The program of one stack, under its own config (what `pulumi up` in that stack runs). */
function program(stack: "shared" | HostName, into: { exports: Record<string, unknown> }, platform: OpenClawPlatformArgs = config) {
  return () => {
    const c = stackConfig(stack);
    pulumi.runtime.setAllConfig(c.values, c.secrets);
    into.exports = perHostProgram(configOf(platform));
  };
}

function deployment(stack: "shared" | HostName): Deployment {
  const d = createDeployment({
    runId: fx.runId, docker: fx.dk, extraEngines: [fx.b!.host], stackOutputs: store,
    project: PROJECT, stack: stack === "shared" ? "shared" : `host-${stack}`, organization: ORG,
    log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[${stack}] ${l}`),
  });
  deps[stack] = d;
  return d;
}

/** `pulumi up` of one stack: its plan, and its stack outputs as the backend records them. */
async function up(stack: "shared" | HostName): Promise<void> {
  const into = { exports: {} as Record<string, unknown> };
  const t = Date.now();
  plans[stack] = await deployment(stack).up(program(stack, into));
  fx.timings[`up${stack === "shared" ? "Shared" : `Host${stack.toUpperCase()}`}Ms`] = Date.now() - t;
  const recorded = await recordedOutputs(into.exports);
  outputs[stack] = recorded;
  if (stack === "shared") store.record(SHARED, recorded);
}

beforeAll(async () => {
  await fx.startEnvironment();
  await fx.startAuditServer();
  config = fx.platformConfig(fx.externalAudit());
  const plan = planPlatform(config, "per-host platform");
  // the shared stack first: the host stacks read its outputs
  await up("shared");
  for (const h of HOSTS) await up(h);
  // the probes' DNS controls: not part of the platform, realized beside its stacks
  fixtures = createRealizingMocks({ runId: fx.runId, docker: fx.dk, extraEngines: [fx.b!.host] });
  await pulumi.runtime.setMocks(fixtures.mocks, PROJECT, "probe-fixtures", false, ORG);
  const b = fx.b!;
  fx.declareDnsControls({ a: undefined, b: new docker.Provider("ctl-b-engine", { host: b.host, caMaterial: b.tls.ca, certMaterial: b.tls.cert, keyMaterial: pulumi.secret(b.tls.key) }) });
  await fixtures.settled();
  await fx.discover(plan);
  console.log(`[per-host-layout] deployed run ${fx.runId}: ${JSON.stringify(fx.timings)}; resources: ${JSON.stringify(Object.fromEntries(Object.entries(plans).map(([k, p]) => [k, p.counts().create])))}`);
}, 900_000);

afterAll(async () => {
  const left = await fx.teardown(async () => {
    const failures: unknown[] = [];
    const note = (e: unknown) => {
      failures.push(e);
      console.log(`[per-host-layout] teardown: ${e instanceof AggregateError ? e.errors.map(String).join("; ") : String(e)}`);
    };
    // `pulumi destroy` of each stack, the hosts' before the shared one (their reader roles live in its store)
    for (const s of ["b", "a", "shared"] as const) {
      const t = Date.now();
      const plan = await deps[s]?.destroy().catch(note);
      if (plan) console.log(`[per-host-layout] pulumi destroy of stack ${s}: ${plan.counts().delete} deleted in ${Date.now() - t} ms`);
    }
    await fixtures?.destroyAll().catch(note);
    // then what destroy retains (the audit history, by design); each cleanup also sweeps the run's label on its engines
    for (const s of ["b", "a", "shared"] as const) await deps[s]?.cleanup().catch(note);
    if (failures.length) throw new AggregateError(failures, "destroying the stacks failed");
  });
  expect(left.a).toEqual([]);
  expect(left.b).toEqual([]);
}, 600_000);

describe("the stacks of the layout", () => {
  it("the shared stack holds the audit store and no Docker object; its audit output is secret, the placement is not", () => {
    const types = deps.shared!.entries().map((e) => e.type);
    expect(types.filter((t) => t.startsWith("docker:"))).toEqual([]);
    expect(types).toContain("postgresql:index/database:Database");
    expect(outputs.shared![SHARED_AUDIT_OUTPUT]!.secret).toBe(true);
    expect(outputs.shared!.auditOperator!.secret).toBe(true);
    const addresses = outputs.shared!.tenantAddresses!;
    expect(addresses.secret).toBe(false);
    expect(addresses.value).toMatchObject({
      alpha: { host: "a", url: "https://alpha.octw.test/" }, bravo: { host: "a", url: "https://bravo.octw.test/" },
      charlie: { host: "b", url: "https://charlie.octw.test/" }, delta: { host: "b", url: "https://delta.octw.test/" },
    });
  });

  it("each host stack declares its own tenants only, on its own engine; host b's key and the shared admin password arrive only as secrets", () => {
    const gateways = (s: HostName) => deps[s]!.entries().filter((e) => e.type === "docker:index/container:Container" && String(e.inputs.name).endsWith("-gateway")).map((e) => String(e.inputs.name)).sort();
    expect(gateways("a")).toEqual([`${fx.prefix}-alpha-gateway`, `${fx.prefix}-bravo-gateway`]);
    expect(gateways("b")).toEqual([`${fx.prefix}-charlie-gateway`, `${fx.prefix}-delta-gateway`]);
    expect(outputs.a!.host!.value).toEqual(["alpha", "bravo"]);
    expect(outputs.b!.host!.value).toEqual(["charlie", "delta"]);
    // host a's stack declares no engine provider (its resources go to this engine); host b's one, for b's engine, its key secret
    const providers = (s: HostName) => deps[s]!.entries().filter((e) => e.type === "pulumi:providers:docker");
    expect(providers("a")).toEqual([]);
    const [pb] = providers("b");
    expect(pb!.inputs.host).toBe(fx.b!.host);
    expect(pb!.secretPaths).toContain("keyMaterial");
    expect(JSON.stringify(deps.b!.entries().map((e) => e.inputs))).not.toContain(NOT_HELD);
    for (const s of HOSTS) {
      const dockerResources = deps[s]!.entries().filter((e) => e.type.startsWith("docker:"));
      expect(dockerResources.length).toBeGreaterThan(10);
      for (const e of dockerResources) expect(Boolean(e.provider?.includes("pulumi:providers:docker")), `${e.name}'s provider`).toBe(s === "b");
      // the tenants' reader roles are declared by the host's stack, with the admin password read from the shared stack (a secret)
      const admin = deps[s]!.entries().find((e) => e.type === "pulumi:providers:postgresql")!;
      expect(admin.inputs.password).toBe(fx.pgTls!.adminPassword);
      expect(admin.secretPaths).toContain("password");
    }
  });
});

describeProbesOnEachHost(fx);
describeCrossHostProbes(fx);

describe("one audit store for both host stacks", () => {
  it("every tenant's decisions, made by its host's edge, land in its own chain, and each chain verifies", async () => {
    const r: boolean[] = [];
    for (const id of ["alpha", "bravo", "charlie", "delta"]) {
      const t = fx.T[id]!;
      const tok = await fx.sign(id);
      const res = t.host === "a" ? await fx.edgeA(id, tok) : fx.edgeB(id, tok);
      r.push(fx.table.add(`y1 ${id}'s token at ${t.host.toUpperCase()}'s edge (its host)`, "200", String(res.status), res.status === 200));
    }
    const c = await fx.pgTls!.connect(fx.databaseName);
    try {
      for (const id of ["alpha", "bravo", "charlie", "delta"]) {
        const deadline = Date.now() + 30_000;
        let events = await readEvents(c, { tenant: id, limit: 1000 });
        while (!events.some((e) => e.action === "edge.auth.allowed") && Date.now() < deadline) {
          await new Promise((res) => setTimeout(res, 500));
          events = await readEvents(c, { tenant: id, limit: 1000 });
        }
        const report = await verifyAuditChain(c, { tenant: id });
        const ok = report.ok && report.tenants.length === 1 && report.tenants[0]!.verified >= events.length && events.some((e) => e.action === "edge.auth.allowed");
        r.push(fx.table.add(`y2 ${id}'s chain (edge of host ${fx.T[id]!.host})`, "its allow recorded; verifies", `${events.length} events; ${JSON.stringify(report.tenants.map((x) => [x.tenant, x.verified, x.broken === null]))}`, ok));
      }
    } finally {
      await c.end();
    }
    expect(r.every(Boolean), "every tenant's chain: see the probe table").toBe(true);
  });
});

describe("a second run", () => {
  it("of host b's stack, config unchanged, plans nothing (the StackReference read again from the shared stack)", async () => {
    const plan = await deps.b!.preview(program("b", { exports: {} }));
    const changed = plan.changed().map((s) => `${s.op} ${s.name}: ${s.changes.map((c) => c.field).join(",")}`);
    fx.table.add("z1 second run of stack host-b", "0 to create/update/replace/delete", `${JSON.stringify(plan.counts())} ${changed.join("; ")}`, changed.length === 0);
    expect(changed).toEqual([]);
    const applied = await deps.b!.up(program("b", { exports: {} }));
    expect(applied.counts()).toMatchObject({ create: 0, update: 0, replace: 0, delete: 0 });
  });

  it("of the shared stack plans nothing either", async () => {
    const plan = await deps.shared!.preview(program("shared", { exports: {} }));
    const changed = plan.changed().map((s) => `${s.op} ${s.name}`);
    fx.table.add("z2 second run of stack shared", "0 to create/update/replace/delete", `${JSON.stringify(plan.counts())} ${changed.join("; ")}`, changed.length === 0);
    expect(changed).toEqual([]);
  });

  it("adding a tenant on host b: shared's and host-a's stacks plan nothing, host-b's that tenant's resources and its edge's config (applied in the documented order)", async () => {
    const added: OpenClawPlatformArgs = { ...config, tenants: [...config.tenants, { id: "echo", slot: 5, host: "b" }] };
    const previewed: Record<string, string[]> = {};
    const applied: Record<string, string[]> = {};
    const steps = (p: Plan) => p.changed().filter((x) => x.custom).map((x) => `${x.op} ${x.name}`);
    // shared first (the host stacks read its outputs), then the hosts; each previewed, then applied
    for (const s of ["shared", "a", "b"] as const) {
      previewed[s] = steps(await deps[s]!.preview(program(s, { exports: {} }, added)));
      const into = { exports: {} as Record<string, unknown> };
      applied[s] = steps(await deps[s]!.up(program(s, into, added)));
      if (s === "shared") store.record(SHARED, await recordedOutputs(into.exports));
    }
    // Each edge lists the tenants its host holds (routing.hostedHere): b's edge config gains echo
    // (the one change besides echo's own resources, in echo's host stack); a's does not change.
    // A preview also shows b's edge container as an update: its waitTimeout is computed from the
    // replaced init container's exit code, unknown until applied (as a real preview shows it);
    // the applied plan has no such step.
    const edgeConfig = (c: string) => /^(update|replace) octw\.b-edge-state-init$/.test(c);
    const echoCreates = applied.b!.filter((c) => c.startsWith("create ") && /-echo($|-)/.test(c));
    const others = (s: "a" | "b") => applied[s]!.filter((c) => !edgeConfig(c) && !echoCreates.includes(c));
    const show = (s: string) => `applied: ${applied[s]!.filter((c) => !echoCreates.includes(c)).join("; ") || "nothing"}${echoCreates.length && s === "b" ? ` + ${echoCreates.length} creates of echo's` : ""}; previewed: ${previewed[s]!.filter((c) => !c.includes("echo")).join("; ") || "nothing else"}`;
    fx.table.add("z3 add tenant echo on b: stack shared", "plans nothing", show("shared"), applied.shared!.length === 0 && previewed.shared!.length === 0);
    fx.table.add("z3 add tenant echo on b: stack host-a", "plans nothing", show("a"), applied.a!.length === 0 && previewed.a!.length === 0);
    fx.table.add("z3 add tenant echo on b: stack host-b", "echo's resources; at most its edge's config besides", show("b"), others("b").length === 0 && echoCreates.length > 3);
    expect(applied.shared).toEqual([]);
    expect(applied.a).toEqual([]);
    expect(previewed.a).toEqual([]);
    expect(others("b")).toEqual([]);
    expect(echoCreates.length).toBeGreaterThan(3);
    // echo's gateway runs on b, not on a
    expect((await fx.b!.docker.getContainer(`${fx.prefix}-echo-gateway`).inspect()).State.Running).toBe(true);
    await expect(fx.dk.getContainer(`${fx.prefix}-echo-gateway`).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});

describeProbeSanity(fx);
