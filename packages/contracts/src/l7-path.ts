/**
 * HTTP request paths for L7 rules, the way OpenShell's L7 proxy reads them: one canonical form that
 * rules are matched against, so `..`, `%2e%2e`, `//`, `;params`, `%2F` and case tricks cannot make
 * the path a rule sees differ from the path the upstream serves.
 *
 * OpenShell rewrites a request to its canonical form before matching and forwarding. OCTW's proxy
 * (Squid) matches with regular expressions and cannot rewrite, so it does the equivalent the other
 * way round: a request whose path is not already canonical is refused, and a canonical one is
 * matched as is — the path matched is then byte for byte the path forwarded.
 * {@link canonicalPathRegex} is that "already canonical" test as one POSIX extended regular
 * expression (Squid's `urlpath_regex`); the unit tests check it agrees with
 * {@link canonicalizePath} on every path.
 *
 * One difference, seen with real Squid (test/conformance/egress-l7.docker.test.ts): Squid decodes
 * percent-encoded unreserved bytes (`%72` → `r`, `%2e` → `.`) before its ACLs see the path, and
 * forwards the bytes as sent. So `/%72epos/x` matches a `/repos/**` rule and reaches the upstream
 * as `/%72epos/x` — the same resource under RFC 3986 §6.2.2.2, a different spelling to an upstream
 * that does not decode them. Encoded `/`, `;`, `%25`, dot segments and controls never pass.
 *
 * Canonical form (as OpenShell's, written from its documented behaviour):
 * - percent-decoding of every byte that may stand literally in a path (letters, digits and
 *   `-._~!$&'()*+,=:@`); every other byte as `%HH` with upper-case hex;
 * - `;params` removed from each segment (before dot segments are resolved, so `..;` is `..`);
 * - `.` and `..` segments resolved; a `..` above the root is an error;
 * - repeated slashes collapsed (a trailing slash is kept);
 * - control bytes, raw non-ASCII, fragments, malformed `%` and (unless the endpoint has
 *   `allow_encoded_slash`) `%2F` are errors.
 */

export interface CanonicalizeOptions {
  /** OpenShell's `allow_encoded_slash`: `%2F` stays inside its segment instead of being an error. */
  readonly allowEncodedSlash?: boolean;
}

export type CanonicalResult = { readonly ok: true; readonly path: string; readonly query?: string } | { readonly ok: false; readonly reason: string };

/** Bytes a canonical path writes literally (RFC 3986 pchar minus `%`, minus `;`, which canonical form strips). */
const LITERAL = /^[A-Za-z0-9\-._~!$&'()*+,=:@]$/;
/** Stands for a `%2F` inside a segment while segments are split and resolved (a raw 0x01 is refused first). */
const SLASH_SENTINEL = "\u0001";
const MAX_PATH_LENGTH = 4096;
const DOUBLE_ENCODED = /%25[0-9A-Fa-f]{2}/;

/** The canonical form of a request-target's path (origin-form `/a/b?q`), or why it has none. */
export function canonicalizePath(target: string, options: CanonicalizeOptions = {}): CanonicalResult {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return { ok: false, reason: "control byte" };
    // A request line separates its parts with spaces: a raw one is never part of a target.
    if (c === 0x20) return { ok: false, reason: "raw space" };
    if (c >= 0x80) return { ok: false, reason: "raw non-ASCII byte" };
  }
  if (target.includes("#")) return { ok: false, reason: "fragment" };
  const q = target.indexOf("?");
  const raw = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? undefined : target.slice(q + 1);
  if (!raw.startsWith("/")) return { ok: false, reason: "not an origin-form path" };
  if (raw.length > MAX_PATH_LENGTH) return { ok: false, reason: "path too long" };
  // Stricter than OpenShell: `%25` + hex is a percent-encoded percent-encoding, which an upstream
  // that decodes twice reads as `..` or `/`. No API path needs it; refused outright.
  if (DOUBLE_ENCODED.test(raw)) return { ok: false, reason: "double percent-encoding" };

  // Percent-decode; a decoded "/" becomes the sentinel so it cannot split a segment.
  let decoded = "";
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch !== "%") {
      decoded += ch;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { ok: false, reason: "malformed percent-encoding" };
    const byte = parseInt(hex, 16);
    if (byte === 0x2f) {
      if (!options.allowEncodedSlash) return { ok: false, reason: "encoded slash" };
      decoded += SLASH_SENTINEL;
    } else if (byte < 0x20 || byte === 0x7f) {
      return { ok: false, reason: "encoded control byte" };
    } else {
      decoded += String.fromCharCode(byte);
    }
    i += 2;
  }

  // Segments, `;params` stripped first, then dot segments resolved.
  const segments = decoded
    .slice(1)
    .split("/")
    .map((s) => (s.includes(";") ? s.slice(0, s.indexOf(";")) : s));
  const stack: string[] = [];
  const last = segments.length - 1;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === "..") {
      if (stack.pop() === undefined) return { ok: false, reason: "dot segment above the root" };
      if (i === last) stack.push("");
    } else if (seg === ".") {
      if (i === last) stack.push("");
    } else if (seg === "" && i !== last) {
      continue;
    } else {
      stack.push(seg);
    }
  }
  // A `..` kept inside a segment by an allowed `%2F` is refused, never resolved.
  if (stack.some((seg) => seg.split(SLASH_SENTINEL).some((part) => part === "." || part === ".."))) return { ok: false, reason: "dot segment behind an encoded slash" };

  const encode = (seg: string) =>
    [...seg].map((ch) => (ch === SLASH_SENTINEL ? "%2F" : LITERAL.test(ch) ? ch : `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)).join("");
  const path = `/${stack.map(encode).join("/")}`;
  // Mixed spellings decode to a percent-encoding too (`%25%61a` → `%aa`, canonical `%25aa`):
  // refused like a written `%25aa`, so every canonical form is itself accepted (a fixed point).
  if (DOUBLE_ENCODED.test(path)) return { ok: false, reason: "double percent-encoding" };
  return query === undefined ? { ok: true, path } : { ok: true, path, query };
}

/** Whether a request-target's path is already in canonical form (what the proxy lets through). */
export function isCanonicalTarget(target: string, options: CanonicalizeOptions = {}): boolean {
  // (The proxy's two regexes decide the same: canonicalPathRegex matches and DOUBLE_ENCODED_PATH_REGEX does not.)
  const result = canonicalizePath(target, options);
  const q = target.indexOf("?");
  return result.ok && result.path === (q === -1 ? target : target.slice(0, q));
}

// --- The same test as one POSIX ERE (no look-around, no \d: Squid's regcomp reads it as JavaScript does).

/** A literal byte, without `.`. */
const NODOT = "[-A-Za-z0-9_~!$&'()*+,=:@]";
/**
 * `%HH` for the bytes canonical form encodes: everything that is not literal and not a control
 * byte, minus `%2F` (a separator, handled below) and `%3B` (`;`, a parameter separator once decoded).
 */
const ENCODED = "%(2[0235]|3[CEF]|5[BCDE]|60|7[BCD]|[89A-F][0-9A-F])";

/** A byte of a query: printable ASCII without space and "#". */
const QUERY_CHAR = '[!"$-~]';

/** A path (before any query) with a percent-encoded percent-encoding: refused (see canonicalizePath). */
export const DOUBLE_ENCODED_PATH_REGEX = "^[^?]*%25[0-9A-Fa-f][0-9A-Fa-f]";

/** The anchored regular expression a canonical request path (with any query) matches; see also {@link DOUBLE_ENCODED_PATH_REGEX}. */
export function canonicalPathRegex(options: CanonicalizeOptions = {}): string {
  const n = `(${NODOT}|${ENCODED})`;
  const c = `(${NODOT}|\\.|${ENCODED})`;
  // A segment: one or more bytes, but not "." or "..".
  const seg = `(${n}${c}*|\\.${n}${c}*|\\.\\.${c}+)`;
  // With encoded slashes: parts between them may be empty, but never "." or "..".
  const part = `(${n}${c}*|\\.${n}${c}*|\\.\\.${c}+)?`;
  const segment = options.allowEncodedSlash ? `(${seg}|${part}(%2F${part})+)` : seg;
  // The query: any printable ASCII but "#" (no space or "#" in the expression: squid.conf splits on spaces).
  return `^/(${segment}(/${segment})*/?)?(\\?${QUERY_CHAR}*)?$`;
}

/**
 * An OpenShell path glob as an anchored regular expression over a canonical path (with any query):
 * `*` and `**` match any run of characters, `/` included; `?` one character; `[…]` and `[!…]`
 * character classes. Everything else is literal.
 */
export function pathGlobRegex(glob: string): string {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === "*") {
      while (glob[i + 1] === "*") i++;
      out += "[^?]*";
    } else if (ch === "?") {
      out += "[^?]";
    } else if (ch === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end === -1) {
        out += "\\[";
        continue;
      }
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      // Inside a class only `\`, `]` and a leading `^` are special; the body has no `]`.
      out += `[${negate ? "^?" : ""}${body.replace(/\\/g, "\\\\").replace(/^\^/, "\\^")}]`;
      i = end;
    } else {
      out += /[\\^$.|+(){}]/.test(ch) ? `\\${ch}` : ch;
    }
  }
  return `^${out}(\\?.*)?$`;
}

/** Whether a method pattern (`*` = any) allows a request method; HTTP methods are case-sensitive. */
export function methodMatches(pattern: string, method: string): boolean {
  return pattern === "*" || pattern === method;
}
