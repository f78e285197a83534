// The suite's "outside world": plain TCP servers on OCTW_TEST_OUTSIDE_ADDR (an address the test
// environment created on the host). Each answers an HTTP request with a recognisable body and
// records every connection, so "blocked" means both "the probe failed" and "nothing arrived".
import net from "node:net";

export interface OutsideHit {
  port: number;
  from: string;
  requestLine: string;
  at: number;
}

export interface FakeOutside {
  address: string;
  ports: number[];
  hits: OutsideHit[];
  /** hits whose request line contains the token */
  seen(token: string): OutsideHit[];
  close(): Promise<void>;
}

export async function startFakeOutside(address: string, ports: number[]): Promise<FakeOutside> {
  const hits: OutsideHit[] = [];
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  for (const port of ports) {
    const server = net.createServer((sock) => {
      sockets.add(sock);
      sock.on("close", () => sockets.delete(sock));
      const hit: OutsideHit = { port, from: sock.remoteAddress ?? "?", requestLine: "", at: Date.now() };
      hits.push(hit);
      let buf = "";
      sock.setTimeout(10_000, () => sock.destroy());
      sock.on("data", (d: Buffer) => {
        buf += d.toString("latin1");
        const eol = buf.indexOf("\r\n");
        if (eol >= 0 && !hit.requestLine) {
          hit.requestLine = buf.slice(0, eol);
          const body = `outside-ok ${port} ${hit.requestLine.split(" ")[1] ?? ""}\n`;
          sock.end(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
        }
      });
      sock.on("error", () => undefined);
    });
    // fixed ports on a fixed address: wait a while for another run to let go, then fail clearly
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(port, address, () => {
            server.off("error", reject);
            resolve();
          });
        });
        break;
      } catch (e) {
        if ((e as { code?: string }).code !== "EADDRINUSE" || Date.now() > deadline) {
          await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
          throw new Error(`cannot listen on ${address}:${port} for the fake outside server (${String(e)}); another conformance run holds it`);
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    servers.push(server);
  }
  return {
    address,
    ports,
    hits,
    seen: (token) => hits.filter((h) => h.requestLine.includes(token)),
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
