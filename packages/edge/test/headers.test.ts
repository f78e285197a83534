import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { confineClearSiteData, confineCookie, confineServiceWorkerAllowed, downstreamResponseHeaders, isStrippedRequestHeader, readCookie, stripCookie, upstreamRequestHeaders, type ResponseScope } from "../src/headers";

const hostScope: ResponseScope = { cookieName: "octw_session", kind: "host", cookiePath: "/" };
const pathScope: ResponseScope = { cookieName: "octw_session", kind: "path", cookiePath: "/t/acme/" };

const opts = { userHeader: "x-octw-user", cookieName: "octw_session", extraStripped: new Set(["x-custom-id"]) };
const identity = { user: "alice", scopes: "operator.read", clientIp: "203.0.113.7", host: "acme.octw.example", proto: "https" as const };

describe("header sanitation", () => {
  it("strips every client-sent identity, scope and forwarding header and sets the edge's own", () => {
    const out = upstreamRequestHeaders(
      {
        host: "acme.octw.example",
        accept: "application/json",
        authorization: "Bearer abc",
        "x-octw-user": "root",
        "x-openclaw-scopes": "operator.admin",
        "x-openclaw-anything": "1",
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-user": "root",
        "x-forwarded-host": "evil",
        "x-forwarded-proto": "http",
        forwarded: "for=127.0.0.1",
        "x-real-ip": "127.0.0.1",
        "tailscale-user-login": "root@ts",
        "x-auth-request-email": "root@x",
        "x-custom-id": "root",
        "remote-user": "root",
        connection: "keep-alive, x-drop-me",
        "x-drop-me": "1",
        "keep-alive": "timeout=5",
        te: "trailers",
        "proxy-authorization": "Basic x",
      },
      identity,
      opts,
    );
    expect(out).toEqual({
      host: "acme.octw.example",
      accept: "application/json",
      "x-octw-user": "alice",
      "x-openclaw-scopes": "operator.read",
      "x-forwarded-for": "203.0.113.7",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "acme.octw.example",
    });
  });
  it("always sets the scopes header, empty meaning no scopes", () => {
    const out = upstreamRequestHeaders({}, { ...identity, scopes: "" }, opts);
    expect(out["x-openclaw-scopes"]).toBe("");
  });
  it("removes only the edge cookie from Cookie", () => {
    const out = upstreamRequestHeaders({ cookie: "a=1; octw_session=tok; b=2" }, identity, opts);
    expect(out.cookie).toBe("a=1; b=2");
    expect(upstreamRequestHeaders({ cookie: "octw_session=tok" }, identity, opts).cookie).toBeUndefined();
    expect(stripCookie("octw_session_x=1", "octw_session")).toBe("octw_session_x=1");
  });
  it("reads the cookie and refuses duplicates", () => {
    expect(readCookie("a=1; octw_session=tok.en.x", "octw_session")).toBe("tok.en.x");
    expect(readCookie("octw_session=a; octw_session=b", "octw_session")).toBeUndefined();
    expect(readCookie("a=1", "octw_session")).toBeUndefined();
  });
  it("drops hop-by-hop response headers, the edge cookie and Domain, on a host route", () => {
    const out = downstreamResponseHeaders(
      [
        "Content-Type", "text/html",
        "Connection", "close, X-Hop",
        "X-Hop", "1",
        "Transfer-Encoding", "chunked",
        "Set-Cookie", "ui=1; Path=/",
        "Set-Cookie", "wide=1; Path=/; Domain=octw.example",
        "Set-Cookie", "octw_session=forged; Path=/",
        "Set-Cookie", "OCTW_SESSION=forged",
        "Alt-Svc", 'h2="other.example:443"',
      ],
      hostScope,
    );
    // Host route: the origin is the tenant's own, so Path=/ stays; Domain is stripped (host-only).
    expect(out).toEqual(["Content-Type", "text/html", "Set-Cookie", "ui=1; Path=/", "Set-Cookie", "wide=1; Path=/"]);
  });
  it("on a path route, a Path=/ cookie is confined to /t/<tenant>/ (it would reach every tenant)", () => {
    const out = downstreamResponseHeaders(["Set-Cookie", "ui=1; Path=/", "Set-Cookie", "sub=1; Path=/api; HttpOnly", "Set-Cookie", "nopath=1; Secure"], pathScope);
    expect(out).toEqual(["Set-Cookie", "ui=1; Path=/t/acme/", "Set-Cookie", "sub=1; HttpOnly; Path=/t/acme/api", "Set-Cookie", "nopath=1; Secure; Path=/t/acme/"]);
  });
  it("Service-Worker-Allowed: kept on the tenant's own origin, moved under the prefix or dropped on a shared one", () => {
    expect(downstreamResponseHeaders(["Service-Worker-Allowed", "/"], hostScope)).toEqual(["Service-Worker-Allowed", "/"]);
    expect(downstreamResponseHeaders(["Service-Worker-Allowed", "/"], pathScope)).toEqual(["Service-Worker-Allowed", "/t/acme/"]);
    for (const v of ["https://octw.example/", "//octw.example/", "../", "\\x"]) {
      expect(downstreamResponseHeaders(["Service-Worker-Allowed", v], pathScope), v).toEqual([]);
    }
  });
  it("Clear-Site-Data: never cookies (they span every tenant host), nothing at all on a shared origin", () => {
    expect(downstreamResponseHeaders(["Clear-Site-Data", '"cache", "cookies", "storage"'], hostScope)).toEqual(["Clear-Site-Data", '"cache", "storage"']);
    expect(downstreamResponseHeaders(["Clear-Site-Data", '"*"'], hostScope)).toEqual([]);
    expect(downstreamResponseHeaders(["Clear-Site-Data", '"cache"'], pathScope)).toEqual([]);
  });
  it("origin-wide policies (reporting, HSTS) are dropped on a shared origin only", () => {
    const h = ["NEL", "{}", "Report-To", "{}", "Reporting-Endpoints", "a=\"/r\"", "Strict-Transport-Security", "max-age=0"];
    expect(downstreamResponseHeaders(h, pathScope)).toEqual([]);
    expect(downstreamResponseHeaders(h, hostScope)).toEqual(h); // positive control: the same headers pass on a tenant's own origin
  });
  it("drops header names and values Node would refuse to write", () => {
    expect(downstreamResponseHeaders(["X-Ok", "1", "X Bad", "1", "X-Ctl", "a\u0001b", "X-Del", "a\u007fb", "X-Latin", "\u00e9"], hostScope)).toEqual(["X-Ok", "1", "X-Latin", "\u00e9"]);
  });
});

// A path-route cookie must never be sent by a browser to another tenant's prefix. Browsers send
// a cookie to every request path its Path is a prefix of (RFC 6265 §5.1.4 path-match).
function pathMatches(cookiePath: string, requestPath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}
function attr(setCookie: string, name: string): string | undefined {
  const hits = setCookie.split(";").slice(1).map((a) => a.trim()).filter((a) => a.split("=", 1)[0]!.trim().toLowerCase() === name);
  return hits.at(-1)?.slice(hits.at(-1)!.indexOf("=") + 1);
}

describe("property: upstream Set-Cookie never reaches beyond the tenant", () => {
  const attrName = fc.constantFrom("Path", "path", "PATH", " Path ", "Domain", "domain", " DOMAIN", "Max-Age", "Secure", "HttpOnly", "SameSite", "Partitioned");
  const attrValue = fc.oneof(fc.constantFrom("/", "", "/t/other/", "/t", "/t/acme", "octw.example", ".octw.example", "/..", "//x"), fc.string({ maxLength: 12 }).filter((v) => !v.includes(";")));
  const cookieName = fc.oneof(fc.constantFrom("octw_session", "OCTW_session", " octw_session ", "ui", "", "__Host-x"), fc.stringMatching(/^[A-Za-z0-9_-]{1,10}$/));
  const setCookie = fc
    .tuple(cookieName, fc.boolean(), fc.string({ maxLength: 8 }).filter((v) => !v.includes(";")), fc.array(fc.tuple(attrName, fc.boolean(), attrValue), { maxLength: 6 }))
    .map(([n, hasEq, v, attrs]) => [`${n}${hasEq ? "=" : ""}${v}`, ...attrs.map(([k, eq, val]) => (eq ? `${k}=${val}` : k))].join("; "));
  const otherTenantPath = fc.constantFrom("/t/other/", "/t/other/x", "/", "/t/", "/t/acmex/", "/t/acm/");

  it("path route: no Domain, Path under /t/acme/, never the edge cookie, never matches another tenant's paths", () => {
    fc.assert(
      fc.property(setCookie, otherTenantPath, (sc, other) => {
        const out = confineCookie(sc, pathScope);
        if (out === undefined) return;
        expect(attr(out, "domain")).toBeUndefined();
        const p = attr(out, "path")!;
        expect(p.startsWith("/t/acme/")).toBe(true);
        expect(pathMatches(p, other)).toBe(false);
        expect(out.split("=", 1)[0]!.trim().toLowerCase()).not.toBe("octw_session");
      }),
      { numRuns: 2_000 },
    );
  });
  it("host route: no Domain, never the edge cookie", () => {
    fc.assert(
      fc.property(setCookie, (sc) => {
        const out = confineCookie(sc, hostScope);
        if (out === undefined) return;
        expect(attr(out, "domain")).toBeUndefined();
        expect(out.split("=", 1)[0]!.trim().toLowerCase()).not.toBe("octw_session");
      }),
      { numRuns: 2_000 },
    );
  });
  it("positive control: the checker itself sees a cookie that would reach another tenant", () => {
    expect(pathMatches("/", "/t/other/")).toBe(true);
    expect(pathMatches("/t", "/t/other/x")).toBe(true);
    expect(pathMatches("/t/acme/", "/t/acmex/")).toBe(false);
    expect(attr("a=1; Domain=x; Path=/p", "domain")).toBe("x");
  });
});

// Each name on the strip lists, and the small parsing edges, pinned one by one (mutation
// testing showed the tests above would pass with any single one of them missing).
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"];
const IDENTITY = [
  "authorization", "forwarded", "x-real-ip", "x-client-ip", "true-client-ip", "cf-connecting-ip", "x-cluster-client-ip", "remote-user",
  "x-remote-user", "x-user", "x-email", "x-forwarded-user", "x-forwarded-email", "x-forwarded-preferred-username", "x-forwarded-groups",
  "x-forwarded-access-token", "x-openclaw-scopes", "x-octw-anything", "x-forwarded-server", "x-auth-request-user", "tailscale-user-name", "x-pomerium-jwt-assertion",
];

describe("header sanitation: every listed name, one at a time", () => {
  it.each([...HOP_BY_HOP, ...IDENTITY])("a client's %s never reaches the gateway (any case)", (name) => {
    expect(isStrippedRequestHeader(name.toUpperCase(), new Set())).toBe(true);
    // Alone (no Connection header naming it), so only the list can strip it.
    const out = upstreamRequestHeaders({ [name]: "v", accept: "*/*" }, { ...identity, host: undefined }, { ...opts, extraStripped: new Set() });
    const forwardedByClient = Object.entries(out).filter(([k, v]) => k === name && v === "v");
    expect(forwardedByClient).toEqual([]);
    expect(out.accept).toBe("*/*"); // control: an ordinary header passes
  });
  it("ordinary headers are not on the list (control)", () => {
    for (const name of ["accept", "content-type", "user-agent", "x-request-id", "cookie"]) expect(isStrippedRequestHeader(name, new Set()), name).toBe(false);
  });
  it.each(HOP_BY_HOP)("a gateway's %s response header never reaches the client", (name) => {
    expect(downstreamResponseHeaders([name, "v", "X-Kept", "1"], hostScope)).toEqual(["X-Kept", "1"]);
  });
  it("Alt-Svc and Set-Cookie2 are dropped on any route; a Connection-named header too", () => {
    expect(downstreamResponseHeaders(["Alt-Svc", 'h3=":443"', "Set-Cookie2", "a=1", "X-Kept", "1"], hostScope)).toEqual(["X-Kept", "1"]);
    // Only Connection's own value names hop-by-hop headers, not any header's value.
    expect(downstreamResponseHeaders(["X-Note", "content-type", "Content-Type", "text/plain"], hostScope)).toEqual(["X-Note", "content-type", "Content-Type", "text/plain"]);
  });
  it("an odd trailing name without a value is ignored, even `connection`", () => {
    expect(downstreamResponseHeaders(["X-A", "1", "connection"], hostScope)).toEqual(["X-A", "1"]);
  });
});

describe("header sanitation: request edges", () => {
  it("headers without a value are not forwarded at all; the Host is the edge's, else the client's", () => {
    const out = upstreamRequestHeaders({ "x-empty": undefined, host: "evil.example", cookie: "octw_session=tok" }, identity, opts);
    expect("x-empty" in out).toBe(false);
    expect("cookie" in out).toBe(false); // nothing left after the edge cookie
    expect(out.host).toBe("acme.octw.example");
    expect(out["x-forwarded-host"]).toBe("acme.octw.example");
    const noHost = upstreamRequestHeaders({ host: "10.0.0.1:8443" }, { ...identity, host: undefined }, opts);
    expect(noHost.host).toBe("10.0.0.1:8443");
    expect("x-forwarded-host" in noHost).toBe(false);
  });
  it("several Cookie headers are joined before the edge cookie is removed", () => {
    const out = upstreamRequestHeaders({ cookie: ["a=1", "octw_session=tok", "b=2"] as unknown as string }, identity, opts);
    expect(out.cookie).toBe("a=1; b=2");
  });
  it("stripCookie: blanks and empty parts go, a spaced-out edge cookie name is still the edge cookie", () => {
    expect(stripCookie(undefined, "octw_session")).toBeUndefined();
    expect(stripCookie("a=1;; b=2", "octw_session")).toBe("a=1; b=2");
    expect(stripCookie("octw_session =tok; a=1", "octw_session")).toBe("a=1");
  });
  it("readCookie: a part without '=' is no value, the value is trimmed", () => {
    expect(readCookie(undefined, "octw_session")).toBeUndefined();
    expect(readCookie("octw_sessionX", "octw_session")).toBeUndefined();
    expect(readCookie("a=1; octw_session= tok ", "octw_session")).toBe("tok");
  });
});

describe("header sanitation: response edges", () => {
  it("Set-Cookie: nameless dropped; spacing cannot hide Domain or Path; empty attributes go", () => {
    expect(confineCookie("=v", hostScope)).toBeUndefined();
    // a name of blanks is no name either (browsers trim it to the empty name)
    expect(confineCookie("  =v; Path=/", hostScope)).toBeUndefined();
    // no "=" at all: browsers store the text as the value of the empty name
    expect(confineCookie("session-token; Path=/", hostScope)).toBeUndefined();
    expect(confineCookie(" a=1;; Secure; Domain =octw.example", hostScope)).toBe("a=1; Secure");
    expect(confineCookie("a=1; Path= /x", pathScope)).toBe("a=1; Path=/t/acme/x");
  });
  it("Service-Worker-Allowed: untouched on a host route, trimmed on a path route", () => {
    expect(confineServiceWorkerAllowed("sw/", hostScope)).toBe("sw/");
    expect(confineServiceWorkerAllowed(" /app/ ", pathScope)).toBe("/t/acme/app/");
  });
  it("Clear-Site-Data: every origin-confined directive is kept on a host route, cookies never", () => {
    const all = '"cache", "storage", "executionContexts", "prefetchCache", "prerenderCache", "cookies", "*"';
    expect(confineClearSiteData(all, hostScope)).toBe('"cache", "storage", "executionContexts", "prefetchCache", "prerenderCache"');
  });
});
