// Proxies an allowed HTTP request to its tenant's gateway with the identity headers the edge
// sets itself, and relays the answer only when it is a well-formed one. Exactly one outcome per
// request: relayed to the end, or failed (502/504 or a cut connection, audited).
import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import { sendJson as sendJsonResponse } from "@octw/service-shell";
import { PUBLIC_ERROR, isConnectFailure, type Allowed, type Ctx } from "./decision";
import type { DecisionAudit } from "./decision-audit";
import { downstreamResponseHeaders, upstreamRequestHeaders } from "./headers";
import { scopesHeaderValue } from "./roles";
import { canonicalHost } from "./routing";
import type { EdgeState } from "./state";
import { isValidHeaderName, isValidHeaderValue, relayableStatus } from "./upstream-response";

/** The headers the gateway gets: the client's, minus identity and scope headers, plus the edge's. */
export function identityHeaders(state: EdgeState, req: IncomingMessage, a: Allowed, clientIp: string) {
  return upstreamRequestHeaders(
    req.headers,
    { user: a.sub, scopes: scopesHeaderValue(a.scopes), clientIp, host: canonicalHost(req.headers.host), proto: state.proto },
    state.sanitize,
  );
}

/** A JSON answer; while draining it closes the connection. */
export function sendJson(state: EdgeState, res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  sendJsonResponse(res, status, body, { close: state.draining, headers });
}

export type ProxyHttp = (req: IncomingMessage, res: ServerResponse, a: Allowed, ctx: Ctx) => void;

export function createHttpProxy(state: EdgeState, agent: http.Agent, rec: DecisionAudit): ProxyHttp {
  return function proxyHttp(req, res, a, ctx) {
    const { config } = state;
    const target = a.target;
    const headers = identityHeaders(state, req, a, ctx.clientIp);
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
      if (status !== 413) rec.upstreamFailed(ctx, a, reason, status, err);
      if (!res.headersSent) sendJson(state, res, status, { error: PUBLIC_ERROR[status] ?? "error" }, status === 413 ? { connection: "close" } : {});
      else res.destroy(); // the head is out: cutting the connection is how the client learns the body is incomplete
    };
    up.on("timeout", () => fail(504, "upstream_timeout"));
    up.on("error", (err) => {
      // A suspendable tenant's gateway that does not take connections may be suspended behind
      // the edge's back (an edge restart, an operator): probe and wake it, answer "try again".
      const w = state.wake;
      if (isConnectFailure(err) && w?.manages(a.tenant.id) && !done && !res.headersSent) {
        w.unreachable(a.tenant.id);
        settle();
        up.destroy();
        rec.upstreamFailed(ctx, a, "upstream_unreachable_waking", 503, err);
        sendJson(state, res, 503, { error: "unavailable" }, { "retry-after": String(w.retryAfterSec) });
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
      const out = downstreamResponseHeaders(upRes.rawHeaders, { cookieName: state.config.cookie.name, kind: a.route.kind, cookiePath: a.route.cookiePath });
      if (a.setCookie !== undefined) out.push("set-cookie", a.setCookie);
      if (state.draining) out.push("connection", "close");
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
  };
}
