// Where the router may send a tenant's key. The router sits on every tenant network and on the
// control network, so a provider `baseUrl` naming 169.254.169.254, the audit Postgres, another
// tenant's gateway or the host would make it POST there with the tenant's key. Two checks:
//  1. config time (`baseUrlProblem`): https only, and a host that is a public IP literal or a
//     DNS name that is not a local/reserved name — good error messages, no network;
//  2. connect time (`vetDestination`, in @octw/inference-router): the name is resolved once, EVERY resolved address must be
//     public and outside the platform's own networks, and the socket is opened to exactly the
//     address that was checked (the request's `lookup` hands it back; no second resolution), so
//     DNS rebinding cannot swap a public answer for a private one between check and connect.
// Tests need plain-http providers on loopback: `allowInsecureProvidersForTests` (router config,
// honoured only when the router's environment has OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS=1)
// permits http:// and the listed networks; nothing the components render can set it.
import { BlockList, isIP } from "node:net";
import { SPECIAL_PURPOSE_IPV4 } from "./special-addresses.js";


/**
 * IPv6 is judged by an allowlist: only global unicast (2000::/3) can be public. That alone
 * refuses ::, ::1, IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96) forms, NAT64
 * (64:ff9b::/96, 64:ff9b:1::/48), discard (100::/64), unique-local (fc00::/7), link-local
 * (fe80::/10), site-local (fec0::/10) and multicast (ff00::/8). Inside 2000::/3 these are refused too.
 */
export const NON_PUBLIC_IPV6_IN_GLOBAL: readonly (readonly [string, string])[] = [
  ["2001::/23", "IETF protocol assignments (Teredo, benchmarking, ORCHID)"],
  ["2001:db8::/32", "documentation"],
  ["2002::/16", "6to4 (embeds an IPv4 address)"],
  ["3fff::/20", "documentation"],
];

function listOf(entries: readonly (readonly [string, string])[], type: "ipv4" | "ipv6"): { list: BlockList; entries: { list: BlockList; name: string }[] } {
  const list = new BlockList();
  const out: { list: BlockList; name: string }[] = [];
  for (const [cidr, name] of entries) {
    const [net, len] = cidr.split("/");
    list.addSubnet(net!, Number(len), type);
    const one = new BlockList();
    one.addSubnet(net!, Number(len), type);
    out.push({ list: one, name: `${cidr} ${name}` });
  }
  return { list, entries: out };
}
const V4 = listOf(SPECIAL_PURPOSE_IPV4, "ipv4");
const V6 = listOf(NON_PUBLIC_IPV6_IN_GLOBAL, "ipv6");
const GLOBAL_UNICAST = new BlockList();
GLOBAL_UNICAST.addSubnet("2000::", 3, "ipv6");

/**
 * Why an address is not a public destination, or undefined when it is. `address` is an IP
 * literal (v4 dotted quad or v6, brackets allowed); anything else is refused.
 */
export function nonPublicReason(address: string): string | undefined {
  const a = address.replace(/^\[|\]$/g, "");
  const family = isIP(a);
  if (family === 4) {
    // BlockList matches an IPv4 address against IPv4 rules only, so no mapped-form surprise here.
    if (!V4.list.check(a, "ipv4")) return undefined;
    return V4.entries.find((e) => e.list.check(a, "ipv4"))?.name ?? "non-public IPv4";
  }
  if (family === 6) {
    // node's BlockList matches ::ffff:a.b.c.d against IPv4 rules as well; the allowlist below does not care.
    if (!GLOBAL_UNICAST.check(a, "ipv6")) {
      const lower = a.toLowerCase();
      if (/^::ffff:/.test(lower)) return "IPv4-mapped IPv6 (::ffff:0:0/96)";
      if (/^64:ff9b:/.test(lower)) return "NAT64 (64:ff9b::/96, 64:ff9b:1::/48)";
      return "not global unicast IPv6 (only 2000::/3 is public: loopback, unique-local, link-local, site-local, multicast, IPv4-compatible are not)";
    }
    if (!V6.list.check(a, "ipv6")) return undefined;
    return V6.entries.find((e) => e.list.check(a, "ipv6"))?.name ?? "non-public IPv6";
  }
  return "not an IP address";
}

/**
 * A host name the C library (inet_aton) or a URL parser would read as an IPv4 address:
 * 1 to 4 parts, each decimal, octal (leading 0) or hex (0x), the last part filling the
 * remaining bytes: `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`. Returns the dotted quad.
 */
export function inetAtonIPv4(host: string): string | undefined {
  const h = host.endsWith(".") ? host.slice(0, -1) : host;
  const parts = h.split(".");
  if (parts.length < 1 || parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]+$/.test(p)) n = parseInt(p.slice(1), 8);
    else if (/^(0|[1-9][0-9]*)$/.test(p)) n = Number(p);
    else return undefined;
    if (!Number.isSafeInteger(n)) return undefined;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255)) return undefined;
  const lastBytes = 4 - nums.length;
  if (last >= 2 ** (8 * lastBytes)) return undefined;
  let value = last;
  nums.forEach((n, i) => (value += n * 2 ** (8 * (3 - i))));
  return [24, 16, 8, 0].map((s) => Math.floor(value / 2 ** s) % 256).join(".");
}

/** Names a resolver answers locally (the host, the LAN, Docker's embedded DNS, metadata): never a provider. */
const LOCAL_NAMES = [/^localhost$/, /\.localhost$/, /\.local$/, /\.internal$/, /\.arpa$/, /^metadata$/, /\.lan$/, /\.intranet$/, /\.home$/, /\.corp$/];
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Networks a provider may be on besides public addresses (only under the test escape hatch). */
export interface DestinationPolicy {
  /** Accept http:// and the listed networks (test escape hatch; see the module comment). */
  insecureForTests?: BlockList;
  /** The platform's own networks: never a destination, hatch or not (tenant subnets, control, egress). */
  platform?: BlockList;
}

export function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [net, len] = c.split("/");
    const type = isIP(net!) === 6 ? "ipv6" : "ipv4";
    list.addSubnet(net!, Number(len ?? (type === "ipv6" ? 128 : 32)), type);
  }
  return list;
}

function checkList(list: BlockList | undefined, address: string): boolean {
  if (!list) return false;
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? "ipv6" : "ipv4");
}

/** Why this resolved/literal address may not be connected to, or undefined when it may. */
export function addressProblem(address: string, policy: DestinationPolicy): string | undefined {
  const a = address.replace(/^\[|\]$/g, "");
  if (checkList(policy.platform, a)) return "is one of the platform's own networks";
  const why = nonPublicReason(a);
  if (why === undefined) return undefined;
  if (checkList(policy.insecureForTests, a)) return undefined;
  return `is not a public address (${why})`;
}

/**
 * Config-time check of a provider baseUrl (already a syntactically valid http(s) URL without
 * credentials, query or fragment). Messages never repeat the URL (a tenant's policy is input).
 */
export function baseUrlProblem(baseUrl: string, policy: DestinationPolicy = {}): string | undefined {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    // e.g. a host whose last label is numeric but is no IPv4 form (the URL parser refuses it).
    return "must be a valid URL whose host is a DNS name or an IP address";
  }
  if (u.protocol !== "https:" && !(u.protocol === "http:" && policy.insecureForTests)) {
    return "must be an https:// URL (the router sends the tenant's key there)";
  }
  // WHATWG URL parsing already turned IPv4 forms (2130706433, 0x7f.1, 0177.0.0.1) into dotted quads.
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host) !== 0) {
    const why = addressProblem(host, policy);
    return why ? `host ${why}` : undefined;
  }
  const asV4 = inetAtonIPv4(host);
  if (asV4 !== undefined) {
    const why = addressProblem(asV4, policy);
    return why ? `host is a numeric IPv4 form that ${why}` : undefined;
  }
  if (host.endsWith(".")) return "host must not end with a dot";
  const labels = host.split(".");
  if (labels.length < 2) return "host must be a fully qualified DNS name (a single label resolves to a container on the router's networks)";
  if (labels.some((l) => !LABEL.test(l))) return "host must be a DNS name of a-z, 0-9 and inner hyphens";
  if (/^[0-9]+$/.test(labels.at(-1)!)) return "host must be a DNS name, not a numeric address form";
  if (LOCAL_NAMES.some((re) => re.test(host)) && !policy.insecureForTests) return "host names a loopback, local-network or metadata name";
  return undefined;
}
