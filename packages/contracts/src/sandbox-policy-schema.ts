/**
 * The tenant runtime-containment policy: a subset of NVIDIA OpenShell's policy format
 * (`version: 1`, `filesystem_policy`, `process`, `network_policies`), so NemoClaw-style presets
 * read the same. Validated with zod; everything the Docker enforcement cannot honour is either
 * rejected with a reason or, when the user lists it in `allowUnenforced`, reported as not
 * enforced — never dropped silently.
 */
import { posix } from "node:path";
import { parseDocument as parseYamlDocument } from "yaml";
import { z } from "zod";
import { OctwConfigError, issueProblem } from "./config-error.js";
import { hostProblem, ipOrCidrProblem } from "./host-rules.js";

/** Features of the OpenShell format that a Docker host cannot enforce, by the key `allowUnenforced` takes. */
export const UNENFORCEABLE = {
  binaries: "per-binary egress rules need process identity at the proxy (OpenShell's /proc walk); a Docker egress proxy sees one container",
  rules: "L7 rules/deny_rules need TLS inspection; the egress proxy only tunnels (CONNECT) and cannot see methods or paths",
  access: "`access: read-only|read-write` is an L7 method filter and needs TLS inspection; only `access: full` (a plain tunnel) is enforced",
  "enforcement:audit": "`enforcement: audit` forwards what it logs; OCTW's proxy always enforces, so audit mode cannot be honoured",
  "filesystem_policy.read_only": "a read allowlist needs Landlock; Docker makes the whole root read-only but cannot hide paths from reads",
  "filesystem_policy.landlock": "Landlock is applied by OpenShell's supervisor, which OCTW does not run",
  "filesystem_policy.include_workdir": "OpenShell's workdir mapping has no Docker equivalent",
  tls: "TLS termination with a per-sandbox CA is not performed",
} as const;
export type UnenforceableFeature = keyof typeof UNENFORCEABLE;
export const UNENFORCEABLE_FEATURES = Object.keys(UNENFORCEABLE) as UnenforceableFeature[];

const port = z.number().int().min(1, "must be a port 1..65535").max(65535, "must be a port 1..65535");

const hostSchema = z.string().superRefine((host, ctx) => {
  const problem = hostProblem(host);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const ipSchema = z.string().superRefine((ip, ctx) => {
  const problem = ipOrCidrProblem(ip);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const endpointSchema = z
  .strictObject({
    host: hostSchema,
    port: port.optional(),
    ports: z.array(port).min(1, "must list at least one port").optional(),
    /** Selects OpenShell's L7 inspector; without rules it changes nothing at L4, so it is accepted. */
    protocol: z.enum(["rest", "tcp", "websocket"]).optional(),
    enforcement: z.enum(["enforce", "audit"]).optional(),
    access: z.enum(["read-only", "read-write", "full"]).optional(),
    rules: z.array(z.unknown()).optional(),
    deny_rules: z.array(z.unknown()).optional(),
    allowed_ips: z.array(ipSchema).min(1, "must list at least one address when present").optional(),
    tls: z.unknown().optional(),
  })
  .superRefine((ep, ctx) => {
    if (ep.port === undefined && ep.ports === undefined) ctx.addIssue({ code: "custom", message: "needs `port` or `ports`", path: ["port"] });
    if (ep.port !== undefined && ep.ports !== undefined) ctx.addIssue({ code: "custom", message: "give `port` or `ports`, not both", path: ["ports"] });
  });

const networkPolicySchema = z.strictObject({
  name: z.string().min(1).max(128).optional(),
  endpoints: z.array(endpointSchema).min(1, "must list at least one endpoint"),
  binaries: z.array(z.strictObject({ path: z.string().min(1) })).optional(),
});

const absolutePath = z.string().superRefine((p, ctx) => {
  if (!p.startsWith("/") || posix.normalize(p) !== p || p.includes("//") || (p.length > 1 && p.endsWith("/"))) {
    ctx.addIssue({ code: "custom", message: 'must be an absolute, normalized path (no "..", no "//", no trailing slash)' });
  }
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

export const sandboxPolicyDocumentSchema = z.strictObject({
  version: z.literal(1, "must be 1 (the OpenShell policy format version OCTW reads)"),
  filesystem_policy: z
    .strictObject({
      read_only: z.array(absolutePath).optional(),
      read_write: z.array(absolutePath).optional(),
      include_workdir: z.boolean().optional(),
      landlock: z.unknown().optional(),
    })
    .optional(),
  process: z
    .strictObject({
      run_as_user: idSchema.optional(),
      run_as_group: idSchema.optional(),
    })
    .optional(),
  network_policies: z
    .record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "policy keys are lowercase identifiers (a-z, 0-9, _ and -)"), networkPolicySchema)
    .optional(),
  /**
   * OCTW's extension: model providers and models the tenant may use through the inference
   * router, and limits (validated by `@octw/inference-router`'s schema in SandboxPolicy).
   */
  inference: z.unknown().optional(),
});

/** A policy document in OCTW's subset of the OpenShell format. */
export type SandboxPolicyDocument = z.input<typeof sandboxPolicyDocumentSchema>;
type ParsedDocument = z.output<typeof sandboxPolicyDocumentSchema>;

/** Paths a tenant may never get as read-write tmpfs: they hold the image's code or the kernel's interfaces. */
const SYSTEM_PATHS = ["/", "/usr", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/opt", "/boot", "/proc", "/sys", "/dev", "/run", "/var/lib/openclaw"];
/** Entries of OpenShell policies that are device files: always writable in a container, nothing to declare. */
const DEVICE_PATHS = new Set(["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]);

/** One allowed egress destination as the proxy enforces it. */
export interface EgressRule {
  /** `network_policies` key it came from. */
  readonly policy: string;
  readonly host: string;
  readonly ports: readonly number[];
  /** When set, the resolved destination must be one of these (and may then be non-public). */
  readonly allowedIps: readonly string[];
}

/** What OCTW enforces for a policy, plus what it was told to accept without enforcing. */
export interface EnforcedSandboxPolicy {
  readonly egress: readonly EgressRule[];
  /** Paths that get a tmpfs (besides the gateway's state volume, which is always writable). */
  readonly readWritePaths: readonly string[];
  /**
   * Never set: a policy cannot choose its identity (`process.run_as_user/run_as_group` only
   * accept "sandbox"/"tenant", the tenant's allocated id). Kept so consumers that fall back to
   * the allocated id read the same.
   */
  readonly runAsUser?: never;
  readonly runAsGroup?: never;
  /** `path: reason` for every field accepted through `allowUnenforced`. Empty when everything is enforced. */
  readonly notEnforced: readonly string[];
}

/** Parses YAML text or an object into a validated document; throws {@link OctwConfigError} naming fields. */
export function parsePolicyDocument(input: unknown, subject: string, pathPrefix = "policy"): ParsedDocument {
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
  const result = sandboxPolicyDocumentSchema.safeParse(value);
  if (!result.success) {
    throw new OctwConfigError(
      subject,
      result.error.issues.map((i) => issueProblem(i, pathPrefix, sandboxPolicyDocumentSchema)),
    );
  }
  return result.data;
}

/**
 * Merges policy fragments (presets and the tenant's own) in order. Network policies are united;
 * the same key twice must be identical (a silent override could widen or narrow egress unseen).
 */
export function mergePolicyDocuments(docs: readonly ParsedDocument[], subject: string): ParsedDocument {
  const merged: ParsedDocument = { version: 1 };
  const problems: { path: string; message: string }[] = [];
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
      if (merged.inference !== undefined && JSON.stringify(merged.inference) !== JSON.stringify(doc.inference)) {
        problems.push({ path: "policy.inference", message: "is defined by two fragments with different contents; keep one" });
      }
      merged.inference = doc.inference;
    }
    for (const [key, np] of Object.entries(doc.network_policies ?? {})) {
      const nps = (merged.network_policies ??= {});
      const prev = nps[key];
      if (prev !== undefined && JSON.stringify(prev) !== JSON.stringify(np)) {
        problems.push({ path: `policy.network_policies.${key}`, message: "is defined by two fragments with different contents; rename one" });
      }
      nps[key] = np;
    }
  }
  if (problems.length) throw new OctwConfigError(subject, problems);
  return merged;
}

/**
 * Turns a validated document into what OCTW enforces. Fields Docker cannot honour throw,
 * unless their feature is in `allowUnenforced`; then they are listed in `notEnforced`.
 */
export function planEnforcement(
  doc: ParsedDocument,
  allowUnenforced: readonly UnenforceableFeature[],
  subject: string,
  pathPrefix = "policy",
): EnforcedSandboxPolicy {
  const allowed = new Set(allowUnenforced);
  const problems: { path: string; message: string }[] = [];
  const notEnforced: string[] = [];
  const unenforceable = (feature: UnenforceableFeature, path: string) => {
    if (allowed.has(feature)) notEnforced.push(`${path}: ${UNENFORCEABLE[feature]}`);
    else problems.push({ path, message: `cannot be enforced on Docker (${UNENFORCEABLE[feature]}); add "${feature}" to allowUnenforced to accept it as not enforced` });
  };

  const fs = doc.filesystem_policy;
  if (fs?.read_only !== undefined) unenforceable("filesystem_policy.read_only", `${pathPrefix}.filesystem_policy.read_only`);
  if (fs?.landlock !== undefined) unenforceable("filesystem_policy.landlock", `${pathPrefix}.filesystem_policy.landlock`);
  if (fs?.include_workdir === true) unenforceable("filesystem_policy.include_workdir", `${pathPrefix}.filesystem_policy.include_workdir`);

  const readWritePaths: string[] = [];
  (fs?.read_write ?? ["/tmp"]).forEach((p, i) => {
    if (DEVICE_PATHS.has(p)) return;
    const system = SYSTEM_PATHS.find((s) => p === s || (s !== "/" && p.startsWith(`${s}/`)));
    if (system) {
      problems.push({ path: `${pathPrefix}.filesystem_policy.read_write[${i}]`, message: `is ${system === p ? "" : "inside "}${system}, which holds the image's code or kernel interfaces and is never writable; use /tmp or a path like /sandbox` });
      return;
    }
    readWritePaths.push(p);
  });
  if (!readWritePaths.includes("/tmp")) {
    problems.push({ path: `${pathPrefix}.filesystem_policy.read_write`, message: 'must include "/tmp": OpenClaw needs a writable /tmp (it is mounted noexec,nosuid,nodev)' });
  }
  const listed = fs?.read_write ?? ["/tmp"];
  for (const p of readWritePaths) {
    const parent = readWritePaths.find((q) => q !== p && p.startsWith(`${q}/`));
    if (parent) problems.push({ path: `${pathPrefix}.filesystem_policy.read_write[${listed.indexOf(p)}]`, message: `is inside read_write[${listed.indexOf(parent)}]; list only the outer path` });
  }

  const egress: EgressRule[] = [];
  for (const [key, np] of Object.entries(doc.network_policies ?? {})) {
    const at = `${pathPrefix}.network_policies.${key}`;
    if (np.binaries !== undefined) unenforceable("binaries", `${at}.binaries`);
    np.endpoints.forEach((ep, i) => {
      const epAt = `${at}.endpoints[${i}]`;
      if (ep.rules !== undefined) unenforceable("rules", `${epAt}.rules`);
      if (ep.deny_rules !== undefined) unenforceable("rules", `${epAt}.deny_rules`);
      if (ep.access !== undefined && ep.access !== "full") unenforceable("access", `${epAt}.access`);
      if (ep.enforcement === "audit") unenforceable("enforcement:audit", `${epAt}.enforcement`);
      if (ep.tls !== undefined) unenforceable("tls", `${epAt}.tls`);
      const ports = [...new Set(ep.ports ?? (ep.port !== undefined ? [ep.port] : []))].sort((a, b) => a - b);
      egress.push({ policy: key, host: ep.host, ports, allowedIps: [...new Set(ep.allowed_ips ?? [])] });
    });
  }

  if (problems.length) throw new OctwConfigError(subject, problems);
  return {
    egress,
    readWritePaths: [...readWritePaths].sort(),
    notEnforced,
  };
}
