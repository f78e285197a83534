// The messages between the edge's cluster primary and its workers, and the outbox that batches
// them: everything a worker asks in one turn of its event loop goes in one IPC message, so a
// loaded worker pays one write per turn, not one per request.
import type { EdgeAuditEvent } from "./audit";
import type { RateKey, RateKind } from "./rate-limits";
import type { HoldOutcome } from "./wake";

/** Worker → primary, batched. */
export type WorkerItem =
  | ["rl", number, RateKey[]]
  /** Unused tokens of an expired lease. */
  | ["ret", RateKind, string, number]
  | ["au", number, EdgeAuditEvent]
  | ["hold", number, string, number, boolean]
  | ["begin", string]
  | ["end", string]
  | ["unreach", string];

/** Primary → worker, batched. A rate answer: the key over its rate, and the tokens granted per key (leases). An audit answer is null (accepted) or the sink's error. */
export type PrimaryItem = ["rl", number, RateKind | null, number[]] | ["au", number, { name: string; message: string } | null] | ["hold", number, HoldOutcome];

/** Not batched: configuration and lifecycle. `raw` is the config file's JSON, parsed by each side. */
export type PrimaryControl =
  | { t: "config"; raw: unknown }
  | { t: "reload"; id: number; raw: unknown }
  | { t: "drain" };
export type WorkerControl =
  | { t: "listening"; address: string; port: number }
  | { t: "reloaded"; id: number; result?: { restartNeeded: string[]; closedSockets: number }; error?: string };

export type Batch<T> = { t: "b"; m: T[] };

export function isBatch<T>(msg: unknown): msg is Batch<T> {
  return typeof msg === "object" && msg !== null && (msg as { t?: unknown }).t === "b";
}

/**
 * Items pushed in one event-loop turn leave together at the end of it (setImmediate).
 * `written()` resolves once everything pushed so far is written to the IPC channel (in the
 * kernel's socket buffer, or libuv's queue flushed into it): what the peer receives even if
 * this process dies right after.
 */
export class Outbox<T> {
  private queue: T[] = [];
  private waiters: (() => void)[] = [];
  private scheduled = false;
  private lastWrite: Promise<void> = Promise.resolve();

  constructor(private readonly write: (msg: Batch<T>, done: () => void) => void) {}

  push(item: T): void {
    this.queue.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  written(): Promise<void> {
    if (this.queue.length === 0) return this.lastWrite;
    return new Promise((r) => this.waiters.push(r));
  }

  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const items = this.queue;
    const waiters = this.waiters;
    this.queue = [];
    this.waiters = [];
    this.lastWrite = new Promise<void>((resolve) => {
      this.write({ t: "b", m: items }, () => {
        resolve();
        for (const w of waiters) w();
      });
    });
  }
}
