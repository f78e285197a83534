import type { z } from "zod";

/**
 * The one error type for bad input. Its message names every offending field by its path
 * (e.g. `tenants[2].policy.network_policies.github.endpoints[0].host`) and says what is
 * allowed, so a user can fix a config from the message alone.
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

/** Parses `value` with `schema`, or throws an {@link OctwConfigError} listing every problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, subject: string, pathPrefix = ""): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new OctwConfigError(
    subject,
    result.error.issues.map((issue) => ({ path: formatPath(issue.path, pathPrefix), message: issue.message })),
  );
}
