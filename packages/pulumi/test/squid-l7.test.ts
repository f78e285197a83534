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

  it("the interception settings, exactly: host certificates from the tenant's CA, the generator's database, verified upstreams", () => {
    const lines = config.split("\n");
    expect(lines).toContain("http_port 3128 ssl-bump tls-cert=/run/octw-ca/ca.pem tls-key=/run/octw-ca/ca.key generate-host-certificates=on dynamic_cert_mem_cache_size=4MB");
    expect(lines).toContain("sslcrtd_program /usr/lib/squid/security_file_certgen -s /var/spool/squid/ssl_db -M 4MB");
    expect(lines).toContain("sslcrtd_children 2 startup=1 idle=1");
    // Upstreams are verified against the system bundle unless told otherwise.
    expect(lines).toContain("tls_outgoing_options cafile=/etc/ssl/certs/ca-certificates.crt");
    // The last ssl_bump line splices whatever no bump line matched.
    expect(lines.filter((l) => l.startsWith("ssl_bump ")).at(-1)).toBe("ssl_bump splice all");
    const rules = configFor(POLICY).rules;
    const custom = renderSquidConfig({ tenantId: "t", rules, tlsInterception: { ...TLS, certgenProgram: "/opt/certgen", upstreamCaFile: "/etc/octw-egress/upstream-ca.pem" } }).split("\n");
    expect(custom).toContain("sslcrtd_program /opt/certgen -s /var/spool/squid/ssl_db -M 4MB");
    // The operator's anchors are added to the system store, never instead of it.
    expect(custom).toContain("tls_outgoing_options cafile=/etc/ssl/certs/ca-certificates.crt cafile=/etc/octw-egress/upstream-ca.pem");
    expect(custom.filter((l) => l.startsWith("tls_outgoing_options"))).toHaveLength(1);
  });

  it("a rule without a method allows every method on its path, and only there", () => {
    const any = `
version: 1
network_policies:
  a:
    endpoints:
      - { host: a.example.org, port: 443, protocol: rest, rules: [{ allow: { path: "/public/**" } }] }
`;
    const { config: c } = configFor(any);
    const at = (method: string, path: string) => squid(c, { method, host: "a.example.org", port: 443, path, addresses: PUBLIC }).access;
    for (const m of ["GET", "POST", "DELETE", "PATCH"]) expect(at(m, "/public/x"), m).toBe("allow");
    expect(at("GET", "/private/x")).toBe("deny");
    expect(c).not.toMatch(/ method \*/);
  });

  it("interception settings given without L7 rules change nothing: no interception, no CA read", () => {
    const rules = [{ policy: "p", host: "a.example.org", ports: [443], allowedIps: [] }];
    expect(renderSquidConfig({ tenantId: "t", rules, tlsInterception: TLS })).toBe(renderSquidConfig({ tenantId: "t", rules }));
  });

  it("allow_encoded_slash: only its endpoint accepts %2F inside a segment; the other L7 endpoints still refuse it", () => {
    const both = `
version: 1
network_policies:
  a:
    endpoints:
      - { host: a.example.org, port: 443, protocol: rest, allow_encoded_slash: true, rules: [{ allow: { method: GET, path: "/files/**" } }] }
  b:
    endpoints:
      - { host: b.example.org, port: 443, protocol: rest, rules: [{ allow: { method: GET, path: "/files/**" } }] }
`;
    const { config: c } = configFor(both);
    const at = (host: string, path: string) => squid(c, { method: "GET", host, port: 443, path, addresses: PUBLIC }).access;
    expect(at("a.example.org", "/files/x%2Fy")).toBe("allow");
    expect(at("b.example.org", "/files/x%2Fy")).toBe("deny");
    expect(at("b.example.org", "/files/x")).toBe("allow");
    // Without any such endpoint, the lenient ACL is not even declared.
    expect(config).not.toContain("octw_canonical_path_slash");
    expect(c).toMatch(/^acl octw_canonical_path_slash urlpath_regex /m);
  });

  it("without L7 rules the config is what it was (no interception, plain HTTP refused first)", () => {
    const plain = renderSquidConfig({ tenantId: "t", rules: [{ policy: "p", host: "a.example.org", ports: [443], allowedIps: [] }] });
    expect(plain).toMatch(/^http_port 3128$/m);
    expect(plain).toContain("http_access deny !CONNECT");
    expect(plain).not.toContain("ssl_bump");
    expect(() => renderSquidConfig({ tenantId: "t", rules: configFor(POLICY).rules })).toThrow(/need tlsInterception/);
  });
});
