// Provider host names are resolved at connect time (src/destination.ts) so that every address
// the router connects to has been vetted. Asking the system resolver on every request puts a
// thread-pool round trip (and, in a container, a DNS query) in front of each request's first
// byte. The answers are kept for a short time instead; the caller still vets every answer on
// every request (a reloaded policy applies at once), so the cache changes when DNS is asked,
// never what may be connected to. Failures are not cached: the next request asks again.
import type { ResolvedAddress, Resolver } from "./destination";

interface Entry {
  answers: ResolvedAddress[];
  expires: number;
}

/** Default lifetime of a cached answer: short enough that a provider's DNS change is seen quickly. */
export const RESOLVE_CACHE_MS = 5_000;
/** Host names kept at most (a tenant's providers are a handful; this bounds a config with many). */
const MAX_ENTRIES = 1_024;

export function cachingResolver(inner: Resolver, ttlMs = RESOLVE_CACHE_MS, now: () => number = () => performance.now()): Resolver {
  const entries = new Map<string, Entry>();
  const inflight = new Map<string, Promise<ResolvedAddress[]>>();
  return (host) => {
    const e = entries.get(host);
    if (e && e.expires > now()) return Promise.resolve(e.answers);
    let p = inflight.get(host);
    if (!p) {
      // One lookup per name at a time, however many requests wait for it.
      p = inner(host)
        .then((answers) => {
          if (entries.size >= MAX_ENTRIES && !entries.has(host)) entries.delete(entries.keys().next().value!);
          entries.set(host, { answers, expires: now() + ttlMs });
          return answers;
        })
        .finally(() => inflight.delete(host));
      inflight.set(host, p);
    }
    return p;
  };
}
