import { describe, expect, it } from "vitest";
import { decodeField, isDenial, parseAccessLogLine } from "../src/squid-log";

// Exactly what `logformat octw` (@octw/pulumi squid-config.ts) produces for a refused CONNECT.
const denied = '{"ts":1764000000.123,"client":"10.64.0.37","method":"CONNECT","target":"evil.example.com:443","host":"evil.example.com","port":"443","status":403,"result":"TCP_DENIED"}';

// Lines the egress image's Squid 5.7 wrote for these requests (captured with the URL-quoted
// logformat, `%#rm`/`%#ru`/`%#>rd`), and what each must parse to.
const REAL: [string, { host: string; port: number; target: string; method: string; denial: boolean }][] = [
  ['{"ts":1796032451.147,"client":"10.250.13.2","method":"CONNECT","target":"ex%C3%A4mple.com:443","host":"ex%C3%A4mple.com","port":"443","status":403,"result":"TCP_DENIED"}', { host: "exämple.com", port: 443, target: "exämple.com:443", method: "CONNECT", denial: true }],
  ['{"ts":1796032451.149,"client":"10.250.13.2","method":"CONNECT","target":"quo%22te.example.com:443","host":"quo%22te.example.com","port":"443","status":403,"result":"TCP_DENIED"}', { host: 'quo"te.example.com', port: 443, target: 'quo"te.example.com:443', method: "CONNECT", denial: true }],
  ['{"ts":1796032451.151,"client":"10.250.13.2","method":"CONNECT","target":"back%5Cslash.example.com:443","host":"back%5Cslash.example.com","port":"443","status":403,"result":"TCP_DENIED"}', { host: "back\\slash.example.com", port: 443, target: "back\\slash.example.com:443", method: "CONNECT", denial: true }],
  ['{"ts":1796032451.154,"client":"10.250.13.2","method":"CONNECT","target":"%5B2001:db8::1%5D:8443","host":"%5B2001:db8::1%5D","port":"8443","status":403,"result":"TCP_DENIED"}', { host: "[2001:db8::1]", port: 8443, target: "[2001:db8::1]:8443", method: "CONNECT", denial: true }],
  ['{"ts":1796032451.155,"client":"10.250.13.2","method":"CONNECT","target":"per%25cent.example.com:443","host":"per%25cent.example.com","port":"443","status":403,"result":"TCP_DENIED"}', { host: "per%cent.example.com", port: 443, target: "per%cent.example.com:443", method: "CONNECT", denial: true }],
  ['{"ts":1796032451.154,"client":"10.250.13.2","method":"CONNECT","target":"error:invalid-request","host":"-","port":"-","status":400,"result":"NONE_NONE"}', { host: "", port: 0, target: "error:invalid-request", method: "CONNECT", denial: true }],
  // Before the quoting: raw fields (a quote or backslash broke the JSON); the fallback reads them.
  ['{"ts":1796032419.559,"client":"10.250.13.2","method":"CONNECT","target":"quo"te.example.com:443","host":"quo"te.example.com","port":"443","status":403,"result":"TCP_DENIED"}', { host: 'quo"te.example.com', port: 443, target: 'quo"te.example.com:443', method: "CONNECT", denial: true }],
  ['{"ts":1796032419.560,"client":"10.250.13.2","method":"CONNECT","target":"back\\slash.example.com:443","host":"back\\slash.example.com","port":"443","status":403,"result":"TCP_DENIED"}', { host: "back\\slash.example.com", port: 443, target: "back\\slash.example.com:443", method: "CONNECT", denial: true }],
  ['{"ts":1796032419.547,"client":"10.250.13.2","method":"CONNECT","target":"::1:443","host":"-","port":"-","status":400,"result":"NONE_NONE"}', { host: "::1", port: 443, target: "::1:443", method: "CONNECT", denial: true }],
  ['{"ts":1796032419.549,"client":"10.250.13.2","method":"CONNECT","target":"odd.example.com:0","host":"-","port":"-","status":400,"result":"NONE_NONE"}', { host: "odd.example.com", port: 0, target: "odd.example.com:0", method: "CONNECT", denial: true }],
  ['{"ts":1796032419.552,"client":"10.250.13.2","method":"CONNECT","target":"odd.example.com:99999","host":"-","port":"-","status":400,"result":"NONE_NONE"}', { host: "odd.example.com", port: 0, target: "odd.example.com:99999", method: "CONNECT", denial: true }],
  ['{"ts":1796032419.554,"client":"10.250.13.2","method":"GET","target":"http://plain.example.com/path?","host":"plain.example.com","port":"80","status":403,"result":"TCP_DENIED"}', { host: "plain.example.com", port: 80, target: "http://plain.example.com/path?", method: "GET", denial: true }],
  ['{"ts":1796032419.557,"client":"10.250.13.2","method":"POST","target":"http://[2001:db8::2]:81/x","host":"[2001:db8::2]","port":"81","status":403,"result":"TCP_DENIED"}', { host: "[2001:db8::2]", port: 81, target: "http://[2001:db8::2]:81/x", method: "POST", denial: true }],
  ['{"ts":1796032419.569,"client":"10.250.13.2","method":"GET","target":"/relative","host":"-","port":"-","status":400,"result":"NONE_NONE"}', { host: "", port: 0, target: "/relative", method: "GET", denial: true }],
];

describe("squid access log lines", () => {
  it("parses a refused CONNECT", () => {
    const e = parseAccessLogLine(denied)!;
    expect(e).toEqual({ timeMs: 1764000000123, client: "10.64.0.37", method: "CONNECT", host: "evil.example.com", port: 443, target: "evil.example.com:443", status: 403, result: "TCP_DENIED" });
    expect(isDenial(e)).toBe(true);
  });

  it.each(REAL)("real Squid line %#: parsed to its real destination, counted as a denial", (line, want) => {
    const e = parseAccessLogLine(line);
    expect(e).toMatchObject({ host: want.host, port: want.port, target: want.target, method: want.method });
    expect(isDenial(e!)).toBe(want.denial);
  });

  it("an allowed tunnel is not a denial", () => {
    const e = parseAccessLogLine(denied.replace("403", "200").replace("TCP_DENIED", "TCP_TUNNEL"))!;
    expect(isDenial(e)).toBe(false);
  });

  it("falls back to target when host/port are '-'", () => {
    const e = parseAccessLogLine('{"ts":1.5,"client":"10.64.0.37","method":"CONNECT","target":"Api.Example.com:8443","host":"-","port":"-","status":403,"result":"TCP_DENIED"}')!;
    expect([e.host, e.port]).toEqual(["api.example.com", 8443]);
  });

  it("a denial with hostile fields is still a denial, with bounded fields (a name never gets it dropped)", () => {
    const a = parseAccessLogLine('{"ts":1,"method":"CONNECT","host":"a b","port":"443","status":403,"result":"TCP_DENIED"}')!;
    expect([a.host, a.port]).toEqual(["a b", 443]);
    const b = parseAccessLogLine('{"ts":1,"method":"CONNECT","host":"x.com","port":"99999","status":403,"result":"TCP_DENIED"}')!;
    expect([b.host, b.port]).toEqual(["x.com", 0]);
    const c = parseAccessLogLine('{"ts":1,"method":"CONNECT\\nFAKE","host":"x.com","port":"443","status":403,"result":"TCP_DENIED"}')!;
    expect(c.method).toBe("(invalid)");
    for (const e of [a, b, c]) expect(isDenial(e)).toBe(true);
    // A quoted control character stays quoted (it would otherwise reach the audit trail raw).
    expect(decodeField("a%00b%0Ac")).toBe("a%00b%0Ac");
    expect(decodeField("%E0%A4%A")).toBe("%E0%A4%A");
  });

  it("ignores what is no access-log line", () => {
    for (const l of [
      "2026/11/25 10:00:00| Starting Squid Cache",
      "{not json",
      '{"ts":-1,"method":"CONNECT","host":"x.com","port":"443","status":403,"result":"TCP_DENIED"}',
      '{"ts":1,"method":"CONNECT","host":"x.com","port":"443","status":"x","result":"TCP_DENIED"}',
      `{"ts":1,"target":"${"a".repeat(70_000)}","status":403,"result":"TCP_DENIED"}`,
    ]) expect(parseAccessLogLine(l)).toBeUndefined();
  });
});
