// What of a tenant gateway's answer the edge may relay. The gateway is attacker 4 (DESIGN.md):
// its status line and headers are checked here, before the edge writes anything, so nothing it
// sends can make Node throw while the edge writes the response — an uncaught throw there ends
// the one shared process, with every tenant's sessions and the audit events still buffered.

/** RFC 9110 token: what Node's writeHead accepts as a header name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What Node's writeHead accepts as a header value (its checkInvalidHeaderChar, inverted). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function isValidHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

export function isValidHeaderValue(value: string): boolean {
  return FIELD_VALUE.test(value);
}

/**
 * The final status the edge relays for an HTTP request, or undefined (→ 502). Only 200–599:
 * a 1xx as a final answer (101 without an upgrade asked for) and anything outside the
 * three-digit classes RFC 9110 defines is not an answer the edge can pass on. The reason
 * phrase is never relayed: the edge writes the standard one (a phrase may hold characters
 * Node refuses to write, and nothing reads it).
 */
export function relayableStatus(code: number | undefined): number | undefined {
  return code !== undefined && Number.isInteger(code) && code >= 200 && code <= 599 ? code : undefined;
}

/**
 * The status the edge answers a WebSocket upgrade with when the gateway refused it: the
 * gateway's own 4xx/5xx, else 502 (a 2xx or 3xx that is not 101 is not a refusal a browser
 * can act on, and followRedirects is off).
 */
export function upgradeRefusalStatus(code: number | undefined): number {
  return code !== undefined && Number.isInteger(code) && code >= 400 && code <= 599 ? code : 502;
}

/** Node's error code for the audit trail: a short identifier, never text the upstream chose. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[A-Z0-9_]{1,64}$/.test(code) ? code : "unknown";
}
