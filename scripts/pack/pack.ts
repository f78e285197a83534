/**
 * Builds and packs the library packages an infra repo installs: every workspace package
 * whose package.json has a `publishConfig`, in dependency order. For each:
 *   1. tsc twice from its sources — ESM (dist/esm) and CommonJS (dist/cjs, marked
 *      "type": "commonjs") — each with declarations; @octw dependencies resolve to the
 *      declarations just built for them, never to their sources, so each package's
 *      declarations stand on their own;
 *   2. relative specifiers completed for Node's ESM loader (specifiers.ts);
 *   3. the packed package.json (manifest.ts; the @types its declarations need become
 *      dependencies), after checking that every package the built code imports is a declared
 *      dependency and CHANGELOG.md has the version's section;
 *   4. `npm pack` of the staged directory.
 * Nothing in the monorepo needs this build: it runs the sources.
 *
 *   tsx scripts/pack/pack.ts [--out DIR]    (default .octw/pack; tarballs in DIR/tarballs)
 * Prints one JSON line per package: name, version, tarball path.
 */
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { checkChangelog, checkImportsDeclared, importedPackages, isPacked, publishedManifest, repoExports, type RepoManifest } from "./manifest.js";
import { completeSpecifiers } from "./specifiers.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(import.meta.url);
const TSC = require.resolve("typescript/bin/tsc");

interface Pkg {
  dir: string;
  manifest: RepoManifest;
}

export interface Packed {
  name: string;
  version: string;
  tarball: string;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/** Packed packages, each after its @octw dependencies. */
export function packedPackages(): Pkg[] {
  const all: Pkg[] = readdirSync(join(REPO, "packages"))
    .filter((d) => existsSync(join(REPO, "packages", d, "package.json")))
    .map((d) => ({ dir: join(REPO, "packages", d), manifest: readJson<RepoManifest>(join(REPO, "packages", d, "package.json")) }))
    .filter((p) => isPacked(p.manifest));
  const byName = new Map(all.map((p) => [p.manifest.name, p]));
  const ordered: Pkg[] = [];
  const visiting = new Set<string>();
  const visit = (p: Pkg) => {
    if (ordered.includes(p)) return;
    if (visiting.has(p.manifest.name)) throw new Error(`${p.manifest.name}: @octw dependency cycle`);
    visiting.add(p.manifest.name);
    for (const dep of Object.keys(p.manifest.dependencies ?? {})) {
      const d = byName.get(dep);
      if (d) visit(d);
    }
    ordered.push(p);
  };
  for (const p of all) visit(p);
  return ordered;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

function runTsc(tsconfig: string): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [TSC, "-p", tsconfig], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => (code === 0 ? ok() : fail(new Error(`tsc -p ${relative(REPO, tsconfig)} failed:\n${out}`))));
  });
}

/** The tsconfig of one flavour of one package's build, written into its stage. */
function writeBuildConfig(p: Pkg, stage: string, flavour: "esm" | "cjs", built: ReadonlyMap<string, string>): string {
  const paths: Record<string, string[]> = {};
  for (const dep of Object.keys(p.manifest.dependencies ?? {})) {
    const depStage = built.get(dep);
    if (!depStage) continue;
    const depManifest = readJson<RepoManifest>(join(depStage, "package.json"));
    const exportsMap = depManifest.exports as unknown as Record<string, { import: { types: string }; require: { types: string } } | string>;
    for (const [key, target] of Object.entries(exportsMap)) {
      if (typeof target === "string") continue;
      const spec = key === "." ? dep : `${dep}/${key.slice(2)}`;
      paths[spec] = [join(depStage, flavour === "esm" ? target.import.types : target.require.types)];
    }
  }
  const compilerOptions: Record<string, unknown> = {
    rootDir: join(p.dir, "src"),
    outDir: join(stage, "dist", flavour),
    noEmit: false,
    declaration: true,
    // The build must not see the monorepo's sources through the workspace links.
    paths,
    typeRoots: [join(REPO, "node_modules", "@types")],
    tsBuildInfoFile: null,
  };
  if (flavour === "cjs") {
    Object.assign(compilerOptions, { module: "CommonJS", moduleResolution: "Node10", verbatimModuleSyntax: false });
  }
  const config = {
    extends: join(REPO, "tsconfig.base.json"),
    compilerOptions,
    include: [join(p.dir, "src", "**", "*.ts")],
  };
  const file = join(stage, `tsconfig.${flavour}.json`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

async function buildOne(p: Pkg, stageRoot: string, tarballs: string, built: Map<string, string>, packed: ReadonlyMap<string, string>, engines: Record<string, string> | undefined): Promise<Packed> {
  const { name, version } = p.manifest;
  const stage = join(stageRoot, name.replace("/", "+"));
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  await Promise.all((["esm", "cjs"] as const).map((f) => runTsc(writeBuildConfig(p, stage, f, built))));
  for (const f of ["esm", "cjs"] as const) rmSync(join(stage, `tsconfig.${f}.json`));
  writeFileSync(join(stage, "dist", "cjs", "package.json"), `${JSON.stringify({ type: "commonjs" }, null, 2)}\n`);

  const manifest = publishedManifest(p.manifest, packed, engines);
  const emitted: { file: string; kind: "js" | "dts"; code: string }[] = [];
  for (const file of walk(join(stage, "dist"))) {
    const kind = file.endsWith(".d.ts") ? "dts" : file.endsWith(".js") ? "js" : undefined;
    if (!kind) continue;
    const code = completeSpecifiers(file, readFileSync(file, "utf8"), kind);
    writeFileSync(file, code);
    emitted.push({ file: relative(stage, file), kind, code });
  }
  promoteTypes(manifest, p.manifest, emitted.filter((b) => b.kind === "dts").map((b) => b.code));
  const dependencies = { ...(manifest.dependencies as Record<string, string>), ...((manifest.peerDependencies ?? {}) as Record<string, string>) };
  for (const b of emitted) {
    if (b.kind === "js") checkImportsDeclared(name, b.file, b.code, dependencies);
    else checkTypesDeclared(name, b.file, b.code, dependencies);
  }
  for (const source of Object.values(repoExports(p.manifest))) {
    const esm = join(stage, source.replace(/^\.\/src\//, "dist/esm/").replace(/\.ts$/, ".js"));
    if (!existsSync(esm)) throw new Error(`${name}: exports names ${source}, but tsc emitted no ${relative(stage, esm)}`);
  }
  const changelogPath = join(p.dir, "CHANGELOG.md");
  checkChangelog(name, version, existsSync(changelogPath) ? readFileSync(changelogPath, "utf8") : undefined);
  copyFileSync(changelogPath, join(stage, "CHANGELOG.md"));
  writeFileSync(join(stage, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  built.set(name, stage);

  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", tarballs], { cwd: stage, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const [info] = JSON.parse(out) as { filename: string }[];
  return { name, version, tarball: join(tarballs, info!.filename) };
}

/**
 * The @types packages the declarations need become dependencies of the packed manifest: the
 * repo keeps them as devDependencies (the services' images install production dependencies
 * only and need no types), but a consumer type-checking our declarations needs them.
 */
function promoteTypes(manifest: Record<string, unknown>, repo: RepoManifest, declarations: string[]): void {
  const deps = manifest.dependencies as Record<string, string>;
  for (const code of declarations) {
    for (const pkg of importedPackages(code)) {
      const types = `@types/${typesName(pkg)}`;
      const version = repo.devDependencies?.[types];
      if (pkg in deps && !shipsTypes(pkg) && version && !(types in deps)) deps[types] = version;
    }
  }
  manifest.dependencies = Object.fromEntries(Object.entries(deps).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * A declaration that imports a package needs that package's types at the consumer: the
 * package itself when it ships types, else its @types package, as a dependency (a consumer
 * type-checks our declarations unless it sets skipLibCheck; `pulumi new typescript` does not).
 */
function checkTypesDeclared(name: string, file: string, code: string, dependencies: Record<string, string>): void {
  for (const pkg of importedPackages(code)) {
    // Packed @octw dependencies ship their declarations (publishedManifest checked they are packed).
    if (pkg === name || (pkg.startsWith("@octw/") && pkg in dependencies)) continue;
    if (!(pkg in dependencies) && !(`@types/${pkg}` in dependencies)) {
      throw new Error(`${name}: ${file} uses the types of "${pkg}", which is not in its dependencies (add it, pinned, to package.json)`);
    }
    if (pkg in dependencies && !shipsTypes(pkg) && !(`@types/${typesName(pkg)}` in dependencies)) {
      throw new Error(`${name}: ${file} uses the types of "${pkg}", which ships none: add @types/${typesName(pkg)} (pinned) to its devDependencies; packing makes it a dependency`);
    }
  }
}

function typesName(pkg: string): string {
  return pkg.startsWith("@") ? pkg.slice(1).replace("/", "__") : pkg;
}

function shipsTypes(pkg: string): boolean {
  const m = readJson<{ types?: string; typings?: string; exports?: unknown }>(join(REPO, "node_modules", pkg, "package.json"));
  return Boolean(m.types ?? m.typings) || existsSync(join(REPO, "node_modules", pkg, "index.d.ts")) || JSON.stringify(m.exports ?? {}).includes('"types"');
}

export async function packAll(out: string): Promise<Packed[]> {
  const pkgs = packedPackages();
  const engines = readJson<{ engines?: Record<string, string> }>(join(REPO, "package.json")).engines;
  const packed = new Map(pkgs.map((p) => [p.manifest.name, p.manifest.version]));
  const stageRoot = join(out, "stage");
  const tarballs = join(out, "tarballs");
  rmSync(stageRoot, { recursive: true, force: true });
  rmSync(tarballs, { recursive: true, force: true });
  mkdirSync(tarballs, { recursive: true });
  const built = new Map<string, string>();
  const result: Packed[] = [];
  for (const p of pkgs) result.push(await buildOne(p, stageRoot, tarballs, built, packed, engines));
  return result;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--out");
  const out = resolve(i > 0 ? process.argv[i + 1]! : join(REPO, ".octw", "pack"));
  const started = Date.now();
  const packed = await packAll(out);
  for (const p of packed) console.log(JSON.stringify(p));
  console.error(`packed ${packed.length} packages in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
