// Browser sign-in at the edge, per tenant origin: the `/_edge/oidc/*` routes (login, callback,
// logout, signed-out) and the session check the edge's decide() calls for requests that carry
// no bearer token.
//
// Sessions are stateless sealed cookies (seal.ts): `__Host-` (Secure, Path=/, no Domain, so
// host-only: only the tenant's own origin gets it), HttpOnly, SameSite=Strict, sealed with the
// tenant's origin as additional data. Any edge holding the platform's session key accepts it;
// none holds a session table. What that costs, and how it is bounded:
//  - sign-out ends the session at once on the edge that handled it (a bounded list of ended
//    session ids), revokes the refresh token at the IdP and ends the IdP session (RP-initiated
//    logout). Every other edge re-checks each session with the IdP (refresh-token grant) at
//    least every `recheckSec`, so a copy of the cookie replayed there dies within that time;
//  - without a refresh token (the IdP issues none) a session lasts until its ID token expires.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { canonicalHost } from "../routing";
import { rolesFromClaims } from "./claims";
import type { OidcConfig } from "@octw/contracts";
import { loginHref, pages, renderPage, type Page } from "./pages";
import { RelyingParty } from "./relying-party";
import { Sealer } from "./seal";

export const OIDC_PREFIX = "/_edge/oidc/";
export const SESSION_COOKIE = "__Host-octw_oidc";
export const FLOW_COOKIE = "__Host-octw_oidc_flow";
const CALLBACK_PATH = `${OIDC_PREFIX}callback`;

export interface OidcAuditFields {
  tenant: string | null;
  actor: string | null;
  role: string | null;
  reason: string;
  status: number;
  allowed: boolean;
}

export interface OidcGateDeps {
  /** The platform's session-sealing key (oidc.sessionKeyFile), ≥ 32 bytes. */
  sessionKey: Buffer;
  clientSecret?: string | undefined;
  fetch?: typeof fetch | undefined;
  nowSec: () => number;
  /** Scheme the browser uses for the tenant origin (https). */
  scheme: "http" | "https";
  /** Called when a session signs out here (the edge closes its WebSockets). */
  onSessionEnded?: ((sid: string) => void) | undefined;
  /** Records a decision; false when the audit buffer is full (then the gate refuses: fail closed). */
  audit: (req: IncomingMessage, f: OidcAuditFields) => boolean;
}

interface SessionPayload {
  v: 1;
  sid: string;
  sub: string;
  tenant: string;
  roles: string[];
  /** Sign-in time; the absolute end is iat + sessionMaxSec. */
  iat: number;
  exp: number;
  /** Next re-check with the IdP (refresh) — or the end, without a refresh token. */
  chk: number;
  rt?: string | undefined;
}

interface FlowPayload {
  v: 1;
  state: string;
  nonce: string;
  verifier: string;
  ret: string;
  exp: number;
}

export type SessionResult =
  | { kind: "none" }
  | { kind: "ok"; sid: string; sub: string; tenant: string; roles: string[]; exp: number; setCookie?: string | undefined }
  | { kind: "ended"; reason: string; sub?: string | undefined }
  | { kind: "no_access"; reason: string; sub: string };

export interface OidcGate {
  /** True when the request is for the gate's own routes (then `handle` answers it). */
  isLocal(localPath: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse, tenant: string, localPath: string): Promise<void>;
  /** The session a request carries, refreshed when its re-check is due. */
  authenticate(req: IncomingMessage, tenant: string): Promise<SessionResult>;
  /** The answer to a browser navigation that has no usable session. */
  signInRequired(req: IncomingMessage, why: Exclude<SessionResult, { kind: "ok" }>, tenant: string): { status: number; html: string; headers: Record<string, string | string[]> };
  /** Cookie header that clears the session (sent with every "ended" answer). */
  readonly clearSessionCookie: string;
}

/** A same-origin path to come back to after sign-in; anything else becomes `/`. */
export function safeReturnPath(raw: string | null | undefined): string {
  if (!raw || raw.length > 2_048) return "/";
  if (!raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return "/";
  // Only printable ASCII (a browser percent-encodes the rest); no backslash.
  if (!/^[\x21-\x7e]*$/.test(raw) || raw.includes("\\")) return "/";
  if (raw.startsWith("/_edge/")) return "/";
  return raw;
}

/** Top-level page loads (not fetches, not WebSockets): those get pages and redirects. */
export function isNavigation(req: IncomingMessage): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  if ((req.headers.upgrade ?? "") !== "") return false;
  const mode = req.headers["sec-fetch-mode"];
  if (mode !== undefined) return mode === "navigate";
  return /\btext\/html\b/.test(req.headers.accept ?? "");
}

function readCookieRaw(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let found: string | undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    // Two cookies of one name: ambiguous, so neither counts.
    if (found !== undefined) return undefined;
    found = part.slice(eq + 1).trim();
  }
  return found;
}

function isSession(p: unknown): p is SessionPayload {
  if (p === null || typeof p !== "object") return false;
  const s = p as Record<string, unknown>;
  return (
    s.v === 1 && typeof s.sid === "string" && typeof s.sub === "string" && typeof s.tenant === "string" &&
    Array.isArray(s.roles) && s.roles.every((r) => typeof r === "string") &&
    typeof s.iat === "number" && typeof s.exp === "number" && typeof s.chk === "number" &&
    (s.rt === undefined || typeof s.rt === "string")
  );
}

function isFlow(p: unknown): p is FlowPayload {
  if (p === null || typeof p !== "object") return false;
  const f = p as Record<string, unknown>;
  return f.v === 1 && typeof f.state === "string" && typeof f.nonce === "string" && typeof f.verifier === "string" && typeof f.ret === "string" && typeof f.exp === "number";
}

export function createOidcGate(oidc: OidcConfig, deps: OidcGateDeps): OidcGate {
  const sealer = new Sealer(deps.sessionKey);
  const rp = new RelyingParty(oidc, { clientSecret: deps.clientSecret, fetch: deps.fetch, nowSec: deps.nowSec });
  /** Sessions signed out here: sid → when the session would have ended anyway. */
  const ended = new Map<string, number>();
  /** Refreshes in flight per session, so a burst of requests refreshes once. */
  const refreshing = new Map<string, Promise<SessionResult>>();
  const clearSessionCookie = `${SESSION_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict`;
  const clearFlowCookie = `${FLOW_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax`;

  // The sign-out form's POST answers with a redirect to the IdP (RP-initiated logout), and
  // browsers hold redirects after a form submission to form-action too.
  const csp = `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${new URL(oidc.issuer).origin}; frame-ancestors 'none'`;
  const originOf = (req: IncomingMessage) => `${deps.scheme}://${canonicalHost(req.headers.host) ?? ""}`;

  function sessionCookie(payload: SessionPayload, origin: string): string {
    const maxAge = Math.max(0, payload.exp - deps.nowSec());
    return `${SESSION_COOKIE}=${sealer.seal("session", origin, payload)}; Max-Age=${maxAge}; Path=/; Secure; HttpOnly; SameSite=Strict`;
  }

  function sendPage(res: ServerResponse, page: Page, headers: Record<string, string | string[]> = {}): void {
    const html = renderPage(page);
    res.writeHead(page.status, {
      "content-type": "text/html; charset=utf-8",
      "content-length": Buffer.byteLength(html),
      "cache-control": "no-store",
      "x-frame-options": "DENY",
      "content-security-policy": csp,
      ...headers,
    });
    res.end(html);
  }

  function pruneEnded(now: number): void {
    if (ended.size < 10_000) return;
    for (const [sid, until] of ended) if (until <= now) ended.delete(sid);
    // Still full of live sessions: the oldest go first (they end soonest on other edges too).
    while (ended.size >= 100_000) ended.delete(ended.keys().next().value!);
  }

  async function login(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const origin = originOf(req);
    const ret = safeReturnPath(url.searchParams.get("return"));
    let start;
    try {
      start = await rp.startLogin(`${origin}${CALLBACK_PATH}`);
    } catch {
      sendPage(res, pages.idpUnavailable());
      return;
    }
    const flow: FlowPayload = { v: 1, state: start.state, nonce: start.nonce, verifier: start.verifier, ret, exp: deps.nowSec() + oidc.loginTimeoutSec };
    // Lax: the IdP sends the person back with a cross-site top-level GET, which Strict would strip.
    const cookie = `${FLOW_COOKIE}=${sealer.seal("flow", origin, flow)}; Max-Age=${oidc.loginTimeoutSec}; Path=/; Secure; HttpOnly; SameSite=Lax`;
    const href = start.url.href;
    res.writeHead(302, { location: href, "set-cookie": cookie, "cache-control": "no-store", "content-length": 0 });
    res.end();
  }

  async function callback(req: IncomingMessage, res: ServerResponse, tenant: string, url: URL): Promise<void> {
    const origin = originOf(req);
    const flow = sealer.unseal("flow", origin, readCookieRaw(req.headers.cookie, FLOW_COOKIE));
    // The flow cookie is single-use: cleared whatever happens, so a replayed callback has none.
    const clear = { "set-cookie": clearFlowCookie };
    const fail = (reason: string, actor: string | null = null) => {
      const status = pages.signInFailed().status;
      if (!deps.audit(req, { tenant, actor, role: null, reason, status, allowed: false })) return sendPage(res, pages.idpUnavailable(), clear);
      sendPage(res, pages.signInFailed(), clear);
    };
    if (!isFlow(flow)) return fail("oidc_no_login_in_progress");
    if (flow.exp <= deps.nowSec()) return fail("oidc_login_timed_out");
    const current = new URL(`${origin}${CALLBACK_PATH}${url.search}`);
    let result;
    try {
      result = await rp.finishLogin(current, flow);
    } catch {
      return fail("idp_unreachable");
    }
    if (!result.ok) return fail(`oidc_${result.reason}`);
    const { claims } = result;
    const mapping = rolesFromClaims(claims, oidc.groupsClaim, oidc.tenants[tenant]);
    if (!mapping.ok) {
      // The decision is recorded with the subject; the groups and the token stay out.
      if (!deps.audit(req, { tenant, actor: claims.sub, role: null, reason: `oidc_no_access:${mapping.reason}`, status: 403, allowed: false })) {
        return sendPage(res, pages.idpUnavailable(), clear);
      }
      if (result.refreshToken !== undefined) void rp.revoke(result.refreshToken);
      return sendPage(res, pages.noAccess(tenant), clear);
    }
    const now = deps.nowSec();
    const rt = result.refreshToken;
    const exp = rt !== undefined ? now + oidc.sessionMaxSec : Math.min(now + oidc.sessionMaxSec, claims.exp);
    const session: SessionPayload = {
      v: 1,
      sid: randomBytes(16).toString("base64url"),
      sub: claims.sub,
      tenant,
      roles: mapping.roles,
      iat: now,
      exp,
      chk: rt !== undefined ? Math.min(exp, now + oidc.recheckSec) : exp,
      ...(rt !== undefined ? { rt } : {}),
    };
    if (!deps.audit(req, { tenant, actor: claims.sub, role: mapping.roles.join(","), reason: "oidc_signin", status: 200, allowed: true })) {
      return sendPage(res, pages.idpUnavailable(), clear);
    }
    sendPage(res, pages.signingIn(flow.ret), { "set-cookie": [clearFlowCookie, sessionCookie(session, origin)] });
  }

  async function logout(req: IncomingMessage, res: ServerResponse, tenant: string): Promise<void> {
    const origin = originOf(req);
    // A cross-site form must not sign people out: the browser's Origin has to be this tenant's.
    if (req.headers.origin !== origin) {
      sendPage(res, { ...pages.signOutConfirm(), status: 403 });
      return;
    }
    const s = sealer.unseal("session", origin, readCookieRaw(req.headers.cookie, SESSION_COOKIE));
    let actor: string | null = null;
    if (isSession(s)) {
      actor = s.sub;
      pruneEnded(deps.nowSec());
      ended.set(s.sid, s.exp);
      deps.onSessionEnded?.(s.sid);
      if (s.rt !== undefined) await rp.revoke(s.rt);
    }
    deps.audit(req, { tenant, actor, role: null, reason: "oidc_signout", status: 303, allowed: true });
    const end = await rp.endSessionUrl(`${origin}${OIDC_PREFIX}signed-out`);
    if (end === undefined) {
      sendPage(res, pages.signedOut(), { "set-cookie": clearSessionCookie });
      return;
    }
    res.writeHead(303, { location: end.href, "set-cookie": clearSessionCookie, "cache-control": "no-store", "content-length": 0 });
    res.end();
  }

  async function refresh(s: SessionPayload, origin: string, tenant: string, req: IncomingMessage): Promise<SessionResult> {
    const r = await rp.refresh(s.rt!, s.sub).catch(() => ({ ok: false as const, reason: "idp_unreachable" }));
    if (!r.ok) return { kind: "ended", reason: `oidc_refresh_${r.reason}`, sub: s.sub };
    let roles = s.roles;
    if (r.idTokenIssued) {
      // Group changes at the IdP take effect at the next re-check.
      const mapping = rolesFromClaims(r.claims, oidc.groupsClaim, oidc.tenants[tenant]);
      if (!mapping.ok) {
        deps.audit(req, { tenant, actor: s.sub, role: null, reason: `oidc_no_access:${mapping.reason}`, status: 403, allowed: false });
        return { kind: "no_access", reason: mapping.reason, sub: s.sub };
      }
      if (mapping.roles.join(",") !== s.roles.join(",")) {
        deps.audit(req, { tenant, actor: s.sub, role: mapping.roles.join(","), reason: "oidc_roles_changed", status: 200, allowed: true });
      }
      roles = mapping.roles;
    }
    const now = deps.nowSec();
    const next: SessionPayload = { ...s, roles, chk: Math.min(s.exp, now + oidc.recheckSec), rt: r.refreshToken };
    return { kind: "ok", sid: s.sid, sub: s.sub, tenant, roles, exp: next.chk, setCookie: sessionCookie(next, origin) };
  }

  return {
    clearSessionCookie,
    isLocal: (localPath) => localPath.startsWith(OIDC_PREFIX),

    async handle(req, res, tenant, localPath) {
      const url = new URL(req.url ?? "/", "http://x");
      const route = localPath.slice(OIDC_PREFIX.length);
      if (route === "login" && req.method === "GET") return login(req, res, url);
      if (route === "callback" && req.method === "GET") return callback(req, res, tenant, url);
      if (route === "logout" && req.method === "POST") return logout(req, res, tenant);
      if (route === "logout" && req.method === "GET") return sendPage(res, pages.signOutConfirm());
      if (route === "signed-out" && req.method === "GET") return sendPage(res, pages.signedOut(), { "set-cookie": clearSessionCookie });
      sendPage(res, { status: 404, title: "Not found", body: ["There is no such sign-in page."], action: { href: "/", label: "Go to the start page" } });
    },

    async authenticate(req, tenant) {
      const raw = readCookieRaw(req.headers.cookie, SESSION_COOKIE);
      if (raw === undefined) return { kind: "none" };
      const origin = originOf(req);
      const s = sealer.unseal("session", origin, raw);
      // Tampered, sealed for another tenant's origin, or by another key: no session at all.
      if (!isSession(s) || s.tenant !== tenant) return { kind: "ended", reason: "oidc_session_invalid" };
      const now = deps.nowSec();
      if (ended.has(s.sid)) return { kind: "ended", reason: "oidc_session_signed_out", sub: s.sub };
      if (now >= s.exp) return { kind: "ended", reason: "oidc_session_expired", sub: s.sub };
      if (now < s.chk) return { kind: "ok", sid: s.sid, sub: s.sub, tenant, roles: s.roles, exp: s.chk };
      if (s.rt === undefined) return { kind: "ended", reason: "oidc_session_expired", sub: s.sub };
      let pending = refreshing.get(s.sid);
      if (pending === undefined) {
        pending = refresh(s, origin, tenant, req).finally(() => refreshing.delete(s.sid));
        refreshing.set(s.sid, pending);
      }
      return pending;
    },

    signInRequired(req, why, tenant) {
      const ret = safeReturnPath(req.url);
      const headers: Record<string, string | string[]> = {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "x-frame-options": "DENY",
        "content-security-policy": csp,
      };
      if (why.kind === "none") {
        const href = loginHref(ret);
        return { status: 302, html: renderPage({ status: 302, title: "Sign-in required", body: ["This tenant needs you to sign in."], action: { href, label: "Sign in" } }), headers: { ...headers, location: href } };
      }
      headers["set-cookie"] = clearSessionCookie;
      const page = why.kind === "no_access" ? pages.noAccess(tenant) : pages.sessionExpired(ret);
      return { status: page.status, html: renderPage(page), headers };
    },
  };
}
