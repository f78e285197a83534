/**
 * Sets of IP addresses as CIDR lists, for both families: parse, merge, and complement (all
 * addresses of a family except the given ones). The Squid planner needs the complement of an
 * endpoint's `allowed_ips`: Squid's `dst` ACL matches when ANY resolved address matches, so
 * "every address is allowed" is only expressible as "no address is outside the allowed set".
 */
import { isIP } from "node:net";

export type Family = 4 | 6;

interface Range {
  readonly start: bigint;
  readonly end: bigint;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

function v4ToBig(text: string): bigint {
  return text.split(".").reduce((acc, o) => (acc << 8n) + BigInt(Number(o)), 0n);
}

function v6ToBig(text: string): bigint {
  let t = text.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4) {
    const n = v4ToBig(v4[1]!);
    t = `${t.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = t.split("::") as [string, string | undefined];
  const h = head === "" ? [] : head.split(":");
  const tl = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - tl.length).fill("0"), ...tl];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n);
}

function formatBig(value: bigint, family: Family): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 255n).toString()).join(".");
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
  // RFC 5952: the longest run (>= 2) of zero groups becomes "::".
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.len < 2) return groups.join(":");
  return `${groups.slice(0, best.at).join(":")}::${groups.slice(best.at + best.len).join(":")}`;
}

/** Family and address range of an IP or CIDR (already validated by host-rules' ipOrCidrProblem). */
export function parseCidrRange(text: string): { family: Family; range: Range } {
  const [addr, len] = text.split("/") as [string, string | undefined];
  const family = isIP(addr) as Family;
  if (family !== 4 && family !== 6) throw new RangeError("not an IP address or CIDR");
  const bits = BITS[family];
  const prefix = len === undefined ? bits : Number(len);
  const value = family === 4 ? v4ToBig(addr) : v6ToBig(addr);
  const host = (1n << BigInt(bits - prefix)) - 1n;
  const start = value & ~host & ((1n << BigInt(bits)) - 1n);
  return { family, range: { start, end: start | host } };
}

/** The largest CIDR blocks that exactly cover [start, end]. */
function rangeToCidrs(r: Range, family: Family): string[] {
  const bits = BITS[family];
  const out: string[] = [];
  let start = r.start;
  while (start <= r.end) {
    let size = 0;
    // Grow the block while it stays aligned at `start` and inside the range.
    while (size < bits && (start & ((1n << BigInt(size + 1)) - 1n)) === 0n && start + (1n << BigInt(size + 1)) - 1n <= r.end) size++;
    out.push(`${formatBig(start, family)}/${bits - size}`);
    start += 1n << BigInt(size);
  }
  return out;
}

/** Every address of `family` outside the given CIDRs of that family, as a minimal CIDR list. */
export function complementCidrs(cidrs: readonly string[], family: Family): string[] {
  const ranges = cidrs
    .map(parseCidrRange)
    .filter((c) => c.family === family)
    .map((c) => c.range)
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const max = (1n << BigInt(BITS[family])) - 1n;
  const out: string[] = [];
  let next = 0n;
  for (const r of ranges) {
    if (r.start > next) out.push(...rangeToCidrs({ start: next, end: r.start - 1n }, family));
    if (r.end + 1n > next) next = r.end + 1n;
  }
  if (next <= max) out.push(...rangeToCidrs({ start: next, end: max }, family));
  return out;
}

/** Whether `ip` lies inside `cidr` (same family). */
export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidrRange(cidr);
  const a = parseCidrRange(ip);
  return c.family === a.family && a.range.start >= c.range.start && a.range.end <= c.range.end;
}
