/**
 * The library sources import each other without file extensions ("./config"), which tsx,
 * vitest and tsc's Bundler resolution accept but Node's ESM loader does not. The packed
 * JavaScript and declarations therefore get their relative specifiers completed after tsc
 * emits them ("./config" → "./config.js", "./dir" → "./dir/index.js"), checked against the
 * emitted files: a specifier that names no emitted file fails the build instead of shipping
 * a module that cannot load.
 */
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

// Relative specifiers in tsc's output: `from "./x"`, `import("./x")`, `require("./x")`,
// `import "./x"`. tsc always prints double quotes; single quotes are accepted all the same.
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"'\n]*|\.{1,2})\2/g;

export type EmittedKind = "js" | "dts";

/** The completed specifier, or an error naming the file and the specifier that resolves to nothing. */
export function completeSpecifier(fromFile: string, specifier: string, kind: EmittedKind, exists: (path: string) => boolean = isFile): string {
  const base = join(dirname(fromFile), specifier);
  // What a ".js" specifier must find next to it: the module itself, or its declaration.
  const has = (jsPath: string) => exists(kind === "js" ? jsPath : jsPath.replace(/\.js$/, ".d.ts"));
  if (specifier.endsWith(".js") && has(base)) return specifier;
  if (has(`${base}.js`)) return `${specifier}.js`;
  if (has(join(base, "index.js"))) return `${specifier.replace(/\/$/, "")}/index.js`;
  throw new Error(`${fromFile}: the import "${specifier}" names no emitted module (looked for ${specifier}.js and ${specifier}/index.js)`);
}

/** `code` with every relative specifier completed; other specifiers (packages, node:) untouched. */
export function completeSpecifiers(fromFile: string, code: string, kind: EmittedKind, exists?: (path: string) => boolean): string {
  return code.replace(SPECIFIER, (_all, lead: string, quote: string, spec: string) => `${lead}${quote}${completeSpecifier(fromFile, spec, kind, exists)}${quote}`);
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}
