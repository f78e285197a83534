// pulumi-docker takes healthcheck durations as Go duration strings and the provider parses them
// with time.ParseDuration; the Engine API wants nanoseconds.
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

export function parseGoDuration(s: string): number | undefined {
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched !== s.length || s.length === 0) return undefined;
  return Math.round(total);
}
