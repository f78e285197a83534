// What the waker answers, as a pure function of method, URL and Authorization header: exactly
// two operations, everything else refused. No engine, no I/O: unit-tested on its own.
import { createHash, timingSafeEqual } from "node:crypto";

export const TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const REASON = /^[a-z][a-z0-9-]{0,31}$/;
export const SUSPEND_TIERS = ["paused", "stopped"] as const;
export type SuspendTier = (typeof SUSPEND_TIERS)[number];
export const WAIT_FOR = ["healthy", "running"] as const;
export type WaitFor = (typeof WAIT_FOR)[number];

export type Route =
  | { kind: "wake"; tenant: string; waitFor: WaitFor; reason: string }
  | { kind: "suspend"; tenant: string; tier: SuspendTier; reason: string; horizonS?: number }
  | { kind: "refused"; status: 400 | 401 | 404 | 405; error: string };

/** Compares digests, so neither the length nor the content of the token leaks through timing. */
export function tokenMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(authorization ?? "");
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  // Always compare, even without a well-formed header: same work either way.
  const ok = timingSafeEqual(digest(m?.[1] ?? ""), digest(token));
  return m !== null && ok;
}

function query(url: URL, allowed: readonly string[]): { params: Map<string, string> } | { error: string } {
  const params = new Map<string, string>();
  for (const [k, v] of url.searchParams) {
    // Names only: a value could be anything, and is never echoed.
    if (!allowed.includes(k)) return { error: `query parameter ${JSON.stringify(k.slice(0, 40))} is not allowed (allowed: ${allowed.join(", ") || "none"})` };
    if (params.has(k)) return { error: `query parameter ${k} is given twice` };
    params.set(k, v);
  }
  return { params };
}

/**
 * Routes one request. Authentication comes first, so an unauthenticated caller learns nothing
 * about which paths or tenants exist.
 */
export function route(method: string | undefined, rawUrl: string | undefined, authorization: string | undefined, token: string): Route {
  if (!tokenMatches(authorization, token)) return { kind: "refused", status: 401, error: "missing or wrong bearer token" };
  let url: URL;
  try {
    url = new URL(rawUrl ?? "", "http://waker.invalid");
  } catch {
    return { kind: "refused", status: 400, error: "unparseable request target" };
  }
  if (!(rawUrl ?? "").startsWith("/")) return { kind: "refused", status: 400, error: "request target must be a path" };
  const m = /^\/tenants\/([^/]+)\/(wake|suspend)$/.exec(url.pathname);
  if (!m) return { kind: "refused", status: 404, error: "no such operation (allowed: POST /tenants/<id>/wake, POST /tenants/<id>/suspend?tier=paused|stopped)" };
  if (method !== "POST") return { kind: "refused", status: 405, error: "method not allowed (allowed: POST)" };
  const tenant = m[1]!;
  if (!TENANT_ID.test(tenant)) return { kind: "refused", status: 400, error: "tenant: must be a lower-case DNS label" };
  if (m[2] === "wake") {
    const q = query(url, ["wait", "reason"]);
    if ("error" in q) return { kind: "refused", status: 400, error: q.error };
    const waitFor = q.params.get("wait") ?? "healthy";
    if (!(WAIT_FOR as readonly string[]).includes(waitFor)) return { kind: "refused", status: 400, error: `wait: must be one of ${WAIT_FOR.join(", ")}` };
    const reason = q.params.get("reason") ?? "request";
    if (!REASON.test(reason)) return { kind: "refused", status: 400, error: "reason: must be a lower-case word of [a-z0-9-], at most 32 characters" };
    return { kind: "wake", tenant, waitFor: waitFor as WaitFor, reason };
  }
  const q = query(url, ["tier", "reason", "horizonS"]);
  if ("error" in q) return { kind: "refused", status: 400, error: q.error };
  const tier = q.params.get("tier");
  if (tier === undefined) return { kind: "refused", status: 400, error: `tier: is required (one of ${SUSPEND_TIERS.join(", ")})` };
  if (!(SUSPEND_TIERS as readonly string[]).includes(tier)) return { kind: "refused", status: 400, error: `tier: must be one of ${SUSPEND_TIERS.join(", ")}` };
  const reason = q.params.get("reason") ?? "idle";
  if (!REASON.test(reason)) return { kind: "refused", status: 400, error: "reason: must be a lower-case word of [a-z0-9-], at most 32 characters" };
  const h = q.params.get("horizonS");
  if (h !== undefined && !/^[0-9]{1,6}$/.test(h)) return { kind: "refused", status: 400, error: "horizonS: must be a whole number of seconds, at most 999999" };
  return { kind: "suspend", tenant, tier: tier as SuspendTier, reason, ...(h !== undefined ? { horizonS: Number(h) } : {}) };
}
