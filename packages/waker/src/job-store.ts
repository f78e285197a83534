// Reads one tenant's scheduled jobs out of its gateway's state database: OpenClaw keeps them in
// the `cron_jobs` table of `$OPENCLAW_STATE_DIR/state/openclaw.sqlite` (WAL mode), each row's
// `state_json` holding `nextRunAtMs` (and `runningAtMs` while it runs). Verified on OpenClaw
// 2026.9.6 (test/conformance/jobs.docker.test.ts).
//
// The two files come through the engine's archive endpoint (engine.ts allows exactly these two
// paths) into a private scratch directory; only the gateway is read, and only while it is frozen
// or stopped (the caller's job): then nothing writes the files while they are copied, so the copy
// is consistent.
//
// The database is tenant-written (attacker 1 runs code as the gateway's user): it is hostile
// input. This process holds the engine socket, so it never parses it: the copy is handed to the
// sandboxed reader (jobs-sandbox.ts: another uid, no socket group, no capability; jobs-reader.ts:
// SQLite's own advice for untrusted files), whose answer is believed only as far as its shape.
// Only two numbers per row come back, bounded again by jobs.ts.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import type { ReadableFile } from "./engine";
import type { JobRow } from "./jobs";
import { JobStoreError } from "./jobs-reader";
import { readInSandbox, type ReaderSandbox } from "./jobs-sandbox";

export { JobStoreError } from "./jobs-reader";

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
  /** Where and how the file is parsed: never in this process. */
  sandbox: ReaderSandbox;
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

/**
 * Lets the sandbox's uid reach the scratch directory: search (not list) permission for others on
 * it and on its parent (the state volume's root, 0700), when this process owns them — nothing
 * above. Nothing else there is readable by others: the secrets and config are 0400 in 0700.
 */
async function openScratchPath(scratchDir: string): Promise<void> {
  const uid = process.getuid?.();
  for (const d of [scratchDir, path.dirname(scratchDir)]) {
    const st = await stat(d);
    if ((st.mode & 0o001) === 0 && st.uid === uid) await chmod(d, (st.mode & 0o7777) | 0o001);
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
    await openScratchPath(opts.scratchDir);
    const dbFile = path.join(dir, "openclaw.sqlite");
    if (!(await copyOut(opts.engine, gatewayId, STATE_DB, dbFile, opts.maxBytes))) return [];
    const wal = await copyOut(opts.engine, gatewayId, STATE_WAL, `${dbFile}-wal`, opts.maxBytes);
    // The reader (another uid) may use these two files and create SQLite's -shm beside them; it
    // cannot list the directory. Opened in this read's turn only: one read at a time, and every
    // process of the reader's uid is killed after each (jobs-sandbox.ts), so no reader of
    // another tenant is there to use them.
    const openToReader = async () => {
      await chmod(dbFile, 0o606);
      if (wal) await chmod(`${dbFile}-wal`, 0o606);
      await chmod(dir, 0o703);
    };
    return await readInSandbox(opts.sandbox, dbFile, opts.maxRows ?? 10_000, openToReader);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
