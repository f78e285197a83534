// The waker's HTTP side: the two operations of routes.ts, JSON answers, bounded everything.
import http from "node:http";
import { route } from "./routes";
import { WakerError, type Waker } from "./waker";

export interface WakerServerOptions {
  waker: Pick<Waker, "wake" | "suspend">;
  /** The shared bearer token (from its 0400 file). */
  token: string;
  maxInFlight: number;
  log?: (line: Record<string, unknown>) => void;
}

function send(res: http.ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  const json = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(json)), "cache-control": "no-store", ...headers });
  res.end(json);
}

export function createWakerServer(opts: WakerServerOptions): http.Server {
  const log = opts.log ?? (() => {});
  let inFlight = 0;
  const server = http.createServer((req, res) => {
    // No operation takes a body; do not read one.
    req.resume();
    const r = route(req.method, req.url, req.headers.authorization, opts.token);
    if (r.kind === "refused") {
      if (r.status === 401) log({ msg: "refused", status: 401, remote: req.socket.remoteAddress });
      send(res, r.status, { error: r.error }, r.status === 405 ? { allow: "POST" } : r.status === 401 ? { "www-authenticate": "Bearer" } : {});
      return;
    }
    if (inFlight >= opts.maxInFlight) {
      send(res, 503, { error: "too many requests in flight" }, { "retry-after": "1" });
      return;
    }
    inFlight++;
    const op = r.kind === "wake" ? opts.waker.wake(r.tenant, r.waitFor, r.reason) : opts.waker.suspend(r.tenant, r.tier, r.reason, r.horizonS === undefined ? undefined : r.horizonS * 1000);
    op.then(
      (result) => {
        log({ msg: r.kind, ...result });
        send(res, 200, { ...result });
      },
      (err: unknown) => {
        const status = err instanceof WakerError ? err.status : 500;
        const error = err instanceof WakerError ? err.message : "internal error";
        log({ msg: `${r.kind} failed`, tenant: r.tenant, status, error: err instanceof Error ? err.message : String(err) });
        send(res, status, { error }, status === 504 || status === 502 ? { "retry-after": "5" } : {});
      },
    ).finally(() => {
      inFlight--;
    });
  });
  // A wake waits up to its own timeout; nothing else may hold a connection for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 0;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 32;
  return server;
}
