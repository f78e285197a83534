import { describe, expect, it } from "vitest";
import { downstreamResponseHeaders, readCookie, stripCookie, upstreamRequestHeaders } from "../src/headers";

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
  it("drops hop-by-hop response headers and cookies that could reach other tenants", () => {
    const out = downstreamResponseHeaders(
      [
        "Content-Type", "text/html",
        "Connection", "close, X-Hop",
        "X-Hop", "1",
        "Transfer-Encoding", "chunked",
        "Set-Cookie", "ui=1; Path=/",
        "Set-Cookie", "wide=1; Path=/; Domain=octw.example",
        "Set-Cookie", "octw_session=forged; Path=/",
      ],
      "octw_session",
    );
    expect(out).toEqual(["Content-Type", "text/html", "Set-Cookie", "ui=1; Path=/"]);
  });
});
