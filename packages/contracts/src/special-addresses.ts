/**
 * IANA special-purpose IPv4 ranges (RFC 6890 and successors) with the reason each is refused:
 * none is a model provider or an egress destination. One list for the inference router's
 * destination rules and the egress proxy's ACL (`NON_PUBLIC_IPV4` of host-rules.ts), so the two
 * cannot drift apart (they did: the proxy's copy lacked AS112, AMT and the 6to4 relay anycast).
 */
export const SPECIAL_PURPOSE_IPV4: readonly (readonly [string, string])[] = [
  ["0.0.0.0/8", "this network"],
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "carrier-grade NAT"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local (cloud metadata)"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "IETF protocol assignments"],
  ["192.0.2.0/24", "documentation (TEST-NET-1)"],
  ["192.31.196.0/24", "AS112"],
  ["192.52.193.0/24", "AMT"],
  ["192.88.99.0/24", "6to4 relay anycast"],
  ["192.168.0.0/16", "private"],
  ["192.175.48.0/24", "AS112 direct delegation"],
  ["198.18.0.0/15", "benchmarking"],
  ["198.51.100.0/24", "documentation (TEST-NET-2)"],
  ["203.0.113.0/24", "documentation (TEST-NET-3)"],
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved, broadcast"],
];
