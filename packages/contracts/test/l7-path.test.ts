import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DOUBLE_ENCODED_PATH_REGEX, canonicalPathRegex, canonicalizePath, isCanonicalTarget, pathGlobRegex } from "../src/index.js";

/** What the proxy decides with its two regexes (Squid's urlpath_regex sees path and query). */
const proxyAccepts = (target: string, allowEncodedSlash = false) =>
  new RegExp(canonicalPathRegex({ allowEncodedSlash })).test(target) && !new RegExp(DOUBLE_ENCODED_PATH_REGEX).test(target);
const globMatches = (glob: string, target: string) => new RegExp(pathGlobRegex(glob)).test(target);
/** A rule `GET /repos/**` as the proxy applies it: canonical, then the glob. */
const allowedByReposRule = (target: string) => proxyAccepts(target) && globMatches("/repos/**", target);

describe("canonical request paths", () => {
  it.each([
    ["/repos/a/b", "/repos/a/b"],
    ["/", "/"],
    ["/a/", "/a/"],
    ["/a//b", "/a/b"],
    ["/a/./b", "/a/b"],
    ["/a/b/../c", "/a/c"],
    ["/a/b/..", "/a/"],
    ["/a;jsessionid=1/b", "/a/b"],
    ["/a/..;/b", "/b"],
    ["/%61%62", "/ab"],
    ["/%7e", "/~"],
    ["/a%20b", "/a%20b"],
    ["/a%c3%a9", "/a%C3%A9"],
    ["/a?x=1&y=%2F", "/a"],
  ])("%s → %s", (input, canonical) => {
    const r = canonicalizePath(input);
    expect(r.ok && r.path).toBe(canonical);
  });
  it.each([
    ["/../etc", /above the root/],
    ["/a/%2e%2e/%2e%2e/b", /above the root/],
    ["/a%2Fb", /encoded slash/],
    ["/a%2fb", /encoded slash/],
    ["/a%00", /control/],
    ["/a\u0000", /control/],
    ["/a#frag", /fragment/],
    ["/é", /non-ASCII/],
    ["/a%zz", /malformed/],
    ["/a%2", /malformed/],
    ["relative", /origin-form/],
    ["/a/%252e%252e/b", /double/],
    ["/a/%252F", /double/],
  ])("%s is refused (%s)", (input, why) => {
    const r = canonicalizePath(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(why);
  });
  it("with allow_encoded_slash, %2F stays inside its segment, and a dot segment behind it is still refused", () => {
    expect(canonicalizePath("/@scope%2fname", { allowEncodedSlash: true })).toEqual({ ok: true, path: "/@scope%2Fname" });
    expect(canonicalizePath("/a%2F..%2Fadmin", { allowEncodedSlash: true }).ok).toBe(false);
    expect(canonicalizePath("/a%2F.%2Fb", { allowEncodedSlash: true }).ok).toBe(false);
  });
  it("canonical form is a fixed point (property)", () => {
    fc.assert(
      fc.property(target(), fc.boolean(), (t, slash) => {
        const r = canonicalizePath(t, { allowEncodedSlash: slash });
        if (!r.ok) return;
        const again = canonicalizePath(r.path, { allowEncodedSlash: slash });
        expect(again).toEqual({ ok: true, path: r.path });
        expect(isCanonicalTarget(r.path, { allowEncodedSlash: slash })).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
  it("the proxy's regexes accept exactly the canonical paths (property, both allow_encoded_slash settings)", () => {
    // Positive and negative controls first: the generator below must produce both kinds.
    expect(proxyAccepts("/repos/a")).toBe(true);
    expect(proxyAccepts("/repos/../a")).toBe(false);
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(target(), fc.boolean(), (t, slash) => {
        const expected = isCanonicalTarget(t, { allowEncodedSlash: slash });
        expect(proxyAccepts(t, slash), JSON.stringify(t)).toBe(expected);
        if (expected) accepted++;
        else refused++;
      }),
      { numRuns: 20000 },
    );
    expect(accepted).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(500);
  });
});

/** Request targets built from the tokens bypasses are made of. */
function target() {
  const token = fc.constantFrom(
    "/", "/", "/", "a", "b", "repos", "R", ".", "..", "%2e", "%2E", "%2e%2e", "%2f", "%2F", "%25", "%252e", "%252f", "%3B", "%3b", ";", ";x=1",
    "%41", "%61", "%7E", "~", "%20", "%C3", "%c3", "%FF", "%00", "%1F", "%7F", "%", "%G1", "#", "?", "?q=1", "&", "=", "@", ":", "+", "'", "!", "*", "\"", " ", "\\", "[", "]", "{", "^", "`", "|", "é", "\t",
  );
  return fc.array(token, { minLength: 0, maxLength: 10 }).map((ts) => `/${ts.join("")}`);
}

describe("a rule `GET /repos/**` against the bypass families", () => {
  it("positive controls: what the rule is for passes", () => {
    for (const ok of ["/repos/a", "/repos/a/b?ref=main", "/repos/a%20b/c", "/repos/"]) expect(allowedByReposRule(ok), ok).toBe(true);
  });
  it.each([
    ["path parameters", ["/repos;/../admin", "/repos/x/..;/..;/admin", "/admin;/repos/x", "/repos/x;.json"]],
    ["percent-encoded slashes", ["/repos%2F..%2Fadmin", "/repos/x%2f..%2fadmin", "/admin%2Frepos/x"]],
    ["double-encoded slashes and dots", ["/repos/%252e%252e/admin", "/repos/x%252F..%252Fadmin", "/repos/%25%32%65"]],
    ["percent-encoded dots", ["/repos/%2e%2e/admin", "/repos/%2E%2E/%2E%2E/admin", "/repos/.%2e/admin"]],
    ["dot segments", ["/repos/../admin", "/repos/./x", "/repos/x/../../admin", "/./repos/x"]],
    ["repeated slashes", ["//repos/x", "/repos//x"]],
    ["case", ["/Repos/x", "/REPOS/x", "/%72epos/x"]],
    ["encoded unreserved bytes", ["/%72%65%70%6f%73/x", "/repos/%78"]],
    ["fragments and raw bytes", ["/repos/x#/../admin", "/repos/x\u0000", "/repos/é"]],
  ])("%s are refused", (_family, targets) => {
    for (const t of targets) expect(allowedByReposRule(t), t).toBe(false);
  });
  it("a path outside the rule is refused (canonical, but the glob does not match)", () => {
    expect(proxyAccepts("/admin/x")).toBe(true);
    expect(globMatches("/repos/**", "/admin/x")).toBe(false);
  });
});

describe("path globs", () => {
  it.each([
    ["/repos/**", "/repos/a/b/c", true],
    ["/repos/**", "/repos", false],
    ["/repos/*/*/pulls", "/repos/o/r/pulls", true],
    ["/repos/*/*/pulls", "/repos/o/r/pulls?state=open", true],
    ["/repos/*/*/pulls", "/repos/o/r/pulls/1", false],
    ["/bot*/**", "/bot123:abc/sendMessage", true],
    ["/v1/models", "/v1/models", true],
    ["/v1/models", "/v1/modelsx", false],
    ["/v1/model?", "/v1/models", true],
    ["/v[0-9]/x", "/v2/x", true],
    ["/v[!0-9]/x", "/v2/x", false],
    ["/v[!0-9]/x", "/vb/x", true],
    ["/a.b", "/axb", false],
    ["/a+(b)", "/a+(b)", true],
    ["**", "/anything", true],
  ])("%s on %s: %s", (glob, t, expected) => expect(globMatches(glob, t)).toBe(expected));
});
