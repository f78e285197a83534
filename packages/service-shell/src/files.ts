import { readFileSync } from "node:fs";

function code(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? "error";
}

/** The JSON a config file holds; errors name the file, never its content (a config may be mistaken for a secret). */
export function readJsonFile(label: string, path: string): unknown {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`${label} ${path}: cannot read (${code(e)})`);
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new Error(`${label} ${path}: not valid JSON`);
  }
}

/** A secret from a 0400 file the config names; the error names the field and the path, never the content. */
export function readSecretFile(field: string, path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    throw new Error(`${field}: cannot read secret file ${path} (${code(e)})`);
  }
}
