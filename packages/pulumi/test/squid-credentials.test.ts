/**
 * Credential injection in the tenant's egress proxy (squid-credentials.ts): what a request to a
 * bound endpoint leaves with, decided by a small evaluator of the Squid subset the planner emits;
 * and the class "a value from outside lands in squid.conf": whatever a stored secret or key name
 * holds, it either stays out of the file or lands as one literal quoted token that cannot end the
 * line, the quote or the directive.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EgressRule } from "@octw/contracts";
import { renderSquidConfig } from "../src/index.js";
import { CREDENTIAL_HEADERS, renderCredentialInclude, secretValueProblem, type CredentialBindingSecrets } from "../src/planners/squid-credentials.js";

const GH: EgressRule = { policy: "code", host: "api.github.example", ports: [443], allowedIps: [], l7: { allow: [{ method: "*", path: "/**" }], deny: [], allowEncodedSlash: false }, credentials: { provider: "gh" } };
const OTHER: EgressRule = { policy: "docs", host: "docs.example.org", ports: [443], allowedIps: [] };
const P = (key: string) => `openshell:resolve:env:${key}`;

interface Req {
  host: string;
  port: number;
  method?: string;
  url?: string;
  headers: Record<string, string>;
}

/** Squid's tokens of a line: words, and a double-quoted string as one token (quotes kept). */
function tokens(line: string): string[] {
  return line.match(/"[^"]*"|\S+/g) ?? [];
}

/** The include's effect on one request inside a tunnel: refused, or the headers it leaves with. */
function evaluate(include: string, req: Req): { denied: true } | { denied: false; headers: Record<string, string> } {
  const acls = new Map<string, { type: string; flags: string[]; values: string[] }>();
  const lines = include.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
  const matches = (term: string): boolean => {
    const neg = term.startsWith("!");
    const name = neg ? term.slice(1) : term;
    let hit: boolean;
    if (name === "CONNECT") hit = req.method === "CONNECT";
    else {
      const acl = acls.get(name);
      if (!acl) throw new Error(`undefined acl ${name}`);
      const ci = acl.flags.includes("-i");
      if (acl.type === "dstdomain") hit = acl.values.includes(req.host);
      else if (acl.type === "dstdom_regex") hit = acl.values.some((v) => new RegExp(v, ci ? "i" : "").test(req.host));
      else if (acl.type === "port") hit = acl.values.includes(String(req.port));
      else if (acl.type === "url_regex") hit = acl.values.some((v) => new RegExp(v, ci ? "i" : "").test(req.url ?? "/"));
      else if (acl.type === "proto") hit = acl.values.some((v) => (req.url ?? "").toLowerCase().startsWith(`${v.toLowerCase()}://`));
      else if (acl.type === "req_header") {
        const [header, ...rest] = acl.values;
        const value = Object.entries(req.headers).find(([k]) => k.toLowerCase() === header!.toLowerCase())?.[1];
        hit = value !== undefined && rest.some((v) => new RegExp(v.replace(/\[\[:blank:\]\]/g, "[ \\t]"), ci ? "i" : "").test(value));
      } else throw new Error(`acl type ${acl.type}`);
    }
    return neg ? !hit : hit;
  };
  const out = { ...req.headers };
  const adds: [string, string][] = [];
  for (const line of lines) {
    const [directive, ...rest] = tokens(line);
    if (directive === "acl") {
      const [name, type, ...more] = rest;
      const flags = more.filter((v) => v === "-n" || v === "-i");
      const values = more.filter((v) => v !== "-n" && v !== "-i");
      const prev = acls.get(name!);
      acls.set(name!, { type: type!, flags: [...(prev?.flags ?? []), ...flags], values: [...(prev?.values ?? []), ...values] });
    } else if (directive === "http_access") {
      expect(rest[0]).toBe("deny");
      if (rest.slice(1).every(matches)) return { denied: true };
    } else if (directive === "request_header_access") {
      expect(rest[1]).toBe("deny");
      if (rest.slice(2).every(matches)) for (const k of Object.keys(out)) if (k.toLowerCase() === rest[0]!.toLowerCase()) delete out[k];
    } else if (directive === "request_header_add") {
      const value = rest[1]!;
      expect(value.startsWith('"') && value.endsWith('"')).toBe(true);
      if (rest.slice(2).every(matches)) adds.push([rest[0]!, value.slice(1, -1)]);
    } else throw new Error(`unexpected directive ${directive}`);
  }
  for (const [k, v] of adds) out[k] = v;
  return { denied: false, headers: out };
}

const render = (secrets: Record<string, string>, rules: EgressRule[] = [GH, OTHER]) => renderCredentialInclude(rules, [{ rule: 0, secrets }]);
const to = (headers: Record<string, string>, extra: Partial<Req> = {}): Req => ({ host: GH.host!, port: 443, method: "GET", url: "https://api.github.example/repos/x", headers, ...extra });

describe("credential include: what a request leaves with", () => {
  const inc = render({ GH_TOKEN: "ghp_real-Secret.1", GH_OTHER: "other_value" }).text;

  it.each([
    ["Bearer ", "Authorization"],
    ["token ", "Authorization"],
    ["", "Authorization"],
    ["", "X-Api-Key"],
    ["", "private-token"],
  ])("a %j placeholder in %s becomes the secret, with its scheme kept", (scheme, header) => {
    const r = evaluate(inc, to({ [header]: `${scheme}${P("GH_TOKEN")}`, Accept: "x" }));
    expect(r).toEqual({ denied: false, headers: { [CREDENTIAL_HEADERS.find((h) => h.name.toLowerCase() === header.toLowerCase())!.name]: `${scheme}ghp_real-Secret.1`, Accept: "x" } });
  });

  it("each key resolves to its own secret", () => {
    expect(evaluate(inc, to({ Authorization: `Bearer ${P("GH_OTHER")}` }))).toEqual({ denied: false, headers: { Authorization: "Bearer other_value" } });
  });

  it("control: a request without a placeholder leaves unchanged (no secret is added to it)", () => {
    expect(evaluate(inc, to({ Authorization: "Bearer mine", Accept: "y" }))).toEqual({ denied: false, headers: { Authorization: "Bearer mine", Accept: "y" } });
    expect(evaluate(inc, to({}))).toEqual({ denied: false, headers: {} });
  });

  it.each([
    ["a key with no secret", { Authorization: `Bearer ${P("NOT_STORED")}` }, undefined],
    ["another shape", { Authorization: `Basic ${P("GH_TOKEN")}` }, undefined],
    ["two values in one header", { Authorization: `Bearer ${P("GH_TOKEN")}, Bearer x` }, undefined],
    ["case of the marker", { "X-Api-Key": P("GH_TOKEN").toUpperCase() }, undefined],
    ["the URL", {}, `https://api.github.example/repos?t=${P("GH_TOKEN")}`],
    ["the URL, percent-encoded", {}, "https://api.github.example/x/openshell%3Aresolve%3aenv%3AGH_TOKEN"],
  ])("fails closed on a placeholder it cannot resolve: %s", (_label, headers: Record<string, string>, url) => {
    expect(evaluate(inc, to(headers, url ? { url } : {}))).toEqual({ denied: true });
  });

  it("plain HTTP never gets the secret: a placeholder in it is refused (control: the same request over TLS is resolved)", () => {
    const plain = { url: "http://api.github.example/repos/x" };
    expect(evaluate(inc, to({ Authorization: `Bearer ${P("GH_TOKEN")}` }, plain))).toEqual({ denied: true });
    expect(evaluate(inc, to({ Authorization: "Bearer mine" }, plain))).toEqual({ denied: false, headers: { Authorization: "Bearer mine" } });
    expect(evaluate(inc, to({ Authorization: `Bearer ${P("GH_TOKEN")}` }))).toEqual({ denied: false, headers: { Authorization: "Bearer ghp_real-Secret.1" } });
  });

  it("another endpoint never gets the secret: its placeholder leaves as the placeholder", () => {
    const r = evaluate(inc, { host: OTHER.host!, port: 443, method: "GET", headers: { Authorization: `Bearer ${P("GH_TOKEN")}` } });
    expect(r).toEqual({ denied: false, headers: { Authorization: `Bearer ${P("GH_TOKEN")}` } });
    // Same host, another port: not the binding either.
    expect(evaluate(inc, to({ Authorization: `Bearer ${P("GH_TOKEN")}` }, { port: 8443 }))).toEqual({ denied: false, headers: { Authorization: `Bearer ${P("GH_TOKEN")}` } });
  });

  it("the CONNECT itself is neither refused nor given a header (the tunnel's requests are)", () => {
    expect(evaluate(inc, to({ Authorization: `Bearer ${P("GH_TOKEN")}` }, { method: "CONNECT" }))).toEqual({ denied: false, headers: { Authorization: `Bearer ${P("GH_TOKEN")}` } });
  });

  it("fails closed when the provider has no usable secret: every request to the endpoint is refused", () => {
    for (const secrets of [{}, { GH_TOKEN: 'with"quote' }] as Record<string, string>[]) {
      const plan = render(secrets);
      expect(evaluate(plan.text, to({}))).toEqual({ denied: true });
      expect(plan.injected).toEqual({ gh: [] });
    }
    // A bound rule the caller gave no secrets for at all: the same.
    expect(evaluate(renderCredentialInclude([GH], []).text, to({}))).toEqual({ denied: true });
    // Control: the other endpoint is untouched.
    expect(evaluate(render({}).text, { host: OTHER.host!, port: 443, headers: {} })).toEqual({ denied: false, headers: {} });
  });

  it("two bindings matching one request (overlapping hosts) refuse it instead of sending both secrets", () => {
    const wide: EgressRule = { ...GH, host: "*.github.example", credentials: { provider: "other" } };
    const both = renderCredentialInclude([GH, wide], [{ rule: 0, secrets: { A: "a1" } }, { rule: 1, secrets: { A: "a2" } }]).text;
    expect(evaluate(both, to({ Authorization: `Bearer ${P("A")}` }))).toEqual({ denied: true });
    expect(evaluate(both, { host: "raw.github.example", port: 443, method: "GET", url: "https://raw.github.example/x", headers: { Authorization: `Bearer ${P("A")}` } })).toEqual({ denied: false, headers: { Authorization: "Bearer a2" } });
  });

  it("is part of the proxy configuration only by reference, placed before every endpoint's allow", () => {
    const conf = renderSquidConfig({
      tenantId: "t",
      rules: [GH, OTHER],
      tlsInterception: { caCertFile: "/c", caKeyFile: "/k", certDbDir: "/d" },
      credentialsInclude: "/etc/octw-egress/credentials.conf",
    });
    const lines = conf.split("\n");
    const at = lines.indexOf("include /etc/octw-egress/credentials.conf");
    expect(at).toBeGreaterThan(lines.indexOf("acl CONNECT method CONNECT"));
    expect(at).toBeLessThan(lines.findIndex((l) => l.startsWith("http_access allow")));
    expect(() => renderSquidConfig({ tenantId: "t", rules: [GH], tlsInterception: { caCertFile: "/c", caKeyFile: "/k", certDbDir: "/d" } })).toThrow(/credentialsInclude/);
    expect(() => renderCredentialInclude([{ ...GH, l7: undefined }], [])).toThrow(/not intercepted/);
  });
});

describe("credential include: no stored value can break the configuration (the class)", () => {
  /** Every line is one of the directives the planner writes, with a fixed token layout. */
  function wellFormed(text: string) {
    for (const line of text.split("\n")) {
      expect(line).not.toMatch(/[\r\0\u2028\u2029]/);
      if (line === "" || line.startsWith("# ")) continue;
      const t = tokens(line);
      expect(["acl", "http_access", "request_header_access", "request_header_add"]).toContain(t[0]);
      if (t[0] === "request_header_add") {
        expect(t[2]).toMatch(/^"[^"\\%#\s]*( [^"\\%#\s]+)?"$/);
        // Every token after the value is an ACL name, possibly negated.
        for (const a of t.slice(3)) expect(a).toMatch(/^!?[A-Za-z0-9_]+$/);
      } else expect(line).not.toContain('"');
    }
  }

  const hostile = fc.oneof(
    fc.string({ unit: "grapheme", maxLength: 40 }),
    fc.string({ unit: fc.constantFrom("a", "B", "1", "\r", "\n", '"', "\\", "%", "#", " ", "\t", "\0", "-", "_", "/", "=", "{", "}", "!"), maxLength: 40 }),
    fc.string({ unit: "binary", maxLength: 60 }),
    fc.constant("x".repeat(5000)),
  );

  it("a secret value either is refused (and never echoed) or lands as one literal quoted token that resolves exactly", () => {
    fc.assert(
      fc.property(hostile, (raw) => {
        const value = `q${raw}`; // never empty, so "is empty" does not mask the rest
        const plan = render({ GH_TOKEN: value });
        wellFormed(plan.text);
        const problem = secretValueProblem(value);
        if (problem) {
          expect(plan.injected).toEqual({ gh: [] });
          expect(plan.text).not.toContain(value);
          if (value.length > 3) for (const u of plan.unusable) expect(u).not.toContain(value);
          expect(evaluate(plan.text, to({}))).toEqual({ denied: true });
        } else {
          expect(plan.unusable).toEqual([]);
          const r = evaluate(plan.text, to({ Authorization: `Bearer ${P("GH_TOKEN")}` }));
          expect(r).toEqual({ denied: false, headers: { Authorization: `Bearer ${value}` } });
        }
      }),
      { numRuns: 400 },
    );
  });

  it("a stored key name either is refused (and not echoed) or is a plain identifier", () => {
    fc.assert(
      fc.property(hostile, (raw) => {
        const key = `K${raw}`;
        const plan = render({ [key]: "v" });
        wellFormed(plan.text);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || key.length > 128) {
          expect(plan.injected).toEqual({ gh: [] });
          if (key.length > 3) expect(plan.unusable.join("\n")).not.toContain(key);
        } else expect(plan.injected).toEqual({ gh: [key] });
      }),
      { numRuns: 300 },
    );
  });

  it("the refused characters are exactly the ones Squid's quoted value would read specially, plus controls and non-ASCII", () => {
    for (const c of ['"', "\\", "%", "#", " ", "\t", "\r", "\n", "\0", "é", "\u2028", "\x7f"]) expect(secretValueProblem(`a${c}b`), JSON.stringify(c)).toBeDefined();
    for (let code = 0x21; code <= 0x7e; code++) {
      const c = String.fromCharCode(code);
      if (!'"\\%#'.includes(c)) expect(secretValueProblem(`a${c}b`), c).toBeUndefined();
    }
    expect(secretValueProblem("")).toBe("is empty");
  });

  it("every binding secret set is rendered deterministically (same input, same file)", () => {
    const b: CredentialBindingSecrets[] = [{ rule: 0, secrets: { B: "2", A: "1" } }];
    expect(renderCredentialInclude([GH], b).text).toBe(renderCredentialInclude([GH], [{ rule: 0, secrets: { A: "1", B: "2" } }]).text);
  });
});
