import { createHash } from "node:crypto";

/**
 * The per-tenant hash chain. Postgres computes it when events are appended
 * (octw.append_events, see migrations.ts); this module recomputes it independently, so
 * `octw audit verify` does not have to trust any function stored in the database it checks.
 *
 * Encoding v1 (bytes, UTF-8): the tag "octw.audit.v1" followed by every field in a fixed
 * order, each either "-" (SQL NULL) or "<byte length>:<bytes>". Length prefixes make the
 * encoding injective: no choice of field values can make two different events encode equal.
 *   hash = SHA-256(prev_hash (32 raw bytes) || encoding)
 * The first event of a tenant has prev_hash = 32 zero bytes (GENESIS_HASH).
 */
export const CHAIN_TAG = "octw.audit.v1";
export const GENESIS_HASH: Buffer = Buffer.alloc(32);

/** One stored event as the chain sees it: every field as the exact text that was hashed. */
export interface ChainRow {
  id: string;
  tenant: string;
  seq: string;
  /** `to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` */
  time: string;
  actor: string;
  action: string;
  target: string | null;
  decision: string | null;
  /** `details::text` — Postgres' own normalised jsonb text, stable for a stored value. */
  details: string | null;
  idempotencyKey: string;
  prevHash: Buffer;
  hash: Buffer;
}

function field(value: string | null): string {
  if (value === null) return "-";
  return `${Buffer.byteLength(value, "utf8")}:${value}`;
}

const TAG_FIELD = field(CHAIN_TAG);

/** The encoding as a string (its UTF-8 bytes are the encoding). Built without intermediate arrays: verify runs it once per stored event. */
function canonicalEventText(row: Omit<ChainRow, "id" | "prevHash" | "hash">): string {
  return (
    TAG_FIELD +
    field(row.tenant) +
    field(row.seq) +
    field(row.time) +
    field(row.actor) +
    field(row.action) +
    field(row.target) +
    field(row.decision) +
    field(row.details) +
    field(row.idempotencyKey)
  );
}

export function canonicalEventEncoding(row: Omit<ChainRow, "id" | "prevHash" | "hash">): Buffer {
  return Buffer.from(canonicalEventText(row), "utf8");
}

export function chainHash(prevHash: Buffer, row: Omit<ChainRow, "id" | "prevHash" | "hash">): Buffer {
  if (prevHash.length !== 32) throw new Error(`prevHash must be 32 bytes, got ${prevHash.length}`);
  return createHash("sha256").update(prevHash).update(canonicalEventText(row), "utf8").digest();
}

export type BrokenLinkReason =
  | "hash-mismatch" // the row's content no longer matches its stored hash (edited row)
  | "prev-hash-mismatch" // the row does not point at its predecessor (deleted or re-hashed row)
  | "seq-gap" // a sequence number is missing (deleted row)
  | "head-mismatch" // the tenant's recorded head is not the last row (tail deleted)
  | "anchor-mismatch"; // the chain no longer passes through a head exported earlier (rewritten chain)

export interface BrokenLink {
  tenant: string;
  seq: string;
  id: string | null;
  reason: BrokenLinkReason;
  detail: string;
}

export interface ChainHead {
  seq: string;
  hash: Buffer;
}

/**
 * Incremental verifier for ONE tenant's rows, fed in seq order (the caller pages through the
 * table). Returns the first broken link and stops checking after it.
 */
export class ChainVerifier {
  private prevHash: Buffer = GENESIS_HASH;
  private prevSeq = 0n;
  private broken: BrokenLink | null = null;
  private count = 0;

  /**
   * `anchors`: heads exported earlier (seq -> hash, e.g. from `octw audit heads`), kept outside
   * the database. A superuser who rewrites a chain from some row on and fixes the head too
   * passes every other check, but the rewritten chain no longer runs through these hashes.
   */
  constructor(
    readonly tenant: string,
    private readonly anchors: ReadonlyMap<string, Buffer> = new Map(),
  ) {}

  get firstBroken(): BrokenLink | null {
    return this.broken;
  }

  get verified(): number {
    return this.count;
  }

  /** Returns false once a broken link has been found. */
  push(row: ChainRow): boolean {
    if (this.broken) return false;
    if (row.tenant !== this.tenant) throw new Error(`row of tenant ${row.tenant} fed to the verifier of ${this.tenant}`);
    // Runs once per stored event (a million for a long chain): no closure is made per row.
    const seq = BigInt(row.seq);
    if (seq !== this.prevSeq + 1n) {
      return this.fail(row, "seq-gap", `expected seq ${this.prevSeq + 1n}, found ${seq}`);
    }
    if (!row.prevHash.equals(this.prevHash)) {
      return this.fail(row, "prev-hash-mismatch", `prev_hash ${row.prevHash.toString("hex")} != hash of seq ${this.prevSeq} ${this.prevHash.toString("hex")}`);
    }
    const hash = chainHash(this.prevHash, row);
    if (!hash.equals(row.hash)) {
      return this.fail(row, "hash-mismatch", `stored hash ${row.hash.toString("hex")} != recomputed ${hash.toString("hex")}`);
    }
    if (this.anchors.size > 0) {
      const anchor = this.anchors.get(row.seq);
      if (anchor && !anchor.equals(row.hash)) {
        return this.fail(row, "anchor-mismatch", `hash ${row.hash.toString("hex")} != exported anchor ${anchor.toString("hex")}`);
      }
    }
    this.prevHash = row.hash;
    this.prevSeq = seq;
    this.count++;
    return true;
  }

  private fail(row: ChainRow, reason: BrokenLinkReason, detail: string): false {
    this.broken = { tenant: row.tenant, seq: row.seq, id: row.id, reason, detail };
    return false;
  }

  /** Compare the end of the walked chain with the tenant's recorded head (when readable). */
  finish(head: ChainHead | null): BrokenLink | null {
    if (this.broken) return this.broken;
    for (const seq of this.anchors.keys()) {
      if (BigInt(seq) > this.prevSeq) {
        this.broken = { tenant: this.tenant, seq, id: null, reason: "anchor-mismatch", detail: `chain ends at seq ${this.prevSeq}, before exported anchor seq ${seq}` };
        return this.broken;
      }
    }
    if (head === null) return this.broken;
    if (BigInt(head.seq) !== this.prevSeq || !head.hash.equals(this.prevHash)) {
      this.broken = {
        tenant: this.tenant,
        seq: head.seq,
        id: null,
        reason: "head-mismatch",
        detail: `head says seq ${head.seq}, chain ends at seq ${this.prevSeq}`,
      };
    }
    return this.broken;
  }
}
