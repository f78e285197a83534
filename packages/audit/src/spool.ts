import { mkdir, open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import type { NormalizedEvent } from "./event";

/**
 * The local append-only spool that keeps audit events while Postgres is unreachable.
 *
 * Format: JSON Lines, one NormalizedEvent per line, in the order the events were recorded.
 * An event counts as accepted only after its line has been written AND fdatasync'd, so a
 * crash can leave at most one partial line at the end; open() cuts that tail off (its
 * record() never resolved, so nobody was told it was stored). Replaying is read-only; the
 * file is emptied only after every line in it has been committed to Postgres. A crash during
 * replay re-sends lines that may already be stored: the per-event idempotency key makes
 * Postgres skip them, so replay is exactly-once in effect.
 */
export class Spool {
  private fh: FileHandle | null = null;
  private bytes = 0;

  constructor(readonly path: string) {}

  get size(): number {
    return this.bytes;
  }

  async open(): Promise<void> {
    if (this.fh) return;
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    // 0600: the spool holds tenant activity; nobody but the service may read it.
    this.fh = await open(this.path, "a+", 0o600);
    // The mode above only applies to a new file; tighten one that already existed.
    await this.fh.chmod(0o600);
    const { size } = await this.fh.stat();
    let keep = size;
    if (size > 0) {
      // Find the last newline; anything after it is an unacknowledged partial write.
      const chunk = 64 * 1024;
      let end = size;
      keep = 0;
      while (end > 0) {
        const start = Math.max(0, end - chunk);
        const buf = Buffer.alloc(end - start);
        await this.fh.read(buf, 0, buf.length, start);
        const nl = buf.lastIndexOf(0x0a);
        if (nl >= 0) {
          keep = start + nl + 1;
          break;
        }
        end = start;
      }
      if (keep !== size) {
        await this.fh.truncate(keep);
        await this.fh.sync();
      }
    }
    this.bytes = keep;
    // Make the file's directory entry durable too, or a crash could lose the whole file.
    const dir = await open(dirname(this.path), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  private handle(): FileHandle {
    if (!this.fh) throw new Error(`spool ${this.path} is not open`);
    return this.fh;
  }

  /** Appends the events and returns only once they are on disk (fdatasync). */
  async append(events: readonly NormalizedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const fh = this.handle();
    const data = Buffer.from(events.map((e) => JSON.stringify(e) + "\n").join(""), "utf8");
    // "a+" appends every write at the end of the file regardless of the position given.
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await fh.write(data, written, data.length - written);
      written += bytesWritten;
    }
    await fh.datasync();
    this.bytes += data.length;
  }

  /**
   * Reads up to `max` events starting at byte `offset`. Returns the events and the offset of
   * the first line not returned. A line that is not valid JSON is corruption (not a partial
   * tail, which open() removed): it is reported with its offset rather than skipped.
   */
  async read(offset: number, max: number): Promise<{ events: NormalizedEvent[]; next: number }> {
    const fh = this.handle();
    const events: NormalizedEvent[] = [];
    let pos = offset;
    let chunkSize = 1024 * 1024;
    while (events.length < max && pos < this.bytes) {
      const len = Math.min(chunkSize, this.bytes - pos);
      const buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, pos);
      let lineStart = 0;
      let consumed = false;
      while (events.length < max) {
        const nl = buf.indexOf(0x0a, lineStart);
        if (nl < 0 || nl >= bytesRead) break;
        const line = buf.subarray(lineStart, nl).toString("utf8");
        try {
          events.push(JSON.parse(line) as NormalizedEvent);
        } catch {
          throw new Error(`spool ${this.path} is corrupt at byte ${pos + lineStart}: not a JSON line`);
        }
        lineStart = nl + 1;
        consumed = true;
      }
      if (!consumed) {
        // A single line longer than the chunk: read a bigger chunk.
        chunkSize *= 2;
        continue;
      }
      pos += lineStart;
    }
    return { events, next: pos };
  }

  /** Empties the spool; called only when every line has been committed to Postgres. */
  async clear(): Promise<void> {
    const fh = this.handle();
    await fh.truncate(0);
    await fh.sync();
    this.bytes = 0;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    if (fh) await fh.close();
  }
}
