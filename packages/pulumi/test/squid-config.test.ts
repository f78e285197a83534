import { describe, expect, it } from "vitest";
import { SQUID_PORT, renderSquidConfig, type EgressRule } from "../src/index.js";

// What the rendered squid.conf tells Squid beyond the access rules (squid-acl.test.ts evaluates
// those): how the proxy presents itself, where it may write in its read-only container, and the
// access-log line @octw/egress-audit reads. Each directive is looked up by name and its value
// checked, so a directive that went missing or changed meaning fails here.

const rules: EgressRule[] = [
  { policy: "gh", host: "api.github.com", ports: [443], allowedIps: [] },
  { policy: "fake", host: "outside.octw.test", ports: [443, 8443], allowedIps: ["198.18.80.80", "2001:db8::1"] },
];
const config = renderSquidConfig({ tenantId: "alpha", rules });
const lines = config.split("\n");

/** Values of a directive (the rest of each line starting with it). */
function directive(name: string): string[] {
  return lines.filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1));
}

describe("squid.conf: how the proxy presents itself", () => {
  it("adds nothing that names the tenant's client or the proxy to the destination", () => {
    expect(directive("via")).toEqual(["off"]);
    expect(directive("forwarded_for")).toEqual(["delete"]);
    expect(directive("httpd_suppress_version_string")).toEqual(["on"]);
    expect(directive("visible_hostname")).toEqual(["octw-egress-alpha"]);
  });
  it("listens on the proxy port and caches nothing", () => {
    expect(directive("http_port")).toEqual([String(SQUID_PORT)]);
    expect(SQUID_PORT).toBe(3128);
    expect(directive("cache")).toEqual(["deny all"]);
    expect(directive("cache_mem")).toEqual(["0 MB"]);
  });
  it("fits a read-only container without CAP_NET_RAW: pid under /run/squid, cores to /tmp, no pinger, quick stop", () => {
    expect(directive("pid_filename")).toEqual(["/run/squid/squid.pid"]);
    expect(directive("coredump_dir")).toEqual(["/tmp"]);
    expect(directive("pinger_enable")).toEqual(["off"]);
    expect(directive("shutdown_lifetime")).toEqual(["2 seconds"]);
  });
  it("logs to stdio, unrotated: access log in the octw format on stdout, cache log on stderr", () => {
    expect(directive("access_log")).toEqual(["stdio:/dev/stdout octw"]);
    expect(directive("cache_log")).toEqual(["stdio:/dev/stderr"]);
    expect(directive("logfile_rotate")).toEqual(["0"]);
  });
  it("the octw log line is one JSON object with the fields egress-audit reads, tenant-chosen fields URL-quoted", () => {
    const [format] = directive("logformat");
    expect(format!.startsWith("octw ")).toBe(true);
    const template = format!.slice("octw ".length);
    // Squid's codes for what the tenant chooses must be the URL-quoting (%#) forms.
    for (const code of ["%#rm", "%#ru", "%#>rd"]) expect(template).toContain(code);
    const sample: Record<string, string> = {
      "%ts.%03tu": "1764000000.123", "%>a": "10.64.0.37", "%#rm": "CONNECT", "%#ru": "example.com:443",
      "%#>rd": "example.com", "%>rP": "443", "%>Hs": "403", "%Ss": "TCP_DENIED",
    };
    let line = template;
    for (const [code, value] of Object.entries(sample)) line = line.split(code).join(value);
    expect(JSON.parse(line)).toEqual({
      ts: 1764000000.123, client: "10.64.0.37", method: "CONNECT", target: "example.com:443", host: "example.com", port: "443", status: 403, result: "TCP_DENIED",
    });
  });
});

describe("squid.conf: the endpoint blocks", () => {
  it("each block starts with a comment naming its policy, host, ports and allowed_ips", () => {
    expect(lines).toContain("# gh: api.github.com:443");
    expect(lines).toContain("# fake: outside.octw.test:443,8443 via 198.18.80.80,2001:db8::1");
  });
  it("a long complement is split over acl lines of at most 16 values, none empty, nothing lost", () => {
    const outside = lines.filter((l) => l.startsWith("acl ep1_outside dst"));
    const values = outside.map((l) => l.split(" ").slice(3));
    expect(values.every((v) => v.length >= 1 && v.length <= 16)).toBe(true);
    // The complement of one v4 /32 is 32 networks and of one v6 /128 is 128: 160 = 10 full lines.
    expect(values.flat()).toHaveLength(160);
    expect(outside).toHaveLength(10);
    expect(new Set(values.flat()).size).toBe(160);
  });
  it("a wildcard's regex escapes the dots and hyphens of the name it is built from", () => {
    const c = renderSquidConfig({ tenantId: "t", rules: [{ policy: "w", host: "*.my-api.example", ports: [443], allowedIps: [] }] });
    const acl = c.split("\n").find((l) => l.startsWith("acl ep0_host"))!;
    const source = acl.split(" ").at(-1)!;
    expect(source).toBe("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.my\\-api\\.example$");
    const re = new RegExp(source, "i");
    expect(re.test("v1.my-api.example")).toBe(true);
    expect(re.test("v1.my-apixexample")).toBe(false);
    expect(re.test("v1xmy-api.example")).toBe(false);
    expect(re.test("v1..my-api.example")).toBe(false);
  });
  it("ends by denying all, after the last endpoint", () => {
    expect(lines.filter((l) => l.startsWith("http_access")).at(-1)).toBe("http_access deny all");
    expect(config.endsWith("http_access deny all\n")).toBe(true);
  });
});

describe("squid.conf: every line is one Squid reads", () => {
  const KNOWN = new Set([
    "http_port", "pid_filename", "cache", "cache_mem", "coredump_dir", "shutdown_lifetime", "pinger_enable", "via", "forwarded_for",
    "httpd_suppress_version_string", "visible_hostname", "logformat", "access_log", "cache_log", "logfile_rotate", "acl", "http_access",
  ]);
  it("each line is blank, a comment, or a known directive (an unknown word stops Squid at startup)", () => {
    for (const c of [config, renderSquidConfig({ tenantId: "x", rules: [] })]) {
      for (const line of c.split("\n")) {
        if (line === "" || line.startsWith("# ")) continue;
        expect(KNOWN.has(line.split(" ")[0]!), JSON.stringify(line)).toBe(true);
      }
    }
  });
});
