// A browser without a browser: follows the sign-in redirects between the edge (reached on
// loopback with the tenant's Host header) and the test IdP, keeping cookies per host and path,
// so every relying-party check can be probed at the exact step it guards.
import http from "node:http";

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface StoredCookie {
  value: string;
  path: string;
}

/** Cookies per host (host:port as the browser saw it), honouring Path and Max-Age=0. */
export class Jar {
  private readonly byHost = new Map<string, Map<string, StoredCookie>>();

  store(host: string, setCookie: string[] | string | undefined): void {
    const list = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
    for (const line of list) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      let path = "/";
      let remove = false;
      for (const a of attrs) {
        const [k, v] = a.split("=").map((x) => x.trim());
        if (k!.toLowerCase() === "path" && v) path = v;
        if (k!.toLowerCase() === "max-age" && Number(v) <= 0) remove = true;
      }
      const m = this.byHost.get(host) ?? new Map<string, StoredCookie>();
      this.byHost.set(host, m);
      if (remove) m.delete(name);
      else m.set(name, { value, path });
    }
  }

  header(host: string, path: string): string | undefined {
    const m = this.byHost.get(host);
    if (!m) return undefined;
    const parts = [...m].filter(([, c]) => path.startsWith(c.path)).map(([n, c]) => `${n}=${c.value}`);
    return parts.length ? parts.join("; ") : undefined;
  }

  get(host: string, name: string): string | undefined {
    return this.byHost.get(host)?.get(name)?.value;
  }

  set(host: string, name: string, value: string): void {
    const m = this.byHost.get(host) ?? new Map<string, StoredCookie>();
    this.byHost.set(host, m);
    m.set(name, { value, path: "/" });
  }
}

/** One request to 127.0.0.1:port with the given Host (the edge's tenant origin, or the IdP). */
export function rawRequest(port: number, host: string, path: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: o.method ?? "GET", headers: { host, ...o.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

export const NAV = { accept: "text/html", "sec-fetch-mode": "navigate" };

/**
 * The browser: `edgePort` serves every `*.octw.test` origin (as DNS would map them),
 * anything on 127.0.0.1:<port> is the IdP.
 */
export class Browser {
  readonly jar = new Jar();
  constructor(readonly edgePort: number) {}

  /** GET/POST a URL as a browser navigation, storing cookies; no redirect following. */
  async go(url: string, o: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Res & { url: string }> {
    const u = new URL(url);
    const isEdge = u.hostname.endsWith(".octw.test");
    const port = isEdge ? this.edgePort : Number(u.port);
    const path = u.pathname + u.search;
    const cookie = this.jar.header(u.host, u.pathname);
    const headers: Record<string, string> = { ...NAV, ...(cookie ? { cookie } : {}), ...o.headers };
    if (o.body !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
    const r = await rawRequest(port, u.host, path, { method: o.method ?? "GET", headers, ...(o.body !== undefined ? { body: o.body } : {}) });
    this.jar.store(u.host, r.headers["set-cookie"]);
    return { ...r, url };
  }

  /** Follows redirects until a non-redirect answer, or until `stopAt` matches a Location. */
  async follow(url: string, stopAt?: (next: URL) => boolean, o: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Res & { url: string }> {
    let r = await this.go(url, o);
    for (let i = 0; i < 20 && r.status >= 300 && r.status < 400 && r.headers.location; i++) {
      const next = new URL(r.headers.location, r.url);
      if (stopAt?.(next)) return { ...r, url: next.href };
      r = await this.go(next.href);
    }
    return r;
  }

  /**
   * From a tenant URL to the moment the IdP sends the person back: returns the callback URL
   * (code, state, iss) without visiting it, so a test can visit it as is or tampered.
   */
  async toCallback(tenantUrl: string, user?: { username: string; password: string }): Promise<string> {
    const isCallback = (u: URL) => u.pathname === "/_edge/oidc/callback";
    let r = await this.follow(tenantUrl, isCallback);
    if (isCallback(new URL(r.url))) return r.url;
    if (!/\/interaction\//.test(r.url) || r.status !== 200) throw new Error(`expected the IdP's login page, got ${r.status} at ${r.url}: ${r.body.slice(0, 200)}`);
    if (!user) throw new Error("the IdP asks for a password and no user was given");
    const action = /<form method="post" action="([^"]+)"/.exec(r.body)?.[1];
    r = await this.follow(new URL(action!, r.url).href, isCallback, {
      method: "POST",
      body: new URLSearchParams({ username: user.username, password: user.password }).toString(),
    });
    if (!isCallback(new URL(r.url))) throw new Error(`sign-in did not come back to the edge: ${r.status} ${r.url} ${r.body.slice(0, 300)}`);
    return r.url;
  }

  /** Whole sign-in: returns the edge's answer to the callback. */
  async signIn(tenantUrl: string, user?: { username: string; password: string }): Promise<Res & { url: string }> {
    return this.go(await this.toCallback(tenantUrl, user));
  }
}
