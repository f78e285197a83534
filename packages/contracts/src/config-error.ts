import type { z } from "zod";

/**
 * The one error type for bad input. Its message names every offending field by its path
 * (e.g. `tenants[2].policy.network_policies.github.endpoints[0].host`) and says what is
 * allowed, so a user can fix a config from the message alone. It never repeats the value:
 * config may hold secrets (resolved `env:` values, keys pasted into the wrong field), and
 * this message ends up in `pulumi preview` output and CI logs.
 */
export class OctwConfigError extends Error {
  constructor(
    /** Where the bad input came from, e.g. `OpenClawPlatform "prod"`. */
    readonly subject: string,
    readonly problems: readonly { path: string; message: string }[],
  ) {
    super(`${subject}: invalid configuration:\n${problems.map((p) => `  - ${p.path || "(root)"}: ${p.message}`).join("\n")}`);
    this.name = "OctwConfigError";
  }
}

/** Renders a zod path (`["tenants", 2, "id"]`) the way a user writes it: `tenants[2].id`. */
export function formatPath(path: readonly PropertyKey[], prefix = ""): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

interface SchemaDef {
  type?: string;
  shape?: Record<string, { _zod?: { def?: SchemaDef } }>;
  innerType?: { _zod?: { def?: SchemaDef } };
  in?: { _zod?: { def?: SchemaDef } };
  element?: { _zod?: { def?: SchemaDef } };
  valueType?: { _zod?: { def?: SchemaDef } };
  options?: { _zod?: { def?: SchemaDef } }[];
}

/** The field names an object schema allows at `path`, or undefined when it cannot tell. */
function allowedKeysAt(schema: z.ZodType | undefined, path: readonly PropertyKey[]): string[] | undefined {
  let def = (schema as unknown as { _zod?: { def?: SchemaDef } } | undefined)?._zod?.def;
  const unwrap = () => {
    for (let i = 0; i < 16 && def; i++) {
      if (def.innerType && ["optional", "nullable", "default", "prefault", "catch", "readonly", "nonoptional"].includes(def.type ?? "")) def = def.innerType._zod?.def;
      else if (def.type === "pipe" && def.in) def = def.in._zod?.def;
      else break;
    }
  };
  for (const key of path) {
    unwrap();
    if (!def) return undefined;
    if (def.type === "object" && typeof key === "string") def = def.shape?.[key]?._zod?.def;
    else if (def.type === "array" && typeof key === "number") def = def.element?._zod?.def;
    else if (def.type === "record") def = def.valueType?._zod?.def;
    else return undefined;
  }
  unwrap();
  return def?.type === "object" && def.shape ? Object.keys(def.shape) : undefined;
}

/**
 * A zod issue as a problem that names the field and what is allowed, never the input: an
 * unknown key is counted, not quoted (it may be a secret pasted as a key), and a record key
 * that fails its rule is reported at its record, not by its text. Messages of custom issues
 * are written in this package and never interpolate the input.
 */
export function issueProblem(issue: z.core.$ZodIssue, pathPrefix = "", schema?: z.ZodType): { path: string; message: string } {
  if (issue.code === "unrecognized_keys") {
    const n = issue.keys.length;
    const allowed = allowedKeysAt(schema, issue.path);
    return {
      path: formatPath(issue.path, pathPrefix),
      message: `has ${n === 1 ? "a field" : `${n} fields`} not allowed here${allowed ? `; allowed: ${allowed.join(", ")}` : ""}`,
    };
  }
  if (issue.code === "invalid_key") {
    const why = issue.issues.map((i) => i.message).join("; ");
    return { path: formatPath(issue.path.slice(0, -1), pathPrefix), message: `has a key that is not allowed (${why})` };
  }
  return { path: formatPath(issue.path, pathPrefix), message: issue.message };
}

/** Parses `value` with `schema`, or throws an {@link OctwConfigError} listing every problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, subject: string, pathPrefix = ""): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new OctwConfigError(
    subject,
    result.error.issues.map((issue) => issueProblem(issue, pathPrefix, schema)),
  );
}
