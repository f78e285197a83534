/**
 * Installs the packed libraries the way a newcomer's infra repo would and proves they work
 * there: for each project in test/consumer/ (cjs: the shape `pulumi new typescript` creates;
 * esm), a fresh directory outside the repository, only the packed tarballs and registry
 * packages installed, plain `tsc -p .`, then the program evaluated under mocks
 * (test/consumer/program/check.ts). Every @octw package must come from a tarball, never from
 * the registry. Temporary directories are removed afterwards; reruns start from scratch.
 *
 *   tsx scripts/pack/consumer-check.ts [--keep]
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { packAll } from "./pack.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const CONSUMERS = join(REPO, "test", "consumer");
const keep = process.argv.includes("--keep");

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}

/** The repository's installed version of a registry package: consumers test against the same. */
function repoVersion(pkg: string): string {
  return (JSON.parse(readFileSync(join(REPO, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
}

let started = Date.now();
const packed = await packAll(join(REPO, ".octw", "pack"));
console.log(`packed ${packed.map((p) => `${p.name}@${p.version}`).join(", ")} in ${seconds(started)}`);

const failures: string[] = [];
for (const flavour of readdirSync(CONSUMERS).filter((d) => d !== "program" && !d.includes("."))) {
  const dir = mkdtempSync(join(tmpdir(), `octw-consumer-${flavour}-`));
  try {
    cpSync(join(CONSUMERS, flavour), dir, { recursive: true });
    cpSync(join(CONSUMERS, "program"), dir, { recursive: true });
    const manifestPath = join(dir, "package.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Record<string, Record<string, string>>;
    for (const section of ["dependencies", "devDependencies"]) {
      for (const [dep, v] of Object.entries(manifest[section] ?? {})) if (v === "REPO") manifest[section]![dep] = repoVersion(dep);
    }
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);

    started = Date.now();
    // --ignore-scripts: nothing here needs an install script, and none should run unreviewed.
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", ...packed.map((p) => p.tarball)], dir);
    const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8")) as { packages: Record<string, { resolved?: string; version?: string }> };
    const octw = Object.entries(lock.packages).filter(([path]) => /(^|\/)node_modules\/@octw\//.test(path));
    for (const [path, entry] of octw) {
      if (!entry.resolved?.startsWith("file:")) failures.push(`${flavour}: ${path} was not installed from a packed tarball (resolved: ${entry.resolved ?? "?"})`);
    }
    const sdkCopies = Object.keys(lock.packages).filter((path) => /(^|\/)node_modules\/@pulumi\/pulumi$/.test(path));
    if (sdkCopies.length !== 1) failures.push(`${flavour}: ${sdkCopies.length} copies of @pulumi/pulumi installed (${sdkCopies.join(", ")}); a program needs exactly one`);
    const installTime = seconds(started);

    started = Date.now();
    run(process.execPath, [join(dir, "node_modules", "typescript", "bin", "tsc"), "-p", "."], dir);
    const tscTime = seconds(started);

    // Control: the declarations really type the program (a package typed `any` would pass any
    // program): a tenant id of the wrong type must be refused by the same tsc and tsconfig.
    writeFileSync(join(dir, "bad.ts"), `import { OpenClawPlatform } from "@octw/pulumi";\nnew OpenClawPlatform("bad", { images: { openclaw: "x", egressProxy: "x", postgres: "x" }, tenants: [{ id: 42 }] });\n`);
    writeFileSync(join(dir, "tsconfig.bad.json"), JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { noEmit: true }, files: ["bad.ts"] }));
    let refused = "";
    try {
      run(process.execPath, [join(dir, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.bad.json", "--pretty", "false"], dir);
    } catch (e) {
      refused = (e as Error).message;
    }
    if (!/bad\.ts\(2,\d+\): error TS2322/.test(refused)) failures.push(`${flavour}: tsc accepted a tenant id of type number (the declarations do not type the program):\n${refused}`);

    // The project's own module system picks the build: require → dist/cjs, import → dist/esm.
    const esm = (manifest.type as unknown) === "module";
    const resolver = esm ? ["--input-type=module", "-e", `console.log(import.meta.resolve("@octw/pulumi"))`] : ["-e", `console.log(require.resolve("@octw/pulumi"))`];
    const loaded = run(process.execPath, resolver, dir).trim();
    if (!loaded.includes(esm ? "/dist/esm/" : "/dist/cjs/")) failures.push(`${flavour}: @octw/pulumi resolved to ${loaded}, expected its ${esm ? "ESM" : "CommonJS"} build`);

    started = Date.now();
    const out = run(process.execPath, [join("bin", "check.js")], dir).trim();
    console.log(`${flavour}: npm install ${installTime} (${octw.length} @octw packages, all from tarballs, one @pulumi/pulumi), tsc ${tscTime} (control: a mistyped tenant id refused), mocks ${seconds(started)} (${loaded.replace(/^.*node_modules\//, "")}): ${out}`);
  } catch (e) {
    failures.push(`${flavour}: ${(e as Error).message}`);
  } finally {
    if (keep) console.log(`${flavour}: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
if (failures.length > 0) {
  console.error(`consumer check FAILED:\n${failures.join("\n")}`);
  process.exit(1);
}
