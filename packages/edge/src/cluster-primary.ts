// The primary of the multi-worker edge: forks the workers (cluster-worker.ts) and holds what
// must be one for all of them — the rate-limit buckets (exact across workers), the audit sink
// (one AuditClient, one spool), and wake on request with the idle clock (one wake per tenant;
// idle means no request and no WebSocket on any worker). It reloads the config (file change,
// SIGHUP) and hands it to every worker; a worker that dies is replaced, and what it had begun
// on the idle clock is ended.
import cluster, { type Worker } from "node:cluster";
import { randomBytes } from "node:crypto";
import type { EdgeConfig, WakeConfig } from "@octw/contracts";
import type { AuditSink } from "./audit";
import { Outbox, isBatch, type PrimaryControl, type PrimaryItem, type WorkerControl, type WorkerItem } from "./cluster-ipc";
import { LEASE_TOKENS, LocalRateLimits } from "./rate-limits";
import { createUpstreams, tenantMap } from "./upstreams";
import { startWakeCoordinator, wakeAfterReload } from "./wake-lifecycle";

type Log = (line: Record<string, unknown>) => void;

export interface Loaded {
  /** The config file's JSON as read (workers parse it themselves). */
  raw: unknown;
  config: EdgeConfig;
}

export interface PrimaryOptions {
  workers: number;
  log: Log;
  /** Where every worker's events go (main.ts: an AuditClient). */
  sink: AuditSink;
  wakerToken?: ((tokenFile: string) => string) | undefined;
  lookup?: ((host: string) => Promise<string | undefined>) | undefined;
}

export interface EdgePrimary {
  readonly address: { address: string; port: number };
  reconfigure(next: Loaded): Promise<Record<string, unknown>>;
  /** Drains every worker (each closes gracefully and hands over its last events), then stops. */
  drain(): Promise<void>;
  /** Live worker pids (for tests and logs). */
  readonly pids: number[];
}

/** Replacement forks back off when workers keep dying (a crash loop must not spin a CPU). */
const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 5_000;

export async function startEdgePrimary(initial: Loaded, opts: PrimaryOptions): Promise<EdgePrimary> {
  const { log, sink } = opts;
  let current = initial;
  const limits = new LocalRateLimits(initial.config.limits);
  const upstreams = createUpstreams(() => current.config, opts.lookup);
  const newWake = (c: WakeConfig) => startWakeCoordinator(c, opts.wakerToken, (id, ms) => upstreams.probeReady(id, ms), log);
  let wake = initial.config.wake ? newWake(initial.config.wake) : undefined;
  const boot = randomBytes(6).toString("hex");
  let draining = false;
  let deaths = 0;

  interface Entry {
    worker: Worker;
    outbox: Outbox<PrimaryItem>;
    /** Begun and not yet ended on the idle clock, per tenant: ended for it if it dies. */
    active: Map<string, number>;
  }
  const entries = new Map<number, Entry>();
  const reloads = new Map<number, (r: Extract<WorkerControl, { t: "reloaded" }>) => void>();
  let reloadSeq = 0;

  const post = (worker: Worker, msg: unknown, done?: () => void) => {
    if (!worker.isConnected()) return done?.();
    try {
      worker.send(msg as PrimaryControl, undefined, () => done?.());
    } catch {
      done?.(); // it died between the check and the send: its answers have nobody to go to
    }
  };

  function onItem(e: Entry, item: WorkerItem): void {
    switch (item[0]) {
      case "rl": {
        const { over, granted } = limits.lease(item[2], 2 * opts.workers * LEASE_TOKENS);
        e.outbox.push(["rl", item[1], over ?? null, granted]);
        return;
      }
      case "ret":
        limits.giveBack(item[1], item[2], item[3]);
        return;
      case "au": {
        const id = item[1];
        // Recorded whether or not the worker lives to hear the answer: once here, an event is the primary's.
        sink.record(item[2]).then(
          () => e.outbox.push(["au", id, null]),
          (err: unknown) => e.outbox.push(["au", id, { name: err instanceof Error ? err.name : "Error", message: err instanceof Error ? err.message : String(err) }]),
        );
        return;
      }
      case "hold": {
        const [, id, tenant, maxWaitMs, suspectDown] = item;
        const w = wake;
        void (w ? w.hold(tenant, maxWaitMs, suspectDown) : Promise.resolve({ ok: true as const, waited: false })).then((o) => e.outbox.push(["hold", id, o]));
        return;
      }
      case "begin":
        wake?.begin(item[1]);
        e.active.set(item[1], (e.active.get(item[1]) ?? 0) + 1);
        return;
      case "end": {
        wake?.end(item[1]);
        const n = (e.active.get(item[1]) ?? 1) - 1;
        if (n <= 0) e.active.delete(item[1]);
        else e.active.set(item[1], n);
        return;
      }
      case "unreach":
        wake?.unreachable(item[1]);
        return;
    }
  }

  let onListening: ((w: Worker, msg: Extract<WorkerControl, { t: "listening" }>) => void) | undefined;

  function fork(): Worker {
    const worker = cluster.fork({ OCTW_EDGE_BOOT: boot });
    const e: Entry = { worker, outbox: new Outbox<PrimaryItem>((msg, done) => post(worker, msg, done)), active: new Map() };
    entries.set(worker.id, e);
    worker.on("message", (msg: unknown) => {
      if (isBatch<WorkerItem>(msg)) {
        for (const item of msg.m) onItem(e, item);
        return;
      }
      const c = msg as WorkerControl;
      if (c.t === "listening") {
        deaths = 0;
        onListening?.(worker, c);
      } else if (c.t === "reloaded") {
        reloads.get(c.id)?.(c);
      }
    });
    post(worker, { t: "config", raw: current.raw } satisfies PrimaryControl);
    return worker;
  }

  cluster.on("exit", (worker, code, signal) => {
    const e = entries.get(worker.id);
    entries.delete(worker.id);
    if (!e) return;
    // What it had begun on the idle clock ends with it (its connections are gone).
    for (const [tenant, n] of e.active) for (let i = 0; i < n; i++) wake?.end(tenant);
    if (draining) return;
    log({ msg: "worker exited", pid: worker.process.pid, code, signal });
    deaths++;
    const delay = Math.min(RESPAWN_MAX_MS, RESPAWN_MIN_MS * 2 ** Math.min(deaths - 1, 6));
    setTimeout(() => {
      if (!draining) fork();
    }, delay).unref();
  });

  // Start: every worker listening, or the start fails (a port in use, a bad secret file).
  const address = await new Promise<{ address: string; port: number }>((resolve, reject) => {
    let listening = 0;
    const failedEarly = (worker: Worker, code: number | null) => {
      if (listening < opts.workers) reject(new Error(`worker ${worker.process.pid ?? "?"} exited (${code ?? "signal"}) before it listened`));
    };
    cluster.on("exit", failedEarly);
    onListening = (_w, msg) => {
      if (++listening === opts.workers) {
        cluster.off("exit", failedEarly);
        resolve({ address: msg.address, port: msg.port });
      }
    };
    for (let i = 0; i < opts.workers; i++) fork();
  }).catch((err: unknown) => {
    draining = true;
    for (const e of entries.values()) e.worker.process.kill("SIGKILL");
    throw err;
  });
  onListening = undefined;

  return {
    address,
    get pids() {
      return [...entries.values()].map((e) => e.worker.process.pid ?? 0);
    },
    async reconfigure(next) {
      const config = current.config;
      // The primary's own part first (its rate limits, wake, the upstreams its probes use).
      wake = wakeAfterReload(wake, config.wake, next.config.wake, opts.wakerToken, newWake);
      limits.reconfigure(next.config.limits);
      upstreams.swap(tenantMap(next.config));
      current = next;
      // Then every worker; the answer says how many took it.
      const answers = await Promise.all(
        [...entries.values()].map(
          (e) =>
            new Promise<Extract<WorkerControl, { t: "reloaded" }> | undefined>((resolve) => {
              const id = ++reloadSeq;
              const t = setTimeout(() => resolve(undefined), 10_000);
              reloads.set(id, (r) => {
                clearTimeout(t);
                reloads.delete(id);
                resolve(r);
              });
              post(e.worker, { t: "reload", id, raw: next.raw } satisfies PrimaryControl);
            }),
        ),
      );
      const ok = answers.filter((a) => a?.result !== undefined);
      const errors = [...new Set(answers.map((a) => a?.error ?? (a === undefined ? "no answer" : undefined)).filter((x) => x !== undefined))];
      return {
        workers: answers.length,
        reloadedWorkers: ok.length,
        restartNeeded: ok[0]?.result?.restartNeeded ?? [],
        closedSockets: ok.reduce((n, a) => n + (a?.result?.closedSockets ?? 0), 0),
        ...(errors.length ? { workerErrors: errors } : {}),
      };
    },
    async drain() {
      draining = true;
      wake?.stop();
      const all = [...entries.values()];
      const grace = current.config.limits.shutdownGraceMs + 5_000;
      await Promise.all(
        all.map(
          (e) =>
            new Promise<void>((resolve) => {
              if (e.worker.isDead()) return resolve();
              const t = setTimeout(() => e.worker.process.kill("SIGKILL"), grace);
              e.worker.once("exit", () => {
                clearTimeout(t);
                resolve();
              });
              post(e.worker, { t: "drain" } satisfies PrimaryControl);
            }),
        ),
      );
    },
  };
}
