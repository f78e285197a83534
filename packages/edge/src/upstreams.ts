// Where a tenant's gateway is: listed in the config, or from the upstream template when its
// name resolves (cached briefly, found and not found), and one readiness probe of it.
import http from "node:http";
import dns from "node:dns/promises";
import type { EdgeConfig, TenantRoute } from "@octw/contracts";

/** How long a template lookup is reused: found, and not found. */
const LOOKUP_TTL_MS = 5_000;
const LOOKUP_NEGATIVE_TTL_MS = 10_000;

// c-ares, not getaddrinfo: with `dns: ["127.0.0.1"]` Docker's embedded DNS never answers for a
// name that is not a container, and getaddrinfo then waits 10 s in a libuv thread-pool thread
// (the pool WebCrypto's token checks also run on). One try with a 1 s timeout, off the pool.
const resolver = new dns.Resolver({ timeout: 1_000, tries: 1 });

export async function systemLookup(host: string): Promise<string | undefined> {
  try {
    return (await resolver.resolve4(host))[0];
  } catch {
    // Not found, no answer, refused: all mean "no such tenant gateway here" (404).
    return undefined;
  }
}

export type TenantEntry = { route: TenantRoute; target: URL };
export type TenantMap = Map<string, TenantEntry>;

export const tenantMap = (c: EdgeConfig): TenantMap => new Map(c.tenants.map((t) => [t.id, { route: t, target: new URL(t.upstream) }]));

export interface Upstreams {
  /** The tenant's upstream: listed, or from the template when its name resolves. */
  entry(id: string): Promise<TenantEntry | undefined>;
  /** The tenant's upstream, looked up again now (after a wake its name resolves again). */
  fresh(id: string): Promise<TenantEntry | undefined>;
  /** Without waiting: a listed tenant, or a templated one resolved recently (audit attribution only). */
  knownNow(id: string): boolean;
  /** One readiness probe of a tenant's gateway over its network (the edge's own, not a tenant's request). */
  probeReady(id: string, timeoutMs: number): Promise<boolean>;
  /** After a reload: the new listed tenants; every cached lookup is forgotten. */
  swap(next: TenantMap): void;
}

export function createUpstreams(config: () => EdgeConfig, lookup: (host: string) => Promise<string | undefined> = systemLookup): Upstreams {
  let tenants = tenantMap(config());
  const resolved = new Map<string, { address: string | undefined; until: number }>();
  /** Lookups in flight, shared by concurrent requests for the same name. */
  const resolving = new Map<string, Promise<string | undefined>>();
  async function entry(id: string): Promise<TenantEntry | undefined> {
    const listed = tenants.get(id);
    const tpl = config().routing.upstreamTemplate;
    if (listed !== undefined || !tpl) return listed;
    const url = new URL(tpl.replace("{tenant}", id));
    const now = Date.now();
    let hit = resolved.get(url.hostname);
    if (hit === undefined || hit.until <= now) {
      let pending = resolving.get(url.hostname);
      if (pending === undefined) {
        pending = lookup(url.hostname).catch(() => undefined);
        resolving.set(url.hostname, pending);
      }
      const address = await pending;
      resolving.delete(url.hostname);
      if (resolved.size > 10_000) resolved.clear();
      hit = { address, until: Date.now() + (address === undefined ? LOOKUP_NEGATIVE_TTL_MS : LOOKUP_TTL_MS) };
      resolved.set(url.hostname, hit);
    }
    if (hit.address === undefined) return undefined;
    const target = new URL(url);
    target.hostname = hit.address;
    return { route: { id, upstream: url.href }, target };
  }
  async function fresh(id: string): Promise<TenantEntry | undefined> {
    const tpl = config().routing.upstreamTemplate;
    if (tpl && !tenants.has(id)) resolved.delete(new URL(tpl.replace("{tenant}", id)).hostname);
    return entry(id);
  }
  return {
    entry,
    fresh,
    knownNow(id) {
      if (tenants.has(id)) return true;
      const tpl = config().routing.upstreamTemplate;
      if (!tpl) return false;
      const hit = resolved.get(new URL(tpl.replace("{tenant}", id)).hostname);
      return hit !== undefined && hit.address !== undefined && hit.until > Date.now();
    },
    async probeReady(id, timeoutMs) {
      const e = await fresh(id);
      const wake = config().wake;
      if (e === undefined || wake === undefined) return false;
      const path = wake.readyPath;
      return new Promise<boolean>((resolve) => {
        const r = http.request({ host: e.target.hostname, port: e.target.port || 80, method: "GET", path, agent: false, timeout: timeoutMs }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        r.on("timeout", () => {
          r.destroy();
          resolve(false);
        });
        r.on("error", () => resolve(false));
        r.end();
      });
    },
    swap(next) {
      tenants = next;
      resolved.clear();
    },
  };
}
