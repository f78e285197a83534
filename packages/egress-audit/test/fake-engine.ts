// A stand-in for the Docker Engine API on a unix socket in a temp dir: the two endpoints the
// shipper calls (container list with label filter, multiplexed log follow with `since`).
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

export function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

interface Container {
  id: string;
  labels: Record<string, string>;
  lines: { timeMs: number; text: string }[];
  running: boolean;
  streams: Set<http.ServerResponse>;
}

export interface FakeEngine {
  socketPath: string;
  containers: Map<string, Container>;
  add(id: string, labels: Record<string, string>): void;
  /** Appends a stdout line (pushed to open followers). */
  log(id: string, timeMs: number, text: string): void;
  /** Ends the container's log streams, as a stop does. */
  stop(id: string): void;
  requests: string[];
  close(): Promise<void>;
}

export async function fakeEngine(): Promise<FakeEngine> {
  const dir = mkdtempSync(path.join(tmpdir(), "fake-engine-"));
  const socketPath = path.join(dir, "docker.sock");
  const containers = new Map<string, Container>();
  const requests: string[] = [];
  const write = (res: http.ServerResponse, l: { timeMs: number; text: string }) => res.write(frame(1, `${new Date(l.timeMs).toISOString()} ${l.text}\n`));
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    const url = new URL(req.url ?? "/", "http://docker");
    if (url.pathname === "/containers/json") {
      const filters = JSON.parse(url.searchParams.get("filters") ?? "{}") as { label?: string[] };
      const want = (filters.label ?? []).map((l) => l.split("="));
      const list = [...containers.values()].filter((c) => c.running && want.every(([k, v]) => c.labels[k!] === v)).map((c) => ({ Id: c.id, Labels: c.labels }));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(list));
      return;
    }
    const m = /^\/containers\/([0-9a-f]{64})\/logs$/.exec(url.pathname);
    const c = m ? containers.get(m[1]!) : undefined;
    if (!c) {
      res.writeHead(404).end();
      return;
    }
    const since = Number(url.searchParams.get("since") ?? 0) * 1000;
    res.writeHead(200, { "content-type": "application/vnd.docker.raw-stream" });
    for (const l of c.lines) if (l.timeMs >= since) write(res, l);
    if (url.searchParams.get("follow") === "1" && c.running) {
      c.streams.add(res);
      res.on("close", () => c.streams.delete(res));
    } else res.end();
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  return {
    socketPath,
    containers,
    requests,
    add(id, labels) {
      containers.set(id, { id, labels, lines: [], running: true, streams: new Set() });
    },
    log(id, timeMs, text) {
      const c = containers.get(id)!;
      const l = { timeMs, text };
      c.lines.push(l);
      for (const s of c.streams) write(s, l);
    },
    stop(id) {
      const c = containers.get(id)!;
      c.running = false;
      for (const s of c.streams) s.end();
    },
    async close() {
      for (const c of containers.values()) for (const s of c.streams) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const squidLine = (tsMs: number, host: string, port: number, status = 403, result = "TCP_DENIED") =>
  JSON.stringify({ ts: tsMs / 1000, client: "10.64.0.37", method: "CONNECT", target: `${host}:${port}`, host, port: String(port), status, result });
