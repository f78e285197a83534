// What a volume holds, read from the tar stream the engine's archive endpoint produces: one
// entry per file with its type, mode, owner, size, modification time, link target and content
// hash. The digest of that index is how a restore is verified: the restored volume, archived
// again, must index to the same digest as the backup (byte equality of the tar itself is not
// required — another engine version may order headers differently). Streaming: the archive is
// never held whole. Formats: ustar with POSIX pax ('x') and GNU long-name ('L', 'K') headers,
// which is what the engine writes.
import { createHash, type Hash } from "node:crypto";

export interface TarEntry {
  path: string;
  /** tar typeflag: "0" file, "5" directory, "2" symlink, "1" hard link, … */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  link: string;
  /** sha256 of the content (files only) */
  sha256?: string;
}

function num(b: Buffer): number {
  // base-256 (GNU) for values that do not fit in octal
  if (b[0]! & 0x80) {
    let v = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    return v;
  }
  const s = b.toString("ascii").replace(/\0.*$/s, "").trim();
  return s === "" ? 0 : parseInt(s, 8);
}

const str = (b: Buffer) => b.toString("utf8").replace(/\0.*$/s, "");

function pax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.subarray(i, sp).toString("ascii"), 10);
    if (!Number.isInteger(len) || len <= 0) throw new Error("archive: malformed pax header");
    const rec = data.subarray(sp + 1, i + len - 1).toString("utf8");
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Feed it the archive's bytes in order; `finish()` returns the entries. */
export class TarIndexer {
  private buf: Buffer = Buffer.alloc(0);
  private entries: TarEntry[] = [];
  /** bytes of the current member's data still to come (content + padding) */
  private remaining = 0;
  private dataLeft = 0;
  private collecting: Buffer[] | undefined;
  private hash: Hash | undefined;
  private current: TarEntry | undefined;
  private pending: { kind: string } | undefined;
  private nextPax: Record<string, string> = {};
  private ended = false;

  write(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.remaining > 0) {
        if (this.buf.length === 0) return;
        const take = Math.min(this.remaining, this.buf.length);
        const dataTake = Math.min(this.dataLeft, take);
        const data = this.buf.subarray(0, dataTake);
        this.hash?.update(data);
        this.collecting?.push(data);
        this.dataLeft -= dataTake;
        this.remaining -= take;
        this.buf = this.buf.subarray(take);
        if (this.remaining === 0) this.endMember();
        continue;
      }
      if (this.ended || this.buf.length < 512) return;
      const h = this.buf.subarray(0, 512);
      this.buf = this.buf.subarray(512);
      if (h.every((x) => x === 0)) {
        this.ended = true;
        continue;
      }
      this.header(h);
    }
  }

  private header(h: Buffer): void {
    const type = String.fromCharCode(h[156] || 0x30);
    const size = num(h.subarray(124, 136));
    const padded = Math.ceil(size / 512) * 512;
    if (type === "x" || type === "L" || type === "K" || type === "g") {
      this.pending = { kind: type };
      this.collecting = [];
      this.hash = undefined;
      this.current = undefined;
    } else {
      const prefix = h.subarray(257, 263).toString("ascii").startsWith("ustar") ? str(h.subarray(345, 500)) : "";
      const name = prefix ? `${prefix}/${str(h.subarray(0, 100))}` : str(h.subarray(0, 100));
      const p = this.nextPax;
      this.current = {
        path: (p.path ?? name).replace(/\/$/, ""),
        type: type === "\0" ? "0" : type === "7" ? "0" : type,
        mode: num(h.subarray(100, 108)) & 0o7777,
        uid: p.uid !== undefined ? Number(p.uid) : num(h.subarray(108, 116)),
        gid: p.gid !== undefined ? Number(p.gid) : num(h.subarray(116, 124)),
        size: p.size !== undefined ? Number(p.size) : size,
        // whole seconds: the engine writes sub-second times in pax records only sometimes
        mtime: Math.floor(p.mtime !== undefined ? Number(p.mtime) : num(h.subarray(136, 148))),
        link: p.linkpath ?? str(h.subarray(157, 257)),
      };
      this.nextPax = {};
      this.pending = undefined;
      this.collecting = undefined;
      this.hash = this.current.type === "0" ? createHash("sha256") : undefined;
    }
    const realSize = this.current?.size ?? size;
    this.dataLeft = realSize;
    this.remaining = Math.ceil(realSize / 512) * 512 || padded;
    if (this.remaining === 0) this.endMember();
  }

  private endMember(): void {
    if (this.pending) {
      const data = Buffer.concat(this.collecting ?? []);
      if (this.pending.kind === "x") Object.assign(this.nextPax, pax(data));
      else if (this.pending.kind === "L") this.nextPax.path = str(data);
      else if (this.pending.kind === "K") this.nextPax.linkpath = str(data);
      this.pending = undefined;
      this.collecting = undefined;
      return;
    }
    if (this.current) {
      if (this.hash) this.current.sha256 = this.hash.digest("hex");
      this.entries.push(this.current);
      this.current = undefined;
      this.hash = undefined;
    }
  }

  finish(): TarEntry[] {
    if (this.remaining > 0 || this.pending) throw new Error("archive: truncated (a member's data is missing)");
    return [...this.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

/** One line per entry, sorted by path. */
export function indexLines(entries: TarEntry[]): string[] {
  return entries.map((e) => [e.path, e.type, e.mode.toString(8), e.uid, e.gid, e.size, e.mtime, e.link, e.sha256 ?? "-"].map(String).join("\t"));
}

export function indexDigest(entries: TarEntry[]): string {
  const h = createHash("sha256");
  for (const l of indexLines(entries)) h.update(l + "\n");
  return h.digest("hex");
}

/** The first difference between two indexes, for a message (paths only, no content). */
export function firstDifference(want: TarEntry[], got: TarEntry[]): string | undefined {
  const a = indexLines(want);
  const b = indexLines(got);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      const path = (a[i] ?? b[i] ?? "").split("\t")[0];
      return `${path}: ${a[i] === undefined ? "unexpected" : b[i] === undefined ? "missing" : "differs (type, mode, owner, size, time or content)"}`;
    }
  }
  return undefined;
}
