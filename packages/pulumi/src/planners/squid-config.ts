/**
 * Squid configuration for a tenant's egress proxy, generated from the enforced allowlist.
 *
 * Semantics:
 * - Only CONNECT is served (a TLS tunnel to host:port); plain-HTTP proxying is refused, so the
 *   proxy never sees or forwards a request body in clear.
 * - A CONNECT is allowed when its host matches an allowlisted name AND its port is one of that
 *   endpoint's ports AND EVERY address the name resolves to is public — or, when the endpoint
 *   has `allowed_ips`, every address is in them. IP-literal targets never match a name rule.
 * - Squid's `dst` ACL matches when ANY of a name's resolved addresses matches. So "every
 *   address is acceptable" is written as "no address is unacceptable": `!non_public_dst`, and
 *   for `allowed_ips` `!epN_outside`, where `epN_outside` lists every address of both families
 *   outside `allowed_ips` (its complement). A name that resolves to an allowed address AND to a
 *   forbidden one (say 169.254.169.254) is refused before Squid picks an address to connect to.
 * - Everything else is denied. Denials are logged (issue "blocked egress surfaced for approval"
 *   reads the access log).
 */
import { NON_PUBLIC_IPV4, NON_PUBLIC_IPV6, hostPatternRegex, type EgressRule } from "@octw/contracts";
import { complementCidrs } from "./ip-ranges.js";

export const SQUID_PORT = 3128;
const ACL_VALUES_PER_LINE = 16;

export interface SquidConfigInput {
  readonly tenantId: string;
  readonly rules: readonly EgressRule[];
}

/** Wildcards follow OpenShell (`*.x` one label, `**.x` one or more); squid's own `.example.com` would also match the apex. */
function hostAcl(host: string): { type: "dstdomain" | "dstdom_regex"; value: string } {
  const regex = hostPatternRegex(host);
  return regex === undefined ? { type: "dstdomain", value: host } : { type: "dstdom_regex", value: regex };
}

export function renderSquidConfig(input: SquidConfigInput): string {
  const lines: string[] = [
    `# OCTW egress proxy for tenant "${input.tenantId}" - generated, do not edit.`,
    `http_port ${SQUID_PORT}`,
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
    "http_access deny !CONNECT",
  ];
  input.rules.forEach((rule, i) => {
    const name = `ep${i}`;
    const acl = hostAcl(rule.host);
    lines.push("", `# ${rule.policy}: ${rule.host}:${rule.ports.join(",")}${rule.allowedIps.length ? ` via ${rule.allowedIps.join(",")}` : ""}`);
    // -n: never resolve the client's target for a name match (no reverse lookups on IP literals).
    lines.push(`acl ${name}_host ${acl.type} -n${acl.type === "dstdom_regex" ? " -i" : ""} ${acl.value}`);
    lines.push(`acl ${name}_port port ${rule.ports.join(" ")}`);
    if (rule.allowedIps.length) {
      const outside = [...complementCidrs(rule.allowedIps, 4), ...complementCidrs(rule.allowedIps, 6)];
      // Repeated acl lines add to one ACL; chunks keep lines short.
      for (let k = 0; k < outside.length; k += ACL_VALUES_PER_LINE) lines.push(`acl ${name}_outside dst ${outside.slice(k, k + ACL_VALUES_PER_LINE).join(" ")}`);
      lines.push(`http_access allow CONNECT ${name}_host ${name}_port !${name}_outside`);
    } else {
      lines.push(`http_access allow CONNECT ${name}_host ${name}_port !non_public_dst`);
    }
  });
  lines.push("", "http_access deny all", "");
  return lines.join("\n");
}
