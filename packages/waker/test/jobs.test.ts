// The rules of suspend-with-scheduled-jobs (src/jobs.ts), as properties over any jobs a tenant
// could write into its state database and any policy.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jobTimes, planSuspend, type JobPolicy, type JobRow, type JobsRead } from "../src/jobs";
import type { SuspendTier } from "../src/routes";

const NOW = 1_796_000_000_000;
const tierArb = fc.constantFrom<SuspendTier>("paused", "stopped");
const policyArb: fc.Arbitrary<JobPolicy> = fc
  .record({
    horizonMs: fc.integer({ min: 0, max: 86_400_000 }),
    paused: fc.integer({ min: 0, max: 10_000 }),
    stoppedExtra: fc.integer({ min: 0, max: 120_000 }),
    maxRunMs: fc.integer({ min: 1, max: 7_200_000 }),
    maxHoldMs: fc.integer({ min: 1, max: 14_400_000 }),
  })
  .map((p) => ({ horizonMs: p.horizonMs, leadMs: { paused: p.paused, stopped: p.paused + p.stoppedExtra }, maxRunMs: p.maxRunMs, maxHoldMs: p.maxHoldMs }));
const offset = fc.integer({ min: -10_000_000, max: 100_000_000 });
const timesArb: fc.Arbitrary<JobsRead> = fc.oneof(
  fc.record({ ok: fc.constant(true as const), times: fc.record({ nextDueMs: fc.option(offset.map((o) => NOW + o), { nil: undefined }), runningSinceMs: fc.option(fc.integer({ min: 0, max: 7_200_000 }).map((o) => NOW - o), { nil: undefined }) }) }),
  fc.constant({ ok: false as const, why: "unreadable" }),
);
const holdArb = fc.option(fc.integer({ min: 0, max: 20_000_000 }).map((o) => NOW - o), { nil: undefined });

describe("planSuspend", () => {
  it("never suspends deeper than asked, and a wake (if any) is due now or later and no later than the job", () => {
    fc.assert(
      fc.property(tierArb, timesArb, policyArb, holdArb, (requested, jobs, policy, hold) => {
        const p = planSuspend(requested, NOW, jobs, policy, hold);
        if (p.kind === "stay") return;
        expect([requested, "paused"]).toContain(p.tier);
        if (p.wakeAtMs !== undefined) {
          expect(p.wakeAtMs).toBeGreaterThan(NOW);
          expect(p.wakeAtMs).toBe(p.nextJobAtMs! - policy.leadMs[p.tier]);
        }
      }),
    );
  });

  it("no job is silently lost: a readable, not-held tenant with a due job either stays awake or gets a wake before it", () => {
    fc.assert(
      fc.property(tierArb, timesArb, policyArb, holdArb, (requested, jobs, policy, hold) => {
        fc.pre(jobs.ok && jobs.times.nextDueMs !== undefined && (hold === undefined || NOW - hold < policy.maxHoldMs));
        const p = planSuspend(requested, NOW, jobs, policy, hold);
        if (p.kind === "suspend") {
          expect(p.wakeAtMs).toBeDefined();
          expect(p.wakeAtMs!).toBeLessThanOrEqual(jobs.ok ? jobs.times.nextDueMs : 0);
          expect(p.jobs).toMatch(/^(scheduled|due-soon)$/);
        }
      }),
    );
  });

  it("stopped only when no job falls due within the horizon; a job due within it pauses instead", () => {
    fc.assert(
      fc.property(timesArb, policyArb, holdArb, (jobs, policy, hold) => {
        const p = planSuspend("stopped", NOW, jobs, policy, hold);
        if (p.kind !== "suspend" || p.jobs === "unreadable" || p.jobs === "hold-exceeded") return;
        const due = jobs.ok ? jobs.times.nextDueMs : undefined;
        if (p.tier === "stopped") expect(due === undefined || due - NOW >= policy.horizonMs).toBe(true);
        else expect(p.jobs).toBe("due-soon");
      }),
    );
  });

  it("stays awake only for a running job or one due within the wake lead, and never once the hold is used up", () => {
    fc.assert(
      fc.property(tierArb, timesArb, policyArb, holdArb, (requested, jobs, policy, hold) => {
        const p = planSuspend(requested, NOW, jobs, policy, hold);
        if (p.kind !== "stay") return;
        expect(jobs.ok).toBe(true);
        expect(hold === undefined || NOW - hold < policy.maxHoldMs).toBe(true);
        if (!jobs.ok) return;
        if (p.reason === "job-running") expect(jobs.times.runningSinceMs).toBe(p.dueMs);
        else expect(jobs.times.nextDueMs! - policy.leadMs.paused).toBeLessThanOrEqual(NOW);
      }),
    );
  });

  it("a running job (not held too long) always keeps the tenant awake, whatever else it has", () => {
    fc.assert(
      fc.property(tierArb, timesArb, policyArb, holdArb, (requested, jobs, policy, hold) => {
        fc.pre(jobs.ok && jobs.times.runningSinceMs !== undefined && (hold === undefined || NOW - hold < policy.maxHoldMs));
        expect(planSuspend(requested, NOW, jobs, policy, hold)).toMatchObject({ kind: "stay", reason: "job-running" });
      }),
    );
  });

  it("unreadable jobs and a used-up hold suspend as asked, with no wake", () => {
    fc.assert(
      fc.property(tierArb, timesArb, policyArb, (requested, jobs, policy) => {
        const unreadable = planSuspend(requested, NOW, { ok: false, why: "x" }, policy);
        expect(unreadable).toEqual({ kind: "suspend", tier: requested, jobs: "unreadable" });
        const held = planSuspend(requested, NOW, jobs, policy, NOW - policy.maxHoldMs);
        expect(held).toMatchObject({ kind: "suspend", tier: requested });
        if (held.kind === "suspend") expect(held.wakeAtMs).toBeUndefined();
      }),
    );
  });

  it("examples: a heartbeat in 20 min, stop threshold 10 min: stopped and woken 30 s before; threshold 1 h: paused and woken 1 s before", () => {
    const policy: JobPolicy = { horizonMs: 600_000, leadMs: { paused: 1_000, stopped: 30_000 }, maxRunMs: 3_600_000, maxHoldMs: 7_200_000 };
    const jobs: JobsRead = { ok: true, times: { nextDueMs: NOW + 1_200_000, runningSinceMs: undefined } };
    expect(planSuspend("stopped", NOW, jobs, policy)).toEqual({ kind: "suspend", tier: "stopped", jobs: "scheduled", nextJobAtMs: NOW + 1_200_000, wakeAtMs: NOW + 1_170_000 });
    expect(planSuspend("stopped", NOW, jobs, { ...policy, horizonMs: 3_600_000 })).toEqual({ kind: "suspend", tier: "paused", jobs: "due-soon", nextJobAtMs: NOW + 1_200_000, wakeAtMs: NOW + 1_199_000 });
    expect(planSuspend("paused", NOW, { ok: true, times: { nextDueMs: NOW + 500, runningSinceMs: undefined } }, policy)).toEqual({ kind: "stay", reason: "job-due", dueMs: NOW + 500 });
    expect(planSuspend("paused", NOW, { ok: true, times: { nextDueMs: undefined, runningSinceMs: undefined } }, policy)).toEqual({ kind: "suspend", tier: "paused", jobs: "none" });
  });
});

const rowArb: fc.Arbitrary<JobRow & { model: { enabled: boolean; next?: number; running?: number } }> = fc
  .record({
    enabled: fc.boolean(),
    next: fc.option(fc.integer({ min: -10_000_000, max: 100_000_000 }), { nil: undefined }),
    running: fc.option(fc.integer({ min: -1_000_000, max: 10_000_000 }), { nil: undefined }),
    junk: fc.boolean(),
  })
  .map(({ enabled, next, running, junk }) => {
    const state: Record<string, unknown> = { lastStatus: "ok" };
    if (next !== undefined) state["nextRunAtMs"] = NOW + next;
    if (running !== undefined) state["runningAtMs"] = NOW - running;
    return { enabled: enabled ? 1 : 0, state_json: junk ? "{not json" : JSON.stringify(state), model: { enabled: enabled && !junk, ...(next !== undefined ? { next: NOW + next } : {}), ...(running !== undefined ? { running: NOW - running } : {}) } };
  });

describe("jobTimes", () => {
  it("is the earliest non-stale due time and running start over enabled, parseable rows, in any order", () => {
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 12 }), fc.integer({ min: 1, max: 7_200_000 }), (rows, maxRunMs) => {
        const live = rows.map((r) => r.model).filter((m) => m.enabled);
        const min = (xs: number[]) => (xs.length ? Math.min(...xs) : undefined);
        const expected = {
          nextDueMs: min(live.flatMap((m) => (m.next !== undefined && m.next >= NOW - maxRunMs ? [m.next] : []))),
          runningSinceMs: min(live.flatMap((m) => (m.running !== undefined && m.running <= NOW && m.running >= NOW - maxRunMs ? [m.running] : []))),
        };
        expect(jobTimes(rows, NOW, maxRunMs)).toEqual(expected);
        expect(jobTimes([...rows].reverse(), NOW, maxRunMs)).toEqual(expected);
      }),
    );
  });

  it("ignores what a tenant could write instead of times: strings, floats, negatives, arrays, huge state", () => {
    const rows: JobRow[] = [
      { enabled: 1, state_json: JSON.stringify({ nextRunAtMs: String(NOW + 5) }) },
      { enabled: 1, state_json: JSON.stringify({ nextRunAtMs: NOW + 0.5 }) },
      { enabled: 1, state_json: JSON.stringify({ nextRunAtMs: -1, runningAtMs: 1e300 }) },
      { enabled: 1, state_json: JSON.stringify([NOW + 5]) },
      { enabled: 1, state_json: JSON.stringify({ nextRunAtMs: NOW + 5, pad: "x".repeat(70_000) }) },
      { enabled: "1", state_json: JSON.stringify({ nextRunAtMs: NOW + 5 }) },
      { enabled: 1, state_json: null },
    ];
    expect(jobTimes(rows, NOW, 3_600_000)).toEqual({ nextDueMs: undefined, runningSinceMs: undefined });
    // positive control: the same time, well-formed, counts
    expect(jobTimes([{ enabled: 1, state_json: JSON.stringify({ nextRunAtMs: NOW + 5 }) }], NOW, 3_600_000).nextDueMs).toBe(NOW + 5);
  });
});
