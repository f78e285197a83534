/**
 * L7 rules in the tenant's egress proxy: CONNECTs to endpoints with REST rules are intercepted
 * (ssl_bump), every other tunnel stays blind (splice), and each request inside an intercepted
 * tunnel — or sent as plain HTTP — passes only when its path is canonical, no deny rule matches and
 * an allow rule does. Checked with a small evaluator of the Squid subset the planner emits, from a
 * policy as a user writes it (OpenShell format) through @octw/contracts to squid.conf.
 */
import fc from "fast-check";
import { isIP } from "node:net";
import { describe, expect, it } from "vitest";
import { mergePolicyDocuments, parsePolicyDocument, planEnforcement, renderSquidConfig, type EgressRule } from "../src/index.js";
import { cidrContains } from "../src/planners/ip-ranges.js";

interface Request {
  method: string;
  host: string;
  port: number;
  /** urlpath as Squid's urlpath_regex sees it: path and query. Absent for CONNECT. */
  path?: string;
  addresses: string[];
}

function parse(config: string) {
  const acls = new Map<string, { type: string; values: string[] }>();
  const access: { action: string; terms: string[] }[] = [];
  const bump: { action: string; terms: string[] }[] = [];
  for (const raw of config.split("\n")) {
    const line = raw.trim();
    const [directive, ...rest] = line.split(/\s+/);
    if (directive === "acl") {
      const [name, type, ...values] = rest;
      const acl = acls.get(name!) ?? { type: type!, values: [] };
      expect(acl.type).toBe(type);
      acl.values.push(...values.filter((v) => v !== "-n" && v !== "-i"));
      acls.set(name!, acl);
    } else if (directive === "http_access") access.push({ action: rest[0]!, terms: rest.slice(1) });
    else if (directive === "ssl_bump") bump.push({ action: rest[0]!, terms: rest.slice(1) });
  }
  return { acls, access, bump };
}

/** Squid's first-match evaluation of http_access (and of ssl_bump for a CONNECT). */
function squid(config: string, req: Request): { access: "allow" | "deny"; bump?: string } {
  const { acls, access, bump } = parse(config);
  const matches = (type: string, values: string[]): boolean => {
    switch (type) {
      case "method":
        return values.includes(req.method);
      case "dstdomain":
        return isIP(req.host) === 0 && values.includes(req.host);
      case "dstdom_regex":
        return isIP(req.host) === 0 && values.some((v) => new RegExp(v, "i").test(req.host));
      case "port":
        return values.map(Number).includes(req.port);
      case "dst":
        return req.addresses.some((a) => values.some((c) => cidrContains(c, a)));
      case "urlpath_regex":
        return req.path !== undefined && values.some((v) => new RegExp(v).test(req.path!));
      default:
        throw new Error(`evaluator does not know acl type ${type}`);
    }
  };
  const first = (rules: { action: string; terms: string[] }[]) =>
    rules.find((r) =>
      r.terms.every((t) => {
        if (t === "all") return true;
        const neg = t.startsWith("!");
        const acl = acls.get(neg ? t.slice(1) : t);
        if (!acl) throw new Error(`undefined acl ${t}`);
        return matches(acl.type, acl.values) !== neg;
      }),
    )?.action;
  const decision = first(access) === "allow" ? "allow" : "deny";
  return req.method === "CONNECT" ? { access: decision, bump: first(bump) ?? "splice" } : { access: decision };
}

const TLS = { caCertFile: "/run/octw-ca/ca.pem", caKeyFile: "/run/octw-ca/ca.key", certDbDir: "/var/spool/squid/ssl_db" };
const PUBLIC = ["93.184.216.34"];

function configFor(policy: string): { config: string; rules: readonly EgressRule[] } {
  const doc = parsePolicyDocument(policy, "t");
  const base = parsePolicyDocument({ version: 1, filesystem_policy: { read_write: ["/tmp"] } }, "base");
  const plan = planEnforcement(mergePolicyDocuments([base, doc], "t"), [], "t", "policy", { l7Rest: true });
  return { config: renderSquidConfig({ tenantId: "t", rules: plan.egress, tlsInterception: TLS }), rules: plan.egress };
}

const POLICY = `
version: 1
network_policies:
  code:
    endpoints:
      - host: api.code.example
        port: 443
        protocol: rest
        enforcement: enforce
        rules:
          - allow: { method: GET, path: "/repos/**" }
        deny_rules:
          - { method: GET, path: "/repos/*/secrets/**" }
  docs:
    endpoints:
      - { host: docs.example.org, ports: [80, 443], protocol: rest, access: read-only }
  tunnel:
    endpoints:
      - { host: files.example.net, port: 443 }
`;

describe("squid.conf with L7 rules", () => {
  const { config } = configFor(POLICY);
  const get = (host: string, path: string, method = "GET", port = 443) => squid(config, { method, host, port, path, addresses: PUBLIC }).access;

  it("intercepts the L7 endpoints' tunnels and only those; the tunnel endpoint stays blind", () => {
    expect(squid(config, { method: "CONNECT", host: "api.code.example", port: 443, addresses: PUBLIC })).toEqual({ access: "allow", bump: "bump" });
    expect(squid(config, { method: "CONNECT", host: "docs.example.org", port: 443, addresses: PUBLIC })).toEqual({ access: "allow", bump: "bump" });
    expect(squid(config, { method: "CONNECT", host: "files.example.net", port: 443, addresses: PUBLIC })).toEqual({ access: "allow", bump: "splice" });
    expect(squid(config, { method: "CONNECT", host: "other.example", port: 443, addresses: PUBLIC }).access).toBe("deny");
    expect(config).toMatch(/^http_port 3128 ssl-bump tls-cert=\/run\/octw-ca\/ca\.pem tls-key=\/run\/octw-ca\/ca\.key /m);
    expect(config).not.toMatch(/^http_access deny !CONNECT$/m);
  });

  it("GET under /repos/ passes (positive control); POST, a path outside, and a denied path do not", () => {
    expect(get("api.code.example", "/repos/o/r/issues?state=open")).toBe("allow");
    expect(get("api.code.example", "/repos/o/r", "POST")).toBe("deny");
    expect(get("api.code.example", "/repos/o/r", "get")).toBe("deny");
    expect(get("api.code.example", "/user/keys")).toBe("deny");
    expect(get("api.code.example", "/repos/o/secrets/x")).toBe("deny");
  });

  it.each([
    ["path parameters", ["/repos;/../user/keys", "/repos/x/..;/..;/user", "/repos/o/secrets;x/k"]],
    ["encoded slashes", ["/repos%2F..%2Fuser", "/repos/x%2f..%2fuser"]],
    ["double encoding", ["/repos/%252e%252e/user", "/repos/x%252F..%252Fuser"]],
    ["encoded dots", ["/repos/%2e%2e/user", "/repos/%2E%2E/user", "/repos/.%2e/user"]],
    ["dot segments", ["/repos/../user", "/repos/./o/secrets/x", "/repos/o/r/../secrets/x"]],
    ["repeated slashes", ["//repos/x", "/repos/o//secrets/x"]],
    ["case", ["/Repos/x", "/%72epos/x"]],
  ])("%s are refused", (_family, paths) => {
    for (const p of paths) expect(get("api.code.example", p), p).toBe("deny");
  });

  it("hosts: a trailing dot, another case or another tenant's name is not the allowed host", () => {
    expect(get("api.code.example", "/repos/x")).toBe("allow");
    expect(get("api.code.example.", "/repos/x")).toBe("deny");
    expect(get("other.example", "/repos/x")).toBe("deny");
    expect(squid(config, { method: "CONNECT", host: "api.code.example.", port: 443, addresses: PUBLIC }).access).toBe("deny");
  });

  it("access: read-only allows GET/HEAD/OPTIONS only, over HTTPS and plain HTTP alike", () => {
    for (const m of ["GET", "HEAD", "OPTIONS"]) expect(get("docs.example.org", "/guide", m)).toBe("allow");
    for (const m of ["POST", "PUT", "DELETE", "PATCH"]) expect(get("docs.example.org", "/guide", m)).toBe("deny");
    expect(get("docs.example.org", "/guide", "GET", 80)).toBe("allow");
    expect(get("docs.example.org", "/guide", "POST", 80)).toBe("deny");
  });

  it("plain HTTP to an endpoint without L7 rules is refused, as before", () => {
    expect(squid(config, { method: "GET", host: "files.example.net", port: 443, path: "/x", addresses: PUBLIC }).access).toBe("deny");
  });

  it("L7 requests still need public (or pinned) addresses", () => {
    expect(squid(config, { method: "GET", host: "api.code.example", port: 443, path: "/repos/x", addresses: ["169.254.169.254"] }).access).toBe("deny");
  });

  it("the evaluator sees the hole when the canonical-path check is left out (control)", () => {
    const broken = config.replace(/^http_access deny .*!octw_canonical_path$/gm, "");
    expect(squid(broken, { method: "GET", host: "api.code.example", port: 443, path: "/repos/../user/keys", addresses: PUBLIC }).access).toBe("allow");
  });

  it("property: a request passes iff canonical, not denied, and allowed (generated targets)", () => {
    const token = fc.constantFrom("/", "repos", "o", "secrets", "user", "..", ".", "%2e", "%2F", "%252e", ";", ";x", "%41", "A", "?q=1", "//", "x");
    let allowed = 0;
    fc.assert(
      fc.property(fc.constantFrom("/", "/repos/", "/repos/o/"), fc.array(token, { maxLength: 6 }), fc.constantFrom("GET", "GET", "POST", "HEAD"), (prefix, ts, method) => {
        const path = `${prefix}${ts.join("")}`;
        const got = get("api.code.example", path, method);
        const canonicalOk = squid(config, { method: "GET", host: "docs.example.org", port: 443, path, addresses: PUBLIC }).access === "allow";
        const bare = path.split("?")[0]!;
        const want = canonicalOk && method === "GET" && /^\/repos\//.test(bare) && !/^\/repos\/[^?]*\/secrets\//.test(bare) ? "allow" : "deny";
        // (docs.example.org's read-only rule allows any canonical path for GET: it serves as the canonical check.)
        expect(got, path).toBe(want);
        if (got === "allow") allowed++;
      }),
      { numRuns: 3000 },
    );
    expect(allowed).toBeGreaterThan(20);
  });

  it("every directive is one Squid knows, and nothing tenant-written carries a space or a newline", () => {
    const KNOWN = new Set(["http_port", "sslcrtd_program", "sslcrtd_children", "tls_outgoing_options", "pid_filename", "cache", "cache_mem", "coredump_dir", "shutdown_lifetime", "pinger_enable", "via", "forwarded_for", "httpd_suppress_version_string", "visible_hostname", "logformat", "access_log", "cache_log", "logfile_rotate", "acl", "http_access", "ssl_bump"]);
    for (const line of config.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      expect(KNOWN.has(line.split(" ")[0]!), line).toBe(true);
      if (line.startsWith("acl ") && /urlpath_regex/.test(line)) expect(line.split(" ")).toHaveLength(4);
    }
  });

  it("a method or path the config cannot carry is reported as not enforced, never written into squid.conf", () => {
    const doc = parsePolicyDocument({ version: 1, network_policies: { x: { endpoints: [{ host: "a.example.org", port: 443, protocol: "rest", rules: [{ allow: { method: "GET", path: "/a b\nhttp_access allow all" } }] }] } } }, "t");
    const base = parsePolicyDocument({ version: 1, filesystem_policy: { read_write: ["/tmp"] } }, "base");
    const merged = mergePolicyDocuments([base, doc], "t");
    expect(() => planEnforcement(merged, [], "t", "policy", { l7Rest: true })).toThrow(/characters the proxy's rules cannot carry/);
    const plan = planEnforcement(merged, ["rules"], "t", "policy", { l7Rest: true });
    expect(plan.egress[0]!.l7).toBeUndefined();
    expect(renderSquidConfig({ tenantId: "t", rules: plan.egress })).not.toContain("http_access allow all");
  });

  it("without L7 rules the config is what it was (no interception, plain HTTP refused first)", () => {
    const plain = renderSquidConfig({ tenantId: "t", rules: [{ policy: "p", host: "a.example.org", ports: [443], allowedIps: [] }] });
    expect(plain).toMatch(/^http_port 3128$/m);
    expect(plain).toContain("http_access deny !CONNECT");
    expect(plain).not.toContain("ssl_bump");
    expect(() => renderSquidConfig({ tenantId: "t", rules: configFor(POLICY).rules })).toThrow(/need tlsInterception/);
  });
});
