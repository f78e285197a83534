import { describe, expect, it } from "vitest";
import { normalizeHost, resolveRoute } from "../src/routing";

const both = { hostDomain: "octw.example", pathRouting: true };

describe("route resolution", () => {
  it("routes by host, keeping the whole path", () => {
    expect(resolveRoute("acme.octw.example", "/api/x?y=1", both)).toEqual({
      kind: "host", tenant: "acme", upstreamPath: "/api/x?y=1", cookiePath: "/", localPath: "/api/x",
    });
  });
  it("ignores port, case and a trailing dot in the host", () => {
    expect(resolveRoute("ACME.Octw.Example.:8443", "/", both)).toMatchObject({ kind: "host", tenant: "acme" });
  });
  it("host routing wins over a /t/ path on a tenant host (no hopping to another tenant)", () => {
    expect(resolveRoute("acme.octw.example", "/t/other/x", both)).toMatchObject({ kind: "host", tenant: "acme", upstreamPath: "/t/other/x" });
  });
  it("routes by path prefix and strips it", () => {
    expect(resolveRoute("octw.example", "/t/acme/api/x?q=1", both)).toEqual({
      kind: "path", tenant: "acme", upstreamPath: "/api/x?q=1", cookiePath: "/t/acme/", localPath: "/api/x",
    });
    expect(resolveRoute("10.0.0.1:8443", "/t/acme", both)).toMatchObject({ kind: "path", tenant: "acme", upstreamPath: "/" });
    expect(resolveRoute(undefined, "/t/acme/?a=b", both)).toMatchObject({ kind: "path", upstreamPath: "/?a=b" });
  });
  it("finds no route for other hosts, paths and odd input", () => {
    for (const [host, url] of [
      ["octw.example", "/"],
      ["octw.example", "/x/acme/"],
      ["evil.example", "/"],
      ["a.b.octw.example", "/"],
      ["-x.octw.example", "/"],
      ["octw.example", "/t//x"],
      ["octw.example", "/t/%61cme/"],
      ["octw.example", "/t/ACME/"],
      ["octw.example", "http://acme.octw.example/"],
      ["octw.example", "*"],
      ["[::1]:80", "/"],
      ["acme.octw.example:abc", "/"],
    ] as const) {
      expect(resolveRoute(host, url, both), `${host} ${url}`).toEqual({ kind: "none" });
    }
  });
  it("honours disabled routing modes", () => {
    expect(resolveRoute("acme.octw.example", "/", { pathRouting: true })).toEqual({ kind: "none" });
    expect(resolveRoute("octw.example", "/t/acme/", { hostDomain: "octw.example", pathRouting: false })).toEqual({ kind: "none" });
  });
  it("normalizes hosts", () => {
    expect(normalizeHost("A.B:1")).toBe("a.b");
    expect(normalizeHost("")).toBeUndefined();
    expect(normalizeHost(undefined)).toBeUndefined();
  });
});
