import pg from "pg";
import { normalizeEvent, type AuditEventInput, type NormalizedEvent } from "./event";
import { isTransientDbError } from "./pg-errors";
import { Spool } from "./spool";
import { AUDIT_SCHEMA } from "./migrations";

/** Where batches go. The Postgres sink is the real one; tests may substitute a failing one. */
export interface AuditSink {
  /** Appends the batch atomically; duplicate idempotency keys must be ignored, not errors. */
  append(events: readonly NormalizedEvent[]): Promise<void>;
  close(): Promise<void>;
}

export type PgConnection = string | pg.PoolConfig;

function poolConfig(connection: PgConnection): pg.PoolConfig {
  const base: pg.PoolConfig = typeof connection === "string" ? { connectionString: connection } : { ...connection };
  return {
    // One batch is in flight at a time; a second connection covers a reconnect in progress.
    max: 2,
    // Fail fast while Postgres is down, so events reach the spool instead of waiting.
    connectionTimeoutMillis: 2_000,
    statement_timeout: 30_000,
    query_timeout: 35_000,
    ...base,
  };
}

const APPEND_COLUMNS_SQL = `SELECT ${AUDIT_SCHEMA}.append_event_columns($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::text[])`;
const APPEND_JSONB_SQL = `SELECT ${AUDIT_SCHEMA}.append_events($1::jsonb)`;

/**
 * The batch as the eight column arrays of octw.append_event_columns (migration 5): each tenant's
 * events together (tenants in code-unit order, which is byte order for the ASCII a tenant name
 * is), in batch order within a tenant. Chains are per tenant, so this changes no chain; it lets
 * Postgres store the batch as it comes instead of reordering it (and inserts each tenant's index
 * entries next to each other).
 */
export function eventColumns(events: readonly NormalizedEvent[]): unknown[][] {
  const byTenant = new Map<string, NormalizedEvent[]>();
  for (const e of events) {
    const group = byTenant.get(e.tenant);
    if (group) group.push(e);
    else byTenant.set(e.tenant, [e]);
  }
  const ordered = byTenant.size === 1 ? events : [...byTenant.keys()].sort().flatMap((t) => byTenant.get(t)!);
  const n = ordered.length;
  const cols: unknown[][] = Array.from({ length: 8 }, () => new Array<unknown>(n));
  for (let i = 0; i < n; i++) {
    const e = ordered[i]!;
    cols[0]![i] = e.tenant;
    cols[1]![i] = e.actor;
    cols[2]![i] = e.action;
    cols[3]![i] = e.target;
    cols[4]![i] = e.decision;
    cols[5]![i] = e.details === null ? null : JSON.stringify(e.details);
    cols[6]![i] = e.time;
    cols[7]![i] = e.idempotencyKey;
  }
  return cols;
}

/**
 * Sends batches to octw.append_event_columns (one typed array per column; migration 5), which
 * chains and stores them in one transaction. Against a store not yet migrated to version 5 (a
 * rolling upgrade where this service is updated first) it falls back to append_events(jsonb),
 * which writes the same chain.
 */
export class PgAuditSink implements AuditSink {
  private readonly pool: pg.Pool;
  private columns = true;

  constructor(connection: PgConnection, onError: (err: Error) => void = () => {}) {
    this.pool = new pg.Pool(poolConfig(connection));
    // Idle connections die when Postgres restarts; without a listener that would crash the process.
    this.pool.on("error", onError);
  }

  async append(events: readonly NormalizedEvent[]): Promise<void> {
    if (this.columns) {
      try {
        await this.pool.query(APPEND_COLUMNS_SQL, eventColumns(events));
        return;
      } catch (err) {
        // Nothing was written. 42883 undefined_function: the store predates migration 5 (for
        // good: this process never asks again). 42501 on the function itself: migrated, but the
        // grants that follow migrations are not applied yet (asked again with the next batch).
        const code = (err as { code?: unknown }).code;
        if (code === "42883") this.columns = false;
        else if (!(code === "42501" && /permission denied for function append_event_columns\b/.test((err as Error).message))) throw err;
      }
    }
    await this.pool.query(APPEND_JSONB_SQL, [JSON.stringify(events)]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export interface AuditClientOptions {
  /** Connection of the service's own role (URL or pg Pool config; see AuditRoles). Required unless `sink` is given. */
  connection?: PgConnection;
  sink?: AuditSink;
  /** File for events that could not reach Postgres. One client per spool file. */
  spoolPath: string;
  /** Events per INSERT batch (default 500). */
  batchSize?: number;
  /** How long the first event of a batch may wait for company (default 10 ms). */
  batchIntervalMs?: number;
  /** record() waits while this many events are in memory (default 10 000): back-pressure. */
  maxBuffered?: number;
  /** Pause between replay attempts while Postgres is unreachable (default 1 000 ms). */
  retryIntervalMs?: number;
  /** record() fails once the spool holds this many bytes (default 1 GiB). */
  maxSpoolBytes?: number;
  /** Told about every failure the client handles itself (spooling, failed replays). */
  onError?: (err: Error) => void;
}

export interface AuditClientStats {
  /** Events committed straight to Postgres. */
  direct: number;
  /** Events written to the spool. */
  spooled: number;
  /** Spooled events committed to Postgres by replay. */
  replayed: number;
  /** Events in memory, not yet accepted. */
  buffered: number;
  /** Bytes in the spool still to replay. */
  spoolBytes: number;
}

interface Pending {
  event: NormalizedEvent;
  resolve: () => void;
  reject: (err: Error) => void;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`AuditClient option ${name}: must be a positive integer, got ${String(value)}`);
  return value;
}

/**
 * Batched audit writer with a durable spool.
 *
 * record() resolves once the event is durably accepted: committed in Postgres, or fdatasync'd
 * in the spool. One pump loop does all I/O, so order is kept: while the spool holds anything,
 * new batches are appended behind it, and go straight to Postgres again only after the whole
 * spool has been replayed.
 */
export class AuditClient {
  private readonly sink: AuditSink;
  private readonly spool: Spool;
  private readonly batchSize: number;
  private readonly batchIntervalMs: number;
  private readonly maxBuffered: number;
  private readonly retryIntervalMs: number;
  private readonly maxSpoolBytes: number;
  private readonly onError: (err: Error) => void;

  private readonly ready: Promise<void>;
  private buffer: Pending[] = [];
  private spaceWaiters: (() => void)[] = [];
  private pumping: Promise<void> | null = null;
  private batchTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private spoolHasData = false;
  private replayOffset = 0;
  private nextReplayAt = 0;
  private closed = false;
  private readonly counters = { direct: 0, spooled: 0, replayed: 0 };

  constructor(options: AuditClientOptions) {
    if (!options.spoolPath) throw new Error("AuditClient option spoolPath: required (a file path for the local spool)");
    this.onError = options.onError ?? (() => {});
    if (options.sink) {
      this.sink = options.sink;
    } else if (options.connection) {
      this.sink = new PgAuditSink(options.connection, this.onError);
    } else {
      throw new Error("AuditClient option connection: required (a Postgres URL or pg Pool config of the service's audit role)");
    }
    this.batchSize = positiveInt("batchSize", options.batchSize, 500);
    this.batchIntervalMs = options.batchIntervalMs ?? 10;
    this.maxBuffered = positiveInt("maxBuffered", options.maxBuffered, 10_000);
    if (this.maxBuffered < this.batchSize) throw new Error(`AuditClient option maxBuffered: must be at least batchSize (${this.batchSize})`);
    this.retryIntervalMs = options.retryIntervalMs ?? 1_000;
    this.maxSpoolBytes = positiveInt("maxSpoolBytes", options.maxSpoolBytes, 1024 ** 3);
    this.spool = new Spool(options.spoolPath);
    this.ready = this.spool.open().then(() => {
      // Left over from an earlier run: replay it before anything new.
      if (this.spool.size > 0) {
        this.spoolHasData = true;
        this.schedulePump(0);
      }
    });
    // Surface an open failure through record(), not as an unhandled rejection.
    this.ready.catch(() => {});
  }

  stats(): AuditClientStats {
    return { ...this.counters, buffered: this.buffer.length, spoolBytes: this.spoolHasData ? this.spool.size - this.replayOffset : 0 };
  }

  /** Resolves when the event is in Postgres or fsync'd in the spool. Throws on invalid events. */
  async record(input: AuditEventInput): Promise<void> {
    const event = normalizeEvent(input);
    if (this.closed) throw new Error("AuditClient is closed");
    await this.ready;
    while (this.buffer.length >= this.maxBuffered) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
      if (this.closed) throw new Error("AuditClient is closed");
    }
    return new Promise<void>((resolve, reject) => {
      this.buffer.push({ event, resolve, reject });
      if (this.buffer.length >= this.batchSize) this.schedulePump(0);
      else if (!this.batchTimer && !this.pumping) this.schedulePump(this.batchIntervalMs);
    });
  }

  /** Resolves when every event recorded so far has been accepted (Postgres or spool). */
  async flush(): Promise<void> {
    await this.ready;
    while (this.buffer.length > 0 || this.pumping) {
      this.startPump();
      if (this.pumping) await this.pumping;
    }
  }

  /**
   * Flushes, then tries for up to `drainTimeoutMs` (default 5 s) to replay the spool into
   * Postgres. Whatever is still spooled stays on disk for the next client on this path.
   */
  async close(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    await this.flush();
    const deadline = Date.now() + (options.drainTimeoutMs ?? 5_000);
    while (this.spoolHasData && Date.now() < deadline) {
      this.nextReplayAt = 0;
      this.startPump();
      if (this.pumping) await this.pumping;
      if (this.spoolHasData) await new Promise((r) => setTimeout(r, Math.min(this.retryIntervalMs, Math.max(0, deadline - Date.now()))));
    }
    this.closed = true;
    this.clearTimers();
    for (const w of this.spaceWaiters.splice(0)) w();
    await this.sink.close();
    await this.spool.close();
  }

  private clearTimers(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.batchTimer = null;
    this.retryTimer = null;
  }

  private schedulePump(delayMs: number): void {
    if (delayMs <= 0) {
      if (this.batchTimer) clearTimeout(this.batchTimer);
      this.batchTimer = null;
      this.startPump();
      return;
    }
    if (this.batchTimer) return;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = null;
      this.startPump();
    }, delayMs);
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.startPump();
    }, this.retryIntervalMs);
    // Spooled events are durable; a pending retry alone should not keep the process alive.
    this.retryTimer.unref();
  }

  private startPump(): void {
    if (this.pumping) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = null;
      // Events recorded while the last batch was in flight.
      if (this.buffer.length > 0) this.schedulePump(this.buffer.length >= this.batchSize ? 0 : this.batchIntervalMs);
    });
  }

  private report(err: unknown): void {
    try {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // A faulty error callback must not break the pump.
    }
  }

  private takeBatch(): Pending[] {
    const batch = this.buffer.splice(0, this.batchSize);
    const free = this.maxBuffered - this.buffer.length;
    for (const w of this.spaceWaiters.splice(0, Math.max(0, free))) w();
    return batch;
  }

  /** The only place that does I/O; never runs twice at once. */
  private async pump(): Promise<void> {
    for (;;) {
      if (this.spoolHasData && Date.now() >= this.nextReplayAt) {
        try {
          await this.replay();
        } catch (err) {
          this.report(err);
          this.nextReplayAt = Date.now() + this.retryIntervalMs;
        }
      }
      if (this.spoolHasData) this.scheduleRetry();
      if (this.buffer.length === 0) return;
      const batch = this.takeBatch();
      const events = batch.map((p) => p.event);
      try {
        if (this.spoolHasData) {
          await this.toSpool(events);
        } else {
          try {
            await this.sink.append(events);
            this.counters.direct += events.length;
          } catch (err) {
            if (!isTransientDbError(err)) throw err;
            this.report(err);
            // The batch may or may not have committed; replay will tell (idempotency keys).
            await this.toSpool(events);
            this.nextReplayAt = Date.now() + this.retryIntervalMs;
          }
        }
        for (const p of batch) p.resolve();
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        for (const p of batch) p.reject(e);
      }
    }
  }

  private async toSpool(events: NormalizedEvent[]): Promise<void> {
    if (this.spool.size >= this.maxSpoolBytes) {
      throw new Error(`audit spool ${this.spool.path} is full (${this.spool.size} bytes, limit maxSpoolBytes=${this.maxSpoolBytes}); Postgres has been unreachable too long`);
    }
    await this.spool.append(events);
    this.spoolHasData = true;
    this.counters.spooled += events.length;
  }

  /** Sends the spool to Postgres in order, batch by batch; empties it once all is committed. */
  private async replay(): Promise<void> {
    for (;;) {
      const { events, next } = await this.spool.read(this.replayOffset, this.batchSize);
      if (events.length === 0) {
        await this.spool.clear();
        this.replayOffset = 0;
        this.spoolHasData = false;
        return;
      }
      await this.sink.append(events);
      this.replayOffset = next;
      this.counters.replayed += events.length;
    }
  }
}
