// The edge process: one HTTP(S) listener that decides every request (route → token → tenant →
// role → rate), records the decision, and proxies allowed HTTP requests and WebSocket
// upgrades to the tenant's gateway with identity headers the edge sets itself.
import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import dns from "node:dns/promises";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { BufferedAuditor, type AuditSink, type EdgeAuditEvent } from "./audit";
import type { EdgeConfig, TenantRoute } from "@octw/contracts";
import { readCookie, upstreamRequestHeaders, downstreamResponseHeaders, type SanitizeOptions } from "./headers";
import { RateLimiter } from "./ratelimit";
import { scopesForRoleClaim, scopesHeaderValue } from "./roles";
import { canonicalHost, requestTargetProblem, resolveRoute, type RouteMatch } from "./routing";
import { TokenVerifier, extractToken, type TokenResult } from "./token";
import { createOidcGate, isNavigation, type OidcGate } from "./oidc/gate";
import { errorCode, isValidHeaderName, isValidHeaderValue, relayableStatus, upgradeRefusalStatus } from "./upstream-response";
import { sendJson as sendJsonResponse } from "@octw/service-shell";
import { WakeCoordinator, startingPage, wantsHtml, type HoldOutcome } from "./wake";
import { wakerClient } from "./waker-client";

export const HEALTH_PATH = "/_edge/healthz";
export const SESSION_LOCAL_PATH = "/_edge/session";

/** WebSocket close codes the edge itself sends. */
export const WS_CLOSE = {
  shutdown: 1001,
  idle: 4000,
  lifetime: 4001,
  tokenExpired: 4002,
  signedOut: 4003,
} as const;

export interface EdgeDeps {
  audit: AuditSink;
  /** PEM certificate chain and private key when the edge terminates TLS itself. */
  tls?: { cert: string; key: string } | undefined;
  /** Structured log lines (never tokens). Defaults to no logging. */
  log?: ((line: Record<string, unknown>) => void) | undefined;
  /** Seconds since the epoch; injectable for token-time tests. */
  nowSec?: (() => number) | undefined;
  /**
   * Resolves a templated upstream host name to an IPv4 address, undefined when the name does
   * not exist. Default: the system resolver (in the container: Docker's embedded DNS).
   */
  lookup?: ((host: string) => Promise<string | undefined>) | undefined;
  /** Secrets of browser sign-in (config.oidc): read from their files by main.ts. */
  oidc?: { sessionKey: Buffer; clientSecret?: string | undefined; fetch?: typeof fetch | undefined } | undefined;
  /** Reads the waker's bearer token from `wake.tokenFile` (main.ts: a 0400 secret file). */
  wakerToken?: ((tokenFile: string) => string) | undefined;
}

/** How long a WebSocket peer has to answer the edge's close frame before it is dropped. */
const WS_CLOSE_GRACE_MS = 2_000;

/** How long a template lookup is reused: found, and not found. */
const LOOKUP_TTL_MS = 5_000;
const LOOKUP_NEGATIVE_TTL_MS = 10_000;

// c-ares, not getaddrinfo: with `dns: ["127.0.0.1"]` Docker's embedded DNS never answers for a
// name that is not a container, and getaddrinfo then waits 10 s in a libuv thread-pool thread
// (the pool WebCrypto's token checks also run on). One try with a 1 s timeout, off the pool.
const resolver = new dns.Resolver({ timeout: 1_000, tries: 1 });

async function systemLookup(host: string): Promise<string | undefined> {
  try {
    return (await resolver.resolve4(host))[0];
  } catch {
    // Not found, no answer, refused: all mean "no such tenant gateway here" (404).
    return undefined;
  }
}

export interface EdgeServer {
  server: http.Server;
  auditor: BufferedAuditor;
  listen(): Promise<AddressInfo>;
  /** Graceful: stop accepting, close WebSockets (1001), let HTTP requests finish within the grace, flush audit. */
  close(): Promise<void>;
  /** Open proxied WebSocket pairs (for tests and health). */
  readonly openWebSockets: number;
  /**
   * Applies a new config without dropping connections: tenants, routing, keys, roles, headers,
   * rate limits, body/WebSocket limits. Listener, header-size and audit settings only change on
   * restart (listed in restartNeeded).
   */
  reconfigure(next: EdgeConfig): Promise<{ restartNeeded: string[]; closedSockets: number }>;
}

type Denied = {
  allow: false;
  status: number;
  error: string;
  headers?: Record<string, string | string[]>;
  /** A browser navigation gets a page (sign-in redirect, no access, session ended), not JSON. */
  html?: string;
};
/** The sign-in routes of a tenant origin (`/_edge/oidc/*`), answered by the OIDC gate. */
type OidcLocal = { allow: "oidc-local"; tenant: string; localPath: string };
type Allowed = {
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

interface Ctx {
  method: string;
  clientIp: string;
  routeLabel: string;
  transport: "http" | "ws";
}

const PUBLIC_ERROR: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  429: "rate_limited",
  502: "bad_gateway",
  503: "unavailable",
  504: "gateway_timeout",
};

/** Audit text must be printable and bounded; the query string may hold secrets, so it is cut. */
function routeLabel(host: string | undefined, url: string): string {
  const path = url.split("?", 1)[0] ?? "";
  return `${host ?? ""}${path}`.replace(/[^\x20-\x7e]/g, "?").slice(0, 256);
}

function safeCloseCode(code: number): number {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
    ? code
    : 1000;
}

export async function createEdge(initial: EdgeConfig, deps: EdgeDeps): Promise<EdgeServer> {
  const nowSec = deps.nowSec ?? (() => Math.floor(Date.now() / 1000));
  const log = deps.log ?? (() => {});
  // Everything below that a config reload may change is a `let`, swapped by reconfigure().
  // Request handlers read them when they need them; a decision carries its own upstream.
  let config = initial;
  let verifier = await TokenVerifier.create(config.jwt, nowSec);
  const proto0: "http" | "https" = deps.tls ? "https" : initial.listen.publicScheme;
  const gateOf = (c: EdgeConfig): OidcGate | undefined => {
    if (c.oidc === undefined) return undefined;
    if (deps.oidc === undefined) throw new Error("oidc: configured, but the edge was started without its session key");
    return createOidcGate(c.oidc, {
      ...deps.oidc,
      nowSec,
      scheme: proto0,
      // Signed out here: its WebSockets on this edge end now, not at the next re-check.
      onSessionEnded: (sid) => {
        for (const p of pairs) {
          if (p.sessionId !== sid) continue;
          p.client.close(WS_CLOSE.signedOut, "signed out");
          p.upstream.close(WS_CLOSE.signedOut, "signed out");
        }
      },
      audit: (req, f) =>
        audit(
          { method: (req.method ?? "").slice(0, 16), clientIp: req.socket.remoteAddress ?? "", routeLabel: routeLabel(req.headers.host, req.url ?? ""), transport: "http" },
          f.allowed,
          { tenant: f.tenant, actor: f.actor, role: f.role, reason: f.reason, status: f.status },
        ),
    });
  };
  let oidcGate = gateOf(initial);
  const auditor = new BufferedAuditor(deps.audit, {
    bufferMax: config.audit.bufferMax,
    onError: (err) => log({ msg: "audit sink failed", error: err instanceof Error ? err.message : String(err) }),
  });
  const tenantMap = (c: EdgeConfig) => new Map(c.tenants.map((t) => [t.id, { route: t, target: new URL(t.upstream) }]));
  const sanitizeOf = (c: EdgeConfig): SanitizeOptions => ({
    userHeader: c.headers.user,
    cookieName: c.cookie.name,
    extraStripped: new Set(c.headers.stripExtra),
  });
  let tenants = tenantMap(config);
  const lookup = deps.lookup ?? systemLookup;
  const resolved = new Map<string, { address: string | undefined; until: number }>();
  /** Lookups in flight, shared by concurrent requests for the same name. */
  const resolving = new Map<string, Promise<string | undefined>>();
  /** The tenant's upstream: listed, or from the template when its name resolves. */
  async function tenantEntry(id: string): Promise<{ route: TenantRoute; target: URL } | undefined> {
    const listed = tenants.get(id);
    if (listed !== undefined || !config.routing.upstreamTemplate) return listed;
    const url = new URL(config.routing.upstreamTemplate.replace("{tenant}", id));
    const now = Date.now();
    let hit = resolved.get(url.hostname);
    if (hit === undefined || hit.until <= now) {
      let pending = resolving.get(url.hostname);
      if (pending === undefined) {
        pending = lookup(url.hostname).catch(() => undefined);
        resolving.set(url.hostname, pending);
      }
      const address = await pending;
      resolving.delete(url.hostname);
      if (resolved.size > 10_000) resolved.clear();
      hit = { address, until: Date.now() + (address === undefined ? LOOKUP_NEGATIVE_TTL_MS : LOOKUP_TTL_MS) };
      resolved.set(url.hostname, hit);
    }
    if (hit.address === undefined) return undefined;
    const target = new URL(url);
    target.hostname = hit.address;
    return { route: { id, upstream: url.href }, target };
  }
  /** Without waiting: a listed tenant, or a templated one resolved recently (audit attribution only). */
  function knownNow(id: string): boolean {
    if (tenants.has(id)) return true;
    const tpl = config.routing.upstreamTemplate;
    if (!tpl) return false;
    const hit = resolved.get(new URL(tpl.replace("{tenant}", id)).hostname);
    return hit !== undefined && hit.address !== undefined && hit.until > Date.now();
  }
  let perIp = new RateLimiter(config.limits.perClientIp);
  let perTenant = new RateLimiter(config.limits.perTenant);
  let perSubject = new RateLimiter(config.limits.perSubject);
  let sanitize = sanitizeOf(config);
  /** Idle suspend and wake on request (wake.ts), when the config has a `wake` section. */
  const newWake = (c: EdgeConfig): WakeCoordinator | undefined => {
    if (!c.wake) return undefined;
    if (!deps.wakerToken) throw new Error("wake: the edge was started without a way to read wake.tokenFile");
    const read = deps.wakerToken;
    const file = c.wake.tokenFile;
    const w = new WakeCoordinator(c.wake, { waker: wakerClient(c.wake.wakerUrl, () => read(file)), probe: probeReady, log });
    w.start();
    return w;
  };
  /** The tenant's upstream, looked up again now (after a wake its name resolves again). */
  async function freshEntry(id: string): Promise<{ route: TenantRoute; target: URL } | undefined> {
    const tpl = config.routing.upstreamTemplate;
    if (tpl && !tenants.has(id)) resolved.delete(new URL(tpl.replace("{tenant}", id)).hostname);
    return tenantEntry(id);
  }
  /** One readiness probe of a tenant's gateway over its network (the edge's own, not a tenant's request). */
  async function probeReady(id: string, timeoutMs: number): Promise<boolean> {
    const entry = await freshEntry(id);
    if (entry === undefined || config.wake === undefined) return false;
    const path = config.wake.readyPath;
    return new Promise<boolean>((resolve) => {
      const r = http.request({ host: entry.target.hostname, port: entry.target.port || 80, method: "GET", path, agent: false, timeout: timeoutMs }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      r.on("timeout", () => {
        r.destroy();
        resolve(false);
      });
      r.on("error", () => resolve(false));
      r.end();
    });
  }
  let wake = newWake(config);
  const proto: "http" | "https" = deps.tls ? "https" : config.listen.publicScheme;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 });
  // Rate-limit denials are coalesced: one audit event per key per second, with a count.
  const coalesced = new Map<string, { at: number; count: number }>();
  let draining = false;

  function audit(ctx: Ctx, allowed: boolean, fields: {
    tenant: string | null; actor: string | null; role: string | null; reason: string; status: number; count?: number;
    type?: EdgeAuditEvent["type"]; error?: string;
  }): boolean {
    const ev: EdgeAuditEvent = {
      type: fields.type ?? (allowed ? "edge.auth.allowed" : "edge.auth.denied"),
      tenant: fields.tenant,
      actor: fields.actor,
      detail: {
        role: fields.role,
        route: ctx.routeLabel,
        method: ctx.method,
        reason: fields.reason,
        status: fields.status,
        clientIp: ctx.clientIp,
        transport: ctx.transport,
        ...(fields.count !== undefined ? { count: fields.count } : {}),
        ...(fields.error !== undefined ? { error: fields.error } : {}),
      },
      at: new Date().toISOString(),
    };
    return auditor.submit(ev);
  }

  function deny(ctx: Ctx, status: number, reason: string, who: { tenant: string | null; actor: string | null; role: string | null }, headers?: Record<string, string | string[]>): Denied {
    const accepted = audit(ctx, false, { ...who, reason, status });
    return accepted
      ? { allow: false, status, error: PUBLIC_ERROR[status] ?? "error", ...(headers ? { headers } : {}) }
      : { allow: false, status: 503, error: "unavailable" };
  }

  function rateDeny(ctx: Ctx, key: string, who: { tenant: string | null; actor: string | null; role: string | null }, retryAfter: number): Denied {
    const now = Date.now();
    const c = coalesced.get(key);
    const headers = { "retry-after": String(retryAfter) };
    if (c && now - c.at < 1_000) {
      c.count++;
      return { allow: false, status: 429, error: "rate_limited", headers };
    }
    if (coalesced.size > 10_000) coalesced.clear();
    coalesced.set(key, { at: now, count: 0 });
    return deny(ctx, 429, "rate_limited", who, headers);
  }

  async function decide(req: IncomingMessage, ctx: Ctx): Promise<Allowed | Denied | OidcLocal> {
    if (!auditor.hasRoom()) return { allow: false, status: 503, error: "unavailable" };
    const none = { tenant: null, actor: null, role: null };
    if (!perIp.take(ctx.clientIp)) return rateDeny(ctx, `ip:${ctx.clientIp}`, none, perIp.retryAfterSec());

    // What is checked is what is forwarded: one Host, an origin-form target without anything
    // another hop could normalize into a different tenant's path.
    const targetProblem = requestTargetProblem(req.url ?? "");
    const hosts = req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]!.toLowerCase() === "host").length;
    if (targetProblem !== undefined || hosts !== 1) return deny(ctx, 400, targetProblem ?? "duplicate_host", none);

    const route = resolveRoute(req.headers.host, req.url ?? "", config.routing);
    const knownTenant = route.kind !== "none" && knownNow(route.tenant) ? route.tenant : null;
    const cookie = config.cookie.enabled ? readCookie(req.headers.cookie, config.cookie.name) : undefined;
    const { token, source } = extractToken(req.headers.authorization, cookie);
    if (oidcGate !== undefined && route.kind === "host" && oidcGate.isLocal(route.localPath)) {
      return { allow: "oidc-local", tenant: route.tenant, localPath: route.localPath };
    }

    // Authenticate before routing, so without a valid token every route looks alike (401):
    // nobody can enumerate tenant names.
    let v: TokenResult;
    let refreshedCookie: string | undefined;
    let viaSession = false;
    let sessionId: string | undefined;
    if (oidcGate !== undefined && source === "none" && route.kind === "host") {
      // No bearer token, no edge JWT cookie: a person's sign-in session (or the way to one).
      const s = await oidcGate.authenticate(req, route.tenant);
      if (s.kind !== "ok") {
        const who = { tenant: knownTenant, actor: s.kind === "none" ? null : (s.sub ?? null), role: null };
        const reason = s.kind === "none" ? "no_token" : s.reason;
        const status = s.kind === "no_access" ? 403 : 401;
        if (!isNavigation(req)) {
          return deny(ctx, status, reason, who, s.kind === "none" ? { "www-authenticate": 'Bearer error="invalid_token"' } : { "set-cookie": oidcGate.clearSessionCookie });
        }
        const page = oidcGate.signInRequired(req, s, route.tenant);
        const d = deny(ctx, page.status, reason, who, page.headers);
        return d.status === 503 ? d : { ...d, html: page.html };
      }
      v = { ok: true, sub: s.sub, tenant: s.tenant, roleClaim: s.roles, exp: s.exp };
      refreshedCookie = s.setCookie;
      sessionId = s.sid;
      viaSession = true;
    } else {
      v = await verifier.verify(token);
    }
    if (!v.ok) {
      return deny(ctx, 401, v.reason, { tenant: knownTenant, actor: v.sub ?? null, role: null }, {
        "www-authenticate": 'Bearer error="invalid_token"',
      });
    }
    if ((source === "cookie" || viaSession) && !sameOrigin(req)) {
      // A cookie rides along on cross-site requests a browser makes; only same-origin ones count.
      return deny(ctx, 403, "origin_mismatch", { tenant: knownTenant, actor: v.sub, role: null });
    }
    if (route.kind === "none") return deny(ctx, 404, "no_route", { tenant: null, actor: v.sub, role: null });
    let entry: { route: TenantRoute; target: URL; unresolved?: boolean } | undefined = await tenantEntry(route.tenant);
    const tpl = config.routing.upstreamTemplate;
    // A stopped gateway has no DNS name: a suspendable tenant is woken, not answered 404.
    if (entry === undefined && tpl && wake?.manages(route.tenant)) {
      const url = new URL(tpl.replace("{tenant}", route.tenant));
      entry = { route: { id: route.tenant, upstream: url.href }, target: url, unresolved: true };
    }
    if (entry === undefined) return deny(ctx, 404, "unknown_tenant", { tenant: null, actor: v.sub, role: null });
    if (v.tenant !== route.tenant) {
      return deny(ctx, 403, "tenant_mismatch", { tenant: route.tenant, actor: v.sub, role: null });
    }
    const roles = scopesForRoleClaim(v.roleClaim, config.roles);
    const roleLabel = roles.roles.length ? roles.roles.join(",").slice(0, 128) : null;
    if (!roles.ok) return deny(ctx, 403, roles.reason, { tenant: route.tenant, actor: v.sub, role: roleLabel });
    const who = { tenant: route.tenant, actor: v.sub, role: roleLabel };
    // Subject first: one user's flood spends only that user's budget, not the whole tenant's.
    if (!perSubject.take(`${route.tenant}\u0000${v.sub}`)) {
      return rateDeny(ctx, `s:${route.tenant}\u0000${v.sub}`, who, perSubject.retryAfterSec());
    }
    if (!perTenant.take(route.tenant)) return rateDeny(ctx, `t:${route.tenant}`, who, perTenant.retryAfterSec());
    const reason = route.localPath === SESSION_LOCAL_PATH ? "session" : "ok";
    if (!audit(ctx, true, { ...who, reason, status: 0 })) return { allow: false, status: 503, error: "unavailable" };
    return {
      allow: true,
      tenant: entry.route,
      target: entry.target,
      route,
      sub: v.sub,
      scopes: roles.scopes,
      exp: v.exp,
      tokenSource: source === "bearer" ? "bearer" : "cookie",
      token: token ?? "",
      setCookie: refreshedCookie,
      sessionId,
      ...(entry.unresolved ? { unresolved: true } : {}),
    };
  }

  function identityHeaders(req: IncomingMessage, a: Allowed, clientIp: string) {
    return upstreamRequestHeaders(
      req.headers,
      { user: a.sub, scopes: scopesHeaderValue(a.scopes), clientIp, host: canonicalHost(req.headers.host), proto },
      sanitize,
    );
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
    sendJsonResponse(res, status, body, { close: draining, headers });
  }

  function handleSession(req: IncomingMessage, res: ServerResponse, a: Allowed): void {
    const base = `Path=${a.route.cookiePath}; Secure; HttpOnly; SameSite=Strict`;
    if (req.method === "POST" && a.tokenSource === "bearer") {
      const maxAge = Math.max(0, a.exp - nowSec());
      res.writeHead(204, { "set-cookie": `${config.cookie.name}=${a.token}; Max-Age=${maxAge}; ${base}`, "cache-control": "no-store" });
      res.end();
    } else if (req.method === "DELETE") {
      res.writeHead(204, { "set-cookie": `${config.cookie.name}=; Max-Age=0; ${base}`, "cache-control": "no-store" });
      res.end();
    } else {
      sendJson(res, 405, { error: "method_not_allowed" }, { allow: "POST, DELETE" });
    }
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === HEALTH_PATH && (req.method === "GET" || req.method === "HEAD")) {
      const ok = auditor.hasRoom() && !draining;
      sendJson(res, ok ? 200 : 503, { ok, auditPending: auditor.pending });
      return;
    }
    const ctx: Ctx = {
      method: (req.method ?? "").slice(0, 16),
      clientIp: req.socket.remoteAddress ?? "",
      routeLabel: routeLabel(req.headers.host, req.url ?? ""),
      transport: "http",
    };
    const d = await decide(req, ctx);
    if (d.allow === "oidc-local") {
      await oidcGate!.handle(req, res, d.tenant, d.localPath);
      req.resume();
      return;
    }
    if (!d.allow) {
      if (d.html !== undefined) {
        res.writeHead(d.status, { ...d.headers, "content-length": Buffer.byteLength(d.html) });
        res.end(req.method === "HEAD" ? undefined : d.html);
      } else sendJson(res, d.status, { error: d.error }, d.headers);
      req.resume();
      return;
    }
    if (d.route.localPath === SESSION_LOCAL_PATH) {
      handleSession(req, res, d);
      req.resume();
      return;
    }
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > config.limits.maxBodyBytes) {
      sendJson(res, 413, { error: "payload_too_large" }, { connection: "close" });
      req.resume();
      return;
    }
    const w = wake;
    if (w?.manages(d.tenant.id)) {
      // The tenant is in use from now until the response is done (held time included).
      const id = d.tenant.id;
      w.begin(id);
      res.once("close", () => w.end(id));
      const html = wantsHtml(req.method, req.headers.accept);
      const ready = await wakeGate(w, d, ctx, html ? Math.min(w.holdMs, w.htmlHoldMs) : w.holdMs);
      if (res.destroyed) return;
      if (!ready.ok) {
        req.resume();
        if (html) sendStarting(res, ready.retryAfterSec, ready.reason !== "hold_timeout");
        else sendJson(res, 503, { error: "unavailable" }, { "retry-after": String(ready.retryAfterSec) });
        return;
      }
      proxyHttp(req, res, ready.allowed, ctx);
      return;
    }
    proxyHttp(req, res, d, ctx);
  }

  /**
   * Holds an allowed request of a suspendable tenant until its gateway is ready (wake.ts); then
   * its upstream is looked up again when it had to wait (a started gateway's name is back).
   */
  async function wakeGate(w: WakeCoordinator, a: Allowed, ctx: Ctx, maxWaitMs: number): Promise<{ ok: true; allowed: Allowed } | Extract<HoldOutcome, { ok: false }>> {
    const outcome = await w.hold(a.tenant.id, maxWaitMs, a.unresolved === true);
    if (!outcome.ok) {
      // hold_timeout on a page request is the "starting…" page, not a failure; still recorded.
      auditUpstream(ctx, a, outcome.reason, 503);
      return outcome;
    }
    if (!outcome.waited && !a.unresolved) return { ok: true, allowed: a };
    const fresh = await freshEntry(a.tenant.id);
    if (fresh === undefined) {
      auditUpstream(ctx, a, "wake_failed", 503);
      return { ok: false, reason: "wake_failed", retryAfterSec: w.retryAfterSec };
    }
    const { unresolved: _, ...rest } = a;
    return { ok: true, allowed: { ...rest, target: fresh.target } };
  }

  function sendStarting(res: ServerResponse, retryAfterSec: number, failed: boolean): void {
    const page = startingPage(Math.min(retryAfterSec, 5), failed);
    res.writeHead(503, {
      "content-type": "text/html; charset=utf-8",
      "content-length": Buffer.byteLength(page),
      "cache-control": "no-store",
      "retry-after": String(retryAfterSec),
      "content-security-policy": "default-src 'none'",
      ...(draining ? { connection: "close" } : {}),
    });
    res.end(page);
  }

  /** An allowed request its gateway did not answer properly: recorded, never silently. */
  function auditUpstream(ctx: Ctx, a: Allowed, reason: string, status: number, err?: unknown): void {
    // The request was already admitted (and recorded); a full buffer only loses this detail.
    audit(ctx, false, { tenant: a.tenant.id, actor: a.sub, role: null, reason, status, type: "edge.upstream.failed", ...(err !== undefined ? { error: errorCode(err) } : {}) });
  }

  function proxyHttp(req: IncomingMessage, res: ServerResponse, a: Allowed, ctx: Ctx): void {
    const target = a.target;
    const headers = identityHeaders(req, a, ctx.clientIp);
    // Framing is decided here, never left to Node's per-method default: for GET, DELETE and
    // others, Node's client sends a body it has no length for WITHOUT chunked framing, so the
    // gateway would read the body as a next request on the keep-alive connection — with any
    // identity headers the client wrote into it (request smuggling past the edge).
    const hasBody = req.headers["transfer-encoding"] !== undefined || req.headers["content-length"] !== undefined;
    if (req.headers["transfer-encoding"] !== undefined) {
      delete headers["content-length"]; // Node's parser already refused TE together with CL
      headers["transfer-encoding"] = "chunked";
    }
    const limits = config.limits;
    const up = http.request({
      host: target.hostname,
      port: target.port || 80,
      method: req.method,
      path: a.route.upstreamPath,
      headers,
      agent,
      // Idle bound: no byte from the gateway for this long, while waiting or while streaming.
      timeout: limits.upstreamTimeoutMs,
      // The gateway's response head is bounded like a client's request head.
      maxHeaderSize: limits.maxHeaderBytes,
      insecureHTTPParser: false,
    });
    // Exactly one outcome per request: relayed to the end, or failed (502/504 or a cut
    // connection, audited). Everything a hostile gateway can do ends in one of the two.
    let done = false;
    let bodyTimer: NodeJS.Timeout | undefined;
    // The idle timeout alone lets a gateway trickle one byte per period forever: the head
    // gets a hard deadline, the body a total one.
    const headTimer = setTimeout(() => fail(504, "upstream_timeout"), limits.upstreamTimeoutMs);
    const settle = () => {
      done = true;
      clearTimeout(headTimer);
      clearTimeout(bodyTimer);
    };
    const fail = (status: 502 | 504 | 413, reason: string, err?: unknown) => {
      if (done) return;
      settle();
      up.destroy();
      if (status !== 413) auditUpstream(ctx, a, reason, status, err);
      if (!res.headersSent) sendJson(res, status, { error: PUBLIC_ERROR[status] ?? "error" }, status === 413 ? { connection: "close" } : {});
      else res.destroy(); // the head is out: cutting the connection is how the client learns the body is incomplete
    };
    up.on("timeout", () => fail(504, "upstream_timeout"));
    up.on("error", (err) => {
      // A suspendable tenant's gateway that does not take connections may be suspended behind
      // the edge's back (an edge restart, an operator): probe and wake it, answer "try again".
      const w = wake;
      if (isConnectFailure(err) && w?.manages(a.tenant.id) && !done && !res.headersSent) {
        w.unreachable(a.tenant.id);
        settle();
        up.destroy();
        auditUpstream(ctx, a, "upstream_unreachable_waking", 503, err);
        sendJson(res, 503, { error: "unavailable" }, { "retry-after": String(w.retryAfterSec) });
        return;
      }
      fail(502, err.message === "socket hang up" ? "upstream_reset" : "upstream_error", err);
    });
    up.on("upgrade", (_r, socket) => {
      // 101 to a request that asked for no upgrade: not an answer.
      socket.destroy();
      fail(502, "upstream_invalid_response");
    });
    up.on("response", (upRes) => {
      clearTimeout(headTimer);
      upRes.on("error", (err) => fail(502, "upstream_reset", err));
      if (done) {
        upRes.resume();
        return;
      }
      const status = relayableStatus(upRes.statusCode);
      // A status line or header Node's parser let through but RFC 9112 does not allow (a
      // control character in the reason phrase) is a malformed answer: 502, not a repair.
      const wellFormed =
        isValidHeaderValue(upRes.statusMessage ?? "") &&
        upRes.rawHeaders.every((v, i) => (i % 2 === 0 ? isValidHeaderName(v) : isValidHeaderValue(v)));
      if (status === undefined || !wellFormed) {
        upRes.resume();
        fail(502, "upstream_invalid_response");
        return;
      }
      const out = downstreamResponseHeaders(upRes.rawHeaders, { cookieName: config.cookie.name, kind: a.route.kind, cookiePath: a.route.cookiePath });
      if (a.setCookie !== undefined) out.push("set-cookie", a.setCookie);
      if (draining) out.push("connection", "close");
      try {
        res.writeHead(status, STATUS_CODES[status] ?? "", out);
      } catch (err) {
        // The filters above should make this unreachable; if Node still refuses, it is a 502, not a crash.
        upRes.resume();
        fail(502, "upstream_invalid_response", err);
        return;
      }
      bodyTimer = setTimeout(() => fail(504, "upstream_body_timeout"), limits.upstreamBodyTimeoutMs);
      upRes.on("end", settle);
      upRes.on("aborted", () => fail(502, "upstream_reset"));
      upRes.pipe(res);
    });
    res.on("close", () => {
      if (!res.writableFinished) {
        settle();
        up.destroy();
      }
    });
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limits.maxBodyBytes) {
        req.unpipe(up);
        fail(413, "payload_too_large");
        req.destroy();
      }
    });
    if (hasBody) req.pipe(up);
    else {
      up.end();
      req.resume();
    }
  }

  // ---- WebSockets ----
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: config.limits.wsMaxPayloadBytes,
    handleProtocols: (_protocols, req) => chosenProtocol.get(req) ?? false,
  });
  const chosenProtocol = new WeakMap<IncomingMessage, string>();
  // A sign-in session refreshed on the upgrade request travels back on the 101.
  const refreshedCookieOf = new WeakMap<IncomingMessage, string>();
  wss.on("headers", (headers, req) => {
    const c = refreshedCookieOf.get(req);
    if (c !== undefined) headers.push(`set-cookie: ${c}`);
  });
  const wsHeaders = (h: Record<string, string | string[]> | undefined): Record<string, string> =>
    Object.fromEntries(Object.entries(h ?? {}).filter((e): e is [string, string] => typeof e[1] === "string"));
  const pairs = new Set<{ client: WebSocket; upstream: WebSocket; tenant: string; target: string; sessionId: string | undefined }>();

  function rejectUpgrade(socket: Duplex, status: number, error: string, headers: Record<string, string> = {}): void {
    const body = JSON.stringify({ error });
    const lines = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`,
      "connection: close",
      "content-type: application/json",
      `content-length: ${Buffer.byteLength(body)}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
  }

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    if (draining) return rejectUpgrade(socket, 503, "unavailable");
    if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") return rejectUpgrade(socket, 400, "bad_request");
    const clientIp = (socket as Socket).remoteAddress ?? "";
    const ctx: Ctx = {
      method: "GET",
      clientIp,
      routeLabel: routeLabel(req.headers.host, req.url ?? ""),
      transport: "ws",
    };
    const decided = await decide(req, ctx);
    if (decided.allow === "oidc-local") return rejectUpgrade(socket, 405, "method_not_allowed");
    if (!decided.allow) return rejectUpgrade(socket, decided.status, decided.error, wsHeaders(decided.headers));
    if (decided.route.localPath === SESSION_LOCAL_PATH) return rejectUpgrade(socket, 405, "method_not_allowed");
    if (decided.setCookie !== undefined) refreshedCookieOf.set(req, decided.setCookie);
    let d = decided;
    const w = wake;
    if (w?.manages(d.tenant.id)) {
      // An open WebSocket keeps its tenant awake until the client's connection closes.
      const id = d.tenant.id;
      w.begin(id);
      socket.once("close", () => w.end(id));
      const ready = await wakeGate(w, d, ctx, w.holdMs);
      if (socket.destroyed) return;
      if (!ready.ok) return rejectUpgrade(socket, 503, "unavailable", { "retry-after": String(ready.retryAfterSec) });
      d = ready.allowed;
    }

    const target = d.target;
    const headers = identityHeaders(req, d, clientIp);
    for (const name of Object.keys(headers)) if (name.startsWith("sec-websocket-")) delete headers[name];
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim()).filter(Boolean);
    const upstream = new WebSocket(`ws://${target.host}${d.route.upstreamPath}`, offered, {
      headers: headers as Record<string, string>,
      perMessageDeflate: false,
      maxPayload: config.limits.wsMaxPayloadBytes,
      handshakeTimeout: config.limits.upstreamTimeoutMs,
      followRedirects: false,
    });
    let opened = false;
    let settled = false;
    // ws's handshakeTimeout is an idle timeout; a gateway trickling its answer needs a deadline.
    const deadline = setTimeout(() => refuse(504, "gateway_timeout", "upstream_timeout"), config.limits.upstreamTimeoutMs);
    /** The one answer a refused upgrade gets (the ws client may report a failure more than once). */
    const refuse = (status: number, error: string, reason: string, err?: unknown) => {
      if (settled || opened) return;
      settled = true;
      clearTimeout(deadline);
      upstream.removeAllListeners("open");
      upstream.terminate();
      auditUpstream(ctx, d, reason, status, err);
      if (!socket.destroyed && socket.writable) rejectUpgrade(socket, status, error);
    };
    upstream.once("unexpected-response", (_r, upRes) => {
      // The gateway refused the upgrade: pass its status (never its body or headers) back,
      // if it is a refusal at all.
      upRes.on("error", () => {});
      upRes.resume();
      const status = upgradeRefusalStatus(upRes.statusCode);
      refuse(status, status === 502 ? "bad_gateway" : "upstream_refused", status === 502 ? "upstream_invalid_response" : "upstream_refused");
    });
    upstream.on("error", (err) => {
      // Before open: a malformed handshake answer (bad accept key, unknown subprotocol,
      // extension not offered, ...), a reset, or unreachable. After open, relay() handles it.
      if (!opened) {
        const w = wake;
        if (isConnectFailure(err) && w?.manages(d.tenant.id)) w.unreachable(d.tenant.id);
        if (/handshake has timed out/.test(err.message)) refuse(504, "gateway_timeout", "upstream_timeout", err);
        else refuse(502, "bad_gateway", "upstream_invalid_response", err);
      }
    });
    socket.once("close", () => {
      if (!opened) {
        settled = true;
        clearTimeout(deadline);
        upstream.terminate();
      }
    });
    upstream.once("open", () => {
      opened = true;
      clearTimeout(deadline);
      if (socket.destroyed || draining || settled) {
        upstream.terminate();
        return;
      }
      if (upstream.protocol) chosenProtocol.set(req, upstream.protocol);
      wss.handleUpgrade(req, socket, head, (client) =>
        relay(client, upstream, d.exp, d.tenant.id, new URL(d.tenant.upstream).href, (err) => auditUpstream(ctx, d, "upstream_ws_protocol_error", 1014, err), d.sessionId),
      );
    });
  }

  function relay(client: WebSocket, upstream: WebSocket, tokenExp: number, tenant: string, target: string, onUpstreamError: (err: Error) => void, sessionId?: string): void {
    const pair = { client, upstream, tenant, target, sessionId };
    pairs.add(pair);
    const HIGH = 4 * 1024 * 1024;
    let idle: NodeJS.Timeout;
    // A peer that never answers the close frame would hold the connection for ws's own 30 s
    // close timeout; the edge gives it WS_CLOSE_GRACE_MS, then drops it.
    const closeWithGrace = (ws: WebSocket, code: number, reason: string | Buffer) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.close(code, reason);
      const t = setTimeout(() => ws.terminate(), WS_CLOSE_GRACE_MS);
      t.unref();
      ws.once("close", () => clearTimeout(t));
    };
    const closeBoth = (code: number, reason: string) => {
      closeWithGrace(client, code, reason);
      closeWithGrace(upstream, code, reason);
    };
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => closeBoth(WS_CLOSE.idle, "idle timeout"), config.limits.wsIdleTimeoutMs);
    };
    touch();
    const lifetimeMs = config.limits.wsMaxLifetimeMs;
    const tokenLeftMs = (tokenExp + config.jwt.clockToleranceSec - nowSec()) * 1000;
    const lifetime =
      tokenLeftMs < lifetimeMs
        ? setTimeout(() => closeBoth(WS_CLOSE.tokenExpired, "token expired"), Math.max(0, tokenLeftMs))
        : setTimeout(() => closeBoth(WS_CLOSE.lifetime, "session lifetime exceeded"), lifetimeMs);

    const forward = (from: WebSocket, to: WebSocket) => (data: RawData, isBinary: boolean) => {
      touch();
      if (to.readyState !== WebSocket.OPEN) return;
      to.send(data, { binary: isBinary }, () => {
        if (to.bufferedAmount < HIGH && from.isPaused) from.resume();
      });
      if (to.bufferedAmount >= HIGH) from.pause();
    };
    client.on("message", forward(client, upstream));
    upstream.on("message", forward(upstream, client));
    const finish = () => {
      clearTimeout(idle);
      clearTimeout(lifetime);
      pairs.delete(pair);
    };
    client.on("close", (code, reason) => {
      finish();
      if (upstream.readyState === WebSocket.OPEN) closeWithGrace(upstream, safeCloseCode(code), reason);
      else upstream.terminate();
    });
    let upstreamFailed = false;
    upstream.on("close", (code, reason) => {
      finish();
      if (upstreamFailed) return;
      if (client.readyState === WebSocket.OPEN) closeWithGrace(client, safeCloseCode(code), reason);
      else client.terminate();
    });
    client.on("error", () => upstream.terminate());
    upstream.on("error", (err) => {
      // A frame that breaks the protocol (bad opcode, RSV bits, invalid UTF-8, oversized,
      // unmasked-rule violations...): ws has already failed the connection. The client gets a
      // clean close, 1014 (bad gateway), and the audit trail the reason.
      if (upstreamFailed) return;
      upstreamFailed = true;
      onUpstreamError(err);
      upstream.terminate();
      if (client.readyState === WebSocket.OPEN) closeWithGrace(client, 1014, "bad gateway");
      else client.terminate();
    });
  }

  const serverOpts: http.ServerOptions = {
    maxHeaderSize: config.limits.maxHeaderBytes,
    requestTimeout: config.limits.requestTimeoutMs,
    headersTimeout: Math.min(60_000, config.limits.requestTimeoutMs),
    keepAliveTimeout: 5_000,
  };
  const server: http.Server = deps.tls
    ? https.createServer({ ...serverOpts, cert: deps.tls.cert, key: deps.tls.key })
    : http.createServer(serverOpts);
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    onRequest(req, res).catch((err: unknown) => {
      log({ msg: "request failed", error: err instanceof Error ? err.message : String(err) });
      sendJson(res, 500, { error: "internal" });
    });
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    onUpgrade(req, socket, head).catch((err: unknown) => {
      log({ msg: "upgrade failed", error: err instanceof Error ? err.message : String(err) });
      socket.destroy();
    });
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  function sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return !isWebSocketUpgrade(req); // browsers always send Origin on WS
    try {
      return new URL(origin).host === (req.headers.host ?? "").toLowerCase();
    } catch {
      return false;
    }
  }

  return {
    server,
    auditor,
    get openWebSockets() {
      return pairs.size;
    },
    reconfigure: async (next: EdgeConfig) => {
      const restartNeeded: string[] = [];
      const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
      if (!same(next.listen, config.listen)) restartNeeded.push("listen");
      for (const k of ["maxHeaderBytes", "requestTimeoutMs"] as const) {
        if (next.limits[k] !== config.limits[k]) restartNeeded.push(`limits.${k}`);
      }
      if (!same(next.audit, config.audit)) restartNeeded.push("audit");
      // Build everything first, then swap: a bad key in the new config leaves the old one running.
      const nextVerifier = same(next.jwt, config.jwt) ? verifier : await TokenVerifier.create(next.jwt, nowSec);
      const nextTenants = tenantMap(next);
      const nextGate = same(next.oidc, config.oidc) ? oidcGate : gateOf(next);
      if (!same(next.limits.perClientIp, config.limits.perClientIp)) perIp = new RateLimiter(next.limits.perClientIp);
      if (!same(next.limits.perTenant, config.limits.perTenant)) perTenant = new RateLimiter(next.limits.perTenant);
      if (!same(next.limits.perSubject, config.limits.perSubject)) perSubject = new RateLimiter(next.limits.perSubject);
      // Suspension switched on, changed or off without a restart (a platform that gains its
      // first suspendable tenant). Built before anything is swapped: an unreadable token file
      // leaves the old config running.
      let nextWake = wake;
      if (next.wake && wake) {
        const sameWaker = same(next.wake.wakerUrl, config.wake?.wakerUrl) && same(next.wake.tokenFile, config.wake?.tokenFile);
        const read = deps.wakerToken!;
        const file = next.wake.tokenFile;
        wake.reconfigure(next.wake, sameWaker ? undefined : wakerClient(next.wake.wakerUrl, () => read(file)));
      } else if (next.wake) nextWake = newWake(next);
      else if (wake) {
        wake.stop();
        nextWake = undefined;
      }
      verifier = nextVerifier;
      oidcGate = nextGate;
      tenants = nextTenants;
      wake = nextWake;
      resolved.clear();
      sanitize = sanitizeOf(next);
      config = next;
      // WebSockets of a tenant that left, or whose gateway moved, end now.
      let closedSockets = 0;
      const upstreamOf = (id: string) => {
        const listed = nextTenants.get(id);
        if (listed) return new URL(listed.route.upstream).href;
        return next.routing.upstreamTemplate ? new URL(next.routing.upstreamTemplate.replace("{tenant}", id)).href : undefined;
      };
      for (const p of pairs) {
        if (upstreamOf(p.tenant) !== p.target) {
          p.client.close(WS_CLOSE.shutdown, "tenant route changed");
          p.upstream.close(WS_CLOSE.shutdown, "tenant route changed");
          closedSockets++;
        }
      }
      return { restartNeeded, closedSockets };
    },
    listen: () =>
      new Promise<AddressInfo>((resolve, reject) => {
        server.once("error", reject);
        server.listen(config.listen.port, config.listen.host, () => resolve(server.address() as AddressInfo));
      }),
    close: async () => {
      draining = true;
      wake?.stop();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      for (const { client, upstream } of pairs) {
        client.close(WS_CLOSE.shutdown, "edge shutting down");
        upstream.close(WS_CLOSE.shutdown, "edge shutting down");
      }
      const grace = new Promise<void>((r) => setTimeout(r, config.limits.shutdownGraceMs).unref());
      await Promise.race([closed, grace]);
      server.closeAllConnections();
      for (const { client, upstream } of pairs) {
        client.terminate();
        upstream.terminate();
      }
      agent.destroy();
      await closed;
      const left = await auditor.drain(Math.max(1_000, config.limits.shutdownGraceMs));
      if (left > 0) log({ msg: "audit events lost at shutdown", count: left });
    },
  };
}

/** The gateway did not take the connection at all (no process listening, no host, no route). */
function isConnectFailure(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EHOSTDOWN" || code === "ENOTFOUND" || code === "EAI_AGAIN";
}

function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? "").toLowerCase() === "websocket";
}
