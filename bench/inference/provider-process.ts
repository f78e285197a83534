// Fake model provider for bench:inference, in its own process so its CPU is not the load
// generator's. SSE: the first event at once (what time-to-first-byte measures), then
// BENCH_CHUNKS-1 more (default 50 in all), BENCH_CHUNK_GAP_MS apart (default 20), each about
// 130 bytes like a token delta.
import http from "node:http";
import { PROVIDER_HOST } from "./provider-host";

const port = Number(process.argv[2]);

const host = PROVIDER_HOST;
const chunks = Number(process.env.BENCH_CHUNKS ?? 50);
const gapMs = Number(process.env.BENCH_CHUNK_GAP_MS ?? 20);
const delta = (i: number) => `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: `token-${i} `.padEnd(40, ".") } }] })}\n\n`;

const server = http.createServer({ noDelay: true, keepAliveTimeout: 65_000 }, (req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    let i = 0;
    const next = () => {
      if (res.destroyed) return;
      res.write(delta(i));
      if (++i >= chunks) res.end("data: [DONE]\n\n");
      else setTimeout(next, gapMs);
    };
    next();
  });
});
server.listen(port, host, () => process.stdout.write("ready\n"));
// The runner asks for this process's CPU time: a reference for the router's, since the provider
// writes the same chunks the router relays (and, on loopback, pays the same kernel time for them).
process.on("SIGUSR2", () => {
  const u = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpuMs: (u.user + u.system) / 1000, sysMs: u.system / 1000, audited: 0 })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
