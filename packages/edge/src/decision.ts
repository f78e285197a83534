// What a decision is: the request's context, and the three answers decide() can give (denied,
// allowed with everything the proxy needs, or one of the sign-in routes). Shared by the modules
// that decide, record, proxy and relay.
import type { TenantRoute } from "@octw/contracts";
import type { RouteMatch } from "./routing";

export const HEALTH_PATH = "/_edge/healthz";
export const SESSION_LOCAL_PATH = "/_edge/session";

export type Denied = {
  allow: false;
  status: number;
  error: string;
  headers?: Record<string, string | string[]>;
  /** A browser navigation gets a page (sign-in redirect, no access, session ended), not JSON. */
  html?: string;
};
/** The sign-in routes of a tenant origin (`/_edge/oidc/*`), answered by the OIDC gate. */
export type OidcLocal = { allow: "oidc-local"; tenant: string; localPath: string };
export type Allowed = {
  allow: true;
  tenant: TenantRoute;
  target: URL;
  route: Extract<RouteMatch, { tenant: string }>;
  sub: string;
  scopes: string[];
  exp: number;
  tokenSource: "bearer" | "cookie";
  token: string;
  /** A refreshed sign-in session cookie, sent with the response. */
  setCookie?: string | undefined;
  /** The sign-in session (its WebSockets end when it signs out). */
  sessionId?: string | undefined;
  /** A suspendable tenant whose gateway name did not resolve (stopped): `target` is not an address yet. */
  unresolved?: boolean;
};

export interface Ctx {
  method: string;
  clientIp: string;
  routeLabel: string;
  transport: "http" | "ws";
}

export const PUBLIC_ERROR: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  421: "misdirected_request",
  429: "rate_limited",
  502: "bad_gateway",
  503: "unavailable",
  504: "gateway_timeout",
};

/** Audit text must be printable and bounded; the query string may hold secrets, so it is cut. */
export function routeLabel(host: string | undefined, url: string): string {
  const path = url.split("?", 1)[0] ?? "";
  return `${host ?? ""}${path}`.replace(/[^\x20-\x7e]/g, "?").slice(0, 256);
}

/** The gateway did not take the connection at all (no process listening, no host, no route). */
export function isConnectFailure(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EHOSTDOWN" || code === "ENOTFOUND" || code === "EAI_AGAIN";
}

export function isWebSocketUpgrade(req: { headers: { upgrade?: string | undefined } }): boolean {
  return (req.headers.upgrade ?? "").toLowerCase() === "websocket";
}
