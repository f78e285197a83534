// A port nothing listens on right now, for a process that must be told its port up front.
// One helper for every package's tests (they were copies in the edge's and the router's).
import net from "node:net";

export async function freePort(host = "127.0.0.1"): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}
