// One line of a tenant egress proxy's access log, as the SandboxPolicy's Squid config writes it
// (`logformat octw`, see @octw/pulumi's squid-config.ts):
//   {"ts":1764000000.123,"client":"10.64.0.37","method":"CONNECT","target":"example.com:443",
//    "host":"example.com","port":"443","status":403,"result":"TCP_DENIED"}
// Squid fills fields it does not know with "-". Lines are untrusted text from inside a tenant's
// boundary (the host name is whatever the agent asked for), so every field is bounded and checked.

export interface AccessLogEntry {
  /** Milliseconds since the epoch. */
  timeMs: number;
  client: string;
  method: string;
  host: string;
  port: number;
  status: number;
  result: string;
}

const HOST = /^[A-Za-z0-9._:[\]-]{1,253}$/;
const METHOD = /^[A-Z]{1,16}$/;

/** Squid result codes that mean "refused by the access rules". */
export function isDenial(e: AccessLogEntry): boolean {
  return e.result === "TCP_DENIED" || e.result === "TCP_DENIED_REPLY" || (e.status === 403 && e.result.includes("DENIED"));
}

/** Host and port from `host`/`port`, or from `target` (`host:port`) when Squid left them "-". */
function hostPort(host: unknown, port: unknown, target: unknown): { host: string; port: number } | undefined {
  let h = typeof host === "string" && host !== "-" ? host : undefined;
  let p = typeof port === "string" || typeof port === "number" ? Number(port) : NaN;
  if ((h === undefined || !Number.isInteger(p) || p <= 0) && typeof target === "string") {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:/\s]+):(\d{1,5})$/.exec(target);
    if (m) {
      h ??= m[1]!;
      if (!Number.isInteger(p) || p <= 0) p = Number(m[2]);
    }
  }
  if (h === undefined || !HOST.test(h) || !Number.isInteger(p) || p < 1 || p > 65_535) return undefined;
  return { host: h.toLowerCase(), port: p };
}

/** Parses one line; undefined when it is not an access-log line of this format. */
export function parseAccessLogLine(line: string): AccessLogEntry | undefined {
  if (line.length > 8_192 || !line.startsWith("{")) return undefined;
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (j === null || typeof j !== "object") return undefined;
  const ts = Number(j.ts);
  const method = typeof j.method === "string" ? j.method : "";
  const status = Number(j.status);
  const result = typeof j.result === "string" ? j.result.slice(0, 64) : "";
  if (!Number.isFinite(ts) || ts <= 0 || !METHOD.test(method) || !Number.isInteger(status)) return undefined;
  const hp = hostPort(j.host, j.port, j.target);
  if (!hp) return undefined;
  const client = typeof j.client === "string" ? j.client.replace(/[^0-9a-fA-F.:]/g, "").slice(0, 45) : "";
  return { timeMs: Math.round(ts * 1000), client, method, host: hp.host, port: hp.port, status, result };
}
