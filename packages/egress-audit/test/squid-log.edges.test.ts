// Edges of the access-log parser (squid-log.ts) beyond squid-log.test.ts's real lines, each one a
// rule a changed line would break (`npm run mutation -- egress-audit/squid-log`): which results
// count as denials, bounds of every field, and where host and port come from when Squid left "-".
import { describe, expect, it } from "vitest";
import { MAX_LINE, decodeField, isDenial, parseAccessLogLine, type AccessLogEntry } from "../src/squid-log";

const line = (f: Record<string, unknown>) => JSON.stringify({ ts: 1764000000.5, client: "10.64.0.37", method: "CONNECT", target: "x.example:443", host: "x.example", port: "443", status: 403, result: "TCP_DENIED", ...f });
const parse = (f: Record<string, unknown>) => parseAccessLogLine(line(f));
const entry = (result: string, status: number): AccessLogEntry => ({ timeMs: 1, client: "", method: "GET", host: "h", port: 80, target: "t", status, result });

describe("isDenial", () => {
  it("refused by the rules, or malformed before any rule; nothing else", () => {
    expect(isDenial(entry("TCP_DENIED", 403))).toBe(true);
    expect(isDenial(entry("TCP_DENIED_REPLY", 200))).toBe(true);
    expect(isDenial(entry("NONE_DENIED", 403))).toBe(true);
    expect(isDenial(entry("NONE_DENIED", 407))).toBe(false);
    expect(isDenial(entry("TCP_MISS", 403))).toBe(false);
    for (const r of ["NONE", "NONE_NONE"]) {
      expect(isDenial(entry(r, 399)), r).toBe(false);
      expect(isDenial(entry(r, 400)), r).toBe(true);
      expect(isDenial(entry(r, 499)), r).toBe(true);
      expect(isDenial(entry(r, 500)), r).toBe(false);
    }
    expect(isDenial(entry("NONE_NONE_X", 400))).toBe(false);
    expect(isDenial(entry("TCP_TUNNEL", 200))).toBe(false);
  });
});

describe("decodeField", () => {
  it("decodes Squid's quoting, keeps text without '%' as it is, and keeps quoted DEL and controls quoted", () => {
    expect(decodeField("%41b%20c")).toBe("Ab c");
    expect(decodeField("plain+text")).toBe("plain+text");
    expect(decodeField("a%7Fb")).toBe("a%7Fb");
    expect(decodeField("a%1Fb")).toBe("a%1Fb");
    expect(decodeField("a%20b")).toBe("a b");
  });
});

describe("parseAccessLogLine fields", () => {
  it("time in milliseconds, rounded; a non-positive or non-numeric time is no line", () => {
    expect(parse({ ts: 1764000000.0005 })?.timeMs).toBe(1764000000001);
    expect(parse({ ts: "1764000000.25" })?.timeMs).toBe(1764000000250);
    expect(parse({ ts: 0 })).toBeUndefined();
    expect(parse({ ts: "soon" })).toBeUndefined();
    expect(parse({ ts: 0.001 })?.timeMs).toBe(1);
  });

  it("status an integer, result upper-case letters and '_' (1-64)", () => {
    expect(parse({ status: 403.5 })).toBeUndefined();
    expect(parse({ result: "tcp_denied" })).toBeUndefined();
    expect(parse({ result: "" })).toBeUndefined();
    expect(parse({ result: 7 })).toBeUndefined();
    expect(parse({ result: "A".repeat(64) })?.result).toBe("A".repeat(64));
    expect(parse({ result: "A".repeat(65) })).toBeUndefined();
    expect(parse({ result: "X TCP_DENIED" })).toBeUndefined();
  });

  it("method: an HTTP token, upper-cased; anything else is (invalid), never dropped", () => {
    expect(parse({ method: "get" })?.method).toBe("GET");
    expect(parse({ method: "M".repeat(32) })?.method).toBe("M".repeat(32));
    expect(parse({ method: "M".repeat(33) })?.method).toBe("(invalid)");
    expect(parse({ method: "" })?.method).toBe("(invalid)");
    expect(parse({ method: "GET X" })?.method).toBe("(invalid)");
    expect(parse({ method: 5 })?.method).toBe("(invalid)");
  });

  it("client: address characters only, at most 45", () => {
    expect(parse({ client: "10.0.0.1\"<x>" })?.client).toBe("10.0.0.1");
    expect(parse({ client: "f".repeat(50) })?.client).toBe("f".repeat(45));
    expect(parse({ client: 7 })?.client).toBe("");
  });

  it("host and port: ports 1-65535 only; a missing port comes from the target; a missing host from the target", () => {
    expect(parse({ port: "1" })?.port).toBe(1);
    expect(parse({ port: "65535" })?.port).toBe(65535);
    expect(parse({ port: "65536", target: "x.example" })?.port).toBe(0);
    expect(parse({ port: "443.5", target: "x.example" })?.port).toBe(0);
    expect(parse({ port: "-5", target: "x.example" })?.port).toBe(0);
    // the host named, the port not: the target's port
    expect(parse({ port: "-", target: "x.example:8443" })).toMatchObject({ host: "x.example", port: 8443 });
    // the port named, the host not: the host from the target, the named port kept
    expect(parse({ host: "-", port: "444", target: "y.example:8443" })).toMatchObject({ host: "y.example", port: 444 });
    expect(parse({ host: "", port: "-", target: "Y.Example:8443" })).toMatchObject({ host: "y.example", port: 8443 });
    expect(parse({ host: "X.Example" })?.host).toBe("x.example");
  });

  it("host and port from a URL target: the scheme's port when none is written, brackets kept", () => {
    expect(parse({ host: "-", port: "-", target: "https://a.example/x" })).toMatchObject({ host: "a.example", port: 443 });
    expect(parse({ host: "-", port: "-", target: "HTTPS://a.example/x" })).toMatchObject({ host: "a.example", port: 443 });
    expect(parse({ host: "-", port: "-", target: "http://a.example/x" })).toMatchObject({ host: "a.example", port: 80 });
    expect(parse({ host: "-", port: "-", target: "ftp://a.example/x" })).toMatchObject({ host: "a.example", port: 80 });
    expect(parse({ host: "-", port: "-", target: "http://A.example:8080/x" })).toMatchObject({ host: "a.example", port: 8080 });
    expect(parse({ host: "-", port: "-", target: "http://[2001:db8::3]:81/" })).toMatchObject({ host: "[2001:db8::3]", port: 81 });
    expect(parse({ host: "-", port: "-", target: "[2001:db8::4]:82" })).toMatchObject({ host: "[2001:db8::4]", port: 82 });
    expect(parse({ host: "-", port: "-", target: "no-port-here" })).toMatchObject({ host: "", port: 0 });
    // a URL only at the start of the target
    expect(parse({ host: "-", port: "-", target: "junk http://a.example/x" })).toMatchObject({ host: "", port: 0 });
    expect(parse({ host: "-", port: "-", target: "x.example:123456" })).toMatchObject({ host: "", port: 0 });
  });

  it("what is no line: not an object, not starting with '{', longer than MAX_LINE", () => {
    expect(parseAccessLogLine("[1,2]")).toBeUndefined();
    expect(parseAccessLogLine(" {}")).toBeUndefined();
    expect(parseAccessLogLine(` ${line({})}`)).toBeUndefined();
    expect(parse({ result: ["TCP_DENIED"] })).toBeUndefined();
    // a field of another type reads as empty
    expect(parse({ target: 5 })?.target).toBe("");
    expect(parseAccessLogLine("{}")).toBeUndefined();
    const pad = (n: number) => line({ target: "t".repeat(n) });
    const base = pad(0).length;
    expect(parseAccessLogLine(pad(MAX_LINE - base))).toBeDefined();
    expect(parseAccessLogLine(pad(MAX_LINE - base + 1))).toBeUndefined();
  });

  it("a legacy (unquoted) line is read raw: its fields are not percent-decoded", () => {
    const legacy = '{"ts":1796032419.5,"client":"10.250.13.2","method":"CONNECT","target":"a%41"b.example:443","host":"a%41"b.example","port":"443","status":403,"result":"TCP_DENIED"}';
    expect(parseAccessLogLine(legacy)).toMatchObject({ host: 'a%41"b.example', target: 'a%41"b.example:443', port: 443, status: 403 });
    // a legacy-looking line with trailing text is no line
    expect(parseAccessLogLine(`${legacy} x`)).toBeUndefined();
    expect(parseAccessLogLine(`{x${legacy}`)).toBeUndefined();
  });
});
