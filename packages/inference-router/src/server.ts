// The router process: one HTTP listener on every tenant network it is attached to. Each request
// is decided in this order — network → rate → token → provider → path → body/model →
// concurrency → key — and either refused in the caller's API shape or forwarded to the
// tenant's allowed upstream with the tenant's own key. Responses (SSE included) are piped as
// they arrive, never buffered whole. One `inference.call` audit event per request.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import { isIP, type AddressInfo, type Socket } from "node:net";
import { destinationPolicyOf, type DestinationPolicy, type ProviderApi, type ProviderConfig, type RouterConfig, type RouterTenantConfig } from "@octw/contracts";
import { DestinationRefusedError, pinnedLookup, systemResolver, vetDestination, type ResolvedAddress, type Resolver } from "./destination";
import { cachingResolver } from "./resolve-cache";
import { KeyUnavailableError, type ProviderKeyCache } from "./keys";
import { TenantLimiter } from "./limits";
import {
  FORWARDED_PATHS,
  MODELS_PATH,
  downstreamHeaders,
  errorBody,
  modelsList,
  parseRouterPath,
  redactKey,
  streamErrorEvent,
} from "./shapes";
import { checkBody, passedHeaders, upstreamHeaders } from "./body";
import { buildTenantTable, checkToken, normalizeAddress, tenantByNetwork, type TenantTable } from "./tenancy";
import type { AuditEventInput } from "@octw/audit";
import { sendJson } from "@octw/service-shell";

export const HEALTH_PATH = "/_router/healthz";
export const ROUTER_ACTOR = "inference-router";
/**
 * Tenant under which requests that belong to no tenant are recorded (arrived on no tenant's
 * address, or from outside its subnet). The colon keeps it out of the tenant-id space.
 */
export const PLATFORM_AUDIT_TENANT = "octw:inference-router";

/** What the router hands to the audit store (an AuditClient fits). */
export interface RouterAuditSink {
  record(event: AuditEventInput): Promise<unknown>;
}

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

interface CallRecord {
  tenant: string;
  decision: "allowed" | "denied" | "failed";
  reason: string;
  status: number;
  provider: string | null;
  model: string | null;
  stream: boolean;
  requestBytes: number;
  responseBytes: number;
  started: number;
  ttfbMs: number | null;
  client: string;
}

interface UpstreamTarget {
  secure: boolean;
  protocol: string;
  hostname: string;
  /** TLS SNI: the host name, none for an IP literal. */
  servername: string | undefined;
  port: string;
  pathPrefix: string;
  hostHeader: string;
}

/** Printable and bounded, so a hostile model name cannot forge log lines or bloat the audit row. */
function label(s: string | null): string | null {
  return s === null ? null : s.replace(/[^\x20-\x7e]/g, "?").slice(0, 128);
}

export function createInferenceRouter(initial: RouterConfig, deps: RouterDeps): InferenceRouter {
  const log = deps.log ?? (() => {});
  const resolve = deps.resolve ?? cachingResolver(systemResolver);
  let config = initial;
  let table: TenantTable = buildTenantTable(config.tenants);
  const limiter = new TenantLimiter();
  const agents = new Map<string, { http: http.Agent; https: https.Agent }>();
  let destinations: DestinationPolicy = destinationPolicyOf(config);
  let auditPending = 0;
  let inFlight = 0;
  let draining = false;
  /** Responses whose headers went out and whose body is still flowing: cut with an error event on shutdown. */
  const open = new Set<{ cut: (reason: string, message: string) => void }>();

  function audit(r: CallRecord): void {
    auditPending++;
    const ev = {
      tenant: r.tenant,
      actor: ROUTER_ACTOR,
      action: "inference.call",
      target: r.provider ? `${r.provider}/${label(r.model) ?? "-"}` : "-",
      decision: r.decision,
      details: {
        reason: r.reason,
        status: r.status,
        provider: r.provider,
        model: label(r.model),
        stream: r.stream,
        latencyMs: Math.round(performance.now() - r.started),
        ttfbMs: r.ttfbMs,
        requestBytes: r.requestBytes,
        responseBytes: r.responseBytes,
        client: r.client,
      },
      time: new Date().toISOString(),
    };
    deps.audit.record(ev).then(
      () => void auditPending--,
      (err: unknown) => {
        auditPending--;
        log({ msg: "audit record failed", error: err instanceof Error ? err.message : String(err) });
      },
    );
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number {
    return sendJson(res, status, body, { close: draining, headers });
  }

  function readBody(req: IncomingMessage, max: number): Promise<Buffer | "too_large" | "aborted"> {
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (declared > max) return Promise.resolve("too_large");
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let n = 0;
      let done = false;
      req.on("data", (c: Buffer) => {
        if (done) return;
        n += c.length;
        if (n > max) {
          done = true;
          resolve("too_large");
          return;
        }
        chunks.push(c);
      });
      req.on("end", () => {
        if (!done) resolve(Buffer.concat(chunks, n));
        done = true;
      });
      req.on("error", () => {
        if (!done) resolve("aborted");
        done = true;
      });
      req.on("aborted", () => {
        if (!done) resolve("aborted");
        done = true;
      });
    });
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === HEALTH_PATH && (req.method === "GET" || req.method === "HEAD")) {
      const ok = !draining && auditPending < config.audit.bufferMax;
      send(res, ok ? 200 : 503, { ok, inFlight, auditPending });
      return;
    }
    const rec: CallRecord = {
      tenant: PLATFORM_AUDIT_TENANT,
      decision: "denied",
      reason: "",
      status: 0,
      provider: null,
      model: null,
      stream: false,
      requestBytes: 0,
      responseBytes: 0,
      started: performance.now(),
      ttfbMs: null,
      client: normalizeAddress(req.socket.remoteAddress),
    };
    const parsed = parseRouterPath(req.url);
    // Until the provider is known, errors use the OpenAI shape (the more common SDK).
    let api: ProviderApi = "openai";
    const refuse = (status: number, reason: string, message: string, headers?: Record<string, string>) => {
      rec.reason = reason;
      rec.status = status;
      rec.responseBytes = send(res, status, errorBody(api, status, reason, message), headers);
      audit(rec);
      req.resume();
    };

    if (draining) return refuse(503, "shutting_down", "the router is restarting; retry");
    if (auditPending >= config.audit.bufferMax) return refuse(503, "audit_unavailable", "the router cannot record calls right now; retry later");

    const net = tenantByNetwork(table, req.socket.localAddress, req.socket.remoteAddress);
    if (!net.ok) return refuse(403, net.reason, "requests are accepted only from a tenant network, at the router's address on it");
    const tenant: RouterTenantConfig = net.tenant;
    rec.tenant = tenant.id;
    const provider: ProviderConfig | undefined = parsed ? tenant.providers.find((p) => p.name === parsed.provider) : undefined;
    if (provider) api = provider.api;

    const rate = limiter.rate(tenant.id, tenant.limits.rate);
    if (!rate.ok) return refuse(429, "rate_limited", "request rate limit of this tenant exceeded", { "retry-after": String(rate.retryAfterSec) });

    const tok = checkToken(table, tenant, req.headers);
    if (!tok.ok) {
      const status = tok.reason === "missing_token" || tok.reason === "invalid_token" ? 401 : 403;
      return refuse(status, tok.reason, status === 401 ? "a valid router token is required" : "the router token does not belong to this network's tenant");
    }
    if (!parsed) return refuse(404, "unknown_path", "use /<provider>/v1/...");
    rec.provider = parsed.provider;
    if (!provider) return refuse(403, "provider_not_allowed", `provider "${label(parsed.provider)}" is not allowed for this tenant`);

    if (parsed.rest === MODELS_PATH && (req.method === "GET" || req.method === "HEAD")) {
      rec.decision = "allowed";
      rec.reason = "models_list";
      rec.status = 200;
      rec.responseBytes = send(res, 200, modelsList(provider.api, provider.models));
      audit(rec);
      req.resume();
      return;
    }
    if (!FORWARDED_PATHS[provider.api].has(parsed.rest)) return refuse(404, "unknown_path", `${parsed.rest} is not an endpoint the router forwards for a ${provider.api}-compatible provider`);
    if (req.method !== "POST") return refuse(405, "method_not_allowed", "use POST", { allow: "POST" });

    const body = await readBody(req, config.limits.maxBodyBytes);
    if (body === "aborted") {
      rec.reason = "client_aborted";
      rec.decision = "failed";
      audit(rec);
      return;
    }
    if (body === "too_large") {
      rec.reason = "body_too_large";
      rec.status = 413;
      rec.responseBytes = send(res, 413, errorBody(api, 413, "body_too_large", `request body exceeds ${config.limits.maxBodyBytes} bytes`), { connection: "close" });
      audit(rec);
      return;
    }
    rec.requestBytes = body.length;
    // What is forwarded is what was checked: the body re-serialized from the parsed value, and
    // only client headers of a checked form (src/body.ts).
    const m = checkBody(req.headers, body);
    if (!m.ok) return refuse(m.status, m.reason, m.message);
    const passed = passedHeaders(provider.api, req.headers);
    if (!passed.ok) return refuse(400, "invalid_header", `header ${passed.header} is not of the form the router forwards`);
    rec.model = m.model;
    rec.stream = m.stream;
    if (!provider.models.includes(m.model)) return refuse(403, "model_not_allowed", `model "${label(m.model)}" is not allowed for this tenant`);

    const release = limiter.acquire(tenant.id, tenant.limits.maxConcurrent);
    if (!release) return refuse(429, "concurrency_limited", "too many requests of this tenant in flight", { "retry-after": "1" });
    inFlight++;
    const done = () => {
      release();
      inFlight--;
    };
    let key: string;
    try {
      key = await deps.keys.get(tenant.id, provider.keySecret);
    } catch (err) {
      done();
      const reason = err instanceof KeyUnavailableError && err.cause_ === "not_found" ? "key_not_stored" : "key_unavailable";
      log({ msg: "provider key unavailable", tenant: tenant.id, provider: provider.name, reason });
      return refuse(503, reason, "the tenant's provider key is not available");
    }
    forward(res, passed.headers, tenant.id, provider, parsed.rest, m.forward, key, rec, done);
  }

  /** A provider's base URL taken apart once, not per request (config objects are replaced on reload, never changed). */
  const targets = new WeakMap<ProviderConfig, UpstreamTarget>();
  function targetOf(provider: ProviderConfig): UpstreamTarget {
    let t = targets.get(provider);
    if (!t) {
      const base = new URL(provider.baseUrl);
      const secure = base.protocol === "https:";
      const hostname = base.hostname.replace(/^\[|\]$/g, "");
      t = {
        secure,
        protocol: base.protocol,
        hostname,
        servername: isIP(hostname) === 0 ? hostname : undefined,
        port: base.port || (secure ? "443" : "80"),
        pathPrefix: base.pathname.replace(/\/$/, ""),
        hostHeader: base.host,
      };
      targets.set(provider, t);
    }
    return t;
  }

  /** The tenant's own connection pools: a socket that carried one tenant's key never carries another's request. */
  function agentsOf(tenantId: string): { http: http.Agent; https: https.Agent } {
    let a = agents.get(tenantId);
    if (!a) {
      a = {
        // Idle sockets are kept up to the number of streams a busy tenant has open: with fewer,
        // every burst above that number pays a new connection (and TLS handshake) before its
        // first byte. The provider's own keep-alive timeout still closes idle ones.
        http: new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024 }),
        https: new https.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024 }),
      };
      agents.set(tenantId, a);
    }
    return a;
  }

  /**
   * Forwards the checked request and relays the provider's answer. The provider is attacker
   * input too (DESIGN: attacker 4): nothing it sends may throw out of a handler (every handler
   * runs under `guarded`), hang the router (a wall-clock deadline for the response head, an idle
   * timeout between chunks, a deadline for the whole exchange) or grow memory (error bodies are
   * bounded, success bodies are piped with backpressure). Whatever goes wrong, the client gets a
   * 502/504 in its API's shape, or — once a stream has started — an error event and a cut
   * connection, and the call is audited as failed.
   */
  function forward(
    res: ServerResponse,
    passed: Record<string, string>,
    tenantId: string,
    provider: ProviderConfig,
    rest: string,
    body: Buffer,
    key: string,
    rec: CallRecord,
    done: () => void,
  ): void {
    const target = targetOf(provider);
    const secure = target.secure;
    const limits = config.limits;
    let up: http.ClientRequest | undefined;
    let upRes: IncomingMessage | undefined;
    let finished = false;
    const timers: NodeJS.Timeout[] = [];
    const entry = { api: provider.api, res, sse: false, cut: (reason: string, message: string) => fail(reason, 502, message) };
    const finish = (decision: CallRecord["decision"], reason: string) => {
      if (finished) return;
      finished = true;
      timers.forEach(clearTimeout);
      open.delete(entry);
      rec.decision = decision;
      rec.reason = reason;
      done();
      audit(rec);
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

    vetDestination(target.hostname, destinations, resolve).then(
      guarded((pinned: ResolvedAddress) => {
        if (finished) return;
        const pool = agentsOf(tenantId);
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
      if (draining) headers.connection = "close";
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
        res.writeHead(status, { ...headers, "content-length": Buffer.byteLength(text), ...(draining ? { connection: "close" } : {}) });
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

  /**
   * Ends a response whose headers are already out: an error event the SDKs raise (for SSE),
   * then the connection is closed without the final chunk, so no client can take a cut
   * stream for a complete one.
   */
  function cutStream(entry: { api: ProviderApi; res: ServerResponse; sse: boolean }, reason: string, message: string): void {
    const socket = entry.res.socket;
    if (entry.sse && socket && !socket.destroyed) {
      // Written as a raw chunk of the chunked body, then the socket is ended without the terminator.
      const event = Buffer.from(streamErrorEvent(entry.api, reason, message));
      entry.res.write(event);
    }
    socket?.end();
    socket?.destroySoon?.();
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
    const tenant = table.byAddress.get(local);
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
      return inFlight;
    },
    get auditPending() {
      return auditPending;
    },
    listen() {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(config.listen.port, config.listen.host, () => {
          server.off("error", reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    async close(graceMs = config.limits.shutdownGraceMs) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const e of [...open]) e.cut("router_restarting", "the router is restarting; retry the request");
      server.closeAllConnections();
      await closed;
      for (const a of agents.values()) {
        a.http.destroy();
        a.https.destroy();
      }
      const auditDeadline = Date.now() + 5_000;
      while (auditPending > 0 && Date.now() < auditDeadline) await new Promise((r) => setTimeout(r, 20));
    },
    reconfigure(next) {
      const restartNeeded: string[] = [];
      if (next.listen.host !== config.listen.host || next.listen.port !== config.listen.port) restartNeeded.push("listen");
      if (JSON.stringify(next.audit) !== JSON.stringify(config.audit)) restartNeeded.push("audit");
      if (JSON.stringify(next.keys) !== JSON.stringify(config.keys)) restartNeeded.push("keys");
      config = { ...next, listen: config.listen, audit: config.audit, keys: config.keys };
      table = buildTenantTable(config.tenants);
      destinations = destinationPolicyOf(config);
      const ids = new Set(config.tenants.map((t) => t.id));
      limiter.retain(ids);
      for (const [id, a] of agents) {
        if (ids.has(id)) continue;
        a.http.destroy();
        a.https.destroy();
        agents.delete(id);
      }
      deps.keys.retain(ids);
      return { restartNeeded };
    },
  };
}
