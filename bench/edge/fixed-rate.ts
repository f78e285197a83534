// Open-loop load at a fixed rate: requests go out on a schedule (every 1/rate s) whether or
// not earlier ones have been answered; each request's latency runs from its send to the end
// of its response. No busy-waiting: the generator shares the machine with what it measures.
import http from "node:http";

export interface FixedRateResult {
  sent: number;
  ok: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Every latency, for merging rounds. */
  latencies: number[];
}

export function summarize(parts: FixedRateResult[]): FixedRateResult {
  const lat = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return {
    sent: parts.reduce((n, p) => n + p.sent, 0),
    ok: parts.reduce((n, p) => n + p.ok, 0),
    errors: parts.reduce((n, p) => n + p.errors, 0),
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    maxMs: lat.at(-1) ?? NaN,
    latencies: lat,
  };
}

export async function fixedRate(url: string, headers: Record<string, string>, rate: number, seconds: number): Promise<FixedRateResult> {
  const u = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const lat: number[] = [];
  let ok = 0;
  let errors = 0;
  const total = Math.round(rate * seconds);
  const start = performance.now();
  const pending: Promise<void>[] = [];
  const send = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, headers, agent }, (res) => {
        res.resume();
        res.on("end", () => {
          lat.push(performance.now() - t0);
          if (res.statusCode === 200) ok++;
          else errors++;
          resolve();
        });
      });
      req.on("error", () => {
        errors++;
        resolve();
      });
      req.end();
    });
  let i = 0;
  while (i < total) {
    const now = performance.now();
    while (i < total && start + (i * 1000) / rate <= now) {
      pending.push(send());
      i++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  agent.destroy();
  return summarize([{ sent: total, ok, errors, p50Ms: NaN, p99Ms: NaN, maxMs: NaN, latencies: lat }]);
}
