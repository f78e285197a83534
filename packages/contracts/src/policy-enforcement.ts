/**
 * What OCTW does with each field of a parsed OpenShell policy. Every field ends in exactly one of:
 * - **enforced**: the egress proxy or the container's mounts enforce it (it becomes an
 *   {@link EgressRule} or a writable path);
 * - **mapped**: the platform has its own equivalent, or the field cannot widen anything here
 *   (listed in `mapped` with what it maps to; no acknowledgement needed);
 * - **not enforced**: accepted only when the operator lists its feature in `allowUnenforced`, then
 *   listed in `notEnforced` with the reason — never dropped silently;
 * - **refused**: only what cannot mean anything on a Docker host, or would break isolation, with
 *   the reason in plain words.
 */
import { OctwConfigError } from "./config-error.js";
import { INFERENCE_LOCAL_HOST, isLocalNetworkName, isNonPublicRange } from "./host-rules.js";
import type { L7Match, ParsedPolicyDocument, PolicyEndpoint } from "./sandbox-policy-schema.js";

/** Features of the OpenShell format that OCTW does not enforce, by the key `allowUnenforced` takes. */
export const UNENFORCEABLE = {
  binaries: "per-binary egress rules need process identity at the proxy (OpenShell's /proc walk); a Docker egress proxy sees one container",
  rules: "L7 rules/deny_rules need TLS inspection; the egress proxy only tunnels (CONNECT) and cannot see methods or paths",
  access: "`access: read-only|read-write` is an L7 method filter and needs TLS inspection; only `access: full` (a plain tunnel) is enforced",
  "enforcement:audit": "`enforcement: audit` forwards what it logs; OCTW's proxy always enforces, so audit mode cannot be honoured",
  "filesystem_policy.read_only": "a read allowlist needs Landlock; Docker makes the whole root read-only but cannot hide paths from reads",
  "filesystem_policy.landlock": "Landlock is applied by OpenShell's supervisor, which OCTW does not run",
  landlock:
    "`compatibility: hard_requirement` asks that the sandbox not start without Landlock; OCTW does not apply Landlock (writes are confined by Docker's read-only root and tmpfs mounts, reads are not restricted)",
  "filesystem_policy.include_workdir": "OpenShell's workdir mapping has no Docker equivalent",
  /** Kept so existing `allowUnenforced` lists stay valid; no field needs it any more. */
  tls: "no longer needed: `tls: skip` is what the proxy's CONNECT tunnel does, and `terminate`/`passthrough` are deprecated no-ops in OpenShell",
  credentials:
    "the egress proxy does not inject, rewrite or sign credentials here (it replaces placeholders only in the headers of inspected REST requests to an endpoint with `credential_binding`): requests leave with what the gateway put in them, placeholders included",
  network_middlewares: "OpenShell's supervisor middleware (request inspection plugins) does not run on OCTW",
  "plain-http":
    "the egress proxy serves only CONNECT tunnels: a client that sends plain HTTP to the proxy (`GET http://…`) is refused, and one that tunnels reaches the endpoint uninspected",
} as const;
export type UnenforceableFeature = keyof typeof UNENFORCEABLE;
export const UNENFORCEABLE_FEATURES = Object.keys(UNENFORCEABLE) as UnenforceableFeature[];

/** One allowed egress destination as the proxy enforces it. */
export interface EgressRule {
  /** `network_policies` key it came from. */
  readonly policy: string;
  /**
   * A DNS name, or a pattern with a wildcard in its first label (see host-rules.ts). Absent for
   * OpenShell's hostless form: then any name or IP literal whose addresses all lie in
   * `allowedIps` (private ranges only), and never with `l7` or `credentials`.
   */
  readonly host?: string;
  readonly ports: readonly number[];
  /** When set, the resolved destination must be one of these (and may then be non-public). */
  readonly allowedIps: readonly string[];
  /** Present when the proxy enforces method/path rules on this endpoint (TLS interception). */
  readonly l7?: L7RestRules;
  /**
   * Present when the proxy puts the tenant's secrets of this provider into the headers of the
   * endpoint's requests in place of placeholders (`credential_binding`); always with `l7`.
   */
  readonly credentials?: CredentialBinding;
}

/** OpenShell's `credential_binding`: the provider instance whose credentials this endpoint may use. */
export interface CredentialBinding {
  /** Provider name; its keys are the tenant secrets named `<provider>/<KEY>`. */
  readonly provider: string;
}

/** Provider names OCTW maps to tenant secret names (`<provider>/<KEY>`, see @octw/audit's SECRET_NAME_PATTERN). */
export const CREDENTIAL_PROVIDER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** An endpoint's REST rules as the proxy enforces them: a request passes when an allow matches and no deny does. */
export interface L7RestRules {
  readonly allow: readonly L7MethodPath[];
  readonly deny: readonly L7MethodPath[];
  /** OpenShell's `allow_encoded_slash`: `%2F` inside a segment is kept instead of refused. */
  readonly allowEncodedSlash: boolean;
}

/** `method` is an HTTP method or `*`; `path` an OpenShell path glob (`*`, `**`, `?`, `[…]`). */
export interface L7MethodPath {
  readonly method: string;
  readonly path: string;
}

/** What OCTW enforces for a policy, what it maps, and what it was told to accept without enforcing. */
export interface EnforcedSandboxPolicy {
  readonly egress: readonly EgressRule[];
  /** Paths that get a tmpfs (besides the gateway's state volume, which is always writable). */
  readonly readWritePaths: readonly string[];
  /**
   * Never set: a policy cannot choose its identity (`process.run_as_user/run_as_group` only
   * accept "sandbox"/"tenant", the tenant's allocated id). Kept so consumers that fall back to
   * the allocated id read the same.
   */
  readonly runAsUser?: never;
  readonly runAsGroup?: never;
  /** `path: reason` for every field accepted through `allowUnenforced`. Empty when everything is enforced. */
  readonly notEnforced: readonly string[];
  /** `path: what it maps to` for every field OCTW honours by other means. Informational. */
  readonly mapped: readonly string[];
}

/** What the platform's egress proxy can do beyond tunnelling; each switches fields from "not enforced" to "enforced". */
export interface ProxyCapabilities {
  /** REST method/path rules by TLS interception (or directly for plain HTTP). */
  readonly l7Rest?: boolean;
  /**
   * `credential_binding` on inspected REST endpoints: the proxy replaces placeholders in request
   * headers with the tenant's secrets (needs `l7Rest`).
   */
  readonly credentials?: boolean;
}

/** Paths a tenant may never get as read-write tmpfs: they hold the image's code or the kernel's interfaces. */
const SYSTEM_PATHS = ["/", "/usr", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/opt", "/boot", "/proc", "/sys", "/dev", "/run", "/var/lib/openclaw"];
/** Device files and device filesystems Docker always gives a container, writable: nothing to declare. */
const DEVICE_PATHS = new Set(["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/pts", "/dev/ptmx", "/dev/shm"]);
/** REST methods of OpenShell's access presets. */
const ACCESS_METHODS = { "read-only": ["GET", "HEAD", "OPTIONS"], "read-write": ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"] } as const;
/** An HTTP method as the proxy matches it, or `*`. */
const METHOD = /^(\*|[A-Za-z]{1,20})$/;
/** A path glob the proxy can carry: printable ASCII without space or `#`. */
const PATH_GLOB = /^[!"$-~]{1,1024}$/;
/** Ports on which a client talks plain HTTP, which OCTW's CONNECT-only proxy does not serve. */
const PLAIN_HTTP_PORTS = new Set([80]);

/** A rule OCTW can enforce as method + path: nothing it would have to ignore. */
function methodPathOnly(m: L7Match): boolean {
  return (
    m.query === undefined && m.command === undefined && m.operation_type === undefined && m.operation_name === undefined &&
    m.fields === undefined && m.tool === undefined && m.params === undefined
  );
}

/**
 * Turns a validated document into what OCTW enforces. Fields Docker cannot honour throw,
 * unless their feature is in `allowUnenforced`; then they are listed in `notEnforced`.
 */
export function planEnforcement(
  doc: ParsedPolicyDocument,
  allowUnenforced: readonly UnenforceableFeature[],
  subject: string,
  pathPrefix = "policy",
  capabilities: ProxyCapabilities = {},
): EnforcedSandboxPolicy {
  const allowed = new Set(allowUnenforced);
  const problems: { path: string; message: string }[] = [];
  const notEnforced: string[] = [];
  const mapped: string[] = [];
  const unenforceable = (feature: UnenforceableFeature, path: string, reason: string = UNENFORCEABLE[feature]) => {
    if (allowed.has(feature)) notEnforced.push(`${path}: ${reason}`);
    else problems.push({ path, message: `cannot be enforced on Docker (${reason}); add "${feature}" to allowUnenforced to accept it as not enforced` });
  };
  const map = (path: string, what: string) => mapped.push(`${path}: ${what}`);

  if (doc.preset !== undefined) map(`${pathPrefix}.preset`, "NemoClaw's preset header; documentation only");
  const fs = doc.filesystem_policy;
  if (fs?.read_only !== undefined) unenforceable("filesystem_policy.read_only", `${pathPrefix}.filesystem_policy.read_only`);
  if (fs?.landlock !== undefined) {
    // Either key acknowledges either placement: they are the same feature.
    unenforceable(allowed.has("landlock") ? "landlock" : "filesystem_policy.landlock", `${pathPrefix}.filesystem_policy.landlock`, UNENFORCEABLE["filesystem_policy.landlock"]);
  }
  if (doc.landlock !== undefined) {
    if (doc.landlock.compatibility === "hard_requirement") {
      unenforceable(allowed.has("filesystem_policy.landlock") ? "filesystem_policy.landlock" : "landlock", `${pathPrefix}.landlock.compatibility`, UNENFORCEABLE.landlock);
    } else {
      map(`${pathPrefix}.landlock`, "best_effort tolerates a host without Landlock; writes are confined by the read-only root and tmpfs mounts");
    }
  }
  if (fs?.include_workdir === true) unenforceable("filesystem_policy.include_workdir", `${pathPrefix}.filesystem_policy.include_workdir`);

  const listed = fs?.read_write ?? ["/tmp"];
  const candidates: { path: string; index: number }[] = [];
  listed.forEach((p, i) => {
    const at = `${pathPrefix}.filesystem_policy.read_write[${i}]`;
    if (DEVICE_PATHS.has(p)) {
      map(at, "a device Docker gives every container; nothing to mount");
      return;
    }
    const system = SYSTEM_PATHS.find((s) => p === s || (s !== "/" && p.startsWith(`${s}/`)));
    if (system) {
      problems.push({ path: at, message: `is ${system === p ? "" : "inside "}${system}, which holds the image's code or kernel interfaces and is never writable; use /tmp or a path like /sandbox` });
      return;
    }
    candidates.push({ path: p, index: i });
  });
  const readWritePaths: string[] = [];
  for (const c of candidates) {
    const parent = candidates.find((q) => q.path !== c.path && c.path.startsWith(`${q.path}/`));
    if (parent) map(`${pathPrefix}.filesystem_policy.read_write[${c.index}]`, `inside read_write[${parent.index}], which is already writable`);
    else if (!readWritePaths.includes(c.path)) readWritePaths.push(c.path);
  }
  if (!readWritePaths.includes("/tmp")) {
    problems.push({ path: `${pathPrefix}.filesystem_policy.read_write`, message: 'must include "/tmp": OpenClaw needs a writable /tmp (it is mounted noexec,nosuid,nodev)' });
  }
  if (doc.process !== undefined) map(`${pathPrefix}.process`, "the tenant's own allocated UID/GID");

  for (const name of Object.keys(doc.network_middlewares ?? {})) unenforceable("network_middlewares", `${pathPrefix}.network_middlewares.${name}`);

  const egress: EgressRule[] = [];
  for (const [key, np] of Object.entries(doc.network_policies ?? {})) {
    const at = `${pathPrefix}.network_policies.${key}`;
    if (np.binaries !== undefined) {
      if (np.binaries.every((b) => b.path === "/**")) map(`${at}.binaries`, "every binary, which is what the proxy allows anyway");
      else unenforceable("binaries", `${at}.binaries`);
    }
    np.endpoints.forEach((ep, i) => {
      const rule = planEndpoint(ep, key, `${at}.endpoints[${i}]`, capabilities, { unenforceable, map, refuse: (path, message) => problems.push({ path, message }) });
      if (rule) egress.push(rule);
    });
  }

  if (problems.length) throw new OctwConfigError(subject, problems);
  return { egress, readWritePaths: [...readWritePaths].sort(), notEnforced, mapped };
}

interface Reporters {
  unenforceable(feature: UnenforceableFeature, path: string, reason?: string): void;
  map(path: string, what: string): void;
  refuse(path: string, message: string): void;
}

/** One endpoint: its egress rule (or none, for `inference.local`), reporting every field on the way. */
function planEndpoint(ep: PolicyEndpoint, policy: string, at: string, capabilities: ProxyCapabilities, r: Reporters): EgressRule | undefined {
  const ports = [...new Set(ep.ports ?? (ep.port !== undefined ? [ep.port] : []))].sort((a, b) => a - b);
  if (ep.port !== undefined && ep.ports !== undefined) r.map(`${at}.port`, "`ports` is given, and OpenShell then uses `ports` alone; so does OCTW");
  if (ep.host === undefined) return planHostless(ep, policy, at, ports, r);

  if (ep.host === INFERENCE_LOCAL_HOST) {
    // The gateway resolves inference.local to the tenant's router; nothing leaves through the proxy.
    r.map(at, "inference.local is the tenant's inference router (not egress); what it serves is set by the policy's `inference` section, and its own API is all it answers");
    return undefined;
  }

  if (ep.allowed_ips === undefined && isLocalNetworkName(ep.host)) r.map(`${at}.host`, LOCAL_NAME_PUBLIC_ONLY);
  if (ep.tls === "terminate" || ep.tls === "passthrough") r.map(`${at}.tls`, `\`${ep.tls}\` is deprecated in OpenShell and has no effect`);
  if (ep.protocol === "tcp") r.map(`${at}.protocol`, "reachable through the proxy's CONNECT tunnel; OpenShell's transparent TCP capture is not provided, so a client that does not use the proxy cannot reach it");
  if (ep.allow_uninspected_credentials !== undefined) r.map(`${at}.allow_uninspected_credentials`, "OCTW never adds credentials to traffic it does not inspect");

  // Credentials outside the sandbox: header placeholders are replaced (below, with `l7`); these forms are not.
  if (ep.request_body_credential_rewrite === true) r.unenforceable("credentials", `${at}.request_body_credential_rewrite`, CREDENTIAL_FORMS.body);
  if (ep.websocket_credential_rewrite === true) r.unenforceable("credentials", `${at}.websocket_credential_rewrite`, CREDENTIAL_FORMS.websocket);
  if (ep.credential_signing !== undefined) r.unenforceable("credentials", `${at}.credential_signing`, CREDENTIAL_FORMS.signing);

  // L7: what the endpoint restricts beyond host and port.
  const hasL7 = ep.rules !== undefined || ep.deny_rules !== undefined || (ep.access !== undefined && ep.access !== "full") || ep.path !== undefined;
  const otherInspection = (["persisted_queries", "graphql_persisted_queries", "graphql_max_body_bytes", "json_rpc", "mcp"] as const).filter((k) => ep[k] !== undefined);
  for (const k of otherInspection) r.unenforceable("rules", `${at}.${k}`, "L7 rules: GraphQL, JSON-RPC and MCP inspection is not performed; the connection is tunnelled");
  let l7: L7RestRules | undefined;
  if (hasL7) {
    const why = l7Refusal(ep, capabilities);
    if (why === undefined) {
      const allow =
        ep.access === "read-only" || ep.access === "read-write"
          ? ACCESS_METHODS[ep.access].map((method) => ({ method, path: "/**" }))
          : ep.access === "full"
            ? [{ method: "*", path: "/**" }]
            : (ep.rules ?? []).map((rl) => ({ method: (rl.allow.method ?? "*").toUpperCase(), path: rl.allow.path ?? "/**" }));
      const scope = ep.path;
      l7 = {
        // An endpoint `path` narrows every allow to it: the request must match both.
        allow: scope === undefined || scope === "**" ? allow : allow.flatMap((a) => (a.path === "/**" || a.path === "**" ? [{ method: a.method, path: scope }] : [a])),
        deny: (ep.deny_rules ?? []).map((d) => ({ method: (d.method ?? "*").toUpperCase(), path: d.path ?? "/**" })),
        allowEncodedSlash: ep.allow_encoded_slash === true,
      };
      if (scope !== undefined && scope !== "**" && allow.some((a) => a.path !== "/**" && a.path !== "**")) {
        // Rules with their own paths inside a path-scoped endpoint: both must match; not expressible as one glob.
        l7 = undefined;
        r.unenforceable("rules", `${at}.path`, "L7 rules: an endpoint `path` together with rules of their own paths is not enforced; the connection is tunnelled");
      }
    } else {
      const feature = ep.rules === undefined && ep.deny_rules === undefined && ep.path === undefined ? "access" : "rules";
      const field = ep.rules !== undefined ? "rules" : ep.deny_rules !== undefined ? "deny_rules" : ep.access !== undefined && ep.access !== "full" ? "access" : "path";
      r.unenforceable(feature, `${at}.${field}`, feature === "access" ? `${UNENFORCEABLE.access}${why}` : `${UNENFORCEABLE.rules}${why}`);
    }
  }
  let credentials: CredentialBinding | undefined;
  if (ep.credential_binding !== undefined) {
    const why = credentialRefusal(ep, capabilities, l7 !== undefined || !hasL7);
    if (why === undefined) {
      credentials = { provider: ep.credential_binding.provider };
      // Injection needs the requests in clear: an endpoint without rules of its own is intercepted and allows every method and path (within its `path`).
      l7 ??= { allow: [{ method: "*", path: ep.path === undefined || ep.path === "**" ? "/**" : ep.path }], deny: [], allowEncodedSlash: ep.allow_encoded_slash === true };
    } else {
      r.unenforceable("credentials", `${at}.credential_binding`, `${UNENFORCEABLE.credentials}${why}`);
    }
  }
  if (ep.enforcement === "audit") r.unenforceable("enforcement:audit", `${at}.enforcement`);
  if (ep.allow_encoded_slash !== undefined && l7 === undefined) r.map(`${at}.allow_encoded_slash`, "only changes L7 path matching, which this endpoint does not do");

  if (l7 === undefined && ports.some((p) => PLAIN_HTTP_PORTS.has(p))) r.unenforceable("plain-http", `${at}.port${ep.ports ? "s" : ""}`);
  return { policy, host: ep.host, ports, allowedIps: [...new Set(ep.allowed_ips ?? [])], ...(l7 ? { l7 } : {}), ...(credentials ? { credentials } : {}) };
}

/**
 * OpenShell's legacy hostless endpoint: any name or IP literal whose addresses all fall in its
 * `allowed_ips` (the proxy's `!epN_outside` rule, as for a pinned name). Mapped only for private
 * (non-public) ranges: the router-only rule for model providers is checked by name
 * (tenant-policy.ts), and a public range could hold a provider's API, which no name check sees;
 * a provider's addresses are always public (provider-destination.ts), so a private range never does.
 */
function planHostless(ep: PolicyEndpoint, policy: string, at: string, ports: readonly number[], r: Reporters): EgressRule | undefined {
  const ips = [...new Set(ep.allowed_ips ?? [])];
  const publicIndex = (ep.allowed_ips ?? []).findIndex((ip) => !isNonPublicRange(ip));
  // Every field but the addresses, the ports and `tls` needs a name (or inspection, which needs one).
  const named = (Object.keys(ep) as (keyof PolicyEndpoint)[]).filter((k) => ep[k] !== undefined && !["allowed_ips", "port", "ports", "tls"].includes(k));
  if (publicIndex >= 0) {
    r.refuse(`${at}.allowed_ips[${publicIndex}]`, `reaches public addresses in an endpoint without \`host\` (${HOSTLESS_FORM}): a public range could hold a model provider's API, which must be reached through the inference router. Name the service instead: \`host: <its DNS name>\` with these \`allowed_ips\``);
    return undefined;
  }
  if (named.length) {
    r.refuse(`${at}.${named[0]!}`, `needs \`host\`: ${HOSTLESS_FORM} is a plain tunnel by address; inspection and credentials are per name`);
    return undefined;
  }
  if (ep.tls !== undefined) r.map(`${at}.tls`, "the endpoint is a plain tunnel: nothing is inspected, so `tls` changes nothing");
  r.map(`${at}.host`, `absent (${HOSTLESS_FORM}): any name or IP literal on these ports whose addresses all lie in \`allowed_ips\` (private ranges), as a tunnel`);
  return { policy, ports, allowedIps: ips };
}
const HOSTLESS_FORM = "OpenShell's legacy hostless form, `allowed_ips` only";

/**
 * An unpinned local-network name (`*.internal`, `*.local`, `*.lan`…): OpenShell lets an exact name
 * reach private addresses; OCTW's proxy, on a host that serves every tenant, holds it to the rule of
 * every unpinned name (see host-rules.ts).
 */
const LOCAL_NAME_PUBLIC_ONLY =
  "a local-network name without `allowed_ips`: reachable only at public addresses (the proxy refuses the connection when the name resolves to any private, loopback, link-local or metadata address); for a private service, pin its addresses with `allowed_ips`";

/** Why the forms of credential use other than header placeholders are not honoured. */
const CREDENTIAL_FORMS = {
  body: "placeholders in request bodies are not rewritten: the proxy replaces them in request headers only, so a body carrying a placeholder leaves with the placeholder",
  websocket: "WebSocket messages are not inspected after the upgrade: a placeholder in a message leaves as the placeholder",
  signing: "SigV4 re-signing is not performed: the request leaves signed (or not) as the gateway signed it, and the proxy holds no AWS credentials",
} as const;

/** Why a `credential_binding` is not honoured (a " (…)" suffix), or undefined when the proxy injects its secrets. */
function credentialRefusal(ep: PolicyEndpoint, capabilities: ProxyCapabilities, inspectable: boolean): string | undefined {
  if (!capabilities.credentials || !capabilities.l7Rest) return "";
  if (ep.protocol !== "rest") return ` (protocol ${ep.protocol ?? "unset"}: secrets are put only into inspected REST requests; set \`protocol: rest\`)`;
  if (ep.tls === "skip") return " (`tls: skip` asks that the traffic not be inspected, so nothing can be put into it)";
  if (!inspectable) return " (the endpoint's L7 rules are not enforced, so its requests are not inspected)";
  if (!CREDENTIAL_PROVIDER_PATTERN.test(ep.credential_binding!.provider)) return " (the provider name must be 1-64 characters of letters, digits, `.`, `_` and `-`, starting with a letter or digit, to name the tenant's secrets `<provider>/<KEY>`)";
  return undefined;
}

/** Why an endpoint's L7 rules are not enforced ("" suffix when the proxy simply cannot), or undefined when they are. */
function l7Refusal(ep: PolicyEndpoint, capabilities: ProxyCapabilities): string | undefined {
  if (ep.protocol !== undefined && ep.protocol !== "rest") return ` (protocol ${ep.protocol}: only REST method/path rules are inspected)`;
  if (!capabilities.l7Rest) return "";
  if (ep.tls === "skip") return " (`tls: skip` asks that the traffic not be inspected)";
  if (ep.protocol === undefined) return " (rules apply to inspected traffic: set `protocol: rest`)";
  if (ep.rules !== undefined && !ep.rules.every((rl) => methodPathOnly(rl.allow))) return " (only `method` and `path` are matched; query, command and operation matchers are not)";
  if (ep.deny_rules !== undefined && !ep.deny_rules.every(methodPathOnly)) return " (only `method` and `path` are matched; query, command and operation matchers are not)";
  const matches = [...(ep.rules ?? []).map((rl) => rl.allow), ...(ep.deny_rules ?? [])];
  // The proxy's configuration carries methods and globs as bare words: anything else is not enforced (and never written there).
  if (!matches.every((m) => (m.method === undefined || METHOD.test(m.method)) && (m.path === undefined || PATH_GLOB.test(m.path)))) {
    return " (a method or path uses characters the proxy's rules cannot carry: methods are letters, paths printable ASCII without spaces or #)";
  }
  if (ep.path !== undefined && !PATH_GLOB.test(ep.path)) return " (the endpoint `path` uses characters the proxy's rules cannot carry)";
  return undefined;
}
