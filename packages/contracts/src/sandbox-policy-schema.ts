/**
 * The tenant runtime-containment policy in NVIDIA OpenShell's format (`version: 1`,
 * `filesystem_policy`, `landlock`, `process`, `network_policies`, `network_middlewares`), read the
 * way OpenShell's own parser reads it: every field it accepts is accepted here, in the same place,
 * and unknown fields are refused as it refuses them. NemoClaw's preset files (a `preset:` header
 * plus `network_policies`) are policy fragments and read the same.
 *
 * Accepting a field does not mean enforcing it: {@link planEnforcement} (policy-enforcement.ts)
 * decides, field by field, whether OCTW enforces it, maps it to what the platform has, or — only
 * when the operator lists its feature in `allowUnenforced` — reports it as not enforced.
 */
import { posix } from "node:path";
import { parseDocument as parseYamlDocument } from "yaml";
import { z } from "zod";
import { OctwConfigError, issueProblem } from "./config-error.js";
import { hostProblem, ipOrCidrProblem } from "./host-rules.js";

const port = z.number().int().min(1, "must be a port 1..65535").max(65535, "must be a port 1..65535");

/** OpenShell compares hosts case-insensitively; OCTW's proxy rules are written in lowercase. Checked with its endpoint (see `allowed_ips`). */
const hostSchema = z.string().transform((h) => h.toLowerCase());

const ipSchema = z.string().superRefine((ip, ctx) => {
  const problem = ipOrCidrProblem(ip);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** An L7 query/tool matcher: a glob, or `{ any: [globs] }`. */
const matcherSchema = z.union([z.string(), z.strictObject({ any: z.array(z.string()) })], "must be a glob string or `{ any: [globs] }`");

/** The fields of an allow rule's `allow`, and of a deny rule, as OpenShell's L7AllowDef/L7DenyRuleDef. */
const l7MatchShape = {
  method: z.string().optional(),
  path: z.string().optional(),
  command: z.string().optional(),
  query: z.record(z.string(), matcherSchema).optional(),
  operation_type: z.string().optional(),
  operation_name: z.string().optional(),
  fields: z.array(z.string()).optional(),
  tool: matcherSchema.optional(),
  /** MCP params: nested maps of matchers. */
  params: z.record(z.string(), z.unknown()).optional(),
};
const l7MatchSchema = z.strictObject(l7MatchShape);
export type L7Match = z.output<typeof l7MatchSchema>;

const PROTOCOLS = ["rest", "websocket", "graphql", "sql", "json-rpc", "mcp", "tcp"] as const;
export type EndpointProtocol = (typeof PROTOCOLS)[number];

const endpointSchema = z
  .strictObject({
    /** Optional only for OpenShell's legacy hostless `allowed_ips` endpoints (refused when planned). */
    host: hostSchema.optional(),
    port: port.optional(),
    ports: z.array(port).min(1, "must list at least one port").optional(),
    /** L7 selector between endpoints sharing host and port. */
    path: z.string().optional(),
    protocol: z
      .string()
      .transform((p) => p.toLowerCase())
      .pipe(z.enum(PROTOCOLS, `must be one of ${PROTOCOLS.join(", ")} (or omitted for a plain tunnel)`))
      .optional(),
    /** `skip`: never inspect; `terminate`/`passthrough`: deprecated in OpenShell, no effect. */
    tls: z.enum(["skip", "terminate", "passthrough"], "must be skip (terminate and passthrough are deprecated no-ops)").optional(),
    enforcement: z.enum(["enforce", "audit"]).optional(),
    access: z.enum(["read-only", "read-write", "full"]).optional(),
    rules: z.array(z.strictObject({ allow: l7MatchSchema })).min(1, "must not be empty; use `access: full` or remove `rules`").optional(),
    deny_rules: z.array(l7MatchSchema).optional(),
    allowed_ips: z.array(ipSchema).min(1, "must list at least one address when present").optional(),
    allow_encoded_slash: z.boolean().optional(),
    websocket_credential_rewrite: z.boolean().optional(),
    request_body_credential_rewrite: z.boolean().optional(),
    allow_uninspected_credentials: z.boolean().optional(),
    persisted_queries: z.enum(["deny", "allow_registered"]).optional(),
    graphql_persisted_queries: z
      .record(z.string(), z.strictObject({ operation_type: z.string(), operation_name: z.string().optional(), fields: z.array(z.string()).optional() }))
      .optional(),
    graphql_max_body_bytes: z.number().int().min(0).optional(),
    credential_signing: z.enum(["sigv4", "sigv4:body", "sigv4:no_body"]).optional(),
    signing_service: z.string().optional(),
    signing_region: z.string().optional(),
    credential_binding: z.strictObject({ provider: z.string().min(1, "must name the provider") }).optional(),
    json_rpc: z.strictObject({ max_body_bytes: z.number().int().min(0).optional() }).optional(),
    mcp: z
      .strictObject({
        max_body_bytes: z.number().int().min(0).optional(),
        strict_tool_names: z.boolean().optional(),
        allow_all_known_mcp_methods: z.boolean().optional(),
      })
      .optional(),
  })
  .superRefine((ep, ctx) => {
    if (ep.host === undefined && ep.allowed_ips === undefined) ctx.addIssue({ code: "custom", message: "needs `host`", path: ["host"] });
    const hostIssue = ep.host === undefined ? undefined : hostProblem(ep.host, { pinned: ep.allowed_ips !== undefined, unpinnedLocal: "public-only" });
    if (hostIssue) ctx.addIssue({ code: "custom", message: hostIssue, path: ["host"] });
    if (ep.port === undefined && ep.ports === undefined) ctx.addIssue({ code: "custom", message: "needs `port` or `ports`", path: ["port"] });
    // OpenShell's own semantic checks (l7_validate.rs), so a policy it refuses is not accepted here.
    if (ep.rules !== undefined && ep.access !== undefined) ctx.addIssue({ code: "custom", message: "`rules` and `access` are mutually exclusive", path: ["access"] });
    if (ep.protocol === "tcp") {
      const l7 = (["path", "enforcement", "access", "rules", "deny_rules", "allow_encoded_slash", "websocket_credential_rewrite", "request_body_credential_rewrite", "credential_signing", "mcp", "json_rpc", "graphql_persisted_queries"] as const).filter((k) => ep[k] !== undefined);
      if (l7.length) ctx.addIssue({ code: "custom", message: `protocol tcp takes no L7 fields (${l7.join(", ")}); remove them`, path: ["protocol"] });
    }
    if (ep.deny_rules !== undefined && ep.protocol === undefined) ctx.addIssue({ code: "custom", message: "needs `protocol` (deny rules are L7)", path: ["deny_rules"] });
    if (ep.path !== undefined && !ep.path.startsWith("/") && ep.path !== "**") ctx.addIssue({ code: "custom", message: 'must start with "/" or be "**"', path: ["path"] });
    if (ep.credential_signing !== undefined && ep.signing_service === undefined) ctx.addIssue({ code: "custom", message: "needs `signing_service` with `credential_signing`", path: ["signing_service"] });
    if (ep.credential_signing !== undefined && ep.request_body_credential_rewrite === true) {
      ctx.addIssue({ code: "custom", message: "`credential_signing` and `request_body_credential_rewrite` are mutually exclusive", path: ["request_body_credential_rewrite"] });
    }
  });
export type PolicyEndpoint = z.output<typeof endpointSchema>;

const networkPolicySchema = z.strictObject({
  name: z.string().min(1).max(128).optional(),
  endpoints: z.array(endpointSchema).min(1, "must list at least one endpoint"),
  /** `harness` is deprecated and ignored by OpenShell; accepted for old files. */
  binaries: z.array(z.strictObject({ path: z.string().min(1), harness: z.boolean().optional() })).optional(),
});

/**
 * OpenShell normalizes paths (repeated and trailing slashes) before storing them and refuses `..`;
 * so does OCTW, so `/sandbox/` and `/sandbox` are the same entry.
 */
const absolutePath = z
  .string()
  .superRefine((p, ctx) => {
    if (!p.startsWith("/") || p.split("/").some((seg) => seg === ".." || seg === ".")) {
      ctx.addIssue({ code: "custom", message: 'must be an absolute path without "." or ".." segments' });
    } else if (p.length > 4096) ctx.addIssue({ code: "custom", message: "is longer than 4096 characters" });
  })
  .transform((p) => (p === "/" ? p : posix.normalize(p).replace(/\/+$/, "") || "/"));

const landlockSchema = z.strictObject({
  compatibility: z.enum(["best_effort", "hard_requirement"], "must be best_effort or hard_requirement").optional(),
});

/**
 * A tenant never chooses its identity: its UID/GID are allocated from its slot (uidBase + 4·slot,
 * see network-plan.ts), so no policy can name another tenant's id or a shared service's (the
 * edge's, the router's…) and share its RLIMIT_NPROC budget or its files. OpenShell's
 * `sandbox` (and OCTW's `tenant`) name that allocated id; a number is refused.
 */
const idSchema = z.custom<"sandbox" | "tenant">(
  (v) => v === "sandbox" || v === "tenant",
  'must be "sandbox" or "tenant" (the tenant\'s own allocated id); a policy cannot choose a numeric UID/GID: tenant ids are allocated per slot (uidBase + 4·slot)',
);

/** OpenShell's supervisor middleware: validated for shape, reported as not enforced. */
const middlewareSchema = z.strictObject({
  name: z.string().optional(),
  middleware: z.string().min(1, "must name the middleware implementation"),
  order: z.number().int().optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  on_error: z.string().optional(),
  endpoints: z.strictObject({ include: z.array(z.string()).optional(), exclude: z.array(z.string()).optional() }).optional(),
});

export const sandboxPolicyDocumentSchema = z
  .strictObject({
    /** Required, except in a NemoClaw preset fragment (`preset:` header), which has none. */
    version: z.literal(1, "must be 1 (the OpenShell policy format version OCTW reads)").optional(),
    /** NemoClaw's preset header: documentation only, never merged into the policy. */
    preset: z.strictObject({ name: z.string().optional(), description: z.string().optional() }).optional(),
    filesystem_policy: z
      .strictObject({
        read_only: z.array(absolutePath).optional(),
        read_write: z.array(absolutePath).optional(),
        include_workdir: z.boolean().optional(),
        /** OCTW's earlier placement; OpenShell's is the top-level `landlock`. Both are read. */
        landlock: z.unknown().optional(),
      })
      .optional(),
    landlock: landlockSchema.optional(),
    process: z
      .strictObject({
        run_as_user: idSchema.optional(),
        run_as_group: idSchema.optional(),
      })
      .optional(),
    network_policies: z
      .record(z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "policy keys are identifiers of 1-128 characters (letters, digits, _, - and .)"), networkPolicySchema)
      .optional(),
    network_middlewares: z.record(z.string().min(1), middlewareSchema).optional(),
    /**
     * OCTW's extension: model providers and models the tenant may use through the inference
     * router, and limits (validated by `@octw/inference-router`'s schema in SandboxPolicy).
     */
    inference: z.unknown().optional(),
  })
  .superRefine((doc, ctx) => {
    if (doc.version === undefined && doc.preset === undefined) ctx.addIssue({ code: "custom", message: "is required: 1 (the OpenShell policy format version OCTW reads)", path: ["version"] });
  });

/** A policy document in the OpenShell format (as written: before defaults and normalization). */
export type SandboxPolicyDocument = z.input<typeof sandboxPolicyDocumentSchema>;
export type ParsedPolicyDocument = z.output<typeof sandboxPolicyDocumentSchema>;

/**
 * OpenShell's YAML reader takes an empty key (`network_policies:` with only comments under it) as an
 * empty collection; YAML itself reads it as null. Same here, for the collections a file may leave empty.
 */
function emptyCollectionsFromNull(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const doc = { ...(value as Record<string, unknown>) };
  for (const key of ["network_policies", "network_middlewares", "filesystem_policy"]) if (doc[key] === null) delete doc[key];
  const fs = doc.filesystem_policy;
  if (typeof fs === "object" && fs !== null && !Array.isArray(fs)) {
    const copy = { ...(fs as Record<string, unknown>) };
    for (const key of ["read_only", "read_write"]) if (copy[key] === null) delete copy[key];
    doc.filesystem_policy = copy;
  }
  return doc;
}

/** Parses YAML text or an object into a validated document; throws {@link OctwConfigError} naming fields. */
export function parsePolicyDocument(input: unknown, subject: string, pathPrefix = "policy"): ParsedPolicyDocument {
  let value = input;
  if (typeof input === "string") {
    // Silent: the parser would otherwise print its warnings (which quote the source text, e.g.
    // an unresolved `!tag`) to stderr, i.e. into preview output. Warnings are refused like
    // errors, and either is reported by code and position only, never by the text.
    const doc = parseYamlDocument(input, { strict: true, uniqueKeys: true, prettyErrors: false, logLevel: "silent" });
    const first = doc.errors[0] ?? doc.warnings[0];
    if (first) {
      const pos = first.linePos?.[0];
      const where = pos ? ` at line ${pos.line}, column ${pos.col}` : "";
      const code = /^[A-Z_]{1,40}$/.test(first.code) ? ` (${first.code})` : "";
      throw new OctwConfigError(subject, [{ path: pathPrefix, message: `is not valid YAML${code}${where}` }]);
    }
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch {
      throw new OctwConfigError(subject, [{ path: pathPrefix, message: "is not valid YAML (aliases expand too far or do not resolve)" }]);
    }
  }
  const result = sandboxPolicyDocumentSchema.safeParse(emptyCollectionsFromNull(value));
  if (!result.success) {
    throw new OctwConfigError(
      subject,
      result.error.issues.map((i) => issueProblem(i, pathPrefix, sandboxPolicyDocumentSchema)),
    );
  }
  return result.data;
}

/**
 * Merges policy fragments (presets and the tenant's own) in order, as NemoClaw composes a preset
 * into a sandbox's base policy: network policies are united; the same key twice must be identical
 * (a silent override could widen or narrow egress unseen). A preset's header is not merged.
 */
export function mergePolicyDocuments(docs: readonly ParsedPolicyDocument[], subject: string): ParsedPolicyDocument {
  const merged: ParsedPolicyDocument = { version: 1 };
  const problems: { path: string; message: string }[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  for (const doc of docs) {
    if (doc.filesystem_policy) {
      const fs = (merged.filesystem_policy ??= {});
      for (const key of ["read_only", "read_write"] as const) {
        const add = doc.filesystem_policy[key];
        if (add) fs[key] = [...new Set([...(fs[key] ?? []), ...add])];
      }
      if (doc.filesystem_policy.include_workdir !== undefined) fs.include_workdir = doc.filesystem_policy.include_workdir;
      if (doc.filesystem_policy.landlock !== undefined) fs.landlock = doc.filesystem_policy.landlock;
    }
    if (doc.landlock !== undefined) {
      if (merged.landlock !== undefined && !same(merged.landlock, doc.landlock)) problems.push({ path: "policy.landlock", message: "is set differently by two fragments; keep one" });
      merged.landlock = doc.landlock;
    }
    if (doc.process) {
      for (const key of ["run_as_user", "run_as_group"] as const) {
        const v = doc.process[key];
        if (v === undefined) continue;
        const prev = merged.process?.[key];
        if (prev !== undefined && prev !== v) problems.push({ path: `policy.process.${key}`, message: "is set differently by two fragments; keep one" });
        merged.process = { ...merged.process, [key]: v };
      }
    }
    if (doc.inference !== undefined) {
      if (merged.inference !== undefined && !same(merged.inference, doc.inference)) {
        problems.push({ path: "policy.inference", message: "is defined by two fragments with different contents; keep one" });
      }
      merged.inference = doc.inference;
    }
    for (const section of ["network_policies", "network_middlewares"] as const) {
      for (const [key, value] of Object.entries(doc[section] ?? {})) {
        const target = (merged[section] ??= {}) as Record<string, unknown>;
        if (target[key] !== undefined && !same(target[key], value)) {
          problems.push({ path: `policy.${section}.${key}`, message: "is defined by two fragments with different contents; rename one" });
        }
        target[key] = value;
      }
    }
  }
  if (problems.length) throw new OctwConfigError(subject, problems);
  return merged;
}
