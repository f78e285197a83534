// A TCP relay to Postgres on loopback that a test can cut (every connection destroyed, new
// ones refused) and restore on the same port: a real outage as the client sees it.
import net from "node:net";

export interface PgRelay {
  /** The given URL, pointed at the relay. */
  url(u: string): string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** `bindHost`: where the relay listens (loopback by default; a bridge address for containers). */
export async function pgRelay(target: URL, bindHost = "127.0.0.1"): Promise<PgRelay> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const open = async () => {
    server = net.createServer((c) => {
      const up = net.connect(Number(target.port || 5432), target.hostname);
      sockets.add(c).add(up);
      c.pipe(up).pipe(c);
      const end = () => {
        c.destroy();
        up.destroy();
        sockets.delete(c);
        sockets.delete(up);
      };
      c.on("error", end).on("close", end);
      up.on("error", end).on("close", end);
    });
    await new Promise<void>((r) => server!.listen(port, bindHost, r));
    port = (server.address() as net.AddressInfo).port;
  };
  const shut = async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    if (server) await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
  };
  await open();
  return {
    url(u) {
      const x = new URL(u);
      x.hostname = bindHost;
      x.port = String(port);
      return x.toString();
    },
    cut: shut,
    restore: open,
    close: shut,
  };
}
