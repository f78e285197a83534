/**
 * What may stand in an egress endpoint's `host` and `allowed_ips`. Pure and exhaustively tested:
 * this is where an SSRF hole would start.
 */
import { BlockList, isIP } from "node:net";
import { SPECIAL_PURPOSE_IPV4 } from "./special-addresses.js";

/** Destinations the egress proxy refuses whatever DNS says, unless an endpoint's `allowed_ips` names them. */
export const NON_PUBLIC_IPV4: readonly string[] = SPECIAL_PURPOSE_IPV4.map(([cidr]) => cidr);

export const NON_PUBLIC_IPV6 = [
  "::/128",
  "::1/128",
  "::ffff:0:0/96", // IPv4-mapped: would smuggle any IPv4 past the v4 list
  "64:ff9b::/96", // NAT64: would reach any IPv4, the metadata address included
  "64:ff9b:1::/48", // local-use NAT64
  "2002::/16", // 6to4: embeds an IPv4 (2002:a9fe:a9fe:: is 169.254.169.254's)
  "2001::/32", // Teredo: embeds an IPv4 server address
  "100::/64", // discard-only
  "fc00::/7", // unique local
  "fe80::/10", // link-local
  "ff00::/8", // multicast
  "2001:db8::/32", // documentation
] as const;

/**
 * Whether a (valid, see {@link ipOrCidrProblem}) address or CIDR lies wholly inside the non-public
 * ranges: then no public service, model providers included (their addresses must be public,
 * provider-destination.ts), can be inside it.
 */
export function isNonPublicRange(text: string): boolean {
  const [addr, len] = text.split("/");
  const family = isIP(addr!);
  const bits = len === undefined ? (family === 4 ? 32 : 128) : Number(len);
  const ranges = family === 4 ? NON_PUBLIC_IPV4 : NON_PUBLIC_IPV6;
  return ranges.some((c) => {
    const [net, l] = c.split("/");
    if (bits < Number(l)) return false;
    const list = new BlockList();
    list.addSubnet(net!, Number(l), family === 4 ? "ipv4" : "ipv6");
    return list.check(addr!, family === 4 ? "ipv4" : "ipv6");
  });
}

/** Never reachable, not even through `allowed_ips`: the host itself and the metadata services. */
const NEVER_ALLOWED_V4 = ["0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16"] as const;
// (IPv4-mapped IPv6 is refused separately: node's BlockList matches IPv4 addresses against ::ffff:0:0/96.)
// The IPv4 ones again where IPv6 embeds an IPv4 address (NAT64 well-known prefix, 6to4).
const NEVER_ALLOWED_V6 = [
  "::/128",
  "::1/128",
  "fe80::/10",
  "64:ff9b::/104", // NAT64 of 0.0.0.0/8
  "64:ff9b::7f00:0/104", // NAT64 of 127.0.0.0/8
  "64:ff9b::a9fe:0/112", // NAT64 of 169.254.0.0/16
  "2002::/24", // 6to4 of 0.0.0.0/8
  "2002:7f00::/24", // 6to4 of 127.0.0.0/8
  "2002:a9fe::/32", // 6to4 of 169.254.0.0/16
] as const;

function blockList(v4: readonly string[], v6: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of v4) {
    const [net, len] = c.split("/");
    list.addSubnet(net!, Number(len), "ipv4");
  }
  for (const c of v6) {
    const [net, len] = c.split("/");
    list.addSubnet(net!, Number(len), "ipv6");
  }
  return list;
}
const neverAllowed = blockList(NEVER_ALLOWED_V4, NEVER_ALLOWED_V6);

/** Names that resolve to the host itself, whatever a resolver says: never a destination. */
const LOOPBACK_NAMES = [/^localhost$/, /\.localhost$/];
/**
 * Names of the local network or a metadata service. Pinned (`allowed_ips`, which can never hold
 * loopback, link-local or metadata addresses), such a name cannot lead anywhere the operator did not
 * list. Unpinned, it is held to the rule every unpinned name is held to: the proxy resolves it and
 * refuses the connection when ANY address is non-public (`!non_public_dst`, squid-config.ts), so it
 * reaches only public addresses — what it usually resolves to (private, or 169.254.169.254 for
 * `metadata.google.internal`) is refused at connect time. A policy may therefore carry one (as
 * OpenShell's examples do); the plan reports it as mapped to "public addresses only".
 */
const LOCAL_NAMES = [/\.local$/, /\.internal$/, /\.home\.arpa$/, /\.arpa$/, /^metadata$/, /\.lan$/, /\.intranet$/];

/** Whether a host (or the part of a pattern after its wildcard label) is a local-network or metadata name. */
export function isLocalNetworkName(host: string): boolean {
  const labels = host.split(".");
  const bare = labels[0]!.includes("*") ? labels.slice(1).join(".") : host;
  return LOCAL_NAMES.some((re) => re.test(bare));
}

/**
 * OpenShell's name for its inference route. On OCTW it resolves, for the tenant's gateway, to the
 * tenant's own inference router; it is never egress.
 */
export const INFERENCE_LOCAL_HOST = "inference.local";

/**
 * Names that only mean something where OpenShell runs its sandboxes, with why they mean nothing on a
 * Docker host. Checked before the generic reserved-name rule so the refusal says what the name is.
 */
const NON_DOCKER_NAMES: readonly { test: RegExp; reason: string }[] = [
  {
    test: /^host\.(openshell|docker|containers)\.internal$|^gateway\.docker\.internal$/,
    reason:
      "is an alias for the machine that runs the sandbox; on OCTW the host machine is never an egress destination (it runs every tenant's services). Give the service a DNS name and pin its address with `allowed_ips`",
  },
  {
    test: /(^|\.)(svc|svc\.cluster\.local|cluster\.local)$/,
    reason: "is a Kubernetes cluster-internal name (…svc / …cluster.local), which does not exist on a Docker host",
  },
];

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** A first label with `*` inside it, e.g. `*-aiplatform` or `api-*`: what remains are label characters. */
const GLOB_LABEL = /^[a-z0-9*-]{1,63}$/;

/**
 * Checks an endpoint host. Returns a reason when it is refused, `undefined` when it is fine.
 * Reasons never quote the host (it is tenant input and may be anything, a secret included).
 * Allowed: a lowercase DNS name of at least two labels whose last label is not numeric, optionally
 * with a wildcard in its first label only, as OpenShell accepts it: `*.example.com` (exactly one
 * label), `**.example.com` (one or more labels), `*-api.example.com` (a `*` inside the label).
 * `pinned`: the endpoint lists `allowed_ips`, so a local-network name is acceptable.
 * `unpinnedLocal`: what an unpinned local-network name gets: `refuse` (the default: a destination
 * typed by hand, e.g. an approval, that could never be reached), or `public-only` (a policy: the
 * proxy's address rule confines it to public addresses, and the plan reports that as mapped).
 */
export function hostProblem(host: string, options: { readonly pinned?: boolean; readonly unpinnedLocal?: "refuse" | "public-only" } = {}): string | undefined {
  if (host.length === 0) return "must not be empty";
  if (host.length > 253) return "is longer than 253 characters";
  if (host.startsWith("[") || host.includes(":")) return "must be a DNS name, not an IP literal or host:port (put ports in `port`/`ports`)";
  if (isIP(host) !== 0) return "must be a DNS name, not an IP literal; to reach a fixed address, name it and list the address in `allowed_ips`";
  if (host !== host.toLowerCase()) return "must be lowercase";
  if (host.endsWith(".")) return "must not end with a dot";
  const labels = host.split(".");
  if (labels.length < 2) return "must have at least two labels (e.g. api.example.com)";
  const last = labels[labels.length - 1]!;
  if (/^[0-9]+$/.test(last) || /^0x[0-9a-f]+$/.test(last)) {
    return "must be a DNS name, not a numeric address form";
  }
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (i === 0 && (label === "*" || label === "**")) {
      if (labels.length < 3) return "wildcard must leave at least two labels (`*.example.com`, not `*.com`)";
      continue;
    }
    if (label.includes("*")) {
      if (i !== 0) return "may contain a wildcard only as its whole first label (`*.example.com`, `**.example.com`) or inside it (`*-api.example.com`)";
      if (label.includes("**")) return "may use a `**` wildcard only as its whole first label (`**.example.com`)";
      if (!GLOB_LABEL.test(label)) return "has a first label that is not a valid DNS label around its `*` (a-z, 0-9, hyphens)";
      continue;
    }
    if (!LABEL.test(label)) return `has a label (number ${i + 1}) that is not a valid DNS label (a-z, 0-9, inner hyphens, 1-63 characters; internationalized names in punycode, xn--…)`;
  }
  const bare = labels[0]!.includes("*") ? labels.slice(1).join(".") : host;
  const nonDocker = NON_DOCKER_NAMES.find((n) => n.test.test(host) || n.test.test(bare));
  if (nonDocker) return nonDocker.reason;
  if (host === INFERENCE_LOCAL_HOST) return undefined;
  if (LOOPBACK_NAMES.some((re) => re.test(bare))) return "names a loopback, local-network or metadata name, which is never an egress destination";
  if (!options.pinned && options.unpinnedLocal !== "public-only" && LOCAL_NAMES.some((re) => re.test(bare))) {
    return "names a loopback, local-network or metadata name, which is never an egress destination unless `allowed_ips` pins the addresses it may resolve to";
  }
  return undefined;
}

const escapeRegex = (text: string) => text.replace(/[.\\+?^$()[\]{}|-]/g, (c) => `\\${c}`);
const ONE_LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";

/**
 * The anchored regular expression (POSIX ERE, so Squid's `dstdom_regex` reads it as JavaScript does)
 * that a valid host pattern (see {@link hostProblem}) stands for; `undefined` for an exact name.
 * `*` as the whole first label is exactly one label, `**` one or more, and a `*` inside the first
 * label any run of label characters.
 */
export function hostPatternRegex(host: string): string | undefined {
  if (!host.includes("*")) return undefined;
  const [first, ...rest] = host.split(".");
  const tail = escapeRegex(rest.join("."));
  if (first === "*") return `^${ONE_LABEL}\\.${tail}$`;
  if (first === "**") return `^(${ONE_LABEL}\\.)+${tail}$`;
  return `^${first!.split("*").map(escapeRegex).join("[a-z0-9-]*")}\\.${tail}$`;
}

/** Whether a (lowercase) name is covered by a host pattern, exactly as the proxy's ACL decides. */
export function hostPatternMatches(pattern: string, host: string): boolean {
  const re = hostPatternRegex(pattern);
  return re === undefined ? pattern === host : new RegExp(re).test(host);
}

/** Parses an IP or CIDR; returns its family and a normalized form, or a reason. */
export function ipOrCidrProblem(text: string): string | undefined {
  const [addr, len, extra] = text.split("/");
  if (extra !== undefined || addr === undefined) return "must be an IP address or CIDR (e.g. 203.0.113.7 or 203.0.113.0/28)";
  const family = isIP(addr);
  if (family === 0) return "must be an IP address or CIDR (e.g. 203.0.113.7 or 203.0.113.0/28)";
  if (len !== undefined) {
    if (!/^\d{1,3}$/.test(len)) return "has an invalid prefix length";
    const n = Number(len);
    if (family === 4 && n > 32) return "prefix length must be 0..32 for IPv4";
    if (family === 6 && n > 128) return "prefix length must be 0..128 for IPv6";
    if ((family === 4 && n < 8) || (family === 6 && n < 32)) return "is too wide (at most a /8 for IPv4, /32 for IPv6)";
  }
  if (family === 6 && /^::ffff:/i.test(addr)) return "is an IPv4-mapped IPv6 address; write the IPv4 address itself";
  const type = family === 4 ? "ipv4" : "ipv6";
  if (neverAllowed.check(addr, type)) return "is a loopback, link-local or metadata address, which is never an egress destination";
  if (len !== undefined) {
    // A CIDR that contains a never-allowed block is refused too, e.g. 0.0.0.0/0 or 169.254.0.0/15.
    const probe = new BlockList();
    probe.addSubnet(addr, Number(len), type);
    const forbidden = family === 4 ? NEVER_ALLOWED_V4 : NEVER_ALLOWED_V6;
    for (const c of forbidden) {
      const [net] = c.split("/");
      if (probe.check(net!, type)) return `contains ${c}, which is never an egress destination`;
    }
  }
  return undefined;
}
