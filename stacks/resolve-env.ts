import { readFileSync } from "node:fs";

/**
 * Local development conveniences in stack config strings:
 *  - `env:NAME` is replaced by the environment variable NAME (e.g. the id of an image that
 *    `npm run up` just built locally);
 *  - `json-file:PATH` is replaced by the JSON content of that file (e.g. the dev issuer's public
 *    key, which `npm run up` creates).
 *
 * Only in the operator fields listed in {@link RESOLVABLE_FIELDS}. Tenant entries (policies,
 * model lists, names, images) are attacker input: a policy saying `models: ["env:PULUMI_ACCESS_TOKEN"]`
 * must stay that literal string, never become the operator's token in the tenant's own
 * `openclaw.json`. So everything under `tenants` is passed through untouched, and an `env:` or
 * `json-file:` string in any other operator field is refused (it would never be resolved).
 * The result is validated like any literal, so an image must still be pinned.
 */

/** A field name, or "*" for any array index. */
type Segment = string;
interface Resolvable {
  readonly path: readonly Segment[];
  readonly kinds: readonly ("env" | "json-file")[];
}

/** The operator fields that may carry a reference, relative to the platform config (`*` = any array index). */
export const RESOLVABLE_FIELDS: readonly Resolvable[] = [
  ...["openclaw", "egressProxy", "postgres", "edge", "inferenceRouter", "egressAudit"].map((k) => ({ path: ["images", k], kinds: ["env"] as const })),
  { path: ["edge", "jwt", "jwks", "*"], kinds: ["json-file"] },
  { path: ["edge", "jwt", "jwksUrl"], kinds: ["env"] },
  { path: ["edge", "jwt", "issuer"], kinds: ["env"] },
  { path: ["edge", "jwt", "audience"], kinds: ["env"] },
  { path: ["audit", "host"], kinds: ["env"] },
  { path: ["audit", "adminUser"], kinds: ["env"] },
  { path: ["audit", "databaseName"], kinds: ["env"] },
];

/** Subtrees that are tenant-controlled: never resolved, never inspected. */
const TENANT_CONTROLLED: readonly (readonly Segment[])[] = [["tenants"]];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

function matches(pattern: readonly Segment[], path: readonly (string | number)[]): boolean {
  return pattern.length === path.length && pattern.every((s, i) => (s === "*" ? typeof path[i] === "number" : s === path[i]));
}

function render(root: string, path: readonly (string | number)[]): string {
  return path.reduce<string>((out, k) => (typeof k === "number" ? `${out}[${k}]` : `${out}.${k}`), root);
}

function referenceKind(value: string): "env" | "json-file" | undefined {
  if (value.startsWith("env:")) return "env";
  if (value.startsWith("json-file:")) return "json-file";
  return undefined;
}

function resolveAt(value: unknown, env: NodeJS.ProcessEnv, root: string, path: (string | number)[], resolved: string[]): unknown {
  if (path.length > 0 && TENANT_CONTROLLED.some((p) => matches(p, path))) return value;
  if (typeof value === "string") {
    const kind = referenceKind(value);
    if (kind === undefined) return value;
    const at = render(root, path);
    const field = RESOLVABLE_FIELDS.find((f) => matches(f.path, path));
    if (field === undefined || !field.kinds.includes(kind)) {
      const allowed = RESOLVABLE_FIELDS.filter((f) => f.kinds.includes(kind)).map((f) => f.path.join(".").replaceAll(".*", "[]"));
      throw new Error(`${at}: ${kind}: references are resolved only in ${allowed.join(", ")}`);
    }
    if (kind === "json-file") {
      const file = value.slice("json-file:".length);
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        throw new Error(`${at}: cannot read the file its json-file: reference names (${(err as NodeJS.ErrnoException).code ?? "unreadable"})`);
      }
      try {
        const json = JSON.parse(text) as unknown;
        collectStrings(json, resolved);
        return json;
      } catch {
        // JSON.parse's message quotes the text around the error: never print file content.
        throw new Error(`${at}: the file its json-file: reference names is not valid JSON`);
      }
    }
    const name = value.slice("env:".length);
    if (!ENV_NAME.test(name)) throw new Error(`${at}: env: must name an environment variable (letters, digits and _)`);
    const fromEnv = env[name];
    // The name is not printed either: the path finds it in the stack file, and a misplaced value is not echoed.
    if (fromEnv === undefined || fromEnv === "") throw new Error(`${at}: refers to an environment variable that is not set (or empty)`);
    resolved.push(fromEnv);
    return fromEnv;
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveAt(v as unknown, env, root, [...path, i], resolved));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveAt(v as unknown, env, root, [...path, k], resolved)]));
  }
  return value;
}

function collectStrings(value: unknown, out: string[]): void {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => collectStrings(v, out));
  else if (typeof value === "object" && value !== null) Object.values(value).forEach((v) => collectStrings(v, out));
}

/** Resolves the references of the operator fields of a platform config (`root` names it in errors). */
export function resolveEnvReferences<T>(value: T, env: NodeJS.ProcessEnv, root: string): T {
  return resolveOperatorReferences(value, env, root).config;
}

/** Like {@link resolveEnvReferences}, and also returns every value that came from the environment or a file. */
export function resolveOperatorReferences<T>(value: T, env: NodeJS.ProcessEnv, root: string): { config: T; resolvedValues: string[] } {
  const resolvedValues: string[] = [];
  const config = resolveAt(value, env, root, [], resolvedValues) as T;
  return { config, resolvedValues };
}

/** Values shorter than this are not scrubbed: they would blank out ordinary words of a message. */
const MIN_SCRUB_LENGTH = 6;

/**
 * Removes every resolved value from a message: the last line of defence for errors raised with
 * resolved config (by any component or library) on their way to `pulumi preview` output.
 */
export function scrubResolvedValues(message: string, resolvedValues: readonly string[]): string {
  let out = message;
  for (const v of [...resolvedValues].filter((x) => x.length >= MIN_SCRUB_LENGTH).sort((a, b) => b.length - a.length)) {
    out = out.split(v).join("<resolved value>");
  }
  return out;
}
