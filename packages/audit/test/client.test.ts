import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuditClient, type AuditSink } from "../src/client";
import type { NormalizedEvent } from "../src/event";
import { Spool } from "../src/spool";

/**
 * An in-memory stand-in for Postgres with the same contract as octw.append_events: a batch is
 * stored atomically and a repeated (tenant, idempotencyKey) is skipped. It can be taken down,
 * made to commit and then lose the reply (ambiguous commit), or held (slow database).
 */
class FakeDb implements AuditSink {
  stored: NormalizedEvent[] = [];
  calls: number[] = [];
  up = true;
  loseReplyOnce = false;
  permanentError: Error | null = null;
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;
  private keys = new Set<string>();

  hold(): void {
    this.gate = new Promise((r) => (this.openGate = r));
  }
  release(): void {
    this.openGate?.();
    this.gate = null;
  }

  async append(events: readonly NormalizedEvent[]): Promise<void> {
    if (this.gate) await this.gate;
    if (this.permanentError) throw this.permanentError;
    if (!this.up) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    this.calls.push(events.length);
    for (const e of events) {
      const k = `${e.tenant}\u0000${e.idempotencyKey}`;
      if (!this.keys.has(k)) {
        this.keys.add(k);
        this.stored.push(e);
      }
    }
    if (this.loseReplyOnce) {
      this.loseReplyOnce = false;
      throw new Error("Connection terminated unexpectedly");
    }
  }
  async close(): Promise<void> {}
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "octw-client-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ev = (i: number, tenant = "t") => ({ tenant, actor: "edge", action: "edge.auth.allowed", idempotencyKey: `k${i}`, details: { i } });
const keys = (db: FakeDb) => db.stored.map((e) => e.idempotencyKey);
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe("AuditClient batching", () => {
  it("sends events in batches no larger than batchSize, in order", async () => {
    const db = new FakeDb();
    const c = new AuditClient({ sink: db, spoolPath: join(dir, "s"), batchSize: 50, batchIntervalMs: 5 });
    await Promise.all(range(500).map((i) => c.record(ev(i))));
    await c.close();
    expect(keys(db)).toEqual(range(500).map((i) => `k${i}`));
    expect(Math.max(...db.calls)).toBeLessThanOrEqual(50);
    expect(db.calls.length).toBeLessThan(500 / 5); // really batched, not one call per event
    expect(c.stats()).toMatchObject({ direct: 500, spooled: 0 });
  });

  it("rejects an invalid event at record() without touching the batch", async () => {
    const db = new FakeDb();
    const c = new AuditClient({ sink: db, spoolPath: join(dir, "s") });
    await expect(c.record({ tenant: "t", actor: "a", action: "BAD" })).rejects.toThrow(/action:/);
    await c.record(ev(1));
    await c.close();
    expect(keys(db)).toEqual(["k1"]);
  });

  it("validates its options, naming them", () => {
    expect(() => new AuditClient({ spoolPath: join(dir, "s") })).toThrow(/option connection: required/);
    expect(() => new AuditClient({ sink: new FakeDb(), spoolPath: join(dir, "s"), batchSize: 0 })).toThrow(/option batchSize/);
    expect(() => new AuditClient({ sink: new FakeDb(), spoolPath: join(dir, "s"), batchSize: 10, maxBuffered: 5 })).toThrow(/option maxBuffered/);
  });
});

describe("AuditClient spool", () => {
  it("spools while the database is down, replays in order once it is back, without duplicates", async () => {
    const db = new FakeDb();
    const errors: Error[] = [];
    const c = new AuditClient({ sink: db, spoolPath: join(dir, "s"), batchSize: 20, retryIntervalMs: 20, onError: (e) => errors.push(e) });
    await Promise.all(range(100).map((i) => c.record(ev(i))));
    db.up = false;
    await Promise.all(range(100, 100).map((i) => c.record(ev(i)))); // accepted: fsync'd to the spool
    expect(c.stats().spooled).toBe(100);
    expect(keys(db)).toHaveLength(100);
    db.up = true;
    await Promise.all(range(100, 200).map((i) => c.record(ev(i)))); // must queue behind the spool
    await c.close({ drainTimeoutMs: 5_000 });
    expect(keys(db)).toEqual(range(300).map((i) => `k${i}`));
    expect(c.stats()).toMatchObject({ spoolBytes: 0 });
    expect(c.stats().replayed).toBeGreaterThanOrEqual(100);
    expect(errors.some((e) => /ECONNREFUSED/.test(e.message))).toBe(true);
    expect(await readFile(join(dir, "s"), "utf8")).toBe("");
  });

  it("does not duplicate a batch whose commit succeeded but whose reply was lost", async () => {
    const db = new FakeDb();
    const c = new AuditClient({ sink: db, spoolPath: join(dir, "s"), batchSize: 10, retryIntervalMs: 10 });
    db.loseReplyOnce = true;
    await Promise.all(range(30).map((i) => c.record(ev(i))));
    await c.close();
    expect(c.stats().spooled).toBeGreaterThan(0); // the ambiguous batch really went through the spool
    expect(keys(db)).toEqual(range(30).map((i) => `k${i}`));
  });

  it("replays a spool left behind by an earlier process before anything new", async () => {
    const path = join(dir, "s");
    const old = new Spool(path);
    await old.open();
    const { normalizeEvent } = await import("../src/event");
    await old.append(range(5).map((i) => normalizeEvent(ev(i))));
    await old.close();
    const db = new FakeDb();
    const c = new AuditClient({ sink: db, spoolPath: path, batchIntervalMs: 1 });
    await c.record(ev(5));
    await c.close();
    expect(keys(db)).toEqual(range(6).map((i) => `k${i}`));
  });

  it("keeps spooled events on disk when the database never comes back", async () => {
    const db = new FakeDb();
    db.up = false;
    const path = join(dir, "s");
    const c = new AuditClient({ sink: db, spoolPath: path, retryIntervalMs: 10 });
    await Promise.all(range(10).map((i) => c.record(ev(i))));
    await c.close({ drainTimeoutMs: 50 });
    const lines = (await readFile(path, "utf8")).trim().split("\n").map((l) => (JSON.parse(l) as NormalizedEvent).idempotencyKey);
    expect(lines).toEqual(range(10).map((i) => `k${i}`));
  });

  it("rejects record() on a permanent error instead of spooling it", async () => {
    const db = new FakeDb();
    db.permanentError = Object.assign(new Error("permission denied for function append_events"), { code: "42501" });
    const c = new AuditClient({ sink: db, spoolPath: join(dir, "s") });
    await expect(c.record(ev(1))).rejects.toThrow(/permission denied/);
    expect(c.stats().spooled).toBe(0);
    db.permanentError = null;
    await c.close();
  });

  it("fails record() once the spool is full", async () => {
    const db = new FakeDb();
    db.up = false;
    const c = new AuditClient({ sink: db, spoolPath: join(dir, "s"), maxSpoolBytes: 300, batchSize: 1, retryIntervalMs: 10_000 });
    await c.record(ev(1));
    await c.record(ev(2));
    await expect(c.record(ev(3))).rejects.toThrow(/spool .* is full/);
    await c.close({ drainTimeoutMs: 0 });
  });
});

describe("AuditClient back-pressure", () => {
  it("holds record() callers once maxBuffered events wait, instead of growing memory", async () => {
    const db = new FakeDb();
    db.hold();
    const c = new AuditClient({ sink: db, spoolPath: join(dir, "s"), batchSize: 10, maxBuffered: 20, batchIntervalMs: 1 });
    let accepted = 0;
    const all = range(100).map((i) => c.record(ev(i)).then(() => accepted++));
    await new Promise((r) => setTimeout(r, 50));
    // One batch in flight (held), at most maxBuffered waiting in memory; the rest are held back.
    expect(c.stats().buffered).toBeLessThanOrEqual(20);
    expect(accepted).toBe(0);
    db.release();
    await Promise.all(all);
    await c.close();
    expect(keys(db)).toEqual(range(100).map((i) => `k${i}`));
  });
});
