/**
 * The package.json a packed library ships, derived from its package.json in the monorepo.
 * Inside the monorepo every package exports its TypeScript source ("./src/index.ts") and
 * nothing is built: tsx, vitest, tsc and the images run the sources. The packed manifest
 * maps each of those exports to the built files instead — ESM and CommonJS, each with its
 * own declarations — so one source of truth (the repo's `exports`) decides both.
 * A package opts into packing by having a `publishConfig`.
 */
import { builtinModules } from "node:module";
import ts from "typescript";

export interface RepoManifest {
  name: string;
  version: string;
  description?: string;
  type?: string;
  license?: string;
  exports?: Record<string, string>;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
  publishConfig?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface BuiltPaths {
  /** the source file, relative to the package ("./src/index.ts") */
  source: string;
  esm: { types: string; default: string };
  cjs: { types: string; default: string };
}

const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
// Only the runner of the monorepo's TypeScript entry points (bins, healthchecks in images);
// nothing packed imports it, which `checkImportsDeclared` proves on the emitted code.
const MONOREPO_ONLY_DEPENDENCIES = new Set(["tsx"]);
// The Pulumi SDK must be one copy in a program (its runtime state, resource classes and
// `instanceof` checks are per copy): the packed libraries share the consumer's, any 3.x at least
// as new as the one they were built against, instead of pinning their own.
const SHARED_WITH_CONSUMER = new Set(["@pulumi/pulumi"]);

/** Where tsc puts the build of one exported source file. */
export function builtPaths(source: string): BuiltPaths {
  const m = /^\.\/src\/(.+)\.ts$/.exec(source);
  if (!m) throw new Error(`exports: "${source}" is not a TypeScript source under ./src (allowed: ./src/<path>.ts)`);
  const stem = m[1]!;
  return {
    source,
    esm: { types: `./dist/esm/${stem}.d.ts`, default: `./dist/esm/${stem}.js` },
    cjs: { types: `./dist/cjs/${stem}.d.ts`, default: `./dist/cjs/${stem}.js` },
  };
}

export function isPacked(m: RepoManifest): boolean {
  return m.publishConfig !== undefined;
}

/** The exports map of the repo manifest (`"exports": "./src/index.ts"` means `{".": …}`). */
export function repoExports(m: RepoManifest): Record<string, string> {
  const e = m.exports as unknown;
  if (typeof e === "string") return { ".": e };
  if (e && typeof e === "object") return e as Record<string, string>;
  throw new Error(`${m.name}: package.json has no exports (a packed package must export ./src/<path>.ts)`);
}

/**
 * The packed manifest. `packed` maps every packed package's name to its version: an @octw
 * dependency must be packed too, at exactly the version depended on, or a consumer's
 * install would look for it in the registry.
 */
export function publishedManifest(m: RepoManifest, packed: ReadonlyMap<string, string>, engines: Record<string, string> | undefined): Record<string, unknown> {
  if (!SEMVER.test(m.version)) throw new Error(`${m.name}: version must be semver (MAJOR.MINOR.PATCH[-pre]), see its CHANGELOG.md`);
  const dependencies: Record<string, string> = {};
  const peerDependencies: Record<string, string> = {};
  for (const [dep, range] of Object.entries(m.dependencies ?? {})) {
    if (MONOREPO_ONLY_DEPENDENCIES.has(dep)) continue;
    if (SHARED_WITH_CONSUMER.has(dep)) {
      peerDependencies[dep] = /^\d/.test(range) ? `^${range}` : range;
      continue;
    }
    if (dep.startsWith("@octw/")) {
      const version = packed.get(dep);
      if (version === undefined) throw new Error(`${m.name}: dependencies.${dep} is not packed (give ${dep}'s package.json a publishConfig)`);
      if (version !== range) throw new Error(`${m.name}: dependencies.${dep} is ${range} but the packed ${dep} is ${version} (depend on exactly the packed version)`);
    }
    dependencies[dep] = range;
  }
  const exports: Record<string, unknown> = {};
  for (const [key, source] of Object.entries(repoExports(m))) {
    const b = builtPaths(source);
    // `types` first inside each condition: TypeScript takes the first match.
    exports[key] = { import: b.esm, require: b.cjs };
  }
  exports["./package.json"] = "./package.json";
  const root = builtPaths(repoExports(m)["."] ?? "");
  const { devDependencies: _dev, scripts: _scripts, bin: _bin, exports: _exports, dependencies: _deps, ...rest } = m;
  return {
    ...rest,
    // Node10 resolution (the `pulumi new typescript` tsconfig) reads only main/types.
    main: root.cjs.default,
    types: root.cjs.types,
    exports,
    files: ["dist", "CHANGELOG.md"],
    ...(engines ? { engines } : {}),
    dependencies,
    ...(Object.keys(peerDependencies).length ? { peerDependencies } : {}),
  };
}

/** Bare specifiers a built file imports (`pkg`, `@scope/pkg`, subpaths cut), builtins excluded. */
export function importedPackages(code: string): Set<string> {
  const out = new Set<string>();
  // TypeScript's own pre-processor: imports, exports-from, require() and import() — never text
  // in a comment or a string that only looks like one (`from "not enforced" to "enforced"`).
  const specs = ts.preProcessFile(code, true, true).importedFiles.map((f) => f.fileName);
  for (const spec of specs) {
    if (spec.startsWith(".") || spec.startsWith("/")) continue;
    if (spec.startsWith("node:") || builtinModules.includes(spec.split("/")[0]!)) continue;
    const parts = spec.split("/");
    out.add(spec.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!);
  }
  return out;
}

/** Every package the built code imports is a declared dependency (or peer) of the packed manifest. */
export function checkImportsDeclared(name: string, file: string, code: string, dependencies: Record<string, string>): void {
  for (const pkg of importedPackages(code)) {
    if (!(pkg in dependencies) && pkg !== name) throw new Error(`${name}: ${file} imports "${pkg}", which is not in its dependencies (add it, pinned, to package.json)`);
  }
}

/** The CHANGELOG has a section for the version being packed. */
export function checkChangelog(name: string, version: string, changelog: string | undefined): void {
  if (changelog === undefined) throw new Error(`${name}: CHANGELOG.md is missing (a packed package keeps one, a "## ${version}" section per release)`);
  const escaped = version.replace(/[.+-]/g, "\\$&");
  if (!new RegExp(`^## \\[?${escaped}\\]?(\\s|$)`, "m").test(changelog)) throw new Error(`${name}: CHANGELOG.md has no "## ${version}" section for the version in package.json`);
}
