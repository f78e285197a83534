// Which tenant a request is for: by host (`<tenant>.<domain>`) or by path (`/t/<tenant>/…`).
// Pure: no I/O, so the whole matrix is unit-tested.
import { TENANT_ID_PATTERN } from "@octw/contracts";

export type RouteKind = "host" | "path";

export type RouteMatch =
  | {
      kind: RouteKind;
      /** The tenant named by the request (not yet known to exist). */
      tenant: string;
      /** Path (with query) to send upstream. */
      upstreamPath: string;
      /** The path the route's cookie is scoped to. */
      cookiePath: string;
      /** Path relative to the route root, e.g. `/_edge/session`. */
      localPath: string;
    }
  | { kind: "none" };

export interface RoutingRules {
  hostDomain?: string | undefined;
  pathRouting: boolean;
}

export const PATH_PREFIX = "/t/";

/** Strips the port and a trailing dot, lower-cases; returns undefined for anything odd. */
export function normalizeHost(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  let h = hostHeader.trim().toLowerCase();
  if (h.startsWith("[")) return undefined; // IPv6 literal: never a tenant host
  const colon = h.lastIndexOf(":");
  if (colon !== -1) {
    if (!/^\d{1,5}$/.test(h.slice(colon + 1))) return undefined;
    h = h.slice(0, colon);
  }
  if (h.endsWith(".")) h = h.slice(0, -1);
  return h === "" ? undefined : h;
}

/** The Host the edge routed on, as it is forwarded: lower-case, no trailing dot, port kept. */
export function canonicalHost(hostHeader: string | undefined): string | undefined {
  const host = normalizeHost(hostHeader);
  if (host === undefined) return undefined;
  const port = /:(\d{1,5})$/.exec(hostHeader!.trim())?.[1];
  return port === undefined ? host : `${host}:${port}`;
}

/**
 * Why a request target is refused (400), or undefined. The edge decides on the raw target and
 * forwards it unchanged; anything another hop could read differently is refused rather than
 * normalized: not origin-form (absolute-form `http://other/…`, `*`), dot-segments (`..`, `.`,
 * also percent-encoded: a hop that normalizes would leave the tenant prefix the edge checked),
 * backslashes (some servers read them as `/`), and a fragment (never part of a request).
 */
export function requestTargetProblem(url: string): string | undefined {
  if (!url.startsWith("/")) return "target_not_origin_form";
  const { path } = splitPathQuery(url);
  if (path.includes("#")) return "target_has_fragment";
  if (path.includes("\\") || /%5c/i.test(path)) return "target_has_backslash";
  for (const seg of path.split("/")) {
    // `..;x` is a dot-segment to servers that strip path parameters.
    const dots = seg.replace(/%2e/gi, ".").replace(/;.*$/, "");
    if (dots === "." || dots === "..") return "target_has_dot_segment";
  }
  return undefined;
}

function splitPathQuery(url: string): { path: string; query: string } {
  const q = url.indexOf("?");
  return q === -1 ? { path: url, query: "" } : { path: url.slice(0, q), query: url.slice(q) };
}

export function resolveRoute(hostHeader: string | undefined, url: string, rules: RoutingRules): RouteMatch {
  // Only origin-form request targets; absolute-form ("http://x/…") and "*" are not routed.
  if (!url.startsWith("/")) return { kind: "none" };
  const host = normalizeHost(hostHeader);
  const { path, query } = splitPathQuery(url);

  if (rules.hostDomain && host && host.endsWith(`.${rules.hostDomain}`)) {
    const label = host.slice(0, -(rules.hostDomain.length + 1));
    if (!TENANT_ID_PATTERN.test(label)) return { kind: "none" };
    return { kind: "host", tenant: label, upstreamPath: url, cookiePath: "/", localPath: path };
  }

  // Path routes live on one host: `<hostDomain>` itself when host routing is on (any other
  // host, e.g. `evil.example`, is no route), any host when path routing is all there is.
  if (rules.pathRouting && path.startsWith(PATH_PREFIX) && (!rules.hostDomain || host === rules.hostDomain)) {
    const rest = path.slice(PATH_PREFIX.length);
    const slash = rest.indexOf("/");
    const tenant = slash === -1 ? rest : rest.slice(0, slash);
    if (!TENANT_ID_PATTERN.test(tenant)) return { kind: "none" };
    const tail = slash === -1 ? "/" : rest.slice(slash);
    return {
      kind: "path",
      tenant,
      upstreamPath: tail + query,
      cookiePath: `${PATH_PREFIX}${tenant}/`,
      localPath: tail,
    };
  }
  return { kind: "none" };
}
