// The router process: one HTTP listener on every tenant network it is attached to. Each request
// is decided (src/decide.ts: network → rate → token → provider → path → body/model →
// concurrency → key) and either refused in the caller's API shape or forwarded to the
// tenant's allowed upstream with the tenant's own key (src/relay.ts: responses, SSE included,
// piped as they arrive, never buffered whole). One `inference.call` audit event per request
// (src/call-audit.ts). This file wires them to the listener: health, connection caps, drain
// and reload.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { RouterConfig } from "@octw/contracts";
import { sendJson } from "@octw/service-shell";
import { systemResolver, type Resolver } from "./destination";
import { cachingResolver } from "./resolve-cache";
import type { ProviderKeyCache } from "./keys";
import { errorBody, modelsList } from "./shapes";
import { normalizeAddress } from "./tenancy";
import { CallAuditor, newCallRecord, type RouterAuditSink } from "./call-audit";
import { decide } from "./decide";
import { createRelay } from "./relay";
import { RouterState } from "./router-state";
import { TenantPools } from "./upstream-pool";

export { PLATFORM_AUDIT_TENANT, ROUTER_ACTOR, type RouterAuditSink } from "./call-audit";

export const HEALTH_PATH = "/_router/healthz";

export interface RouterDeps {
  keys: Pick<ProviderKeyCache, "get" | "retain">;
  audit: RouterAuditSink;
  log?: (line: Record<string, unknown>) => void;
  /** How provider hosts are resolved (tests inject one; default: the system resolver, answers cached briefly). */
  resolve?: Resolver;
}

export interface InferenceRouter {
  server: http.Server;
  listen(): Promise<AddressInfo>;
  /** Stops accepting; lets requests run for the grace; then cuts open streams with an error event. */
  close(graceMs?: number): Promise<void>;
  /** Swaps tenants and limits without dropping connections. Listener changes need a restart. */
  reconfigure(next: RouterConfig): { restartNeeded: string[] };
  readonly inFlight: number;
  readonly auditPending: number;
}

export function createInferenceRouter(initial: RouterConfig, deps: RouterDeps): InferenceRouter {
  const log = deps.log ?? (() => {});
  const state = new RouterState(initial);
  const auditor = new CallAuditor(deps.audit, log);
  const pools = new TenantPools();

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number {
    return sendJson(res, status, body, { close: state.draining, headers });
  }

  const relay = createRelay({ state, pools, resolve: deps.resolve ?? cachingResolver(systemResolver), auditor, log, send });

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === HEALTH_PATH && (req.method === "GET" || req.method === "HEAD")) {
      const ok = !state.draining && auditor.pending < state.config.audit.bufferMax;
      send(res, ok ? 200 : 503, { ok, inFlight: state.inFlight, auditPending: auditor.pending });
      return;
    }
    const rec = newCallRecord(normalizeAddress(req.socket.remoteAddress));
    const d = await decide(req, rec, { state, keys: deps.keys, auditPending: () => auditor.pending, log });
    /** Answers the call with a whole JSON body and records it. */
    const answer = (status: number, reason: string, body: unknown, headers?: Record<string, string>) => {
      rec.reason = reason;
      rec.status = status;
      rec.responseBytes = send(res, status, body, headers);
      auditor.record(rec);
    };
    switch (d.kind) {
      case "refuse":
        answer(d.status, d.reason, errorBody(d.api, d.status, d.reason, d.message), d.headers);
        req.resume();
        return;
      case "models":
        rec.decision = "allowed";
        answer(200, "models_list", modelsList(d.provider.api, d.provider.models));
        req.resume();
        return;
      case "aborted":
        rec.reason = "client_aborted";
        rec.decision = "failed";
        auditor.record(rec);
        return;
      case "too_large":
        // The rest of the body is not read: the connection closes after the answer.
        answer(413, "body_too_large", errorBody(d.api, 413, "body_too_large", `request body exceeds ${d.maxBytes} bytes`), { connection: "close" });
        return;
      case "forward":
        relay.forward(res, d, rec);
        return;
    }
  }

  // requestTimeout bounds receiving a request (not the response, which may stream for long).
  const server = http.createServer({ requestTimeout: 120_000, headersTimeout: 30_000, keepAliveTimeout: 65_000, noDelay: true }, (req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      log({ msg: "request handler failed", error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) send(res, 500, errorBody("openai", 500, "internal", "internal error"));
      else res.destroy();
    });
  });
  server.maxHeadersCount = 100;

  // Connections per arrival address: a tenant's sockets count against its own cap only;
  // connections to no tenant's address share one small cap.
  const connections = new Map<string, number>();
  const UNKNOWN_CAP = 64;
  server.on("connection", (socket: Socket) => {
    const local = normalizeAddress(socket.localAddress);
    const tenant = state.table.byAddress.get(local);
    const key = tenant ? tenant.id : "";
    const cap = tenant ? tenant.limits.maxConnections : UNKNOWN_CAP;
    const n = connections.get(key) ?? 0;
    if (n >= cap) {
      socket.destroy();
      log({ msg: "connection refused: cap reached", tenant: key || null, cap });
      return;
    }
    connections.set(key, n + 1);
    socket.once("close", () => connections.set(key, (connections.get(key) ?? 1) - 1));
  });

  return {
    server,
    get inFlight() {
      return state.inFlight;
    },
    get auditPending() {
      return auditor.pending;
    },
    listen() {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(state.config.listen.port, state.config.listen.host, () => {
          server.off("error", reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    async close(graceMs = state.config.limits.shutdownGraceMs) {
      state.draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (state.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      relay.cutOpen("router_restarting", "the router is restarting; retry the request");
      server.closeAllConnections();
      await closed;
      pools.destroy();
      const auditDeadline = Date.now() + 5_000;
      while (auditor.pending > 0 && Date.now() < auditDeadline) await new Promise((r) => setTimeout(r, 20));
    },
    reconfigure(next) {
      const config = state.config;
      const restartNeeded: string[] = [];
      if (next.listen.host !== config.listen.host || next.listen.port !== config.listen.port) restartNeeded.push("listen");
      if (JSON.stringify(next.audit) !== JSON.stringify(config.audit)) restartNeeded.push("audit");
      if (JSON.stringify(next.keys) !== JSON.stringify(config.keys)) restartNeeded.push("keys");
      state.apply({ ...next, listen: config.listen, audit: config.audit, keys: config.keys });
      const ids = new Set(state.config.tenants.map((t) => t.id));
      state.limiter.retain(ids);
      pools.retain(ids);
      deps.keys.retain(ids);
      return { restartNeeded };
    },
  };
}
