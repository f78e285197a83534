import { describe, expect, it } from "vitest";
import { isDenial, parseAccessLogLine } from "../src/squid-log";

// Exactly what `logformat octw` (@octw/pulumi squid-config.ts) produces for a refused CONNECT.
const denied = '{"ts":1764000000.123,"client":"10.64.0.37","method":"CONNECT","target":"evil.example.com:443","host":"evil.example.com","port":"443","status":403,"result":"TCP_DENIED"}';

describe("squid access log lines", () => {
  it("parses a refused CONNECT", () => {
    const e = parseAccessLogLine(denied)!;
    expect(e).toEqual({ timeMs: 1764000000123, client: "10.64.0.37", method: "CONNECT", host: "evil.example.com", port: 443, status: 403, result: "TCP_DENIED" });
    expect(isDenial(e)).toBe(true);
  });
  it("an allowed tunnel is not a denial", () => {
    const e = parseAccessLogLine(denied.replace("403", "200").replace("TCP_DENIED", "TCP_TUNNEL"))!;
    expect(isDenial(e)).toBe(false);
  });
  it("falls back to target when host/port are '-'", () => {
    const e = parseAccessLogLine('{"ts":1.5,"client":"10.64.0.37","method":"CONNECT","target":"Api.Example.com:8443","host":"-","port":"-","status":403,"result":"TCP_DENIED"}')!;
    expect([e.host, e.port]).toEqual(["api.example.com", 8443]);
  });
  it("ignores cache.log noise, broken JSON and hostile fields", () => {
    for (const l of [
      "2026/11/25 10:00:00| Starting Squid Cache",
      "{not json",
      '{"ts":1,"method":"CONNECT","host":"a b","port":"443","status":403,"result":"TCP_DENIED"}',
      '{"ts":1,"method":"CONNECT","host":"x.com","port":"99999","status":403,"result":"TCP_DENIED"}',
      '{"ts":1,"method":"CONNECT\\nFAKE","host":"x.com","port":"443","status":403,"result":"TCP_DENIED"}',
      '{"ts":-1,"method":"CONNECT","host":"x.com","port":"443","status":403,"result":"TCP_DENIED"}',
    ]) expect(parseAccessLogLine(l)).toBeUndefined();
  });
});
