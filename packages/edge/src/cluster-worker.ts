// A worker of the multi-worker edge: the whole edge (decide, proxy, relay) on its own listener
// sharing the port, with what must be shared asked of the primary (cluster-primary.ts): the
// rate-limit buckets, the audit sink, and wake on request with its idle clock. A worker holds
// no event of its own: each is in the primary's hands before the request it records is
// answered or forwarded (AuditSink.handedOff), so a worker that dies loses none.
import cluster from "node:cluster";
import { randomBytes } from "node:crypto";
import type { EdgeConfig, WakeConfig } from "@octw/contracts";
import { parseEdgeConfig } from "@octw/contracts";
import type { AuditSink } from "./audit";
import { Outbox, isBatch, type PrimaryControl, type PrimaryItem, type WorkerControl, type WorkerItem } from "./cluster-ipc";
import { LEASE_MS, RATE_OF, retryAfterFor, type RateKey, type RateKind, type RateLimits } from "./rate-limits";
import { createEdge, type EdgeDeps, type EdgeServer } from "./server";
import { WakeTimings, type HoldOutcome } from "./wake";
import type { WakePort } from "./wake-hold";

type Log = (line: Record<string, unknown>) => void;

export interface WorkerOptions {
  log: Log;
  /** TLS and sign-in secrets for this config, read from their files (main.ts). */
  secrets: (config: EdgeConfig) => Pick<EdgeDeps, "tls" | "oidc">;
}

export function runEdgeWorker({ log, secrets }: WorkerOptions): void {
  const send = (msg: unknown, done?: () => void) => {
    if (!process.connected) return done?.();
    process.send!(msg, undefined, {}, () => done?.());
  };
  const outbox = new Outbox<WorkerItem>((msg, done) => send(msg, done));
  let seq = 0;
  const rl = new Map<number, (over: RateKind | undefined, granted: number[]) => void>();
  const au = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  const holds = new Map<number, (o: HoldOutcome) => void>();
  // Idempotency keys unique across workers and restarts: a resent event is stored once.
  const prefix = `edge.${process.env.OCTW_EDGE_BOOT ?? randomBytes(6).toString("hex")}.${process.pid}.`;

  const sink: AuditSink = {
    record: (ev) =>
      new Promise<void>((resolve, reject) => {
        const id = ++seq;
        ev.id ??= `${prefix}${id}`;
        au.set(id, { resolve, reject });
        outbox.push(["au", id, ev]);
      }),
    handedOff: () => outbox.written(),
  };

  /** The primary's buckets, with tokens it lent this worker (rate-limits.ts: LEASE_TOKENS). */
  class PrimaryLimits implements RateLimits {
    private leases = new Map<string, { kind: RateKind; key: string; n: number; at: number }>();
    private readonly timer: NodeJS.Timeout;
    constructor(private rates: EdgeConfig["limits"]) {
      this.timer = setInterval(() => this.expire(), LEASE_MS / 2);
      this.timer.unref();
    }
    take(keys: readonly RateKey[]): RateKind | undefined | Promise<RateKind | undefined> {
      let i = 0;
      for (; i < keys.length; i++) {
        const l = this.leases.get(`${keys[i]![0]}\u0000${keys[i]![1]}`);
        if (l === undefined || l.n <= 0) break;
        l.n--;
      }
      if (i === keys.length) return undefined;
      const rest = keys.slice(i);
      return new Promise((resolve) => {
        const id = ++seq;
        rl.set(id, (over, granted) => {
          const now = performance.now();
          for (const [j, g] of granted.entries()) {
            if (g <= 1) continue;
            const [kind, key] = rest[j]!;
            const name = `${kind}\u0000${key}`;
            const l = this.leases.get(name);
            if (l) {
              l.n += g - 1;
              l.at = now;
            } else this.leases.set(name, { kind, key, n: g - 1, at: now });
          }
          resolve(over);
        });
        outbox.push(["rl", id, rest]);
      });
    }
    /** Unused tokens go back to the primary after LEASE_MS: another worker may need them. */
    private expire(): void {
      const old = performance.now() - LEASE_MS;
      for (const [name, l] of this.leases) {
        if (l.at > old) continue;
        if (l.n > 0) outbox.push(["ret", l.kind, l.key, l.n]);
        this.leases.delete(name);
      }
    }
    retryAfterSec(kind: RateKind): number {
      return retryAfterFor(this.rates[RATE_OF[kind]]);
    }
    reconfigure(limits: EdgeConfig["limits"]): void {
      // New rates mean new buckets in the primary: tokens lent from the old ones are dropped.
      if (JSON.stringify(limits) !== JSON.stringify(this.rates)) this.leases = new Map();
      this.rates = limits;
    }
  }

  class PrimaryWake extends WakeTimings implements WakePort {
    manages(tenant: string): boolean {
      return Object.hasOwn(this.config.tenants, tenant);
    }
    begin(tenant: string): void {
      outbox.push(["begin", tenant]);
    }
    end(tenant: string): void {
      outbox.push(["end", tenant]);
    }
    unreachable(tenant: string): void {
      outbox.push(["unreach", tenant]);
    }
    hold(tenant: string, maxWaitMs: number, suspectDown = false): Promise<HoldOutcome> {
      return new Promise((resolve) => {
        const id = ++seq;
        holds.set(id, resolve);
        outbox.push(["hold", id, tenant, maxWaitMs, suspectDown]);
      });
    }
    reconfigure(config: WakeConfig): void {
      this.config = config;
    }
    stop(): void {}
  }

  let edge: EdgeServer | undefined;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void (edge?.close() ?? Promise.resolve())
      .catch((err: unknown) => log({ msg: "worker drain failed", error: err instanceof Error ? err.message : String(err) }))
      .then(() => outbox.written())
      .then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // Reloads are the primary's (it watches the file and forwards it); a SIGHUP sent to the whole
  // process group must not end a worker.
  process.on("SIGHUP", () => {});
  // The primary is gone: nobody takes this worker's events any more.
  process.on("disconnect", () => process.exit(1));

  const start = async (raw: unknown) => {
    const config = parseEdgeConfig(raw);
    edge = await createEdge(config, {
      audit: sink,
      log,
      ...secrets(config),
      limits: (l) => new PrimaryLimits(l),
      wake: (c) => new PrimaryWake(c),
      worker: cluster.worker?.id,
    });
    const server = edge.server;
    // Port 0 (tests) cannot be shared by binding: the cluster module hands out one port instead.
    const own = config.listen.port !== 0;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port: config.listen.port, host: config.listen.host, exclusive: own, reusePort: own }, resolve);
    });
    const addr = server.address() as { address: string; port: number };
    send({ t: "listening", address: addr.address, port: addr.port } satisfies WorkerControl);
  };

  process.on("message", (msg: unknown) => {
    if (isBatch<PrimaryItem>(msg)) {
      for (const item of msg.m) {
        if (item[0] === "rl") {
          rl.get(item[1])?.(item[2] ?? undefined, item[3]);
          rl.delete(item[1]);
        } else if (item[0] === "au") {
          const p = au.get(item[1]);
          au.delete(item[1]);
          const err = item[2];
          if (err === null) p?.resolve();
          else p?.reject(Object.assign(new Error(err.message), { name: err.name }));
        } else {
          holds.get(item[1])?.(item[2]);
          holds.delete(item[1]);
        }
      }
      return;
    }
    const c = msg as PrimaryControl;
    if (c.t === "config") {
      start(c.raw).catch((err: unknown) => {
        log({ msg: "worker failed to start", error: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      });
    } else if (c.t === "reload") {
      if (!edge) return;
      edge
        .reconfigure(parseEdgeConfig(c.raw))
        .then((result) => send({ t: "reloaded", id: c.id, result } satisfies WorkerControl))
        .catch((err: unknown) => send({ t: "reloaded", id: c.id, error: err instanceof Error ? err.message : String(err) } satisfies WorkerControl));
    } else if (c.t === "drain") stop();
  });
}
