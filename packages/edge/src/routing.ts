// Which tenant a request is for: by host (`<tenant>.<domain>`) or by path (`/t/<tenant>/…`).
// Pure: no I/O, so the whole matrix is unit-tested.
import { TENANT_ID_PATTERN } from "./config";

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

  if (rules.pathRouting && path.startsWith(PATH_PREFIX)) {
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
