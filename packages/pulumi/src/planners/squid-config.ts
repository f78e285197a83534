/**
 * Squid configuration for a tenant's egress proxy, generated from the enforced allowlist.
 *
 * Semantics:
 * - Only CONNECT is served (a TLS tunnel to host:port); plain-HTTP proxying is refused, so the
 *   proxy never sees or forwards a request body in clear.
 * - A CONNECT is allowed when its host matches an allowlisted name AND its port is one of that
 *   endpoint's ports AND every address the name resolves to is public — or, when the endpoint
 *   has `allowed_ips`, the destination is in them. IP-literal targets never match a name rule.
 * - Everything else is denied. Denials are logged (issue "blocked egress surfaced for approval"
 *   reads the access log).
 */
import type { EgressRule } from "./sandbox-policy-schema.js";
import { NON_PUBLIC_IPV4, NON_PUBLIC_IPV6 } from "./host-rules.js";

export const SQUID_PORT = 3128;

export interface SquidConfigInput {
  readonly tenantId: string;
  readonly rules: readonly EgressRule[];
}

/** `*.example.com` matches exactly one label in front; squid's own `.example.com` would also match the apex. */
function hostAcl(host: string): { type: "dstdomain" | "dstdom_regex"; value: string } {
  if (host.startsWith("*.")) {
    const rest = host.slice(2).replace(/[.\\+?^$()[\]{}|-]/g, (c) => `\\${c}`);
    return { type: "dstdom_regex", value: `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.${rest}$` };
  }
  return { type: "dstdomain", value: host };
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
    'logformat octw {"ts":%ts.%03tu,"client":"%>a","method":"%rm","target":"%ru","host":"%>rd","port":"%>rP","status":%>Hs,"result":"%Ss"}',
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
      lines.push(`acl ${name}_ips dst ${rule.allowedIps.join(" ")}`);
      lines.push(`http_access allow CONNECT ${name}_host ${name}_port ${name}_ips`);
    } else {
      lines.push(`http_access allow CONNECT ${name}_host ${name}_port !non_public_dst`);
    }
  });
  lines.push("", "http_access deny all", "");
  return lines.join("\n");
}
