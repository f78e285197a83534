/**
 * Squid configuration for a tenant's egress proxy, generated from the enforced allowlist.
 *
 * Semantics:
 * - Only CONNECT is served (a TLS tunnel to host:port); plain-HTTP proxying is refused, so the
 *   proxy never sees or forwards a request body in clear.
 * - A CONNECT is allowed when its host matches an allowlisted name AND its port is one of that
 *   endpoint's ports AND EVERY address the name resolves to is public — or, when the endpoint
 *   has `allowed_ips`, every address is in them. IP-literal targets never match a name rule.
 *   A rule without host (OpenShell's hostless form, private `allowed_ips` only) matches any
 *   name or IP literal on its ports whose addresses are all in its `allowed_ips`.
 * - Squid's `dst` ACL matches when ANY of a name's resolved addresses matches. So "every
 *   address is acceptable" is written as "no address is unacceptable": `!non_public_dst`, and
 *   for `allowed_ips` `!epN_outside`, where `epN_outside` lists every address of both families
 *   outside `allowed_ips` (its complement). A name that resolves to an allowed address AND to a
 *   forbidden one (say 169.254.169.254) is refused before Squid picks an address to connect to.
 * - Everything else is denied. Denials are logged (issue "blocked egress surfaced for approval"
 *   reads the access log).
 */
import {
  DOUBLE_ENCODED_PATH_REGEX,
  NON_PUBLIC_IPV4,
  NON_PUBLIC_IPV6,
  canonicalPathRegex,
  hostPatternRegex,
  pathGlobRegex,
  type EgressRule,
} from "@octw/contracts";
import { complementCidrs } from "./ip-ranges.js";

export const SQUID_PORT = 3128;
const ACL_VALUES_PER_LINE = 16;

export interface SquidConfigInput {
  readonly tenantId: string;
  readonly rules: readonly EgressRule[];
  /** TLS interception for endpoints with L7 rules; required when any rule has `l7`. */
  readonly tlsInterception?: SquidTlsInterception;
  /**
   * The tenant's inference router (its address on the tenant network). OpenClaw sends every
   * request that is not to loopback through its proxy (managed proxy routing ignores NO_PROXY),
   * its model calls to the router too: those tunnels are allowed, to that address and port only.
   */
  readonly inferenceRouter?: { readonly address: string; readonly port: number };
  /**
   * The file holding the credential directives of bound endpoints (squid-credentials.ts; secret,
   * so never part of this configuration); required when any rule has `credentials`.
   */
  readonly credentialsInclude?: string;
}

/**
 * Where the proxy container keeps the tenant's interception CA. Its key is the proxy's alone: only
 * the CA certificate goes to the tenant's gateway (which trusts it for HTTPS through the proxy).
 * Needs a Squid built with OpenSSL (Debian's squid-openssl) and its certificate generator.
 */
export interface SquidTlsInterception {
  readonly caCertFile: string;
  readonly caKeyFile: string;
  /** The certificate generator's database directory (writable by the proxy). */
  readonly certDbDir: string;
  /** @default "/usr/lib/squid/security_file_certgen" (Debian's squid-openssl). */
  readonly certgenProgram?: string;
  /** Further CA certificates for verifying intercepted upstreams, besides the image's system store (ca-certificates). */
  readonly upstreamCaFile?: string;
}

/** Wildcards follow OpenShell (`*.x` one label, `**.x` one or more); squid's own `.example.com` would also match the apex. */
function hostAcl(host: string): { type: "dstdomain" | "dstdom_regex"; value: string } {
  const regex = hostPatternRegex(host);
  return regex === undefined ? { type: "dstdomain", value: host } : { type: "dstdom_regex", value: regex };
}

export function renderSquidConfig(input: SquidConfigInput): string {
  const l7 = input.rules.some((r) => r.l7 !== undefined);
  if (l7 && !input.tlsInterception) throw new Error("renderSquidConfig: rules with L7 checks need tlsInterception");
  const bound = input.rules.some((r) => r.credentials !== undefined);
  if (bound && !input.credentialsInclude) throw new Error("renderSquidConfig: rules with credentials need credentialsInclude");
  const tls = l7 ? input.tlsInterception : undefined;
  const lines: string[] = [
    `# OCTW egress proxy for tenant "${input.tenantId}" - generated, do not edit.`,
    tls
      ? // ssl-bump: CONNECTs to L7 endpoints are intercepted with certificates the tenant's CA signs; all others stay blind tunnels (spliced).
        `http_port ${SQUID_PORT} ssl-bump tls-cert=${tls.caCertFile} tls-key=${tls.caKeyFile} generate-host-certificates=on dynamic_cert_mem_cache_size=4MB`
      : `http_port ${SQUID_PORT}`,
    ...(tls
      ? [
          `sslcrtd_program ${tls.certgenProgram ?? "/usr/lib/squid/security_file_certgen"} -s ${tls.certDbDir} -M 4MB`,
          "sslcrtd_children 2 startup=1 idle=1",
          // Intercepted upstreams are verified like any HTTPS client would (never blindly trusted).
          // The system store always, named explicitly (Squid's implicit default-ca is not relied on).
          `tls_outgoing_options cafile=/etc/ssl/certs/ca-certificates.crt${tls.upstreamCaFile ? ` cafile=${tls.upstreamCaFile}` : ""}`,
        ]
      : []),
    "pid_filename /run/squid/squid.pid",
    "cache deny all",
    "cache_mem 0 MB",
    "coredump_dir /tmp",
    "shutdown_lifetime 2 seconds",
    // The pinger needs raw ICMP sockets (CAP_NET_RAW), which the proxy never has.
    "pinger_enable off",
    "via off",
    "forwarded_for delete",
    "httpd_suppress_version_string on",
    `visible_hostname octw-egress-${input.tenantId}`,
    // One line per request, machine-readable: time, client, method, target, status, squid result code.
    // `%#` URL-quotes what the tenant chooses (method, target, host): a name with quotes,
    // backslashes or UTF-8 still leaves a valid JSON line, so no denial is lost to its spelling
    // (@octw/egress-audit decodes them).
    'logformat octw {"ts":%ts.%03tu,"client":"%>a","method":"%#rm","target":"%#ru","host":"%#>rd","port":"%>rP","status":%>Hs,"result":"%Ss"}',
    "access_log stdio:/dev/stdout octw",
    "cache_log stdio:/dev/stderr",
    "logfile_rotate 0",
    "",
    "acl CONNECT method CONNECT",
    `acl non_public_dst dst ${NON_PUBLIC_IPV4.join(" ")}`,
    `acl non_public_dst dst ${NON_PUBLIC_IPV6.join(" ")}`,
  ];
  if (l7) {
    // A request is matched as sent and forwarded as matched, so only canonical paths pass
    // (@octw/contracts l7-path.ts: no dot segments, `;params`, `//`, needless or double %-encoding).
    lines.push(`acl octw_canonical_path urlpath_regex ${canonicalPathRegex()}`);
    if (input.rules.some((r) => r.l7?.allowEncodedSlash)) lines.push(`acl octw_canonical_path_slash urlpath_regex ${canonicalPathRegex({ allowEncodedSlash: true })}`);
    lines.push(`acl octw_double_encoded urlpath_regex ${DOUBLE_ENCODED_PATH_REGEX}`);
  } else {
    lines.push("http_access deny !CONNECT");
  }
  // Before every endpoint's allow: the include's refusals (fail closed) come first.
  if (bound) lines.push(`include ${input.credentialsInclude!}`);
  // The router is an endpoint like the others, named by its address: `dstdomain -n` matches an
  // IP-literal target by its text (no lookup), so only a CONNECT to that very address passes — a
  // name that merely resolves to it (and perhaps elsewhere too) does not.
  const router = input.inferenceRouter;
  const rules: readonly EgressRule[] = router ? [...input.rules, { policy: "inference-router", host: router.address, ports: [router.port], allowedIps: [router.address] }] : input.rules;
  rules.forEach((rule, i) => {
    const name = `ep${i}`;
    lines.push("", `# ${rule.policy}: ${rule.host ?? "(any name or address)"}:${rule.ports.join(",")}${rule.allowedIps.length ? ` via ${rule.allowedIps.join(",")}` : ""}${rule.l7 ? " (L7)" : ""}`);
    if (rule.host !== undefined) {
      const acl = hostAcl(rule.host);
      // -n: never resolve the client's target for a name match (no reverse lookups on IP literals).
      lines.push(`acl ${name}_host ${acl.type} -n${acl.type === "dstdom_regex" ? " -i" : ""} ${acl.value}`);
    } else if (!rule.allowedIps.length || rule.l7 || rule.credentials) {
      // OpenShell's hostless form (planned only with private allowed_ips, never inspected): the addresses are the whole rule.
      throw new Error("renderSquidConfig: a rule without host needs allowedIps and takes no l7 or credentials");
    }
    lines.push(`acl ${name}_port port ${rule.ports.join(" ")}`);
    let addressOk = "!non_public_dst";
    if (rule.allowedIps.length) {
      const outside = [...complementCidrs(rule.allowedIps, 4), ...complementCidrs(rule.allowedIps, 6)];
      // Repeated acl lines add to one ACL; chunks keep lines short.
      for (let k = 0; k < outside.length; k += ACL_VALUES_PER_LINE) lines.push(`acl ${name}_outside dst ${outside.slice(k, k + ACL_VALUES_PER_LINE).join(" ")}`);
      addressOk = `!${name}_outside`;
    }
    lines.push(`http_access allow CONNECT ${rule.host !== undefined ? `${name}_host ` : ""}${name}_port ${addressOk}`);
    if (rule.l7) lines.push(...l7Lines(name, rule.l7, addressOk));
  });
  if (l7) lines.push("", "ssl_bump splice all");
  lines.push("", "http_access deny all", "");
  return lines.join("\n");
}

/**
 * One L7 endpoint: its tunnels are intercepted, and each request in them (or sent as plain HTTP)
 * passes when its path is canonical, no deny rule matches, and an allow rule does.
 */
function l7Lines(name: string, rules: NonNullable<EgressRule["l7"]>, addressOk: string): string[] {
  const scope = `!CONNECT ${name}_host ${name}_port`;
  const canonical = rules.allowEncodedSlash ? "octw_canonical_path_slash" : "octw_canonical_path";
  const out = [`ssl_bump bump ${name}_host ${name}_port`, `http_access deny ${scope} !${canonical}`, `http_access deny ${scope} octw_double_encoded`];
  const rule = (kind: "a" | "d", k: number, r: { method: string; path: string }) => {
    const acls: string[] = [];
    if (r.method !== "*") {
      out.push(`acl ${name}_${kind}${k}_m method ${r.method}`);
      acls.push(`${name}_${kind}${k}_m`);
    }
    out.push(`acl ${name}_${kind}${k}_p urlpath_regex ${pathGlobRegex(r.path)}`);
    acls.push(`${name}_${kind}${k}_p`);
    return acls.join(" ");
  };
  rules.deny.forEach((r, k) => out.push(`http_access deny ${scope} ${rule("d", k, r)}`));
  rules.allow.forEach((r, k) => out.push(`http_access allow ${scope} ${rule("a", k, r)} ${addressOk}`));
  return out;
}
