// Reads one tenant's scheduled jobs out of its gateway's state database: OpenClaw keeps them in
// the `cron_jobs` table of `$OPENCLAW_STATE_DIR/state/openclaw.sqlite` (WAL mode), each row's
// `state_json` holding `nextRunAtMs` (and `runningAtMs` while it runs). Verified on OpenClaw
// 2026.9.6 (test/conformance/jobs.docker.test.ts).
//
// The two files come through the engine's archive endpoint (engine.ts allows exactly these two
// paths) into a private scratch directory, are opened with node's SQLite and the directory is
// removed. Only the gateway is read, and only while it is frozen or stopped (the caller's
// job): then nothing writes the files while they are copied, so the copy is consistent.
//
// The database is tenant-written (attacker 1 runs code as the gateway's user): it is treated as
// hostile input, following SQLite's own advice for untrusted database files: bounded size,
// defensive mode, no trusted schema, cell size checks, query-only, and an authorizer that lets
// the one statement read two columns of one table and nothing else (no function, no view, no
// trigger, no pragma). Only two numbers per row leave this module (jobs.ts). What is left: a
// memory-safety bug in SQLite itself, exploited through a crafted file, would run in the waker,
// which holds the engine socket — see the README's "Scheduled jobs" for the trade-off.
import { randomBytes } from "node:crypto";
import { mkdir, open, rm } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { constants, DatabaseSync } from "node:sqlite";
import type { ReadableFile } from "./engine";
import type { JobRow } from "./jobs";

export const STATE_DB = "/var/lib/openclaw/state/openclaw.sqlite" satisfies ReadableFile;
export const STATE_WAL = "/var/lib/openclaw/state/openclaw.sqlite-wal" satisfies ReadableFile;

export interface ArchiveReader {
  archive(id: string, file: ReadableFile): Promise<Readable | undefined>;
}

export interface JobStoreOptions {
  engine: ArchiveReader;
  /** A directory only the waker can write (its state volume, not its memory-backed /tmp). */
  scratchDir: string;
  /** The largest database (and, separately, write-ahead log) read; larger is "unreadable". */
  maxBytes: number;
  /** Rows read at most (a tenant could insert millions). */
  maxRows?: number;
}

/** A reason the jobs could not be read; the message never carries file content. */
export class JobStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JobStoreError";
  }
}

const BLOCK = 512;

function octal(buf: Buffer, start: number, len: number, field: string): number {
  const raw = buf.subarray(start, start + len).toString("latin1").replace(/[\0 ]+$/, "").trim();
  if (!/^[0-7]{1,12}$/.test(raw)) throw new JobStoreError(`archive: tar header field ${field} is not an octal number`);
  return parseInt(raw, 8);
}

/**
 * Writes the one regular file of a tar stream (the engine's archive of one path) to `dest`.
 * Refuses anything but a regular file named `name` (a symlink, a directory, a device), and
 * any size above `maxBytes`, before writing a byte.
 */
export async function extractSingleFile(tar: AsyncIterable<Buffer>, name: string, dest: string, maxBytes: number): Promise<number> {
  let pending: Buffer = Buffer.alloc(0);
  let skip = 0; // bytes of a PAX header's data still to drop
  let remaining = -1; // bytes of the file still to write; -1: not in the file yet
  let size = 0;
  const fh = await open(dest, "wx", 0o600);
  try {
    for await (const chunk of tar) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        if (skip > 0) {
          const n = Math.min(skip, pending.length);
          skip -= n;
          pending = pending.subarray(n);
          if (skip > 0) break;
        }
        if (remaining > 0) {
          const n = Math.min(remaining, pending.length);
          if (n > 0) await fh.write(pending.subarray(0, n));
          remaining -= n;
          pending = pending.subarray(n);
          if (remaining > 0) break;
        }
        if (remaining === 0) return size;
        if (pending.length < BLOCK) break;
        const header = pending.subarray(0, BLOCK);
        pending = pending.subarray(BLOCK);
        if (header.every((b) => b === 0)) throw new JobStoreError("archive: the tar ended before the file");
        const type = String.fromCharCode(header[156] ?? 0);
        const entrySize = octal(header, 124, 12, "size");
        if (type === "x" || type === "g") {
          // PAX metadata (long names, sub-second times): skipped; the name is checked below on
          // the ustar header, and a PAX record cannot make a non-file a file.
          if (entrySize > 1024 * 1024) throw new JobStoreError("archive: PAX header too large");
          skip = Math.ceil(entrySize / BLOCK) * BLOCK;
          continue;
        }
        if (type !== "0" && type !== "\0") throw new JobStoreError("archive: the path is not a regular file");
        const entryName = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
        if (entryName !== name) throw new JobStoreError("archive: unexpected entry name");
        if (entrySize > maxBytes) throw new JobStoreError(`archive: the file is larger than the ${maxBytes}-byte limit`);
        size = entrySize;
        remaining = entrySize;
        if (remaining === 0) return 0;
      }
    }
    throw new JobStoreError("archive: the tar ended before the file was complete");
  } finally {
    await fh.close();
  }
}

async function copyOut(engine: ArchiveReader, id: string, file: ReadableFile, dest: string, maxBytes: number): Promise<boolean> {
  const stream = await engine.archive(id, file);
  if (!stream) return false;
  try {
    await extractSingleFile(stream as AsyncIterable<Buffer>, path.posix.basename(file), dest, maxBytes);
    return true;
  } finally {
    stream.destroy();
  }
}

/** Opens a copied state database as hostile input and reads the job rows. */
export function readJobRowsFromFile(dbFile: string, maxRows: number): JobRow[] {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(dbFile, { enableForeignKeyConstraints: false, allowExtension: false, timeout: 0 });
    db.enableDefensive(true);
    db.exec("PRAGMA trusted_schema = OFF; PRAGMA cell_size_check = ON; PRAGMA mmap_size = 0; PRAGMA query_only = ON;");
    // From here on the one SELECT below is all that may run: two columns of cron_jobs.
    db.setAuthorizer((action, arg1, arg2) => {
      if (action === constants.SQLITE_SELECT) return constants.SQLITE_OK;
      if (action === constants.SQLITE_READ && arg1 === "cron_jobs" && (arg2 === "enabled" || arg2 === "state_json")) return constants.SQLITE_OK;
      return constants.SQLITE_DENY;
    });
    const rows = db.prepare(`SELECT enabled, state_json FROM main.cron_jobs LIMIT ${maxRows + 1}`).all() as unknown as JobRow[];
    if (rows.length > maxRows) throw new JobStoreError(`state database: more than ${maxRows} scheduled jobs`);
    return rows;
  } catch (err) {
    if (err instanceof JobStoreError) throw err;
    // SQLite's messages can quote schema text (tenant-written): name the kind only.
    const code = (err as { errcode?: unknown }).errcode;
    throw new JobStoreError(`state database: not readable as OpenClaw's (SQLite error ${typeof code === "number" ? code : "unknown"})`);
  } finally {
    try {
      db?.close();
    } catch {
      // closing a broken copy: nothing to keep
    }
  }
}

/**
 * The job rows of the tenant whose gateway container is `gatewayId`. The gateway must be paused
 * or stopped (nothing may write the files while they are copied). An empty list when the
 * gateway has no state database yet (never started); a database without OpenClaw's jobs table
 * is a JobStoreError (unreadable: a schema this waker does not know).
 */
export async function readJobRows(opts: JobStoreOptions, gatewayId: string): Promise<JobRow[]> {
  const dir = path.join(opts.scratchDir, `jobs-${randomBytes(6).toString("hex")}`);
  await mkdir(dir, { recursive: false, mode: 0o700 }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
    await mkdir(opts.scratchDir, { recursive: true, mode: 0o700 });
    await mkdir(dir, { mode: 0o700 });
  });
  try {
    const dbFile = path.join(dir, "openclaw.sqlite");
    if (!(await copyOut(opts.engine, gatewayId, STATE_DB, dbFile, opts.maxBytes))) return [];
    await copyOut(opts.engine, gatewayId, STATE_WAL, `${dbFile}-wal`, opts.maxBytes);
    return readJobRowsFromFile(dbFile, opts.maxRows ?? 10_000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
