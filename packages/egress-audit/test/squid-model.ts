// A model of what the egress image's Squid 5.7 logs (`logformat octw`, URL-quoted fields) for a
// request a tenant's agent sends, built from lines the real proxy wrote (see squid-log.test.ts,
// REAL) and used to generate log lines in property tests:
//  - CONNECT host:port with a valid port → 403 TCP_DENIED; host lowercased and cut to 255
//    characters (Squid's host buffer), target `host:port`, IPv6 literals keep their brackets;
//  - CONNECT with port 0 or > 65535, or an unbracketed IPv6 literal → 400 NONE_NONE, host and
//    port "-", target the request's own `host:port`;
//  - any other method with an absolute URL → 403 TCP_DENIED, target the URL (query cut to "?").
import fc from "fast-check";

export interface ModelRequest {
  method: string;
  host: string;
  port: number;
  /** An IPv6 literal written without brackets (Squid refuses it as malformed). */
  bareIpv6?: boolean;
}

/** Squid's `%#` quoting (rfc1738 "unsafe" set, plus every non-ASCII and control byte). */
export function squidQuote(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    out += byte < 0x21 || byte > 0x7e || '"#%<>{}|\\^~[]`'.includes(c) ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}` : c;
  }
  return out;
}

const SQUID_HOST_MAX = 255;

/** The log line Squid writes for `r` at `tsMs`, and the destination the audit event must name. */
export function squidLogLine(r: ModelRequest, tsMs: number): { line: string; destination: string; method: string } {
  const ts = (tsMs / 1000).toFixed(3);
  const host = r.host.toLowerCase().slice(0, SQUID_HOST_MAX);
  const line = (f: { method: string; target: string; host: string; port: string; status: number; result: string }) =>
    `{"ts":${ts},"client":"10.64.0.37","method":"${squidQuote(f.method)}","target":"${squidQuote(f.target)}","host":"${f.host === "-" ? "-" : squidQuote(f.host)}","port":"${f.port}","status":${f.status},"result":"${f.result}"}`;
  const validPort = r.port >= 1 && r.port <= 65_535;
  if (r.method === "CONNECT") {
    if (!validPort || r.bareIpv6) {
      const target = `${r.host}:${r.port}`;
      return { line: line({ method: r.method, target, host: "-", port: "-", status: 400, result: "NONE_NONE" }), destination: r.bareIpv6 && validPort ? `[${r.host.toLowerCase()}]:${r.port}` : target, method: r.method };
    }
    return { line: line({ method: r.method, target: `${host}:${r.port}`, host, port: String(r.port), status: 403, result: "TCP_DENIED" }), destination: `${host}:${r.port}`, method: r.method };
  }
  // A URL needs its IPv6 literal in brackets; an invalid port is left out (the scheme's default).
  const urlHost = r.bareIpv6 ? `[${host}]` : host;
  const port = validPort ? r.port : 80;
  const target = `http://${urlHost}${port === 80 ? "" : `:${port}`}/p?`;
  return { line: line({ method: r.method, target, host: urlHost, port: String(port), status: 403, result: "TCP_DENIED" }), destination: `${urlHost}:${port}`, method: r.method };
}

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
const longLabel = fc.stringMatching(/^[a-z]{50,63}$/);

/** Hosts a hostile agent may ask for. */
export const hostArb: fc.Arbitrary<{ host: string; bareIpv6?: boolean }> = fc.oneof(
  fc.array(label, { minLength: 2, maxLength: 4 }).map((l) => ({ host: l.join(".") })),
  // Long: up to 5 labels of 50-63 characters, past Squid's 255-character host buffer.
  fc.tuple(fc.array(longLabel, { minLength: 3, maxLength: 5 }), fc.constantFrom("example.com", "example.org")).map(([l, t]) => ({ host: `${l.join(".")}.${t}` })),
  fc.tuple(fc.constantFrom("ex\u00e4mple", "b\u00fccher", "\u4f8b\u3048", "\u043f\u0440\u0438\u043c\u0435\u0440", "caf\u00e9"), label).map(([u, t]) => ({ host: `${u}.${t}` })),
  fc.tuple(fc.constantFrom("xn--exmple-cua", "xn--bcher-kva", "xn--r8jz45g"), label).map(([p, t]) => ({ host: `${p}.${t}` })),
  fc.ipV6().map((a) => ({ host: `[${a}]` })),
  fc.ipV6().map((a) => ({ host: a, bareIpv6: true })),
  fc.ipV4().map((a) => ({ host: a })),
  fc.tuple(fc.constantFrom('quo"te', "back\\slash", "per%cent", "a{b}", "under_score", "Upper"), label).map(([w, t]) => ({ host: `${w}.${t}.example` })),
);

export const portArb = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 65_535 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 65_536, 99_999, 443, 8443) });
export const methodArb = fc.oneof({ weight: 5, arbitrary: fc.constant("CONNECT") }, { weight: 2, arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "FOO") });

export const requestArb: fc.Arbitrary<ModelRequest> = fc.record({ h: hostArb, port: portArb, method: methodArb }).map(({ h, port, method }) => ({ method, port, ...h }));
