import type { ServerResponse } from "node:http";

/**
 * A complete JSON answer of one of the services (edge, router): no caching, an exact length, and
 * `connection: close` while the service drains. Headers already sent (a response that failed
 * midway) cannot become a JSON answer: the connection is destroyed instead. Returns the bytes sent.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, opts: { close?: boolean; headers?: Record<string, string | string[]> } = {}): number {
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  const text = JSON.stringify(body);
  const length = Buffer.byteLength(text);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": length,
    "cache-control": "no-store",
    ...(opts.close ? { connection: "close" } : {}),
    ...opts.headers,
  });
  res.end(text);
  return length;
}
