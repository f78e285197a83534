import { statSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";

/** Exit 0 when this very process answers `path` on loopback with 200, else 1. */
export async function httpHealthcheck(opts: { port: number; path: string; tls: boolean }): Promise<never> {
  const mod = opts.tls ? https : http;
  const status = await new Promise<number>((resolve) => {
    const req = mod.request(
      // Loopback to this very process: a TLS certificate names the public host, not 127.0.0.1.
      { host: "127.0.0.1", port: opts.port, path: opts.path, timeout: 3_000, rejectUnauthorized: false },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
    req.end();
  });
  process.exit(status === 200 ? 0 : 1);
}

/** Touches `path` now and every `everyMs` (for services without a port to ask); returns the stop. */
export function startHeartbeat(path: string, everyMs: number): () => void {
  const beat = () => writeFileSync(path, `${Date.now()}\n`, { mode: 0o600 });
  beat();
  const timer = setInterval(beat, everyMs);
  return () => clearInterval(timer);
}

/** Exit 0 when the heartbeat is younger than three beats, else 1. */
export function heartbeatHealthcheck(path: string, everyMs: number): never {
  try {
    const age = Date.now() - statSync(path).mtimeMs;
    process.exit(age < 3 * everyMs ? 0 : 1);
  } catch {
    process.exit(1);
  }
}
