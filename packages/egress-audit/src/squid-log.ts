// One line of a tenant egress proxy's access log, as the SandboxPolicy's Squid config writes it
// (`logformat octw`, see @octw/pulumi's squid-config.ts):
//   {"ts":1764000000.123,"client":"10.64.0.37","method":"CONNECT","target":"ex%C3%A4mple.com:443",
//    "host":"ex%C3%A4mple.com","port":"443","status":403,"result":"TCP_DENIED"}
// method, target and host are URL-quoted by Squid (`%#…`), so any name the agent asks for —
// quotes, backslashes, UTF-8 — leaves the line valid JSON; they are decoded here. Squid fills
// fields it does not know with "-". Lines written before that quoting (raw fields) are read by
// a tolerant fallback. Lines are untrusted text from inside a tenant's boundary: every field is
// bounded, and a denial is never dropped for the shape of its destination.

export interface AccessLogEntry {
  /** Milliseconds since the epoch. */
  timeMs: number;
  client: string;
  method: string;
  /** The destination host as the proxy saw it (decoded; IPv6 literals in brackets), or "" when it could not tell. */
  host: string;
  /** 0 when the request named no valid port. */
  port: number;
  /** What was asked, as the proxy logged it (decoded): `host:port` for CONNECT, the URL otherwise. */
  target: string;
  status: number;
  result: string;
}

/** A line longer than this is no Squid access-log line (Squid's URLs end at 8 KiB, tripled by quoting). */
export const MAX_LINE = 65_536;
const METHOD = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,32}$/;
const RESULT = /^[A-Z_]{1,64}$/;

/**
 * Squid result codes and statuses that mean "refused": by the access rules (TCP_DENIED*, 403),
 * or as a malformed request before any rule (NONE/NONE_NONE with a 4xx: an unbracketed IPv6
 * literal, port 0 or > 65535, a relative URL). Both are attempts that did not leave.
 */
export function isDenial(e: AccessLogEntry): boolean {
  if (e.result.startsWith("TCP_DENIED")) return true;
  if (e.status === 403 && e.result.includes("DENIED")) return true;
  return (e.result === "NONE" || e.result === "NONE_NONE") && e.status >= 400 && e.status < 500;
}

/** Decodes Squid's URL quoting; keeps the quoted form when decoding would yield invalid UTF-8 or control characters. */
export function decodeField(raw: string): string {
  if (!raw.includes("%")) return raw;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return raw;
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(decoded) ? raw : decoded;
}

/** Host and port from `target` (`host:port`, `[v6]:port`, or a URL) when Squid left them "-". */
function fromTarget(target: string): { host: string; port: number } {
  const url = /^[a-z][a-z0-9+.-]*:\/\/(\[[^\]/]*\]|[^:/?#]*)(?::(\d{1,5}))?/i.exec(target);
  if (url) return { host: url[1]!.toLowerCase(), port: url[2] !== undefined ? Number(url[2]) : target.toLowerCase().startsWith("https:") ? 443 : 80 };
  const hp = /^(\[[^\]]*\]|.*):(\d{1,5})$/s.exec(target);
  if (hp) return { host: hp[1]!.toLowerCase(), port: Number(hp[2]) };
  return { host: "", port: 0 };
}

function validPort(p: number): number {
  return Number.isInteger(p) && p >= 1 && p <= 65_535 ? p : 0;
}

/** Before Squid quoted its fields: raw text between fixed delimiters (a name may hold `"` or `\`). */
const LEGACY = /^\{"ts":([0-9.]+),"client":"([^"]*)","method":"([^"]*)","target":"(.*)","host":"(.*)","port":"([^"]*)","status":(\d{1,3}),"result":"([A-Z_]*)"\}$/s;

function fields(line: string): Record<string, unknown> | undefined {
  try {
    const j = JSON.parse(line) as unknown;
    return j !== null && typeof j === "object" && !Array.isArray(j) ? (j as Record<string, unknown>) : undefined;
  } catch {
    const m = LEGACY.exec(line);
    if (!m) return undefined;
    return { ts: m[1], client: m[2], method: m[3], target: m[4], host: m[5], port: m[6], status: m[7], result: m[8], legacy: true };
  }
}

/** Parses one line; undefined when it is not an access-log line of this format. */
export function parseAccessLogLine(line: string): AccessLogEntry | undefined {
  if (line.length > MAX_LINE || !line.startsWith("{")) return undefined;
  const j = fields(line);
  if (!j) return undefined;
  const ts = Number(j.ts);
  const status = Number(j.status);
  const result = typeof j.result === "string" ? j.result : "";
  if (!Number.isFinite(ts) || ts <= 0 || !Number.isInteger(status) || !RESULT.test(result)) return undefined;
  const legacy = j.legacy === true;
  const text = (v: unknown) => (typeof v === "string" ? (legacy ? v : decodeField(v)) : "");
  const rawMethod = text(j.method);
  const method = METHOD.test(rawMethod) ? rawMethod.toUpperCase() : "(invalid)";
  const target = text(j.target);
  let host = text(j.host);
  let port = validPort(Number(j.port));
  if (host === "" || host === "-") {
    const t = fromTarget(target);
    host = t.host;
    port ||= validPort(t.port);
  } else if (port === 0) {
    port = validPort(fromTarget(target).port);
  }
  const client = typeof j.client === "string" ? j.client.replace(/[^0-9a-fA-F.:]/g, "").slice(0, 45) : "";
  return { timeMs: Math.round(ts * 1000), client, method, host: host.toLowerCase(), port, target, status, result };
}
