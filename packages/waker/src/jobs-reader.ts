// The jobs reader: opens a copy of a tenant's state database (tenant-written, so hostile) with
// SQLite and prints what the waker needs of `cron_jobs`. It runs as its own process, as its own
// uid and gid with no supplementary group and no capability (started by job-store.ts through
// setpriv), so a memory-safety bug in SQLite exploited by a crafted file runs in a process that
// cannot open the engine socket (root:<socket group> 0660) nor touch the waker (another uid) —
// see the README's "Scheduled jobs" for why this and not node's permission model.
//
// Executed by node directly (type stripping, no tsx: nothing but node:* may load here), so this
// file holds only erasable TypeScript and imports nothing of the package at run time.
//
// Protocol: argv `<db file> <max rows>`; stdout one JSON object, `{ ok: true, rows: [[enabled,
// nextRunAtMs|null, runningAtMs|null], …] }` or `{ ok: false, kind, errcode? }`. The waker
// believes none of it beyond its shape (job-store.ts validates it; jobs.ts bounds the times).
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { constants, DatabaseSync } from "node:sqlite";
import type { JobRow } from "./jobs";

/** A reason the jobs could not be read; the message never carries file content. */
export class JobStoreError extends Error {
  readonly kind: "not-openclaw" | "too-many-rows" | "other";
  constructor(message: string, kind: JobStoreError["kind"] = "other") {
    super(message);
    this.name = "JobStoreError";
    this.kind = kind;
  }
}

/** SQLite's own heap inside the reader (hard_heap_limit): a crafted file cannot make it allocate more. */
const SQLITE_HEAP_BYTES = 32 << 20;
const MAX_STATE_JSON = 64 * 1024;

/** Opens a copied state database as hostile input and reads the job rows. */
export function readJobRowsFromFile(dbFile: string, maxRows: number): JobRow[] {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(dbFile, { enableForeignKeyConstraints: false, allowExtension: false, timeout: 0 });
    db.enableDefensive(true);
    db.exec(`PRAGMA hard_heap_limit = ${SQLITE_HEAP_BYTES}; PRAGMA trusted_schema = OFF; PRAGMA cell_size_check = ON; PRAGMA mmap_size = 0; PRAGMA query_only = ON;`);
    // From here on the one SELECT below is all that may run: two columns of cron_jobs.
    db.setAuthorizer((action, arg1, arg2) => {
      if (action === constants.SQLITE_SELECT) return constants.SQLITE_OK;
      if (action === constants.SQLITE_READ && arg1 === "cron_jobs" && (arg2 === "enabled" || arg2 === "state_json")) return constants.SQLITE_OK;
      return constants.SQLITE_DENY;
    });
    const rows = db.prepare(`SELECT enabled, state_json FROM main.cron_jobs LIMIT ${maxRows + 1}`).all() as unknown as JobRow[];
    if (rows.length > maxRows) throw new JobStoreError(`state database: more than ${maxRows} scheduled jobs`, "too-many-rows");
    return rows;
  } catch (err) {
    if (err instanceof JobStoreError) throw err;
    // SQLite's messages can quote schema text (tenant-written): name the kind only.
    const code = (err as { errcode?: unknown }).errcode;
    const e = new JobStoreError(`state database: not readable as OpenClaw's (SQLite error ${typeof code === "number" ? code : "unknown"})`, "not-openclaw");
    (e as { errcode?: number }).errcode = typeof code === "number" ? code : undefined;
    throw e;
  } finally {
    try {
      db?.close();
    } catch {
      // closing a broken copy: nothing to keep
    }
  }
}

/** One row as the reader prints it: enabled, and the two times of its state (null when absent or not a number). */
export type ReaderRow = [enabled: 0 | 1, nextRunAtMs: number | null, runningAtMs: number | null];

function time(state: Record<string, unknown>, key: string): number | null {
  const v = state[key];
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : null;
}

/** Folds a row to what leaves the reader: nothing of the file but a flag and two integers. */
export function reduceRow(row: JobRow): ReaderRow | undefined {
  const enabled = row.enabled === 1 || row.enabled === 1n || row.enabled === true ? 1 : 0;
  if (typeof row.state_json !== "string" || row.state_json.length > MAX_STATE_JSON) return undefined;
  let state: unknown;
  try {
    state = JSON.parse(row.state_json);
  } catch {
    return undefined;
  }
  if (typeof state !== "object" || state === null || Array.isArray(state)) return undefined;
  const s = state as Record<string, unknown>;
  return [enabled, time(s, "nextRunAtMs"), time(s, "runningAtMs")];
}

function main(argv: readonly string[]): void {
  // If the reader balloons, the container's OOM killer takes it, not the waker (raising one's
  // own score needs no privilege; lowering it again would).
  try {
    writeFileSync("/proc/self/oom_score_adj", "1000");
  } catch {
    // not on Linux: the parent's timeout and the heap limits still bound it
  }
  const [dbFile, maxRowsText] = argv;
  const maxRows = Number(maxRowsText);
  let out: unknown;
  if (!dbFile || !Number.isSafeInteger(maxRows) || maxRows < 1) out = { ok: false, kind: "other" };
  else {
    try {
      const rows = readJobRowsFromFile(dbFile, maxRows).map(reduceRow).filter((r): r is ReaderRow => r !== undefined);
      out = { ok: true, rows };
    } catch (err) {
      const e = err as JobStoreError & { errcode?: number };
      out = { ok: false, kind: e instanceof JobStoreError ? e.kind : "other", ...(typeof e.errcode === "number" ? { errcode: e.errcode } : {}) };
    }
  }
  process.stdout.write(JSON.stringify(out));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
