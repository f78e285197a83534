// The suite's own DNS server, bound to OCTW_TEST_DNS_ADDR — the address the engine forwards
// container lookups to (`dockerd --dns`). It answers the suite's names (A records from a map;
// a name may have several, in the order given, as a name pointing at two hosts would),
// says NXDOMAIN to everything else, and records every query, so a probe can show whether a
// lookup from a tenant container left the host's engine at all. It never forwards anything.
import dgram from "node:dgram";

export interface DnsQuery {
  name: string;
  type: number;
  from: string;
  at: number;
}

export interface FakeDns {
  queries: DnsQuery[];
  /** lowercase name → its IPv4 addresses (one A record each, in this order) */
  records: Map<string, readonly string[]>;
  seen(fragment: string): DnsQuery[];
  close(): Promise<void>;
}

function parseQuestion(msg: Buffer): { name: string; type: number; end: number } | undefined {
  let i = 12;
  const labels: string[] = [];
  while (i < msg.length) {
    const len = msg[i]!;
    if (len === 0) {
      i += 1;
      break;
    }
    if (len > 63) return undefined; // no compression in questions
    labels.push(msg.subarray(i + 1, i + 1 + len).toString("ascii"));
    i += 1 + len;
  }
  if (i + 4 > msg.length) return undefined;
  return { name: labels.join(".").toLowerCase(), type: msg.readUInt16BE(i), end: i + 4 };
}

function answer(msg: Buffer, q: { type: number; end: number }, ips: readonly string[] | undefined): Buffer {
  const known = ips !== undefined;
  const header = Buffer.alloc(12);
  msg.copy(header, 0, 0, 2); // id
  const rd = msg[2]! & 0x01;
  header[2] = 0x80 | 0x04 | rd; // QR, AA, RD as asked
  header[3] = 0x80 | (known ? 0 : 3); // RA; NXDOMAIN for names we do not serve
  header.writeUInt16BE(1, 4);
  // AAAA and other types: the name exists but has no such record (NOERROR, no answer)
  const answers = known && q.type === 1 ? ips : [];
  header.writeUInt16BE(answers.length, 6);
  const question = msg.subarray(12, q.end);
  const rrs = answers.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(1, 2); // A
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(5, 6); // TTL
    rr.writeUInt16BE(4, 10);
    ip.split(".").forEach((o, k) => (rr[12 + k] = Number(o)));
    return rr;
  });
  return Buffer.concat([header, question, ...rrs]);
}

export async function startFakeDns(address: string, records: Record<string, string | readonly string[]>): Promise<FakeDns> {
  let sock: dgram.Socket | undefined;
  const state: FakeDns = {
    queries: [],
    records: new Map(Object.entries(records).map(([k, v]) => [k.toLowerCase(), typeof v === "string" ? [v] : v])),
    seen: (fragment) => state.queries.filter((q) => q.name.includes(fragment.toLowerCase())),
    close: () => new Promise<void>((r) => (sock ? sock.close(() => r()) : r())),
  };
  const onMessage = (s: dgram.Socket) => (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    const q = parseQuestion(msg);
    if (!q) return;
    state.queries.push({ name: q.name, type: q.type, from: rinfo.address, at: Date.now() });
    s.send(answer(msg, q, state.records.get(q.name)), rinfo.port, rinfo.address);
  };
  // The address is fixed (it is the engine's --dns), so only one suite can hold it: wait a
  // while for another run (or scripts/test-env.sh's own DNS check) to let go, then fail clearly.
  const deadline = Date.now() + 90_000;
  for (;;) {
    const s = dgram.createSocket("udp4");
    try {
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.bind(53, address, () => {
          s.off("error", reject);
          resolve();
        });
      });
      s.on("message", onMessage(s));
      sock = s;
      return state;
    } catch (e) {
      s.close();
      if ((e as { code?: string }).code !== "EADDRINUSE" || Date.now() > deadline) {
        throw new Error(`cannot bind the suite's DNS server to ${address}:53 (${String(e)}); another conformance run or scripts/test-env.sh's DNS check holds it`);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}
