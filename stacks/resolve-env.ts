import { readFileSync } from "node:fs";

/**
 * Local development conveniences in stack config strings:
 *  - `env:NAME` is replaced by the environment variable NAME (e.g. the id of an image that
 *    `npm run up` just built locally);
 *  - `json-file:PATH` is replaced by the JSON content of that file (e.g. the dev issuer's public
 *    key, which `npm run up` creates).
 * The result is validated like any literal, so an image must still be pinned.
 */
export function resolveEnvReferences<T>(value: T, env: NodeJS.ProcessEnv, path: string): T {
  if (typeof value === "string" && value.startsWith("json-file:")) {
    const file = value.slice("json-file:".length);
    try {
      return JSON.parse(readFileSync(file, "utf8")) as T;
    } catch (err) {
      throw new Error(`${path}: cannot read JSON from ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  if (typeof value === "string" && value.startsWith("env:")) {
    const name = value.slice(4);
    const resolved = env[name];
    if (resolved === undefined || resolved === "") throw new Error(`${path}: refers to environment variable ${name}, which is not set`);
    return resolved as T;
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnvReferences(v as unknown, env, `${path}[${i}]`)) as T;
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveEnvReferences(v as unknown, env, `${path}.${k}`)])) as T;
  }
  return value;
}
