// WebSocket upgrades: decided like any request, then the upstream handshake is made first and
// the client's completed only when the gateway accepted (with the subprotocol it chose); from
// then on frames are relayed both ways with back-pressure, an idle timeout, a lifetime bounded
// by the token's expiry, and a clean close (1014) when the gateway breaks the protocol.
import { STATUS_CODES, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { SESSION_LOCAL_PATH, isConnectFailure, routeLabel, type Allowed, type Ctx } from "./decision";
import type { Decide } from "./decide";
import type { DecisionAudit } from "./decision-audit";
import { identityHeaders } from "./proxy-http";
import type { EdgeState } from "./state";
import { upgradeRefusalStatus } from "./upstream-response";
import type { WakeGate } from "./wake-hold";

/** WebSocket close codes the edge itself sends. */
export const WS_CLOSE = {
  shutdown: 1001,
  idle: 4000,
  lifetime: 4001,
  tokenExpired: 4002,
  signedOut: 4003,
} as const;

/** How long a WebSocket peer has to answer the edge's close frame before it is dropped. */
const WS_CLOSE_GRACE_MS = 2_000;

type Pair = { client: WebSocket; upstream: WebSocket; tenant: string; target: string; sessionId: string | undefined };

export interface WsRelay {
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
  /** Open proxied WebSocket pairs. */
  readonly pairs: ReadonlySet<Pair>;
  /** Ends both sides of every pair (code, reason) and returns how many it closed. */
  close(which: (p: Pair) => boolean, code: number, reason: string): number;
  /** Drops every pair without a close handshake (after the drain grace). */
  terminateAll(): void;
}

function safeCloseCode(code: number): number {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
    ? code
    : 1000;
}

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

const wsHeaders = (h: Record<string, string | string[]> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(h ?? {}).filter((e): e is [string, string] => typeof e[1] === "string"));

export function createWsRelay(state: EdgeState, decide: Decide, wakeGate: WakeGate, rec: DecisionAudit): WsRelay {
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: state.config.limits.wsMaxPayloadBytes,
    handleProtocols: (_protocols, req) => chosenProtocol.get(req) ?? false,
  });
  const chosenProtocol = new WeakMap<IncomingMessage, string>();
  // A sign-in session refreshed on the upgrade request travels back on the 101.
  const refreshedCookieOf = new WeakMap<IncomingMessage, string>();
  wss.on("headers", (headers, req) => {
    const c = refreshedCookieOf.get(req);
    if (c !== undefined) headers.push(`set-cookie: ${c}`);
  });
  const pairs = new Set<Pair>();

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    if (state.draining) return rejectUpgrade(socket, 503, "unavailable");
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
    let d: Allowed = decided;
    const w = state.wake;
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

    const { config } = state;
    const target = d.target;
    const headers = identityHeaders(state, req, d, clientIp);
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
      rec.upstreamFailed(ctx, d, reason, status, err);
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
        const w = state.wake;
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
      if (socket.destroyed || state.draining || settled) {
        upstream.terminate();
        return;
      }
      if (upstream.protocol) chosenProtocol.set(req, upstream.protocol);
      wss.handleUpgrade(req, socket, head, (client) =>
        relay(client, upstream, d.exp, d.tenant.id, new URL(d.tenant.upstream).href, (err) => rec.upstreamFailed(ctx, d, "upstream_ws_protocol_error", 1014, err), d.sessionId),
      );
    });
  }

  function relay(client: WebSocket, upstream: WebSocket, tokenExp: number, tenant: string, target: string, onUpstreamError: (err: Error) => void, sessionId?: string): void {
    const { config } = state;
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
      idle = setTimeout(() => closeBoth(WS_CLOSE.idle, "idle timeout"), state.config.limits.wsIdleTimeoutMs);
    };
    touch();
    const lifetimeMs = config.limits.wsMaxLifetimeMs;
    const tokenLeftMs = (tokenExp + config.jwt.clockToleranceSec - state.nowSec()) * 1000;
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

  return {
    onUpgrade,
    pairs,
    close(which, code, reason) {
      let n = 0;
      for (const p of pairs) {
        if (!which(p)) continue;
        p.client.close(code, reason);
        p.upstream.close(code, reason);
        n++;
      }
      return n;
    },
    terminateAll() {
      for (const { client, upstream } of pairs) {
        client.terminate();
        upstream.terminate();
      }
    },
  };
}
