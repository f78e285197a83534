import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChainVerifier, GENESIS_HASH, canonicalEventEncoding, chainHash, type ChainRow } from "../src/chain";

type Fields = Omit<ChainRow, "id" | "prevHash" | "hash">;

function fields(tenant: string, seq: number, over: Partial<Fields> = {}): Fields {
  return {
    tenant,
    seq: String(seq),
    time: `2026-01-01T00:00:${String(seq % 60).padStart(2, "0")}.000000Z`,
    actor: "user-1",
    action: "edge.auth.allowed",
    target: "/chat",
    decision: "allowed",
    details: `{"n": ${seq}}`,
    idempotencyKey: `k-${seq}`,
    ...over,
  };
}

function buildChain(tenant: string, n: number): ChainRow[] {
  const rows: ChainRow[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const f = fields(tenant, i);
    const hash = chainHash(prev, f);
    rows.push({ ...f, id: String(i), prevHash: prev, hash });
    prev = hash;
  }
  return rows;
}

describe("canonical encoding", () => {
  it("length-prefixes every field and marks NULL with '-'", () => {
    const enc = canonicalEventEncoding(fields("a", 1, { target: null, actor: "é" })).toString("utf8");
    expect(enc.startsWith("13:octw.audit.v1" + "1:a" + "1:1")).toBe(true);
    expect(enc).toContain("2:é"); // byte length, not character length
    expect(enc).toContain("17:edge.auth.allowed-7:allowed");
  });

  it("hash = SHA-256(prev || encoding)", () => {
    const f = fields("a", 1);
    const prev = Buffer.alloc(32, 7);
    const expected = createHash("sha256").update(Buffer.concat([prev, canonicalEventEncoding(f)])).digest();
    expect(chainHash(prev, f).equals(expected)).toBe(true);
    expect(() => chainHash(Buffer.alloc(31), f)).toThrow(/32 bytes/);
  });

  it("is injective: different field tuples never encode the same", () => {
    const opt = fc.option(fc.string(), { nil: null });
    const arb = fc.record({ a: fc.string(), b: fc.string(), c: opt, d: opt, e: opt });
    fc.assert(
      fc.property(arb, arb, (x, y) => {
        const fx = fields("t", 1, { actor: x.a, action: x.b, target: x.c, decision: x.d, details: x.e });
        const fy = fields("t", 1, { actor: y.a, action: y.b, target: y.c, decision: y.d, details: y.e });
        const same = JSON.stringify(x) === JSON.stringify(y);
        return canonicalEventEncoding(fx).equals(canonicalEventEncoding(fy)) === same;
      }),
      { numRuns: 2000 },
    );
  });
});

describe("ChainVerifier", () => {
  it("accepts an intact chain and its head", () => {
    const rows = buildChain("a", 50);
    const v = new ChainVerifier("a");
    for (const r of rows) expect(v.push(r)).toBe(true);
    expect(v.finish({ seq: "50", hash: rows[49]!.hash })).toBeNull();
    expect(v.verified).toBe(50);
  });

  it.each(["actor", "action", "target", "decision", "details", "time", "idempotencyKey"] as const)("catches an edited %s at that row", (field) => {
    const rows = buildChain("a", 10);
    rows[4] = { ...rows[4]!, [field]: "tampered" };
    const v = new ChainVerifier("a");
    rows.forEach((r) => v.push(r));
    expect(v.firstBroken).toMatchObject({ seq: "5", reason: "hash-mismatch" });
    expect(v.verified).toBe(4);
  });

  it("catches an edited row whose hash was recomputed, at the next row", () => {
    const rows = buildChain("a", 10);
    const edited = fields("a", 5, { decision: "denied" });
    rows[4] = { ...rows[4]!, ...edited, hash: chainHash(rows[4]!.prevHash, edited) };
    const v = new ChainVerifier("a");
    rows.forEach((r) => v.push(r));
    expect(v.firstBroken).toMatchObject({ seq: "6", reason: "prev-hash-mismatch" });
  });

  it("catches a deleted row", () => {
    const rows = buildChain("a", 10);
    rows.splice(3, 1);
    const v = new ChainVerifier("a");
    rows.forEach((r) => v.push(r));
    expect(v.firstBroken).toMatchObject({ seq: "5", reason: "seq-gap" });
  });

  it("catches a deleted row even when later seqs were renumbered", () => {
    const rows = buildChain("a", 10);
    rows.splice(3, 1);
    const renumbered = rows.map((r, i) => ({ ...r, seq: String(i + 1) }));
    const v = new ChainVerifier("a");
    renumbered.forEach((r) => v.push(r));
    expect(v.firstBroken).toMatchObject({ seq: "4", reason: "prev-hash-mismatch" });
  });

  it("catches a deleted tail through the head", () => {
    const rows = buildChain("a", 10);
    const v = new ChainVerifier("a");
    rows.slice(0, 8).forEach((r) => v.push(r));
    expect(v.finish({ seq: "10", hash: rows[9]!.hash })).toMatchObject({ reason: "head-mismatch", seq: "10" });
  });

  it("catches a first row that does not start at genesis (deleted head of chain)", () => {
    const rows = buildChain("a", 3).slice(1);
    const v = new ChainVerifier("a");
    rows.forEach((r) => v.push(r));
    expect(v.firstBroken).toMatchObject({ seq: "2", reason: "seq-gap" });
  });

  it("refuses rows of another tenant", () => {
    const v = new ChainVerifier("a");
    expect(() => v.push(buildChain("b", 1)[0]!)).toThrow(/tenant b/);
  });

  it("catches a fully rewritten chain (head fixed too) only through an exported anchor", () => {
    const original = buildChain("a", 10);
    const anchor = new Map([["8", original[7]!.hash]]);
    // Rewrite from seq 5 on, re-hashing every later row: internally consistent again.
    const rewritten = original.slice(0, 4);
    let prev = original[3]!.hash;
    for (let i = 5; i <= 10; i++) {
      const f = fields("a", i, i === 5 ? { decision: "denied" } : {});
      const hash = chainHash(prev, f);
      rewritten.push({ ...f, id: String(i), prevHash: prev, hash });
      prev = hash;
    }
    const head = { seq: "10", hash: prev };
    const plain = new ChainVerifier("a");
    rewritten.forEach((r) => plain.push(r));
    expect(plain.finish(head)).toBeNull(); // the limitation without anchors
    const anchored = new ChainVerifier("a", anchor);
    rewritten.forEach((r) => anchored.push(r));
    expect(anchored.finish(head)).toMatchObject({ seq: "8", reason: "anchor-mismatch" });
    const intact = new ChainVerifier("a", anchor);
    original.forEach((r) => intact.push(r));
    expect(intact.finish({ seq: "10", hash: original[9]!.hash })).toBeNull(); // positive control
  });

  it("catches a chain cut short before an exported anchor", () => {
    const rows = buildChain("a", 10);
    const v = new ChainVerifier("a", new Map([["9", rows[8]!.hash]]));
    rows.slice(0, 6).forEach((r) => v.push(r));
    expect(v.finish({ seq: "6", hash: rows[5]!.hash })).toMatchObject({ seq: "9", reason: "anchor-mismatch" });
  });
});

// The verifier's contract at its edges, with the exact report an operator reads (mutation
// testing showed the tests above would pass with these details or branches changed).
describe("ChainVerifier: reports and edges", () => {
  const hex = (b: Buffer) => b.toString("hex");

  it("push answers false for the breaking row and for every row after it", () => {
    const rows = buildChain("a", 4);
    rows[1] = { ...rows[1]!, actor: "x" };
    const v = new ChainVerifier("a");
    expect(v.push(rows[0]!)).toBe(true);
    expect(v.push(rows[1])).toBe(false);
    expect(v.push(rows[2]!)).toBe(false);
    expect(v.firstBroken).toMatchObject({ seq: "2", reason: "hash-mismatch" });
  });

  it("each broken link names the row and says what disagreed", () => {
    const rows = buildChain("a", 5);
    const gap = new ChainVerifier("a");
    gap.push(rows[0]!);
    gap.push(rows[2]!);
    expect(gap.firstBroken).toEqual({ tenant: "a", seq: "3", id: "3", reason: "seq-gap", detail: "expected seq 2, found 3" });

    const prev = new ChainVerifier("a");
    prev.push(rows[0]!);
    prev.push({ ...rows[1]!, prevHash: Buffer.alloc(32, 7) });
    expect(prev.firstBroken).toEqual({
      tenant: "a", seq: "2", id: "2", reason: "prev-hash-mismatch",
      detail: `prev_hash ${"07".repeat(32)} != hash of seq 1 ${hex(rows[0]!.hash)}`,
    });

    const edited = new ChainVerifier("a");
    const bad = { ...rows[0]!, actor: "x" };
    edited.push(bad);
    expect(edited.firstBroken).toEqual({
      tenant: "a", seq: "1", id: "1", reason: "hash-mismatch",
      detail: `stored hash ${hex(rows[0]!.hash)} != recomputed ${hex(chainHash(GENESIS_HASH, bad))}`,
    });

    const anchored = new ChainVerifier("a", new Map([["2", Buffer.alloc(32, 9)]]));
    anchored.push(rows[0]!);
    anchored.push(rows[1]!);
    expect(anchored.firstBroken).toEqual({
      tenant: "a", seq: "2", id: "2", reason: "anchor-mismatch",
      detail: `hash ${hex(rows[1]!.hash)} != exported anchor ${"09".repeat(32)}`,
    });
  });

  it("finish: without a readable head, an intact chain is fine; an anchor at the last row is inside the chain", () => {
    const rows = buildChain("a", 3);
    const v = new ChainVerifier("a", new Map([["3", rows[2]!.hash]]));
    rows.forEach((r) => v.push(r));
    expect(v.finish(null)).toBeNull();
    expect(v.verified).toBe(3);
  });

  it("finish: an anchor beyond the end names the anchor and where the chain ends", () => {
    const rows = buildChain("a", 3);
    const v = new ChainVerifier("a", new Map([["4", Buffer.alloc(32)]]));
    rows.forEach((r) => v.push(r));
    expect(v.finish(null)).toEqual({ tenant: "a", seq: "4", id: null, reason: "anchor-mismatch", detail: "chain ends at seq 3, before exported anchor seq 4" });
  });

  it("finish: a head at the right seq with another hash is a mismatch, as is a head at another seq", () => {
    const rows = buildChain("a", 3);
    const v = new ChainVerifier("a");
    rows.forEach((r) => v.push(r));
    expect(v.finish({ seq: "3", hash: Buffer.alloc(32, 1) })).toEqual({ tenant: "a", seq: "3", id: null, reason: "head-mismatch", detail: "head says seq 3, chain ends at seq 3" });
    const w = new ChainVerifier("a");
    rows.forEach((r) => w.push(r));
    expect(w.finish({ seq: "5", hash: rows[2]!.hash })).toMatchObject({ reason: "head-mismatch", detail: "head says seq 5, chain ends at seq 3" });
  });

  it("finish keeps the first broken link, whatever the head says", () => {
    const rows = buildChain("a", 3);
    const v = new ChainVerifier("a", new Map([["9", Buffer.alloc(32)]]));
    v.push(rows[0]!);
    v.push(rows[2]!);
    expect(v.finish({ seq: "7", hash: Buffer.alloc(32) })).toMatchObject({ seq: "3", reason: "seq-gap" });
  });

  it("refuses a prev hash that is not 32 bytes", () => {
    expect(() => chainHash(Buffer.alloc(31), fields("a", 1))).toThrow("prevHash must be 32 bytes, got 31");
  });
});
