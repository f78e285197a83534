/**
 * OpenShell-format policies as NemoClaw and OpenShell users write them: every fixture gets the
 * outcome written down in fixtures/openshell/expected.ts, and together the fixtures use every
 * field the schema accepts (so a field added to the schema without a fixture fails here).
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  OctwConfigError,
  UNENFORCEABLE_FEATURES,
  mergePolicyDocuments,
  parsePolicyDocument,
  planEnforcement,
  sandboxPolicyDocumentSchema,
  type EnforcedSandboxPolicy,
  type ProxyCapabilities,
  type UnenforceableFeature,
} from "../src/index.js";
import { EXPECTED, type Expected } from "./fixtures/openshell/expected.js";

const DIR = fileURLToPath(new URL("./fixtures/openshell/", import.meta.url));
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".yaml")).sort();

/** NemoClaw's composition: the fixture is a fragment merged into a base policy. */
function plan(file: string, ack: readonly UnenforceableFeature[], capabilities: ProxyCapabilities = {}): EnforcedSandboxPolicy {
  const base = parsePolicyDocument({ version: 1, filesystem_policy: { read_write: ["/tmp"] } }, "base");
  const doc = parsePolicyDocument(readFileSync(`${DIR}${file}`, "utf8"), file);
  return planEnforcement(mergePolicyDocuments([base, doc], file), ack, file, "policy", capabilities);
}

function problemsOf(fn: () => unknown): OctwConfigError["problems"] {
  try {
    fn();
  } catch (err) {
    if (err instanceof OctwConfigError) return err.problems;
    throw err;
  }
  return [];
}

/** A message a user cannot act on: zod's defaults, which name no field and no allowed value. */
const LOST = /Unrecognized key|Invalid key in record|Invalid input|expected (object|record|string|array), received/;

function check(file: string, e: Expected, capabilities: ProxyCapabilities) {
  if (e.outcome === "refused") {
    const problems = problemsOf(() => plan(file, UNENFORCEABLE_FEATURES, capabilities));
    expect(problems.length, "refused even with every feature acknowledged").toBeGreaterThan(0);
    const hit = problems.find((p) => p.path === e.path);
    expect(hit, JSON.stringify(problems)).toBeDefined();
    expect(hit!.message).toMatch(e.says);
    for (const p of problems) expect(p.message).not.toMatch(LOST);
    return;
  }
  if (e.outcome === "not-enforced") {
    const bare = problemsOf(() => plan(file, [], capabilities));
    for (const f of e.features) expect(bare.some((p) => p.message.includes(`add "${f}" to allowUnenforced`)), `${f} is asked for`).toBe(true);
    const result = plan(file, e.features, capabilities);
    for (const p of e.paths) expect(result.notEnforced.some((n) => n.startsWith(`${p}: `)), `${p} reported as not enforced in ${JSON.stringify(result.notEnforced)}`).toBe(true);
    // Exactly these features: without any one of them the policy is refused again.
    for (const f of e.features) expect(problemsOf(() => plan(file, e.features.filter((x) => x !== f), capabilities)).length, `needs ${f}`).toBeGreaterThan(0);
    return;
  }
  const result = plan(file, [], capabilities);
  expect(result.notEnforced).toEqual([]);
  if (e.outcome === "enforced") expect(result.mapped).toEqual([]);
  else for (const p of e.paths) expect(result.mapped.some((m) => m.startsWith(`${p}: `)), `${p} mapped in ${JSON.stringify(result.mapped)}`).toBe(true);
  if (e.egressHosts) expect(result.egress.map((r) => r.host)).toEqual(e.egressHosts);
  if (e.readWrite) expect(result.readWritePaths).toEqual(e.readWrite);
}

describe("OpenShell-format fixtures", () => {
  it("every fixture file has an expected outcome, and every expectation a file", () => {
    expect(FILES).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(FILES)("%s", (file) => {
    const { expected, withL7, withCredentials } = EXPECTED[file]!;
    check(file, expected, {});
    check(file, withL7 ?? expected, { l7Rest: true });
    check(file, withCredentials ?? withL7 ?? expected, { l7Rest: true, credentials: true });
  });

  it("the four outcomes all occur (the expectations are not all one kind)", () => {
    const kinds = new Set(Object.values(EXPECTED).map((x) => x.expected.outcome));
    expect([...kinds].sort()).toEqual(["enforced", "mapped", "not-enforced", "refused"]);
  });

  it("together the fixtures use every field the schema accepts, at every level", () => {
    const used = new Map<string, Set<string>>();
    const note = (level: string, obj: unknown) => {
      if (typeof obj !== "object" || obj === null) return;
      const set = used.get(level) ?? new Set<string>();
      for (const k of Object.keys(obj)) set.add(k);
      used.set(level, set);
    };
    for (const file of FILES) {
      let doc: Record<string, unknown>;
      try {
        doc = parsePolicyDocument(readFileSync(`${DIR}${file}`, "utf8"), file);
      } catch {
        continue; // refused fixtures exercise refusals, not fields
      }
      note("top", doc);
      note("filesystem_policy", doc.filesystem_policy);
      note("landlock", doc.landlock);
      note("process", doc.process);
      for (const np of Object.values((doc.network_policies ?? {}) as Record<string, { endpoints: unknown[]; binaries?: unknown[] }>)) {
        note("network_policy", np);
        for (const ep of np.endpoints) {
          note("endpoint", ep);
          const e = ep as { mcp?: unknown; rules?: { allow: unknown }[]; deny_rules?: unknown[] };
          note("mcp", e.mcp);
          for (const r of e.rules ?? []) note("allow", r.allow);
          for (const d of e.deny_rules ?? []) note("deny", d);
        }
        for (const b of np.binaries ?? []) note("binary", b);
      }
      for (const mw of Object.values((doc.network_middlewares ?? {}) as Record<string, unknown>)) note("middleware", mw);
    }
    const shape = (s: unknown) => Object.keys((s as { _zod: { def: { shape: Record<string, unknown> } } })._zod.def.shape);
    const top = sandboxPolicyDocumentSchema.shape;
    const unwrap = (s: unknown): unknown => {
      let cur = s as { def?: { innerType?: unknown; element?: unknown; valueType?: unknown; in?: unknown }; _zod: { def: { type: string; innerType?: unknown; element?: unknown; valueType?: unknown; in?: unknown } } };
      for (let i = 0; i < 8; i++) {
        const d = cur._zod.def;
        const next = d.innerType ?? d.element ?? d.valueType ?? (d.type === "pipe" ? d.in : undefined);
        if (!next) break;
        cur = next as typeof cur;
      }
      return cur;
    };
    const field = (s: unknown, k: string) => (s as { _zod: { def: { shape: Record<string, unknown> } } })._zod.def.shape[k];
    const endpoint = unwrap(field(unwrap(top.network_policies), "endpoints"));
    const expectations: [string, unknown][] = [
      ["top", sandboxPolicyDocumentSchema],
      ["filesystem_policy", unwrap(top.filesystem_policy)],
      ["landlock", unwrap(top.landlock)],
      ["process", unwrap(top.process)],
      ["network_policy", unwrap(top.network_policies)],
      ["endpoint", endpoint],
      ["mcp", unwrap(field(endpoint, "mcp"))],
      ["binary", unwrap(field(unwrap(top.network_policies), "binaries"))],
      ["middleware", unwrap(top.network_middlewares)],
    ];
    for (const [level, schema] of expectations) {
      // `inference` is OCTW's own extension, checked against the router's schema (@octw/pulumi's tests).
      const missing = shape(schema).filter((k) => !used.get(level)?.has(k) && !(level === "top" && k === "inference"));
      expect(missing, `fields at ${level} no fixture uses`).toEqual([]);
    }
    // Rule matchers: allow uses each field OpenShell's L7AllowDef has, deny each of L7DenyRuleDef's that OCTW matches on.
    const allowUsed = new Set([...(used.get("allow") ?? []), ...(used.get("deny") ?? [])]);
    for (const k of ["method", "path", "command", "query", "operation_type", "fields", "tool", "params"]) expect(allowUsed.has(k), `rule field ${k}`).toBe(true);
  });
});
