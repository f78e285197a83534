// The floor for bench:inference (BENCH_FLOOR=1): the least a Node HTTP relay can do per stream —
// take the request, send the same request upstream on a keep-alive pool, pipe the answer back —
// with none of the router's checks, audit or limits. It is no router (it checks nothing, and
// is reachable only on loopback for the length of a run); it shows how much of the router's
// CPU per stream is the relaying itself (one read and one write per chunk, through node's HTTP
// layers and the loopback TCP stack) and how much is the router's own work.
import http from "node:http";
import { PROVIDER_HOST } from "./provider-host";

const [port, providerPort] = [Number(process.argv[2]), Number(process.argv[3])];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024 });

const server = http.createServer({ keepAliveTimeout: 65_000, noDelay: true }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const up = http.request({ host: PROVIDER_HOST, port: providerPort, method: "POST", path: "/v1/chat/completions", agent, headers: { "content-type": "application/json", "content-length": String(body.length), authorization: "Bearer sk-bench-key" } }, (r) => {
      res.writeHead(r.statusCode ?? 502, { "content-type": String(r.headers["content-type"] ?? "application/octet-stream") });
      r.pipe(res);
    });
    up.on("error", () => res.destroy());
    up.end(body);
  });
});
// Same protocol as router-process.ts: SIGUSR2 prints the CPU time so far (handler before "ready").
process.on("SIGUSR2", () => {
  const u = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpuMs: (u.user + u.system) / 1000, sysMs: u.system / 1000, audited: 0 })}\n`);
});
server.listen(port, "127.0.0.1", () => process.stdout.write("ready\n"));
process.on("SIGTERM", () => process.exit(0));
