import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalHost, normalizeHost, requestTargetProblem, resolveRoute } from "../src/routing";

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
    const pathOnly = { pathRouting: true };
    expect(resolveRoute("10.0.0.1:8443", "/t/acme", pathOnly)).toMatchObject({ kind: "path", tenant: "acme", upstreamPath: "/" });
    expect(resolveRoute(undefined, "/t/acme/?a=b", pathOnly)).toMatchObject({ kind: "path", upstreamPath: "/?a=b" });
  });
  it("with host routing on, path routes exist only on the domain's own host", () => {
    expect(resolveRoute("octw.example:8443", "/t/acme/", both)).toMatchObject({ kind: "path", tenant: "acme" });
    for (const host of ["evil.example", "10.0.0.1:8443", undefined, "octw.example.evil.example"]) {
      expect(resolveRoute(host, "/t/acme/", both), String(host)).toEqual({ kind: "none" });
    }
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
  it("forwards the host it routed on: lower-case, no trailing dot, port kept", () => {
    expect(canonicalHost("ACME.Octw.Example.:8443")).toBe("acme.octw.example:8443");
    expect(canonicalHost("acme.octw.example")).toBe("acme.octw.example");
    expect(canonicalHost("[::1]:80")).toBeUndefined();
  });
  it("refuses request targets another hop could read differently, accepts ordinary ones (control)", () => {
    for (const url of ["http://b.octw.example/x", "*", "/t/a/../b/x", "/t/a/%2e%2e/b/", "/t/a/.%2E/b", "/t/a/./x", "/t/a/%2e/x", "/t/a\\..\\b/", "/t/a/%5C../b", "/x#frag", "/t/a/..", "/t/a/..;x/b"]) {
      expect(requestTargetProblem(url), url).toBeDefined();
    }
    for (const url of ["/", "/t/a/x", "/t/a/x?next=/../../b", "/t/a/..x/...", "/t/a/%2fencoded", "/t/a/.well-known/x", "/a.b/c."]) {
      expect(requestTargetProblem(url), url).toBeUndefined();
    }
  });
  it("normalizes hosts", () => {
    expect(normalizeHost("A.B:1")).toBe("a.b");
    expect(normalizeHost("")).toBeUndefined();
    expect(normalizeHost(undefined)).toBeUndefined();
  });
});

// Edges of the host and target grammar, each pinned to the exact outcome (mutation testing
// showed the checks above would pass with these branches removed).
describe("host and target edge cases", () => {
  it("a port is all digits, else the host is refused; surrounding blanks are ignored", () => {
    expect(normalizeHost(" ACME.octw.example:443 ")).toBe("acme.octw.example");
    for (const host of ["acme.octw.example:x443", "acme.octw.example:443x", "acme.octw.example:", "acme.octw.example:123456", ":443", "."]) {
      expect(normalizeHost(host), host).toBeUndefined();
    }
  });
  it("the forwarded host keeps the port the edge parsed (the last one), blanks dropped", () => {
    expect(canonicalHost(" acme.octw.example:8443 ")).toBe("acme.octw.example:8443");
    expect(canonicalHost("acme:1:8443")).toBe("acme:1:8443");
    expect(canonicalHost("acme.octw.example:x")).toBeUndefined();
  });
  it("names the reason a target is refused", () => {
    expect(requestTargetProblem("http://b.octw.example/x")).toBe("target_not_origin_form");
    expect(requestTargetProblem("*")).toBe("target_not_origin_form");
    expect(requestTargetProblem("/x#frag")).toBe("target_has_fragment");
    expect(requestTargetProblem("/t/a\\b")).toBe("target_has_backslash");
    expect(requestTargetProblem("/t/a/%5cb")).toBe("target_has_backslash");
    expect(requestTargetProblem("/t/a/../b")).toBe("target_has_dot_segment");
  });
  it("a dot-segment with any path parameter (or an empty one) is still a dot-segment", () => {
    for (const url of ["/t/a/..;/b", "/t/a/..;jsessionid=1/b", "/t/a/.;x=y/b", "/t/a/%2e%2e;v=1"]) {
      expect(requestTargetProblem(url), url).toBe("target_has_dot_segment");
    }
    expect(requestTargetProblem("/t/a/..x;y/b")).toBeUndefined();
  });
  it("a target not in origin form is never routed, even on a tenant host", () => {
    for (const url of ["http://other.example/x", "*", "t/acme/x"]) {
      expect(resolveRoute("acme.octw.example", url, both), url).toEqual({ kind: "none" });
      expect(resolveRoute("octw.example", url, both), url).toEqual({ kind: "none" });
    }
  });
});

// A browser, a CDN or the gateway's framework may normalize a path (WHATWG URL parsing:
// dot-segments, %2e, backslash as slash). Whatever the edge routes to tenant T must still be
// under /t/T/ after such normalization, or the edge checked one path and another hop used another.
describe("property: a path route's tenant survives normalization by another hop", () => {
  const seg = fc.constantFrom("a", "b", "t", "x", "..", ".", "%2e%2e", "%2E.", ".%2e", "%2e", "\\..", "..\\b", "%5c..", "%2f..%2f", "", "..;", "...", "a#..");
  const url = fc
    .tuple(fc.constantFrom("a", "b"), fc.array(seg, { maxLength: 6 }), fc.constantFrom("", "?q=/../b", "?x"))
    .map(([tenant, segs, q]) => `/t/${tenant}/${segs.join("/")}${q}`);
  const normalized = (u: string) => new URL(u, "http://octw.example").pathname;

  it("every accepted target routed to T normalizes under /t/T/", () => {
    fc.assert(
      fc.property(url, (u) => {
        if (requestTargetProblem(u) !== undefined) return;
        const r = resolveRoute("octw.example", u, both);
        if (r.kind !== "path") return;
        const n = normalized(u);
        expect(n === `/t/${r.tenant}` || n.startsWith(`/t/${r.tenant}/`), `${u} → ${n}`).toBe(true);
      }),
      { numRuns: 3_000 },
    );
  });
  it("positive control: routing alone (without the target check) would disagree with a normalizing hop", () => {
    const u = "/t/a/%2e%2e/b/x";
    expect(resolveRoute("octw.example", u, both)).toMatchObject({ kind: "path", tenant: "a" });
    expect(normalized(u)).toBe("/t/b/x");
    expect(normalized("/t/a/..\\b/x")).toBe("/t/b/x");
  });
});
