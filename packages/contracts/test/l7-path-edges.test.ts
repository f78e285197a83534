// Edges of the L7 path canonicalization and glob translation that the main suite
// (l7-path.test.ts) does not pin down, found by mutation testing (`npm run mutation --
// contracts/l7-path`): each case is a behaviour a changed line would break.
import { describe, expect, it } from "vitest";
import { canonicalizePath, methodMatches, pathGlobRegex } from "../src/index.js";

const globMatches = (glob: string, target: string) => new RegExp(pathGlobRegex(glob)).test(target);
const refusal = (target: string, options = {}) => {
  const r = canonicalizePath(target, options);
  return r.ok ? `accepted as ${r.path}` : r.reason;
};

describe("canonicalizePath edges", () => {
  it("raw DEL, a raw space and the first non-ASCII code unit are refused, each with its reason", () => {
    expect(refusal("/a\u007f")).toBe("control byte");
    expect(refusal("/a b")).toBe("raw space");
    expect(refusal("/a\u0080")).toBe("raw non-ASCII byte");
    // control: the last printable ASCII byte is fine (percent-encoded in canonical form)
    expect(canonicalizePath("/a~")).toEqual({ ok: true, path: "/a~" });
  });

  it("the query is returned as sent after the first '?', and only when there is one", () => {
    expect(canonicalizePath("/a/./b?x=1&y=/..")).toStrictEqual({ ok: true, path: "/a/b", query: "x=1&y=/.." });
    expect(canonicalizePath("/a?")).toStrictEqual({ ok: true, path: "/a", query: "" });
    const none = canonicalizePath("/a");
    expect(none).toStrictEqual({ ok: true, path: "/a" });
    expect("query" in none).toBe(false);
  });

  it("a path of up to 4096 bytes is read; one byte more is refused", () => {
    const max = `/${"a".repeat(4095)}`;
    expect(canonicalizePath(max)).toEqual({ ok: true, path: max });
    expect(refusal(`${max}a`)).toBe("path too long");
    // the query does not count towards the path's length
    expect(canonicalizePath(`${max}?${"q".repeat(100)}`).ok).toBe(true);
  });

  it("a trailing '.' segment keeps the trailing slash, as a trailing '..' does", () => {
    expect(canonicalizePath("/a/.")).toEqual({ ok: true, path: "/a/" });
    expect(canonicalizePath("/a/b/..")).toEqual({ ok: true, path: "/a/" });
    expect(canonicalizePath("/a/./b")).toEqual({ ok: true, path: "/a/b" });
  });

  it("a percent-encoding spelled with an encoded digit is double encoding too (found by the fixed-point property, seed 2121421289)", () => {
    expect(refusal("/%25%61a")).toBe("double percent-encoding");
    expect(refusal("/x%25%32%46y")).toBe("double percent-encoding");
    expect(refusal("/%25%3%41")).toBe("malformed percent-encoding");
    // a written double encoding is refused before anything is decoded or resolved
    expect(refusal("/../%2541")).toBe("double percent-encoding");
    // control: an encoded percent followed by something that is no hex pair is fine
    expect(canonicalizePath("/%25%67")).toEqual({ ok: true, path: "/%25g" });
    expect(canonicalizePath("/%25zz")).toEqual({ ok: true, path: "/%25zz" });
  });

  it("with allow_encoded_slash, a dot segment behind %2F is refused in any segment, not only when every segment has one", () => {
    expect(refusal("/x/a%2F..%2Fb", { allowEncodedSlash: true })).toBe("dot segment behind an encoded slash");
    expect(refusal("/a%2F.%2Fb/x", { allowEncodedSlash: true })).toBe("dot segment behind an encoded slash");
    // control: the same shape without a dot part is accepted
    expect(canonicalizePath("/x/a%2Fb", { allowEncodedSlash: true })).toEqual({ ok: true, path: "/x/a%2Fb" });
  });
});

describe("pathGlobRegex edges", () => {
  it("'**' is one wildcard and what follows it is still matched", () => {
    expect(globMatches("/a/**.json", "/a/b/c.json")).toBe(true);
    expect(globMatches("/a/**.json", "/a/bson")).toBe(false);
    expect(globMatches("/a/**.json", "/a/b.txt")).toBe(false);
    expect(globMatches("/**x", "/ax")).toBe(true);
    expect(globMatches("/**x", "/ay")).toBe(false);
  });

  it("a class is closed by the first ']' after it opens, whatever came before", () => {
    expect(globMatches("/x]/[ab]", "/x]/a")).toBe(true);
    expect(globMatches("/x]/[ab]", "/x]/c")).toBe(false);
  });

  it("an unclosed '[' is a literal '['", () => {
    expect(globMatches("/a[b", "/a[b")).toBe(true);
    expect(globMatches("/a[b", "/ab")).toBe(false);
  });

  it("classes: plain, negated with '!' or a leading '^', a '^' elsewhere is a member", () => {
    expect(globMatches("/[ab]", "/a")).toBe(true);
    expect(globMatches("/[ab]", "/S")).toBe(false);
    expect(globMatches("/[!ab]", "/c")).toBe(true);
    expect(globMatches("/[!ab]", "/!")).toBe(true);
    expect(globMatches("/[!ab]", "/a")).toBe(false);
    expect(globMatches("/[^ab]", "/c")).toBe(true);
    expect(globMatches("/[^ab]", "/b")).toBe(false);
    expect(globMatches("/[ab^]", "/^")).toBe(true);
    expect(globMatches("/[ab^]", "/c")).toBe(false);
    // negated, with '^' as its first member: '^' is excluded, not read as a second negation
    expect(globMatches("/[!^a]", "/^")).toBe(false);
    expect(globMatches("/[!^a]", "/b")).toBe(true);
    // a backslash in a class is a member, not an escape
    expect(globMatches("/[a\\]", "/\\")).toBe(true);
    expect(globMatches("/[a\\]", "/a")).toBe(true);
    // a negated class never crosses into the query
    expect(globMatches("/a[!b]", "/a?")).toBe(false);
  });
});

describe("methodMatches", () => {
  it("'*' allows every method; otherwise exactly the method, case-sensitive", () => {
    expect(methodMatches("*", "GET")).toBe(true);
    expect(methodMatches("*", "DELETE")).toBe(true);
    expect(methodMatches("GET", "GET")).toBe(true);
    expect(methodMatches("GET", "get")).toBe(false);
    expect(methodMatches("GET", "POST")).toBe(false);
    expect(methodMatches("", "GET")).toBe(false);
    expect(methodMatches("*", "")).toBe(true);
  });
});
