// A tenant gateway under attacker control, as raw TCP: it answers each request with a scripted
// byte sequence (malformed status lines and headers, broken framing, trickles, resets, bad
// WebSocket handshakes and frames). Scripts are looked up by the id in the request path
// (`…/fuzz/<id>`), so a keep-alive connection the edge reuses still gets the right script.
import { createHash } from "node:crypto";
import net from "node:net";

export type Step =
  | { kind: "write"; data: Buffer }
  | { kind: "wait"; ms: number }
  /** One byte of `data` (cycled) every `everyMs`, until the edge gives up on the socket. */
  | { kind: "trickle"; data: Buffer; everyMs: number }
  /** A 101 answer to the WebSocket upgrade: `accept` valid, wrong or absent; extra header lines. */
  | { kind: "handshake"; accept: "valid" | "wrong" | "none"; extra: readonly string[] }
  /** FIN: close our side. */
  | { kind: "end" }
  /** RST: abort the connection. */
  | { kind: "reset" };

export interface HostileUpstream {
  port: number;
  url: string;
  scripts: Map<string, readonly Step[]>;
  /** Requests that reached the upstream, by id. */
  seen: Set<string>;
  /** Connections from the edge still open (a leak if they stay after the edge gave up). */
  readonly openConnections: number;
  /** The script ids of the connections still open. */
  openIds(): string[];
  close(): Promise<void>;
}

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export async function hostileUpstream(): Promise<HostileUpstream> {
  const scripts = new Map<string, readonly Step[]>();
  const seen = new Set<string>();
  const sockets = new Set<net.Socket>();
  const idOf = new WeakMap<net.Socket, string>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const timers = new Set<NodeJS.Timeout>();
    socket.on("close", () => {
      sockets.delete(socket);
      for (const t of timers) clearTimeout(t); // clears intervals too
    });
    socket.on("error", () => {});
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      socket.on("data", () => {}); // request bodies and client frames are read and ignored
      const head = buf.subarray(0, end).toString("latin1");
      const id = /\/fuzz\/([a-z0-9-]+)/.exec(head.split("\r\n", 1)[0] ?? "")?.[1];
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? "";
      const script = id === undefined ? undefined : scripts.get(id);
      if (id === undefined || script === undefined) {
        socket.destroy();
        return;
      }
      seen.add(id);
      idOf.set(socket, id);
      void run(socket, script, key, timers);
    };
    socket.on("data", onData);
  });
  async function run(socket: net.Socket, steps: readonly Step[], key: string, timers: Set<NodeJS.Timeout>): Promise<void> {
    for (const step of steps) {
      if (socket.destroyed) return;
      switch (step.kind) {
        case "write":
          socket.write(step.data);
          break;
        case "wait":
          await new Promise<void>((r) => timers.add(setTimeout(r, step.ms)));
          break;
        case "trickle": {
          let i = 0;
          const t = setInterval(() => {
            if (socket.destroyed || step.data.length === 0) return clearInterval(t);
            socket.write(step.data.subarray(i % step.data.length, (i % step.data.length) + 1));
            i++;
          }, step.everyMs);
          timers.add(t);
          return; // trickles until the edge closes the socket
        }
        case "handshake": {
          const accept =
            step.accept === "valid"
              ? createHash("sha1").update(key + WS_GUID).digest("base64")
              : step.accept === "wrong"
                ? createHash("sha1").update(`x${key}${WS_GUID}`).digest("base64")
                : undefined;
          const lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", ...(accept ? [`Sec-WebSocket-Accept: ${accept}`] : []), ...step.extra];
          socket.write(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
          break;
        }
        case "end":
          socket.end();
          return;
        case "reset":
          socket.resetAndDestroy();
          return;
      }
    }
    // A script that ends without end/reset leaves the connection open: the upstream that
    // "accepts and never answers" (or stops mid-way) — the edge must bound it.
  }
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    scripts,
    seen,
    get openConnections() {
      return sockets.size;
    },
    openIds: () => [...sockets].map((s) => idOf.get(s) ?? "(no request yet)"),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
