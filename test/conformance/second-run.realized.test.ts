// A real `pulumi up`, run again: the local stack (stacks/Pulumi.local.yaml: edge, inference
// router, tenants with their presets and policies) plus a third tenant is realized on the engine;
// then the same program is evaluated again against the state the providers read back, and the
// plan the engine would make is computed with the provider model (test/realize/provider-model)
// and applied for real: a second run, adding a tenant, reordering the tenants, changing one
// tenant's egress policy, changing one tenant's memory limit, removing a tenant. After the
// changes, cross-tenant probes run again; at the end `pulumi destroy` must leave the audit
// history and the tenants' state volumes in place.
//
// Each plan is printed as the table a pull-request preview comment would show.
// Needs: DOCKER_HOST, OCTW_TEST_PG_URL, images OPENCLAW, EGRESS, POSTGRES, EDGE, INFERENCE_ROUTER.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import http from "node:http";
import { SignJWT, type CryptoKey } from "jose";
import type Dockerode from "dockerode";
import { OpenClawPlatform, planPlatform, type OpenClawPlatformArgs } from "@octw/pulumi";
import { RUN_LABEL, demuxDockerStream, newRunId, sweepDeadRuns } from "../realize/index";
import { createDeployment, type Deployment, type Plan } from "../realize/deployment";
import { stackForRun } from "../realize/stack-for-run";
import { diffByRules } from "../realize/provider-model/diff";
import { CONTAINER_RULES } from "../realize/provider-model/docker";
import { engine, requireEnv } from "./env";
import { execIn, nodeProbe } from "./probe-exec";
import * as P from "./probe-scripts";

const runId = newRunId();
const prefix = `octw-${runId}`;
const h = (parseInt(runId.slice(1, 3), 16) % 200) + 20;
let edgePort = 20000 + (parseInt(runId.slice(3, 7), 16) % 10000);
const ISSUER = "octw-dev-issuer";
const AUDIENCE = "octw-edge";
const CTR = "docker:index/container:Container";

let dk: Dockerode;
let dep: Deployment;
let key: CryptoKey;
let base: OpenClawPlatformArgs;
const plans: string[] = [];

type Tenant = NonNullable<OpenClawPlatformArgs["tenants"]>[number];

/** The local stack's platform config, pointed at this run's names, addresses and images. */
async function localStackConfig(): Promise<OpenClawPlatformArgs> {
  const text = readFileSync(new URL("../../stacks/Pulumi.local.yaml", import.meta.url), "utf8");
  const { config, signingKey } = await stackForRun(text, { runId, prefix, h, edgePort }, "second-run", requireEnv);
  key = signingKey;
  // the local stack's two tenants and a third, smaller one
  return { ...config, tenants: [...(config.tenants ?? []), { id: "charlie", slot: 3, presets: ["restricted"], limits: { memoryMb: 1024 } }] };
}

const program = (cfg: OpenClawPlatformArgs) => () => {
  new OpenClawPlatform("local", cfg);
};

function withTenants(tenants: Tenant[]): OpenClawPlatformArgs {
  return { ...base, tenants };
}

function show(title: string, plan: Plan): Plan {
  const t = plan.table(title);
  plans.push(t);
  console.log(t);
  return plan;
}

/** The names of changed resources (for the assertions). */
const changedNames = (p: Plan, op: string) => p.changed().filter((s) => s.custom && s.op === op).map((s) => s.name).sort();

async function token(tenant: string, role: string): Promise<string> {
  return new SignJWT({ tenant, role }).setProtectedHeader({ alg: "ES256", kid: "second-run" }).setIssuer(ISSUER).setAudience(AUDIENCE)
    .setSubject(`user-of-${tenant}`).setIssuedAt().setExpirationTime("5m").sign(key);
}

/** GET /healthz of a tenant through the edge, by host (fetch cannot set Host; node:http can). */
function viaEdge(tenant: string, bearer: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: edgePort, path: "/healthz", headers: { host: `${tenant}.localhost`, authorization: `Bearer ${bearer}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

function gatewayId(tenant: string): string {
  const e = dep.find(CTR, `local-${tenant}-gateway-gateway`) ?? dep.entries().find((x) => x.type === CTR && x.inputs.name === `${prefix}-${tenant}-gateway`);
  if (!e?.id) throw new Error(`no realized gateway for ${tenant}`);
  return e.id;
}

/** Runs a command in a throw-away container of the Postgres image with `volume` at PGDATA; returns its output. */
async function runOnce(volume: string, cmd: string[]): Promise<string> {
  const c = await dk.createContainer({
    Image: requireEnv("OCTW_IMAGE_POSTGRES"), Entrypoint: [], Cmd: cmd, User: "5432:5432",
    Labels: { [RUN_LABEL]: runId },
    HostConfig: { NetworkMode: "none", Mounts: [{ Type: "volume", Source: volume, Target: "/var/lib/postgresql/data" }] },
  });
  try {
    await c.start();
    await c.wait();
    return demuxDockerStream(await c.logs({ stdout: true, stderr: true, follow: false }));
  } finally {
    await c.remove({ force: true });
  }
}

beforeAll(async () => {
  dk = await engine();
  await sweepDeadRuns(dk);
  base = await localStackConfig();
  dep = createDeployment({
    runId, docker: dk, project: "octw", stack: "local",
    defaultPostgresUrl: requireEnv("OCTW_TEST_PG_URL"),
    log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[deploy] ${l}`),
  });
  const first = show("first `pulumi up` (3 tenants, edge, router)", await dep.up(program(base)));
  expect(first.counts().create).toBeGreaterThan(40);
}, 900_000);

afterAll(async () => {
  await dep?.cleanup();
  if (plans.length) console.log(`\n[second-run] plans:\n\n${plans.join("\n\n")}`);
}, 300_000);

describe("a second `pulumi up` of the local stack", () => {
  it("plans nothing: 0 creates, 0 updates, 0 replaces, 0 deletes", async () => {
    const plan = show("second run, same program", await dep.preview(program(base)));
    expect(plan.changed().map((s) => `${s.op} ${s.name}: ${s.changes.map((c) => `${c.field} ${JSON.stringify(c.prior)} → ${JSON.stringify(c.next)}`).join("; ")}`)).toEqual([]);
    const applied = await dep.up(program(base));
    expect(applied.counts()).toMatchObject({ create: 0, update: 0, replace: 0, delete: 0 });
  });

  it("adding a tenant creates only that tenant's resources; the router's tenant list is the one update", async () => {
    const delta: Tenant = { id: "delta", slot: 4, presets: ["restricted"], policy: { version: 1, inference: { providers: [{ name: "openai", api: "openai", baseUrl: "https://api.openai.com", models: ["gpt-4.1-mini"] }] } } as never };
    const cfg = withTenants([...base.tenants, delta]);
    const plan = show("add tenant delta", await dep.preview(program(cfg)));
    const c = plan.counts();
    expect(c.replace).toBe(0);
    expect(c.delete).toBe(0);
    for (const s of plan.changed().filter((x) => x.op === "create")) expect(s.name, `${s.type} ${s.name}`).toMatch(/delta/);
    // the one documented exception: the router's tenant list, updated in place
    expect(changedNames(plan, "update")).toEqual(["local-inference-router-tenants"]);
    const routerBefore = await dk.getContainer(`${prefix}-inference-router`).inspect();
    const applied = await dep.up(program(cfg));
    expect(applied.counts()).toMatchObject({ replace: 0, delete: 0 });
    // the running router (not restarted) sees delta in its tenant list
    const router = await dk.getContainer(`${prefix}-inference-router`).inspect();
    expect(router.State.StartedAt).toBe(routerBefore.State.StartedAt);
    const listed = await execIn(dk, router.Id, ["cat", "/var/lib/octw-inference-router/config/config.json"]);
    expect((JSON.parse(listed.stdout) as { tenants: { id: string }[] }).tenants.map((t) => t.id).sort()).toEqual(["alpha", "delta"]);
    base = cfg;
  });

  it("reordering the tenant list changes nothing", async () => {
    const plan = show("reorder tenants", await dep.preview(program(withTenants([...base.tenants].reverse()))));
    expect(plan.changed()).toEqual([]);
  });

  it("changing one tenant's egress policy changes only that tenant's egress proxy", async () => {
    const tenants = base.tenants.map((t) => (t.id === "bravo" ? { ...t, presets: [...(t.presets ?? []), "github"] } : t));
    const cfg = withTenants(tenants as Tenant[]);
    const plan = show("bravo's policy gains the github preset", await dep.preview(program(cfg)));
    const changed = plan.changed().filter((s) => s.custom);
    expect(changed.length).toBeGreaterThan(0);
    // the Squid config travels in the proxy's env, which forces replacement: a replace, not an update
    expect(changed.map((s) => `${s.op} ${s.name}`)).toEqual(["replace local-bravo-proxy"]);
    const before = await dk.getContainer(gatewayId("bravo")).inspect();
    const applied = await dep.up(program(cfg));
    expect(applied.changed().filter((s) => s.custom).map((s) => `${s.op} ${s.name}`)).toEqual(["replace local-bravo-proxy"]);
    // bravo's gateway kept running through it
    expect((await dk.getContainer(gatewayId("bravo")).inspect()).State.StartedAt).toBe(before.State.StartedAt);
    base = cfg;
  });

  it("changing one tenant's memory limit updates its gateway in place (same container, new limit)", async () => {
    const before = await dk.getContainer(gatewayId("charlie")).inspect();
    const tenants = base.tenants.map((t) => (t.id === "charlie" ? { ...t, limits: { memoryMb: 1280 } } : t));
    const cfg = withTenants(tenants);
    const plan = show("charlie's memory 1024 → 1280 MiB", await dep.preview(program(cfg)));
    expect(plan.changed().filter((s) => s.custom).map((s) => `${s.op} ${s.name} ${s.changes.map((c) => c.field).join(",")}`)).toEqual([
      "update local-charlie-gateway memory,memorySwap",
    ]);
    await dep.up(program(cfg));
    const after = await dk.getContainer(gatewayId("charlie")).inspect();
    expect(after.Id).toBe(before.Id);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
    expect(after.HostConfig.Memory).toBe(1280 * 1024 * 1024);
    base = cfg;
  });

  it("replacing the edge (a new published port) replaces its tenant attachments with it, and every tenant is served by the new edge", async () => {
    const newPort = edgePort + 1;
    const cfg = { ...base, edge: { ...base.edge!, hostPort: newPort } };
    const plan = show("the edge's published port changes", await dep.preview(program(cfg)));
    const changed = plan.changed().filter((s) => s.custom).map((s) => `${s.op} ${s.name}`).sort();
    expect(changed).toEqual([
      "replace local-alpha-edge-attachment", "replace local-bravo-edge-attachment", "replace local-charlie-edge-attachment",
      "replace local-delta-edge-attachment", "replace local-edge-edge",
    ]);
    await dep.up(program(cfg));
    edgePort = newPort;
    base = cfg;
    expect(await viaEdge("alpha", await token("alpha", "viewer"))).toBe(200);
    expect(await viaEdge("delta", await token("delta", "viewer"))).toBe(200);
  });

  it("removing a tenant deletes only that tenant's resources (its state volume and audit rows stay)", async () => {
    const cfg = withTenants(base.tenants.filter((t) => t.id !== "delta"));
    const plan = show("remove tenant delta", await dep.preview(program(cfg)));
    expect(plan.counts()).toMatchObject({ create: 0, replace: 0 });
    for (const s of plan.changed().filter((x) => x.op === "delete")) expect(s.name).toMatch(/delta/);
    expect(changedNames(plan, "update")).toEqual(["local-inference-router-tenants"]);
    await dep.up(program(cfg));
    const router = await dk.getContainer(`${prefix}-inference-router`).inspect();
    const listed = await execIn(dk, router.Id, ["cat", "/var/lib/octw-inference-router/config/config.json"]);
    expect((JSON.parse(listed.stdout) as { tenants: { id: string }[] }).tenants.map((t) => t.id)).toEqual(["alpha"]);
    const vols = await dk.listVolumes({ filters: JSON.stringify({ name: [`${prefix}-delta`] }) });
    expect((vols.Volumes ?? []).map((v) => v.Name)).toContain(`${prefix}-delta-state`);
    base = cfg;
  });

  it("after the changes, tenants are still isolated (with positive controls)", async () => {
    const planned = planPlatform(base, "second run");
    const addr = (id: string) => planned.tenants.find((t) => t.config.id === id)!.addresses;
    const alpha = gatewayId("alpha");
    const toBravo = await nodeProbe<{ ok: boolean; err?: string }>(dk, alpha, P.TCP_PROBE, [addr("bravo").gateway, "18789"]);
    expect(toBravo.ok, JSON.stringify(toBravo)).toBe(false);
    const toOwnProxy = await nodeProbe<{ ok: boolean; err?: string }>(dk, alpha, P.TCP_PROBE, [addr("alpha").egressProxy, "3128"]);
    expect(toOwnProxy.ok, `control: ${JSON.stringify(toOwnProxy)}`).toBe(true);
    // through the edge: alpha's token reaches alpha (control), never bravo or charlie
    expect(await viaEdge("alpha", await token("alpha", "viewer"))).toBe(200);
    expect(await viaEdge("charlie", await token("charlie", "viewer"))).toBe(200);
    // a valid token of another tenant: authenticated, not authorized for bravo
    expect(await viaEdge("bravo", await token("alpha", "viewer"))).toBe(403);
  });

  it("suspended tenants (a paused gateway, a stopped gateway and proxy) are left alone by `up --refresh`: no change planned, nobody woken", async () => {
    const alpha = dk.getContainer(gatewayId("alpha"));
    const charlie = dk.getContainer(gatewayId("charlie"));
    const charlieProxy = dk.getContainer(`${prefix}-charlie-egress`);
    await alpha.pause();
    await charlie.stop({ t: 5 });
    await charlieProxy.stop({ t: 2 });
    try {
      // A plain `up` does not read the engine; `up --refresh` (and PR previews with --refresh) does.
      await dep.refresh();
      const read = dep.find(CTR, "local-charlie-gateway")!;
      // control: the provider reads the stopped gateway back as must_run false, and without
      // ignoreChanges its diff against the config would be an update that starts it
      expect(read.state.mustRun).toBe(false);
      expect(diffByRules(CONTAINER_RULES, read.name, read.state, read.inputs).changes.map((c) => c.field)).toEqual(["mustRun"]);
      expect(read.options.ignoreChanges).toContain("mustRun");
      const plan = show("up --refresh with charlie stopped and alpha paused", await dep.preview(program(base)));
      expect(plan.changed().filter((s) => s.custom)).toEqual([]);
      await dep.up(program(base));
      expect((await charlie.inspect()).State.Running).toBe(false);
      expect((await charlieProxy.inspect()).State.Running).toBe(false);
      expect((await alpha.inspect()).State.Paused).toBe(true);
    } finally {
      await alpha.unpause();
      await charlieProxy.start();
      await charlie.start();
    }
  });

  it("`pulumi destroy` keeps the audit database, its data volume and the tenants' state volumes", async () => {
    const plan = show("pulumi destroy", await dep.destroy());
    const retained = plan.steps.filter((s) => s.note?.startsWith("retainOnDelete")).map((s) => s.name).sort();
    expect(retained).toEqual(expect.arrayContaining(["local-audit-database", "local-audit-data"]));
    const vols = (await dk.listVolumes()).Volumes?.map((v) => v.Name) ?? [];
    for (const id of ["alpha", "bravo", "charlie"]) expect(vols).toContain(`${prefix}-${id}-state`);
    expect(vols).toContain(`${prefix}-audit-pgdata`);
    // the retained database is still in the retained data volume, with its audit events: a
    // single-user Postgres on the volume (no network) lists them
    const sql = `SELECT 'db=' || count(*) FROM pg_database WHERE datname = '${runId}_audit'`;
    const out = await runOnce(`${prefix}-audit-pgdata`, ["sh", "-c", `echo "${sql}" | /usr/lib/postgresql/15/bin/postgres --single -D /var/lib/postgresql/data postgres 2>&1`]);
    expect(out).toMatch(/db=1/);
  });
});
