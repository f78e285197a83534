// The edge process: one HTTP(S) listener that decides every request (route → token → tenant →
// role → rate), records the decision, and proxies allowed HTTP requests and WebSocket
// upgrades to the tenant's gateway with identity headers the edge sets itself. This file wires
// the parts and owns the reloadable state; each part does one thing:
//   decide.ts          the decision          decision-audit.ts  recording it
//   proxy-http.ts      HTTP to the gateway   ws-relay.ts        WebSocket upgrade and relay
//   upstreams.ts       where a gateway is    wake-hold.ts       holding a request during a wake
import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { BufferedAuditor, type AuditSink } from "./audit";
import type { EdgeConfig, WakeConfig } from "@octw/contracts";
import { LocalRateLimits, type RateLimits } from "./rate-limits";
import { TokenVerifier } from "./token";
import { createOidcGate, type OidcGate } from "./oidc/gate";
import { HEALTH_PATH, SESSION_LOCAL_PATH, routeLabel, type Allowed, type Ctx } from "./decision";
import { createDecisionAudit } from "./decision-audit";
import { createDecide } from "./decide";
import { createHttpProxy, sendJson as sendJsonState } from "./proxy-http";
import { sanitizeOf, type EdgeState } from "./state";
import { createUpstreams, tenantMap } from "./upstreams";
import { startingPage, wantsHtml } from "./wake";
import { startWakeCoordinator, wakeAfterReload } from "./wake-lifecycle";
import { createWakeGate, type WakePort } from "./wake-hold";
import { WS_CLOSE, createWsRelay } from "./ws-relay";

export { HEALTH_PATH, SESSION_LOCAL_PATH } from "./decision";
export { WS_CLOSE } from "./ws-relay";

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
  /** Rate limits held elsewhere (a cluster worker asks its primary); default: local buckets. */
  limits?: ((limits: EdgeConfig["limits"]) => RateLimits) | undefined;
  /** Wake on request run elsewhere (a cluster worker uses its primary's); default: a local WakeCoordinator. */
  wake?: ((config: WakeConfig) => WakePort) | undefined;
  /** The cluster worker's number (1, 2, …), shown on the health answer: which worker answered. */
  worker?: number | undefined;
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

export async function createEdge(initial: EdgeConfig, deps: EdgeDeps): Promise<EdgeServer> {
  const nowSec = deps.nowSec ?? (() => Math.floor(Date.now() / 1000));
  const log = deps.log ?? (() => {});
  const proto: "http" | "https" = deps.tls ? "https" : initial.listen.publicScheme;
  const gateOf = (c: EdgeConfig): OidcGate | undefined => {
    if (c.oidc === undefined) return undefined;
    if (deps.oidc === undefined) throw new Error("oidc: configured, but the edge was started without its session key");
    return createOidcGate(c.oidc, {
      ...deps.oidc,
      nowSec,
      scheme: proto,
      // Signed out here: its WebSockets on this edge end now, not at the next re-check.
      onSessionEnded: (sid) => void ws.close((p) => p.sessionId === sid, WS_CLOSE.signedOut, "signed out"),
      audit: (req, f) =>
        rec.audit(
          { method: (req.method ?? "").slice(0, 16), clientIp: req.socket.remoteAddress ?? "", routeLabel: routeLabel(req.headers.host, req.url ?? ""), transport: "http" },
          f.allowed,
          { tenant: f.tenant, actor: f.actor, role: f.role, reason: f.reason, status: f.status },
        ),
    });
  };
  /** Idle suspend and wake on request (wake.ts), when the config has a `wake` section. */
  const newWake = (c: WakeConfig): WakePort =>
    deps.wake ? deps.wake(c) : startWakeCoordinator(c, deps.wakerToken, (id, ms) => upstreams.probeReady(id, ms), log);
  // Everything a config reload may change lives in `state`, swapped by reconfigure().
  const state: EdgeState = {
    config: initial,
    verifier: await TokenVerifier.create(initial.jwt, nowSec),
    oidcGate: undefined,
    limits: deps.limits ? deps.limits(initial.limits) : new LocalRateLimits(initial.limits),
    sanitize: sanitizeOf(initial),
    wake: undefined,
    proto,
    nowSec,
    draining: false,
  };
  state.oidcGate = gateOf(initial);
  const auditor = new BufferedAuditor(deps.audit, {
    bufferMax: initial.audit.bufferMax,
    onError: (err) => log({ msg: "audit sink failed", error: err instanceof Error ? err.message : String(err) }),
  });
  const rec = createDecisionAudit(auditor);
  const upstreams = createUpstreams(() => state.config, deps.lookup);
  state.wake = initial.wake ? newWake(initial.wake) : undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 });
  const decide = createDecide(state, upstreams, auditor, rec);
  const wakeGate = createWakeGate(upstreams, rec);
  const proxyHttp = createHttpProxy(state, agent, rec);
  // A cluster worker's decision is in the primary's hands before anything is answered or forwarded.
  const handedOff = deps.audit.handedOff;
  const decideHanded: typeof decide = handedOff
    ? async (req, ctx) => {
        const d = await decide(req, ctx);
        await handedOff();
        return d;
      }
    : decide;
  const ws = createWsRelay(state, decideHanded, wakeGate, rec);
  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}) => sendJsonState(state, res, status, body, headers);

  function handleSession(req: IncomingMessage, res: ServerResponse, a: Allowed): void {
    const base = `Path=${a.route.cookiePath}; Secure; HttpOnly; SameSite=Strict`;
    if (req.method === "POST" && a.tokenSource === "bearer") {
      const maxAge = Math.max(0, a.exp - nowSec());
      res.writeHead(204, { "set-cookie": `${state.config.cookie.name}=${a.token}; Max-Age=${maxAge}; ${base}`, "cache-control": "no-store" });
      res.end();
    } else if (req.method === "DELETE") {
      res.writeHead(204, { "set-cookie": `${state.config.cookie.name}=; Max-Age=0; ${base}`, "cache-control": "no-store" });
      res.end();
    } else {
      sendJson(res, 405, { error: "method_not_allowed" }, { allow: "POST, DELETE" });
    }
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === HEALTH_PATH && (req.method === "GET" || req.method === "HEAD")) {
      const ok = auditor.hasRoom() && !state.draining;
      sendJson(res, ok ? 200 : 503, { ok, auditPending: auditor.pending, ...(deps.worker !== undefined ? { worker: deps.worker } : {}) });
      return;
    }
    const ctx: Ctx = {
      method: (req.method ?? "").slice(0, 16),
      clientIp: req.socket.remoteAddress ?? "",
      routeLabel: routeLabel(req.headers.host, req.url ?? ""),
      transport: "http",
    };
    const d = await decideHanded(req, ctx);
    if (d.allow === "oidc-local") {
      await state.oidcGate!.handle(req, res, d.tenant, d.localPath);
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
    if (declared !== undefined && Number(declared) > state.config.limits.maxBodyBytes) {
      sendJson(res, 413, { error: "payload_too_large" }, { connection: "close" });
      req.resume();
      return;
    }
    const w = state.wake;
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

  function sendStarting(res: ServerResponse, retryAfterSec: number, failed: boolean): void {
    const page = startingPage(Math.min(retryAfterSec, 5), failed);
    res.writeHead(503, {
      "content-type": "text/html; charset=utf-8",
      "content-length": Buffer.byteLength(page),
      "cache-control": "no-store",
      "retry-after": String(retryAfterSec),
      "content-security-policy": "default-src 'none'",
      ...(state.draining ? { connection: "close" } : {}),
    });
    res.end(page);
  }

  const serverOpts: http.ServerOptions = {
    maxHeaderSize: initial.limits.maxHeaderBytes,
    requestTimeout: initial.limits.requestTimeoutMs,
    headersTimeout: Math.min(60_000, initial.limits.requestTimeoutMs),
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
    ws.onUpgrade(req, socket, head).catch((err: unknown) => {
      log({ msg: "upgrade failed", error: err instanceof Error ? err.message : String(err) });
      socket.destroy();
    });
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  return {
    server,
    auditor,
    get openWebSockets() {
      return ws.pairs.size;
    },
    reconfigure: async (next: EdgeConfig) => {
      const config = state.config;
      const restartNeeded: string[] = [];
      const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
      if (!same(next.listen, config.listen)) restartNeeded.push("listen");
      for (const k of ["maxHeaderBytes", "requestTimeoutMs"] as const) {
        if (next.limits[k] !== config.limits[k]) restartNeeded.push(`limits.${k}`);
      }
      if (!same(next.audit, config.audit)) restartNeeded.push("audit");
      // Build everything first, then swap: a bad key in the new config leaves the old one running.
      const nextVerifier = same(next.jwt, config.jwt) ? state.verifier : await TokenVerifier.create(next.jwt, nowSec);
      const nextTenants = tenantMap(next);
      const nextGate = same(next.oidc, config.oidc) ? state.oidcGate : gateOf(next);
      state.limits.reconfigure(next.limits);
      // Built before anything is swapped: an unreadable token file leaves the old config running.
      const nextWake = wakeAfterReload(state.wake, config.wake, next.wake, deps.wakerToken, newWake);
      state.verifier = nextVerifier;
      state.oidcGate = nextGate;
      upstreams.swap(nextTenants);
      state.wake = nextWake;
      state.sanitize = sanitizeOf(next);
      state.config = next;
      // WebSockets of a tenant that left, or whose gateway moved, end now.
      const upstreamOf = (id: string) => {
        const listed = nextTenants.get(id);
        if (listed) return new URL(listed.route.upstream).href;
        return next.routing.upstreamTemplate ? new URL(next.routing.upstreamTemplate.replace("{tenant}", id)).href : undefined;
      };
      const closedSockets = ws.close((p) => upstreamOf(p.tenant) !== p.target, WS_CLOSE.shutdown, "tenant route changed");
      return { restartNeeded, closedSockets };
    },
    listen: () =>
      new Promise<AddressInfo>((resolve, reject) => {
        server.once("error", reject);
        server.listen(state.config.listen.port, state.config.listen.host, () => resolve(server.address() as AddressInfo));
      }),
    close: async () => {
      state.draining = true;
      state.wake?.stop();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      ws.close(() => true, WS_CLOSE.shutdown, "edge shutting down");
      const grace = new Promise<void>((r) => setTimeout(r, state.config.limits.shutdownGraceMs).unref());
      await Promise.race([closed, grace]);
      server.closeAllConnections();
      ws.terminateAll();
      agent.destroy();
      await closed;
      const left = await auditor.drain(Math.max(1_000, state.config.limits.shutdownGraceMs));
      if (left > 0) log({ msg: "audit events lost at shutdown", count: left });
    },
  };
}
