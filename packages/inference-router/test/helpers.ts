// Test fixtures: a fake model provider on loopback that records what it receives, listeners
// that feed several loopback addresses (one per "tenant network") into one router server, and
// a client that picks its source address (which "network" it is on).
import { createHash } from "node:crypto";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";

export interface ProviderCall {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FakeProvider {
  url: string;
  calls: ProviderCall[];
  /** Releases the next chunk of the current gated stream. */
  release(): void;
  /** Number of stream chunks written so far (all gated streams). */
  chunksSent: number;
  close(): Promise<void>;
}

/**
 * A provider that answers by model name:
 *  - `*-stream-gated`: SSE, one chunk per release() (proves the router forwards each chunk before the next exists);
 *  - `*-stream`: SSE, 5 chunks, 5 ms apart;
 *  - `*-stream-dies`: SSE, 2 chunks, then the connection drops;
 *  - `echo-error`: 400 whose body quotes the Authorization / x-api-key it received (as real providers do);
 *  - `reject-key`: 401 quoting the key;
 *  - anything else: a JSON completion naming the model.
 */
export async function fakeProvider(): Promise<FakeProvider> {
  const calls: ProviderCall[] = [];
  // Waiters of streams whose client went away are dropped, so they never swallow a release().
  let waiters: { res: http.ServerResponse; resolve: () => void }[] = [];
  let credits = 0;
  const state = { chunksSent: 0 };
  const gate = (res: http.ServerResponse) =>
    new Promise<void>((resolve) => {
      if (credits > 0) {
        credits--;
        resolve();
        return;
      }
      const w = { res, resolve };
      waiters.push(w);
      res.once("close", () => {
        waiters = waiters.filter((x) => x !== w);
        resolve();
      });
    });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      calls.push({ path: req.url ?? "", headers: req.headers, body });
      let model = "";
      try {
        model = String((JSON.parse(body) as { model?: string }).model ?? "");
      } catch {
        /* not JSON */
      }
      const key = String(req.headers.authorization ?? req.headers["x-api-key"] ?? "");
      if (model === "echo-error") {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `bad request made with credential ${key} (${key.slice(-10)})` } }));
        return;
      }
      if (model === "reject-key") {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${key}` } }));
        return;
      }
      if (model.endsWith("-stream-dies")) {
        // Two events, then the provider's connection drops mid-stream.
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(`data: ${JSON.stringify({ i: 0 })}\n\n`);
        res.write(`data: ${JSON.stringify({ i: 1 })}\n\n`);
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (model.endsWith("-stream") || model.endsWith("-stream-gated")) {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        // Real providers send the headers at once; Node would hold them until the first chunk.
        res.flushHeaders();
        void (async () => {
          for (let i = 0; i < 5; i++) {
            if (res.destroyed) return;
            if (model.endsWith("-gated")) await gate(res);
            else await new Promise((r) => setTimeout(r, 5));
            if (res.destroyed) return;
            res.write(`data: ${JSON.stringify({ i, model })}\n\n`);
            state.chunksSent++;
          }
          res.end("data: [DONE]\n\n");
        })();
        return;
      }
      const text = JSON.stringify({ id: "cmpl-1", object: "chat.completion", model, choices: [{ message: { role: "assistant", content: `hello from ${model}` } }] });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text), "set-cookie": "upstream=1" });
      res.end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    release() {
      const w = waiters.shift();
      if (w) w.resolve();
      else credits++;
    },
    get chunksSent() {
      return state.chunksSent;
    },
    async close() {
      waiters.forEach((w) => w.resolve());
      waiters = [];
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** One TCP listener per address, all feeding the same HTTP server (as one router attached to several networks). */
export async function listenOn(server: http.Server, addresses: string[], port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const listeners: net.Server[] = [];
  let p = port;
  for (const addr of addresses) {
    const l = net.createServer((sock) => server.emit("connection", sock));
    await new Promise<void>((resolve, reject) => {
      l.once("error", reject);
      l.listen(p, addr, () => resolve());
    });
    p = (l.address() as AddressInfo).port;
    listeners.push(l);
  }
  return {
    port: p,
    async close() {
      await Promise.all(listeners.map((l) => new Promise<void>((r) => l.close(() => r()))));
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface CallOptions {
  /** The router address the request is sent to (the "network" it arrives on). */
  to: string;
  port: number;
  /** The client's source address (which network it is on). */
  from: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

export function call(o: CallOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = o.body === undefined ? undefined : typeof o.body === "string" ? o.body : JSON.stringify(o.body);
    const req = http.request(
      {
        host: o.to,
        port: o.port,
        localAddress: o.from,
        method: o.method ?? "POST",
        path: o.path,
        agent: false,
        headers: { ...(data !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(data)) } : {}), ...o.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** Opens a request and hands back the response as it streams (for SSE assertions). */
export function openStream(o: CallOptions): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(o.body);
    const req = http.request(
      {
        host: o.to,
        port: o.port,
        localAddress: o.from,
        method: "POST",
        path: o.path,
        agent: false,
        headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(data)), ...o.headers },
      },
      resolve,
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** Resolves with the next data chunk of a response, or rejects after `ms`. */
export function nextChunk(res: http.IncomingMessage, ms = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      res.off("data", on);
      reject(new Error(`no chunk within ${ms} ms: the router buffered the stream`));
    }, ms);
    const on = (c: Buffer) => {
      clearTimeout(t);
      res.off("data", on);
      res.pause();
      resolve(c.toString("utf8"));
    };
    res.on("data", on);
    res.resume();
  });
}

export const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
