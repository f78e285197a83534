// What the gateway sees of a client's request headers. The gateway trusts the edge's address
// for identity (trusted-proxy auth), so anything a client could use to claim an identity,
// scopes or a client address is removed, and the edge sets those itself.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/** Hop-by-hop headers (RFC 9110 §7.6.1) never travel past a proxy. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Exact names a client may use to claim an identity or a client address. */
const IDENTITY_EXACT = new Set([
  "authorization", // the edge's token: never passed to a tenant's (possibly compromised) gateway
  "forwarded",
  "x-real-ip",
  "x-client-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "x-cluster-client-ip",
  "remote-user",
  "x-remote-user",
  "x-user",
  "x-email",
  "x-forwarded-user",
  "x-forwarded-email",
  "x-forwarded-preferred-username",
  "x-forwarded-groups",
  "x-forwarded-access-token",
]);

/** Prefixes: OpenClaw's own headers (scopes…), OCTW's, forwarding info, other proxies' identity. */
const IDENTITY_PREFIXES = ["x-openclaw-", "x-octw-", "x-forwarded-", "x-auth-request-", "tailscale-", "x-pomerium-"];

export function isStrippedRequestHeader(name: string, extra: ReadonlySet<string>): boolean {
  const n = name.toLowerCase();
  return (
    HOP_BY_HOP.has(n) ||
    IDENTITY_EXACT.has(n) ||
    extra.has(n) ||
    IDENTITY_PREFIXES.some((p) => n.startsWith(p))
  );
}

/** Headers named in `Connection: a, b` are hop-by-hop for this message too. */
function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const v = headers.connection;
  const out = new Set<string>();
  if (typeof v === "string") for (const t of v.split(",")) out.add(t.trim().toLowerCase());
  return out;
}

/** Removes the edge's own cookie from a Cookie header, keeping the others. */
export function stripCookie(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  const kept = cookieHeader
    .split(";")
    .map((c) => c.trim())
    .filter((c) => c !== "" && c.split("=", 1)[0]?.trim() !== name);
  return kept.length ? kept.join("; ") : undefined;
}

/** Reads one cookie's value, or undefined. Duplicates (cookie tossing) make it undefined. */
export function readCookie(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  let found: string | undefined;
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    if (found !== undefined) return undefined;
    found = part.slice(eq + 1).trim();
  }
  return found;
}

export interface IdentityForUpstream {
  user: string;
  scopes: string;
  clientIp: string;
  host: string | undefined;
  proto: "http" | "https";
}

export interface SanitizeOptions {
  userHeader: string;
  cookieName: string;
  extraStripped: ReadonlySet<string>;
}

/**
 * Builds the upstream request headers: client headers minus hop-by-hop and identity headers,
 * minus the edge cookie, plus the identity the edge vouches for. The scopes header is ALWAYS
 * set (an empty value means "no scopes"), never left for OpenClaw's full default.
 */
export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  identity: IdentityForUpstream,
  opts: SanitizeOptions,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const conn = connectionTokens(headers);
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (name === opts.userHeader || conn.has(name) || isStrippedRequestHeader(name, opts.extraStripped)) continue;
    if (name === "cookie") {
      const kept = stripCookie(Array.isArray(value) ? value.join("; ") : value, opts.cookieName);
      if (kept !== undefined) out.cookie = kept;
      continue;
    }
    out[name] = value;
  }
  out[opts.userHeader] = identity.user;
  out["x-openclaw-scopes"] = identity.scopes;
  out["x-forwarded-for"] = identity.clientIp;
  out["x-forwarded-proto"] = identity.proto;
  if (identity.host !== undefined) out["x-forwarded-host"] = identity.host;
  return out;
}

/** Response headers from the gateway: hop-by-hop removed; cookies that could reach other tenants dropped. */
export function downstreamResponseHeaders(rawHeaders: readonly string[], cookieName: string): string[] {
  const out: string[] = [];
  const conn = new Set<string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === "connection") {
      for (const t of rawHeaders[i + 1]!.split(",")) conn.add(t.trim().toLowerCase());
    }
  }
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    const n = name.toLowerCase();
    if (HOP_BY_HOP.has(n) || conn.has(n)) continue;
    if (n === "set-cookie" && !isSafeUpstreamCookie(value, cookieName)) continue;
    out.push(name, value);
  }
  return out;
}

/**
 * A compromised gateway must not plant cookies on other tenants' hosts (a Domain attribute
 * widens a cookie to every sibling host) nor overwrite the edge's session cookie.
 */
export function isSafeUpstreamCookie(setCookie: string, cookieName: string): boolean {
  const [pair, ...attrs] = setCookie.split(";");
  const name = pair?.split("=", 1)[0]?.trim();
  if (!name || name === cookieName) return false;
  return !attrs.some((a) => a.trim().toLowerCase().startsWith("domain"));
}
