// Where a provider's requests go: its base URL taken apart once, and each tenant's own
// connection pools (a socket that carried one tenant's key never carries another's request).
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type { ProviderConfig } from "@octw/contracts";

export interface UpstreamTarget {
  secure: boolean;
  protocol: string;
  hostname: string;
  /** TLS SNI: the host name, none for an IP literal. */
  servername: string | undefined;
  port: string;
  pathPrefix: string;
  hostHeader: string;
}

/** Parsed once per provider object, not per request (config objects are replaced on reload, never changed). */
const targets = new WeakMap<ProviderConfig, UpstreamTarget>();

export function targetOf(provider: ProviderConfig): UpstreamTarget {
  let t = targets.get(provider);
  if (!t) {
    const base = new URL(provider.baseUrl);
    const secure = base.protocol === "https:";
    const hostname = base.hostname.replace(/^\[|\]$/g, "");
    t = {
      secure,
      protocol: base.protocol,
      hostname,
      servername: isIP(hostname) === 0 ? hostname : undefined,
      port: base.port || (secure ? "443" : "80"),
      pathPrefix: base.pathname.replace(/\/$/, ""),
      hostHeader: base.host,
    };
    targets.set(provider, t);
  }
  return t;
}

export interface TenantAgents {
  http: http.Agent;
  https: https.Agent;
}

export class TenantPools {
  private readonly agents = new Map<string, TenantAgents>();

  of(tenantId: string): TenantAgents {
    let a = this.agents.get(tenantId);
    if (!a) {
      a = {
        // Idle sockets are kept up to the number of streams a busy tenant has open: with fewer,
        // every burst above that number pays a new connection (and TLS handshake) before its
        // first byte. The provider's own keep-alive timeout still closes idle ones.
        http: new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024 }),
        https: new https.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024 }),
      };
      this.agents.set(tenantId, a);
    }
    return a;
  }

  /** Closes the pools of tenants no longer configured. */
  retain(ids: ReadonlySet<string>): void {
    for (const [id, a] of this.agents) {
      if (ids.has(id)) continue;
      a.http.destroy();
      a.https.destroy();
      this.agents.delete(id);
    }
  }

  destroy(): void {
    for (const a of this.agents.values()) {
      a.http.destroy();
      a.https.destroy();
    }
  }
}
