// The waker with scheduled jobs, against an in-memory engine and job reader: what it reads when,
// what it decides, the wakes it arms, and that every decision is in the audit. The real engine
// and a real OpenClaw gateway: test/conformance/jobs.docker.test.ts.
import type { AuditEventInput } from "@octw/audit";
import { describe, expect, it } from "vitest";
import type { ContainerAction, ContainerState, ContainerSummary } from "../src/engine";
import type { JobPolicy, JobRow } from "../src/jobs";
import { Waker, type EngineLike } from "../src/waker";

interface Fake {
  id: string;
  labels: Record<string, string>;
  status: string;
}

class FakeEngine implements EngineLike {
  readonly calls: string[] = [];
  failPause = false;
  constructor(readonly containers: Fake[]) {}
  list(labels: Record<string, string>): Promise<ContainerSummary[]> {
    return Promise.resolve(this.containers.filter((c) => Object.entries(labels).every(([k, v]) => c.labels[k] === v)).map((c) => ({ id: c.id, labels: c.labels })));
  }
  state(id: string): Promise<ContainerState> {
    return Promise.resolve({ status: this.containers.find((x) => x.id === id)!.status, health: undefined });
  }
  act(id: string, action: ContainerAction): Promise<void> {
    if (action === "pause" && this.failPause) return Promise.reject(Object.assign(new Error("engine: pause answered HTTP 500"), { statusCode: 500 }));
    this.calls.push(`${action} ${id.slice(0, 2)}`);
    this.containers.find((x) => x.id === id)!.status = { pause: "paused", unpause: "running", start: "running", stop: "exited" }[action];
    return Promise.resolve();
  }
}

const id = (p: string) => p.repeat(64).slice(0, 64);
const POLICY: JobPolicy = { horizonMs: 600_000, leadMs: { paused: 100, stopped: 30_000 }, maxRunMs: 3_600_000, maxHoldMs: 7_200_000 };
const row = (state: Record<string, unknown>): JobRow => ({ enabled: 1, state_json: JSON.stringify(state) });

function setup(status = "running") {
  const engine = new FakeEngine([
    { id: id("a1"), labels: { "octw.platform": "prod", "octw.tenant": "alpha", "octw.component": "gateway" }, status },
    { id: id("a2"), labels: { "octw.platform": "prod", "octw.tenant": "alpha", "octw.component": "egress-proxy" }, status },
  ]);
  const events: AuditEventInput[] = [];
  let rows: JobRow[] | Error = [];
  const readAt: string[] = [];
  const waker = new Waker({
    engine,
    audit: { record: (e) => Promise.resolve(void events.push(e)) },
    platform: "prod",
    wakeTimeoutMs: 2_000,
    pollMs: 5,
    stopGraceS: 1,
    jobs: {
      read: (gid) => {
        // The gateway's state at the moment of the read: it must be frozen or stopped.
        readAt.push(engine.containers.find((c) => c.id === gid)!.status);
        return rows instanceof Error ? Promise.reject(rows) : Promise.resolve(rows);
      },
      policy: POLICY,
    },
  });
  const setRows = (r: JobRow[] | Error) => (rows = r);
  return { engine, events, waker, setRows, readAt, acts: () => engine.calls };
}

describe("Waker with scheduled jobs", () => {
  it("a stop with a job due after the horizon: read while frozen, stopped, a wake armed a lead before it, all in the audit", async () => {
    const { waker, events, setRows, readAt, acts } = setup();
    const due = Date.now() + 1_200_000;
    setRows([row({ nextRunAtMs: due })]);
    const r = await waker.suspend("alpha", "stopped", "idle");
    expect(r).toMatchObject({ state: "stopped", suspended: true, jobs: "scheduled", wakeAtMs: due - 30_000 });
    expect(readAt).toEqual(["paused"]);
    expect(acts()).toEqual(["pause a1", "unpause a1", "stop a1", "stop a2"]);
    expect(waker.scheduled()).toEqual({ alpha: { wakeAtMs: due - 30_000, dueMs: due } });
    expect(events).toEqual([
      expect.objectContaining({ action: "tenant.suspended", decision: "stopped", details: { from: "running", tier: "stopped", reason: "idle", requested: "stopped", jobs: "scheduled", nextJobAtMs: due, wakeAtMs: due - 30_000 } }),
    ]);
    waker.close();
  });

  it("a stop with a job due within the tenant's own horizon: paused instead (due-soon), woken a paused lead before it", async () => {
    const { waker, events, setRows, acts } = setup();
    const due = Date.now() + 1_200_000;
    setRows([row({ nextRunAtMs: due }), row({ nextRunAtMs: due + 5_000 })]);
    expect(await waker.suspend("alpha", "stopped", "idle", 1_800_000)).toMatchObject({ state: "paused", suspended: true, jobs: "due-soon", wakeAtMs: due - 100 });
    expect(acts()).toEqual(["pause a1", "pause a2"]);
    expect(events[0]).toMatchObject({ action: "tenant.suspended", decision: "paused", details: { requested: "stopped", jobs: "due-soon", nextJobAtMs: due } });
    // asked again to stop while still paused for the job: kept paused, recorded as a decision
    expect(await waker.suspend("alpha", "stopped", "idle", 1_800_000)).toMatchObject({ state: "paused", suspended: false, jobs: "due-soon" });
    expect(events[1]).toMatchObject({ action: "tenant.suspend_deferred", decision: "kept-paused", details: { from: "paused", requested: "stopped" } });
    waker.close();
  });

  it("a running job keeps it awake: thawed at once, nothing suspended, the deferral audited", async () => {
    const { waker, events, setRows, engine } = setup();
    setRows([row({ nextRunAtMs: Date.now() + 3_600_000, runningAtMs: Date.now() - 5_000 })]);
    expect(await waker.suspend("alpha", "paused", "idle")).toMatchObject({ state: "running", suspended: false, jobs: "job-running" });
    expect(engine.containers.map((c) => c.status)).toEqual(["running", "running"]);
    expect(events.map((e) => [e.action, e.decision, (e.details as { jobs: string }).jobs])).toEqual([["tenant.suspend_deferred", "deferred", "job-running"]]);
    waker.close();
  });

  it("the armed wake fires before the job: a wake with reason scheduled-job and the job's due time", async () => {
    const { waker, events, setRows, engine } = setup();
    const due = Date.now() + 400;
    setRows([row({ nextRunAtMs: due })]);
    await waker.suspend("alpha", "paused", "idle");
    expect(engine.containers[0]!.status).toBe("paused");
    await expect.poll(() => events.find((e) => e.action === "tenant.woken"), { timeout: 5_000 }).toBeDefined();
    const woken = events.find((e) => e.action === "tenant.woken")!;
    expect(woken.details).toMatchObject({ from: "paused", reason: "scheduled-job", dueAtMs: due });
    expect(Date.now()).toBeLessThan(due + 50);
    expect(engine.containers.map((c) => c.status)).toEqual(["running", "running"]);
    expect(waker.scheduled()).toEqual({});
  });

  it("a wake by request disarms the scheduled one", async () => {
    const { waker, setRows } = setup();
    setRows([row({ nextRunAtMs: Date.now() + 1_200_000 })]);
    await waker.suspend("alpha", "stopped", "idle");
    expect(Object.keys(waker.scheduled())).toEqual(["alpha"]);
    await waker.wake("alpha", "running", "request");
    expect(waker.scheduled()).toEqual({});
  });

  it("unreadable jobs: suspended as asked, no wake, and the audit says why", async () => {
    const { waker, events, setRows } = setup();
    setRows(new Error("archive: the file is larger than the 1048576-byte limit"));
    expect(await waker.suspend("alpha", "stopped", "idle")).toMatchObject({ state: "stopped", jobs: "unreadable" });
    expect(events[0]!.details).toMatchObject({ jobs: "unreadable", why: "archive: the file is larger than the 1048576-byte limit" });
    expect(waker.scheduled()).toEqual({});
  });

  it("a suspend that fails is audited as tenant.suspend_failed (and answered 502)", async () => {
    const { waker, events, engine } = setup();
    engine.failPause = true;
    await expect(waker.suspend("alpha", "paused", "idle")).rejects.toMatchObject({ status: 502 });
    expect(events).toEqual([expect.objectContaining({ action: "tenant.suspend_failed", tenant: "alpha", decision: "failed", details: { from: "running", tier: "paused", reason: "idle", error: "engine call failed (HTTP 500)" } })]);
  });

  it("rearm after a restart: a stopped tenant's next job gets its wake again, read from the stopped gateway", async () => {
    const { waker, setRows, readAt } = setup("exited");
    // Due within the horizon: had it been running, a stop would have paused it; it is stopped, so the wake is a stopped lead before.
    const due = Date.now() + 100_000;
    setRows([row({ nextRunAtMs: due })]);
    expect(await waker.rearm()).toBe(1);
    expect(readAt).toEqual(["exited"]);
    expect(waker.scheduled()).toEqual({ alpha: { wakeAtMs: due - 30_000, dueMs: due } });
    waker.close();
  });
});
