/**
 * Whether a failure talking to Postgres is worth retrying (the server is down, restarting,
 * overloaded, or the connection broke) as opposed to a permanent refusal (bad privileges, a
 * constraint). Transient failures send events to the spool; permanent ones are reported to
 * the caller, because spooling them would only replay the same refusal forever.
 */
const TRANSIENT_NODE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOENT", // unix socket missing while the server is stopped
  "EAI_AGAIN",
]);

const TRANSIENT_SQLSTATES = new Set([
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up / shutting down)
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
  "57014", // query_canceled (statement timeout while the server stalls)
]);

const TRANSIENT_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection error/i,
  /not queryable/i,
  /query read timeout/i,
  /server closed the connection/i,
];

export function isTransientDbError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (TRANSIENT_NODE_CODES.has(code) || TRANSIENT_SQLSTATES.has(code)) return true;
    // Class 08 = connection exception, class 53 = insufficient resources (too many connections, disk full).
    if (/^(08|53)[0-9A-Z]{3}$/.test(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return false;
  }
  return TRANSIENT_MESSAGES.some((re) => re.test(err.message));
}
