/**
 * scripts/pack: the pure parts of packing — completing relative specifiers for Node's ESM
 * loader, and the packed manifest derived from the repo's. The whole build, install and
 * mocked evaluation outside the monorepo is scripts/pack/consumer-check.ts (run by npm test).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { builtPaths, checkChangelog, checkImportsDeclared, importedPackages, publishedManifest, type RepoManifest } from "../../../scripts/pack/manifest.js";
import { completeSpecifier, completeSpecifiers } from "../../../scripts/pack/specifiers.js";

const files = (...paths: string[]) => (p: string) => paths.includes(p);

describe("completeSpecifiers", () => {
  const exists = files("/d/config.js", "/d/config.d.ts", "/d/sub/index.js", "/d/sub/index.d.ts", "/d/already.js", "/up.js", "/up.d.ts");

  it("completes file and directory specifiers in every import form tsc emits, and leaves packages alone", () => {
    const code = [
      `import { a } from "./config";`,
      `export * from "./sub";`,
      `import("./config").then(() => 0);`,
      `const x = require("./sub");`,
      `import "./already.js";`,
      `import { z } from "zod";`,
      `import * as fs from "node:fs";`,
      `export { u } from "../up";`,
    ].join("\n");
    expect(completeSpecifiers("/d/index.js", code, "js", exists)).toBe(
      [
        `import { a } from "./config.js";`,
        `export * from "./sub/index.js";`,
        `import("./config.js").then(() => 0);`,
        `const x = require("./sub/index.js");`,
        `import "./already.js";`,
        `import { z } from "zod";`,
        `import * as fs from "node:fs";`,
        `export { u } from "../up.js";`,
      ].join("\n"),
    );
  });

  it("checks declarations against the emitted .d.ts, not the .js", () => {
    expect(completeSpecifier("/d/index.d.ts", "./config", "dts", files("/d/config.d.ts"))).toBe("./config.js");
    expect(() => completeSpecifier("/d/index.d.ts", "./config", "dts", files("/d/config.js"))).toThrow(/names no emitted module/);
  });

  it("refuses a specifier that names no emitted file, naming the file and the specifier", () => {
    expect(() => completeSpecifiers("/d/index.js", `import { a } from "./missing";`, "js", exists)).toThrow('/d/index.js: the import "./missing" names no emitted module');
  });

  it("is idempotent: completing completed code changes nothing (property)", () => {
    const names = fc.constantFrom("./config", "./sub", "../up", "./already.js", "zod", "node:fs");
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("from ", "import(", "require("), names), { maxLength: 8 }), (parts) => {
        const code = parts.map(([lead, n]) => `${lead}"${n}"${lead === "from " ? ";" : ");"}`).join("\n");
        const once = completeSpecifiers("/d/index.js", code, "js", exists);
        expect(completeSpecifiers("/d/index.js", once, "js", exists)).toBe(once);
      }),
    );
  });
});

describe("publishedManifest", () => {
  const repo: RepoManifest = {
    name: "@octw/pulumi",
    version: "1.2.3",
    type: "module",
    license: "Apache-2.0",
    publishConfig: { access: "public" },
    exports: { ".": "./src/index.ts" },
    bin: { x: "./src/main.ts" },
    scripts: { t: "vitest" },
    dependencies: { "@octw/audit": "1.0.0", "@pulumi/pulumi": "3.270.0", tsx: "4.23.15", zod: "4.6.7" },
    devDependencies: { vitest: "4.1.12" },
  };
  const packed = new Map([["@octw/audit", "1.0.0"], ["@octw/pulumi", "1.2.3"]]);

  it("maps each exported source to ESM and CommonJS builds with their own declarations, types first", () => {
    const m = publishedManifest(repo, packed, { node: ">=22" });
    expect(m.exports).toEqual({
      ".": {
        import: { types: "./dist/esm/index.d.ts", default: "./dist/esm/index.js" },
        require: { types: "./dist/cjs/index.d.ts", default: "./dist/cjs/index.js" },
      },
      "./package.json": "./package.json",
    });
    expect(Object.keys((m.exports as Record<string, { import: object }>)["."]!.import)[0]).toBe("types");
    expect([m.main, m.types]).toEqual(["./dist/cjs/index.js", "./dist/cjs/index.d.ts"]);
    expect(m.dependencies).toEqual({ "@octw/audit": "1.0.0", zod: "4.6.7" });
    // one Pulumi SDK per program: the consumer's, at least the version built against
    expect(m.peerDependencies).toEqual({ "@pulumi/pulumi": "^3.270.0" });
    for (const k of ["bin", "scripts", "devDependencies"]) expect(m).not.toHaveProperty(k);
    expect(m.engines).toEqual({ node: ">=22" });
  });

  it("refuses an @octw dependency that is not packed, or packed at another version", () => {
    expect(() => publishedManifest(repo, new Map([["@octw/pulumi", "1.2.3"]]), undefined)).toThrow("@octw/pulumi: dependencies.@octw/audit is not packed (give @octw/audit's package.json a publishConfig)");
    expect(() => publishedManifest(repo, new Map([["@octw/audit", "1.0.1"]]), undefined)).toThrow("dependencies.@octw/audit is 1.0.0 but the packed @octw/audit is 1.0.1");
  });

  it("refuses a version that is not semver and an export that is not a source under ./src", () => {
    expect(() => publishedManifest({ ...repo, version: "1.2" }, packed, undefined)).toThrow(/version must be semver/);
    expect(() => builtPaths("./lib/index.js")).toThrow(`exports: "./lib/index.js" is not a TypeScript source under ./src`);
  });
});

describe("dependency and changelog checks", () => {
  it("finds the packages built code imports, without builtins or relative paths", () => {
    const code = `import a from "pg"; import { b } from "@pulumi/pulumi/runtime"; const c = require("node:fs"); import("./x.js"); import * as d from "crypto"; export * from "@octw/audit";`;
    expect([...importedPackages(code)].sort()).toEqual(["@octw/audit", "@pulumi/pulumi", "pg"]);
  });

  it("does not take words in comments or strings for imports (a doc comment saying from \"x\" to \"y\")", () => {
    const code = `/** switches fields from "not enforced" to "enforced" */\nconst s = 'import x from "zod"';\nimport { a } from "pg";`;
    expect([...importedPackages(code)]).toEqual(["pg"]);
  });

  it("refuses built code importing an undeclared package, naming package, file and fix", () => {
    expect(() => checkImportsDeclared("@octw/pulumi", "dist/esm/a.js", `import pg from "pg";`, { zod: "4.6.7" })).toThrow('@octw/pulumi: dist/esm/a.js imports "pg", which is not in its dependencies (add it, pinned, to package.json)');
    expect(() => checkImportsDeclared("@octw/pulumi", "dist/esm/a.js", `import pg from "pg";`, { pg: "8.23.1" })).not.toThrow();
  });

  it("requires a CHANGELOG section for the packed version", () => {
    expect(() => checkChangelog("@octw/x", "0.2.0", undefined)).toThrow(/CHANGELOG.md is missing/);
    expect(() => checkChangelog("@octw/x", "0.2.0", "# Changelog\n\n## 0.1.0\n")).toThrow('@octw/x: CHANGELOG.md has no "## 0.2.0" section');
    expect(() => checkChangelog("@octw/x", "0.2.0", "# Changelog\n\n## 0.2.0\n\n- x\n")).not.toThrow();
    expect(() => checkChangelog("@octw/x", "0.2.0", "## 0.2.01\n")).toThrow();
  });
});
