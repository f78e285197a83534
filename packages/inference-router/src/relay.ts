// Forwards a decided request to the tenant's provider and relays the answer as it arrives
// (SSE included), never buffered whole; ends every call in exactly one audit record.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { ProviderApi } from "@octw/contracts";
import { DestinationRefusedError, pinnedLookup, vetDestination, type ResolvedAddress, type Resolver } from "./destination";
import type { CallAuditor, CallRecord } from "./call-audit";
import type { Decision } from "./decide";
import { downstreamHeaders, errorBody, redactKey, streamErrorEvent } from "./shapes";
import { upstreamHeaders } from "./body";
import { targetOf, type TenantPools } from "./upstream-pool";
import type { RouterState } from "./router-state";

export type ForwardPlan = Extract<Decision, { kind: "forward" }>;

export interface RelayDeps {
  state: RouterState;
  pools: TenantPools;
  resolve: Resolver;
  auditor: CallAuditor;
  log: (line: Record<string, unknown>) => void;
  /** Sends a whole JSON answer; returns the bytes sent. */
  send: (res: ServerResponse, status: number, body: unknown) => number;
}

interface OpenStream {
  api: ProviderApi;
  res: ServerResponse;
  sse: boolean;
  cut: (reason: string, message: string) => void;
}

export interface Relay {
  forward(res: ServerResponse, plan: ForwardPlan, rec: CallRecord): void;
  /** Ends every response still streaming with an error event (shutdown). */
  cutOpen(reason: string, message: string): void;
}

export function createRelay(deps: RelayDeps): Relay {
  const { state, pools, resolve, auditor, log, send } = deps;
  /** Responses whose headers went out and whose body is still flowing: cut with an error event on shutdown. */
  const open = new Set<OpenStream>();

  /**
   * Forwards the checked request and relays the provider's answer. The provider is attacker
   * input too (DESIGN: attacker 4): nothing it sends may throw out of a handler (every handler
   * runs under `guarded`), hang the router (a wall-clock deadline for the response head, an idle
   * timeout between chunks, a deadline for the whole exchange) or grow memory (error bodies are
   * bounded, success bodies are piped with backpressure). Whatever goes wrong, the client gets a
   * 502/504 in its API's shape, or — once a stream has started — an error event and a cut
   * connection, and the call is audited as failed.
   */
  function forward(res: ServerResponse, plan: ForwardPlan, rec: CallRecord): void {
    const { tenantId, provider, rest, headers: passed, body, key, done } = plan;
    const target = targetOf(provider);
    const secure = target.secure;
    const limits = state.config.limits;
    let up: http.ClientRequest | undefined;
    let upRes: IncomingMessage | undefined;
    let finished = false;
    const timers: NodeJS.Timeout[] = [];
    const entry: OpenStream = { api: provider.api, res, sse: false, cut: (reason: string, message: string) => fail(reason, 502, message) };
    const finish = (decision: CallRecord["decision"], reason: string) => {
      if (finished) return;
      finished = true;
      timers.forEach(clearTimeout);
      open.delete(entry);
      rec.decision = decision;
      rec.reason = reason;
      done();
      auditor.record(rec);
    };
    const fail = (reason: string, status: number, message: string, decision: CallRecord["decision"] = "failed") => {
      if (finished) return;
      up?.destroy();
      upRes?.destroy();
      try {
        if (!res.headersSent) {
          rec.status = status;
          rec.responseBytes = send(res, status, errorBody(provider.api, status, reason, message));
        } else {
          cutStream(entry, reason, message);
        }
      } catch {
        res.destroy();
      }
      finish(decision, reason);
    };
    /** Runs an upstream event handler; anything it throws becomes a 502, never an uncaught exception. */
    const guarded =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A): void => {
        try {
          fn(...args);
        } catch (err) {
          log({ msg: "upstream response refused", tenant: tenantId, provider: provider.name, error: err instanceof Error ? (err as NodeJS.ErrnoException).code ?? err.name : "error" });
          fail("upstream_invalid_response", 502, "the provider sent a response the router cannot relay");
        }
      };
    // Wall clock, not socket idle: a provider trickling one byte at a time would reset an idle timer forever.
    timers.push(setTimeout(guarded(() => { if (!upRes) fail("upstream_timeout", 504, "the provider did not answer in time"); }), limits.upstreamTimeoutMs));
    timers.push(setTimeout(guarded(() => fail("upstream_timeout", 504, "the provider's answer took longer than the router allows")), limits.upstreamMaxMs));
    res.on("close", () => {
      if (!res.writableFinished && !finished) {
        up?.destroy();
        upRes?.destroy();
        finish("failed", "client_closed");
      }
    });

    vetDestination(target.hostname, state.destinations, resolve).then(
      guarded((pinned: ResolvedAddress) => {
        if (finished) return;
        const pool = pools.of(tenantId);
        up = (secure ? https : http).request({
          protocol: target.protocol,
          host: target.hostname,
          // The socket goes to the address that was checked, never to a second DNS answer.
          lookup: pinnedLookup(pinned) as unknown as http.RequestOptions["lookup"],
          ...(secure ? { servername: target.servername } : {}),
          port: target.port,
          method: "POST",
          path: target.pathPrefix + rest,
          headers: upstreamHeaders(provider.api, passed, key, body.length, target.hostHeader),
          agent: secure ? pool.https : pool.http,
        });
        up.on("timeout", guarded(() => fail("upstream_idle", 504, "the provider stopped sending")));
        up.on("error", guarded((err: NodeJS.ErrnoException) => {
          // llhttp's parse errors (HPE_*): the provider answered, but not with valid HTTP/1.1.
          if (String(err.code ?? "").startsWith("HPE_")) fail("upstream_invalid_response", 502, "the provider sent a response the router cannot relay");
          else if (upRes || err.code === "ECONNRESET") fail("upstream_aborted", 502, "the provider closed the connection");
          else fail("upstream_unreachable", 502, "the provider could not be reached");
        }));
        up.on("response", guarded(onResponse));
        up.end(body);
      }),
      (err: unknown) => {
        if (err instanceof DestinationRefusedError) {
          log({ msg: "provider destination refused", tenant: tenantId, provider: provider.name, error: err.message });
          fail("destination_not_public", 502, "the provider's address is not a public destination; the router does not connect there", "denied");
        } else {
          fail("upstream_unreachable", 502, "the provider's host could not be resolved");
        }
      },
    );

    function onResponse(r: IncomingMessage): void {
      upRes = r;
      const status = r.statusCode ?? 0;
      rec.status = status;
      rec.ttfbMs = Math.round(performance.now() - rec.started);
      // While streaming, the head deadline gives way to an idle timeout between chunks.
      up!.setTimeout(limits.upstreamIdleMs);
      r.on("error", guarded(() => fail("upstream_aborted", 502, "the provider closed the connection")));
      r.on("close", guarded(() => { if (!r.complete) fail("upstream_aborted", 502, "the provider closed the stream early"); }));
      if (!Number.isInteger(status) || status < 200 || status > 599) {
        // 1xx other than the informational ones Node consumes, or a code no client understands.
        fail("upstream_invalid_response", 502, "the provider answered with an invalid status code");
        return;
      }
      if (status === 401 || status === 403) {
        // The provider refused the tenant's key: its message may quote the key. Say so ourselves.
        r.resume();
        rec.responseBytes = send(res, 502, errorBody(provider.api, 502, "upstream_rejected_key", `the provider refused this tenant's key (HTTP ${status}); ask the operator to update it`));
        rec.status = 502;
        finish("failed", "upstream_rejected_key");
        up!.destroy();
        return;
      }
      if (status >= 300) return relayError(r, status);
      const headers = downstreamHeaders(r.rawHeaders);
      if (state.draining) headers.connection = "close";
      if (status === 204 || status === 304) {
        // No body by definition: the answer is complete now, whatever bytes the provider sends next
        // (which could only be garbage on this connection, so it is not reused).
        res.writeHead(status, headers);
        res.end();
        finish("allowed", "ok");
        up!.destroy();
        return;
      }
      entry.sse = String(r.headers["content-type"] ?? "").startsWith("text/event-stream");
      // The head goes out with the first chunk when that came in the same read (one write, one
      // packet); otherwise at the end of this turn of the event loop, because a stream's first
      // event may take seconds and the client waits for the head. No body byte is held back,
      // and a provider whose body breaks before the head went out still gets the client a 502.
      let headOut = false;
      const sendHead = () => {
        if (headOut) return;
        headOut = true;
        res.writeHead(status, headers);
      };
      setImmediate(guarded(() => {
        if (headOut || finished || res.destroyed) return;
        sendHead();
        res.flushHeaders();
      }));
      open.add(entry);
      r.on("data", guarded((c: Buffer) => {
        if (finished) return;
        sendHead();
        rec.responseBytes += c.length;
        // Backpressure: a slow sandbox slows the upstream read, never grows memory.
        if (!res.write(c)) {
          r.pause();
          res.once("drain", () => r.resume());
        }
      }));
      r.on("end", guarded(() => {
        if (finished) return;
        sendHead();
        res.end();
        finish("allowed", "ok");
      }));
    }

    /** Error bodies are small: buffered (bounded) so any echo of the key can be removed, then relayed. */
    function relayError(r: IncomingMessage, status: number): void {
      const chunks: Buffer[] = [];
      let n = 0;
      const encoding = String(r.headers["content-encoding"] ?? "identity").trim().toLowerCase();
      const reply = () => {
        if (finished) return;
        // A compressed body cannot be searched for the key: the router says what happened itself.
        const text = encoding === "identity" || encoding === "" ? redactKey(Buffer.concat(chunks, n).toString("utf8"), key) : JSON.stringify(errorBody(provider.api, status, "upstream_error", `the provider answered HTTP ${status}`));
        const headers = downstreamHeaders(r.rawHeaders);
        delete headers["content-encoding"];
        if (encoding !== "identity" && encoding !== "") headers["content-type"] = "application/json";
        res.writeHead(status, { ...headers, "content-length": Buffer.byteLength(text), ...(state.draining ? { connection: "close" } : {}) });
        res.end(text);
        rec.responseBytes = Buffer.byteLength(text);
        finish("allowed", "upstream_error");
      };
      r.on("data", guarded((c: Buffer) => {
        if (finished) return;
        const room = limits.maxErrorBodyBytes - n;
        chunks.push(c.length > room ? c.subarray(0, room) : c);
        n += Math.min(c.length, room);
        if (n >= limits.maxErrorBodyBytes) {
          // An endless error body is not read to its end: what fits is relayed, the rest dropped.
          reply();
          up!.destroy();
          r.destroy();
        }
      }));
      r.on("end", guarded(reply));
    }
  }

  return {
    forward,
    cutOpen(reason, message) {
      for (const e of [...open]) e.cut(reason, message);
    },
  };
}

/**
 * Ends a response whose headers are already out: an error event the SDKs raise (for SSE),
 * then the connection is closed without the final chunk, so no client can take a cut
 * stream for a complete one.
 */
function cutStream(entry: OpenStream, reason: string, message: string): void {
  const socket = entry.res.socket;
  if (entry.sse && socket && !socket.destroyed) {
    // Written as a raw chunk of the chunked body, then the socket is ended without the terminator.
    const event = Buffer.from(streamErrorEvent(entry.api, reason, message));
    entry.res.write(event);
  }
  socket?.end();
  socket?.destroySoon?.();
}
