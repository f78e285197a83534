// The waker against the real engine: test-created containers labelled like a platform's tenant
// (gateway with a healthcheck + egress proxy), a same-named tenant of ANOTHER platform, and an
// unlabelled bystander. The waker runs in-process on the real socket, its audit goes through
// AuditClient into a recording sink (AuditClient's Postgres path is @octw/audit's own tests). Stand-in containers (the base image sleeping) instead of
// OpenClaw: what is under test is the waker's engine behaviour, not OpenClaw's start-up.
//
// Needs: DOCKER_HOST, OCTW_IMAGE_BASE. Missing = failure.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { AuditClient, type AuditSink, type NormalizedEvent } from "@octw/audit";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../packages/waker/src/engine";
import { createWakerServer } from "../../packages/waker/src/server";
import { Waker } from "../../packages/waker/src/waker";
import { engine, requireEnv } from "./env";

const RUN = `octwt-wk-${randomBytes(3).toString("hex")}`;
const OTHER = `${RUN}-other`;
const TOKEN = randomBytes(24).toString("hex");
const TENANTS = ["alpha", "bravo"] as const;

let docker: Dockerode;
const stored: NormalizedEvent[] = [];
const sink: AuditSink = { append: (events) => Promise.resolve(void stored.push(...events)), close: () => Promise.resolve() };
let audit: AuditClient;
let server: http.Server;
let base: string;
let dir: string;
const created: Dockerode.Container[] = [];
const ids: Record<string, string> = {};

async function make(name: string, labels: Record<string, string>, health: boolean): Promise<string> {
  const c = await docker.createContainer({
    name,
    Image: requireEnv("OCTW_IMAGE_BASE"),
    Cmd: ["/bin/sleep", "infinity"],
    User: "65534:65534",
    Labels: { "octw.test": RUN, ...labels },
    StopSignal: "SIGKILL",
    ...(health ? { Healthcheck: { Test: ["CMD", "/bin/true"], Interval: 300_000_000, Timeout: 1_000_000_000, Retries: 1, StartPeriod: 0 } } : {}),
    HostConfig: { ReadonlyRootfs: true, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"], NetworkMode: "none" },
  });
  created.push(c);
  await c.start();
  return c.id;
}

const status = async (id: string) => (await docker.getContainer(id).inspect()).State;
const call = (method: string, p: string, token: string | null = TOKEN) =>
  fetch(`${base}${p}`, { method, headers: token === null ? {} : { authorization: `Bearer ${token}` } }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

beforeAll(async () => {
  docker = await engine();
  dir = mkdtempSync(path.join(tmpdir(), "waker-"));
  for (const t of TENANTS) {
    ids[`${t}-gw`] = await make(`${RUN}-${t}-gateway`, { "octw.platform": RUN, "octw.tenant": t, "octw.component": "gateway" }, true);
    ids[`${t}-px`] = await make(`${RUN}-${t}-egress`, { "octw.platform": RUN, "octw.tenant": t, "octw.component": "egress-proxy" }, false);
  }
  // The same tenant id on another platform, and this platform's shared service (not a tenant part).
  ids["other-gw"] = await make(`${OTHER}-alpha-gateway`, { "octw.platform": OTHER, "octw.tenant": "alpha", "octw.component": "gateway" }, true);
  ids["edge"] = await make(`${RUN}-edge`, { "octw.platform": RUN, "octw.tenant": "edgecase", "octw.component": "edge" }, false);
  audit = new AuditClient({ sink, spoolPath: path.join(dir, "audit.spool"), batchIntervalMs: 5 });
  const waker = new Waker({ engine: new Engine({ socketPath: requireEnv("DOCKER_HOST").slice("unix://".length) }), audit, platform: RUN, wakeTimeoutMs: 30_000, pollMs: 50, stopGraceS: 2 });
  server = createWakerServer({ waker, token: TOKEN, maxInFlight: 256 });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // healthchecks run every 300 ms: wait until both gateways are healthy
  const end = Date.now() + 20_000;
  while ((await status(ids["alpha-gw"]!)).Health?.Status !== "healthy" || (await status(ids["bravo-gw"]!)).Health?.Status !== "healthy") {
    if (Date.now() > end) throw new Error("stand-in gateways never became healthy");
    await new Promise((r) => setTimeout(r, 100));
  }
}, 120_000);

afterAll(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  await audit?.close();
  for (const c of created) await c.remove({ force: true }).catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("waker on the real engine", () => {
  it("pause freezes gateway and proxy; wake thaws them (running at once, healthy at the next probe)", async () => {
    const r = await call("POST", "/tenants/alpha/suspend?tier=paused");
    expect(r).toMatchObject({ status: 200, body: { state: "paused", from: "running", suspended: true } });
    expect((await status(ids["alpha-gw"]!)).Status).toBe("paused");
    expect((await status(ids["alpha-px"]!)).Status).toBe("paused");
    const w = await call("POST", "/tenants/alpha/wake");
    expect(w).toMatchObject({ status: 200, body: { state: "running", from: "paused", woke: true } });
    expect((await status(ids["alpha-gw"]!)).Status).toBe("running");
    expect((await status(ids["alpha-px"]!)).Status).toBe("running");
    // The thawed process really serves again: the engine's next probes pass.
    const end = Date.now() + 10_000;
    while ((await status(ids["alpha-gw"]!)).Health?.Status !== "healthy" && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect((await status(ids["alpha-gw"]!)).Health?.Status).toBe("healthy");
  });

  it("stop (also from paused) frees the containers; 50 concurrent wakes cause one start each and are all answered", async () => {
    await call("POST", "/tenants/bravo/suspend?tier=paused");
    const s = await call("POST", "/tenants/bravo/suspend?tier=stopped");
    expect(s).toMatchObject({ status: 200, body: { state: "stopped", from: "paused", suspended: true } });
    expect((await status(ids["bravo-gw"]!)).Status).toBe("exited");
    expect((await status(ids["bravo-px"]!)).Status).toBe("exited");
    // fractional seconds: the engine takes them, and whole seconds would also count the set-up starts
    const since = (Date.now() / 1000).toFixed(3);
    const answers = await Promise.all(Array.from({ length: 50 }, () => call("POST", "/tenants/bravo/wake")));
    expect(answers.map((a) => `${a.status} ${typeof a.body.error === "string" ? a.body.error : ""}`)).toEqual(Array(50).fill("200 "));
    expect(new Set(answers.map((a) => a.body.from))).toEqual(new Set(["stopped"]));
    expect((await status(ids["bravo-gw"]!)).Health?.Status).toBe("healthy");
    // The engine's own record: exactly one start per container since the wakes began.
    const until = Math.ceil(Date.now() / 1000) + 1;
    const stream = await docker.getEvents({ since: since as unknown as number, until, filters: { type: ["container"], event: ["start"], label: [`octw.test=${RUN}`] } });
    let text = "";
    for await (const chunk of stream) text += String(chunk);
    const starts = text.split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);
    expect(starts.map((s) => Object.entries(ids).find(([, v]) => v === s)?.[0] ?? s).sort()).toEqual(["bravo-gw", "bravo-px"]);
    expect(starts.sort()).toEqual([ids["bravo-gw"], ids["bravo-px"]].sort());
  });

  it("refuses another platform's tenant, this platform's shared services, and acts on nothing then", async () => {
    // The other platform's "alpha" gateway is untouched while this platform's alpha is acted on (positive control).
    const before = (await status(ids["other-gw"]!)).StartedAt;
    const mine = await call("POST", "/tenants/alpha/suspend?tier=paused");
    expect(mine.status).toBe(200);
    expect((await status(ids["alpha-gw"]!)).Status).toBe("paused");
    expect((await status(ids["other-gw"]!)).Status).toBe("running");
    await call("POST", "/tenants/alpha/wake");
    // A tenant id that exists only on the other platform, and a component that is not a tenant part.
    for (const t of ["edgecase", "nobody"]) {
      expect((await call("POST", `/tenants/${t}/suspend?tier=stopped`)).status).toBe(404);
      expect((await call("POST", `/tenants/${t}/wake`)).status).toBe(404);
    }
    expect((await status(ids["edge"]!)).Status).toBe("running");
    expect((await status(ids["other-gw"]!)).StartedAt).toBe(before);
  });

  it("refuses unauthenticated callers and any other path or method, touching nothing", async () => {
    const gw = ids["alpha-gw"]!;
    for (const [method, p, token] of [
      ["POST", "/tenants/alpha/suspend?tier=stopped", null],
      ["POST", "/tenants/alpha/suspend?tier=stopped", `${TOKEN}0`],
      ["POST", `/containers/${gw}/stop`, TOKEN],
      ["POST", `/containers/${gw}/kill`, TOKEN],
      ["POST", "/v1.41/containers/create", TOKEN],
      ["GET", "/tenants/alpha/suspend?tier=stopped", TOKEN],
      ["DELETE", "/tenants/alpha/wake", TOKEN],
    ] as const) {
      const r = await call(method, p, token);
      expect(r.status, `${method} ${p}`).toBeGreaterThanOrEqual(400);
    }
    expect((await status(gw)).Status).toBe("running");
  });

  it("records every transition in the audit trail", async () => {
    await audit.flush();
    const of = (t: string) => stored.filter((e) => e.tenant === t);
    expect(stored.every((e) => e.actor === "waker")).toBe(true);
    expect(of("alpha").map((e) => [e.action, e.decision, (e.details as { from?: string }).from])).toEqual([
      ["tenant.suspended", "paused", "running"],
      ["tenant.woken", "woken", "paused"],
      ["tenant.suspended", "paused", "running"],
      ["tenant.woken", "woken", "paused"],
    ]);
    const bravo = of("bravo");
    expect(bravo.map((e) => e.action)).toEqual(["tenant.suspended", "tenant.suspended", "tenant.woken"]);
    expect(bravo[2]!.details).toMatchObject({ from: "stopped", reason: "request", waitFor: "healthy" });
    expect(typeof (bravo[2]!.details as { wakeMs: unknown }).wakeMs).toBe("number");
    expect(of("edgecase")).toEqual([]);
  });
});
