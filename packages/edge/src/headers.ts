// What the gateway sees of a client's request headers. The gateway trusts the edge's address
// for identity (trusted-proxy auth), so anything a client could use to claim an identity,
// scopes or a client address is removed, and the edge sets those itself.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { isValidHeaderName, isValidHeaderValue } from "./upstream-response";

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

/**
 * Cookies of the edge itself: the configured session cookie and every `__Host-octw_*` cookie
 * (the sign-in session and login flow, oidc/gate.ts). A gateway never receives them (a
 * compromised one would replay the person's session) and never sets them (it would replace
 * the person's session with one it chose). Compared without case: browsers apply the
 * `__Host-` rules to any case of the prefix.
 */
export const EDGE_COOKIE_PREFIX = "__Host-octw_";
export function isEdgeCookieName(name: string, configured: string): boolean {
  const n = name.trim().toLowerCase();
  return n === configured.toLowerCase() || n.startsWith(EDGE_COOKIE_PREFIX.toLowerCase());
}

/** Removes the edge's own cookies from a Cookie header, keeping the others. */
export function stripCookie(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  const kept = cookieHeader
    .split(";")
    .map((c) => c.trim())
    .filter((c) => c !== "" && !isEdgeCookieName(c.split("=", 1)[0] ?? "", name));
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
  // The gateway sees the Host the edge routed on (normalized), never a variant of it.
  if (identity.host !== undefined) out.host = identity.host;
  out[opts.userHeader] = identity.user;
  out["x-openclaw-scopes"] = identity.scopes;
  out["x-forwarded-for"] = identity.clientIp;
  out["x-forwarded-proto"] = identity.proto;
  if (identity.host !== undefined) out["x-forwarded-host"] = identity.host;
  return out;
}

/** The route a response goes back on: it decides how far a cookie or worker may reach. */
export interface ResponseScope {
  cookieName: string;
  /** host: the tenant's own origin `<tenant>.<domain>`; path: `/t/<tenant>/` on a shared origin. */
  kind: "host" | "path";
  /** The route's root path (`/` for host routes, `/t/<tenant>/` for path routes). */
  cookiePath: string;
}

/** Never from a gateway: transport and protocol of the edge's own origin are the edge's to set. */
const DROPPED_RESPONSE = new Set(["alt-svc", "set-cookie2"]);

/**
 * On a shared origin (path routes) these set policy for the WHOLE origin, i.e. for every
 * tenant: reporting endpoints would collect other tenants' URLs (NEL, Report-To,
 * Reporting-Endpoints), and HSTS could be switched off (max-age=0) for all of them.
 */
const ORIGIN_WIDE = new Set(["nel", "report-to", "reporting-endpoints", "strict-transport-security"]);

/**
 * Response headers from the gateway: hop-by-hop removed; headers Node would refuse to write
 * dropped; cookies, service-worker scope and Clear-Site-Data confined to the tenant's route.
 */
export function downstreamResponseHeaders(rawHeaders: readonly string[], scope: ResponseScope): string[] {
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
    if (!isValidHeaderName(name) || !isValidHeaderValue(value)) continue;
    const n = name.toLowerCase();
    if (HOP_BY_HOP.has(n) || conn.has(n) || DROPPED_RESPONSE.has(n)) continue;
    if (scope.kind === "path" && ORIGIN_WIDE.has(n)) continue;
    let kept: string | undefined = value;
    if (n === "set-cookie") kept = confineCookie(value, scope);
    else if (n === "service-worker-allowed") kept = confineServiceWorkerAllowed(value, scope);
    else if (n === "clear-site-data") kept = confineClearSiteData(value, scope);
    if (kept !== undefined) out.push(name, kept);
  }
  return out;
}

/** `/t/acme/` + `/x` → `/t/acme/x`: a gateway's paths are relative to its route root. */
function underRoute(root: string, path: string): string {
  return root.replace(/\/$/, "") + path;
}

/**
 * A gateway's Set-Cookie, confined to its tenant, or undefined (dropped):
 * - named like one of the edge's own cookies (any case, see isEdgeCookieName): dropped — it
 *   would replace or shadow the user's session;
 * - without a name: dropped (browsers store it under the empty name; nothing legitimate needs it);
 * - `Domain`: removed, so the cookie is host-only — a Domain attribute widens it to every
 *   sibling `<tenant>.<domain>` host;
 * - on path routes, `Path` is rewritten under the tenant's prefix (`Path=/` → `Path=/t/<tenant>/`,
 *   missing or not absolute → the prefix): the origin is shared, and a browser sends a cookie to
 *   every path its Path covers. Without an explicit Path the browser would default it from the
 *   request URL, which for `/t/<tenant>` (no slash) is `/t` — every tenant.
 */
export function confineCookie(setCookie: string, scope: ResponseScope): string | undefined {
  const [pair = "", ...attrs] = setCookie.split(";");
  const eq = pair.indexOf("=");
  if (eq === -1) return undefined;
  const name = pair.slice(0, eq).trim();
  if (name === "" || isEdgeCookieName(name, scope.cookieName)) return undefined;
  const kept: string[] = [];
  let path: string | undefined;
  for (const raw of attrs) {
    const a = raw.trim();
    const key = a.split("=", 1)[0]!.trim().toLowerCase();
    if (key === "domain") continue;
    if (key === "path" && scope.kind === "path") {
      path = a.slice(a.indexOf("=") + 1).trim(); // the last Path wins, as in browsers
      continue;
    }
    if (a !== "") kept.push(a);
  }
  if (scope.kind === "path") {
    kept.push(`Path=${underRoute(scope.cookiePath, path?.startsWith("/") ? path : "/")}`);
  }
  return [pair.trim(), ...kept].join("; ");
}

/**
 * Service-Worker-Allowed widens a worker's scope beyond its script's directory. On a host
 * route the origin is the tenant's own, so it stays. On a path route a worker scoped `/` would
 * control every tenant's pages: the value is moved under the tenant's prefix, and anything but
 * an absolute path is dropped.
 */
export function confineServiceWorkerAllowed(value: string, scope: ResponseScope): string | undefined {
  if (scope.kind === "host") return value;
  const v = value.trim();
  if (!v.startsWith("/") || v.startsWith("//") || v.includes("\\")) return undefined;
  return underRoute(scope.cookiePath, v);
}

/**
 * Clear-Site-Data acts on the whole origin — and `"cookies"` on the whole registrable domain,
 * i.e. every tenant's host. Host routes keep the directives confined to their own origin
 * (cache, storage, execution contexts); path routes share the origin, so nothing is kept.
 */
export function confineClearSiteData(value: string, scope: ResponseScope): string | undefined {
  if (scope.kind === "path") return undefined;
  const own = new Set(['"cache"', '"storage"', '"executionContexts"', '"prefetchCache"', '"prerenderCache"']);
  const kept = value.split(",").map((d) => d.trim()).filter((d) => own.has(d));
  return kept.length ? kept.join(", ") : undefined;
}
