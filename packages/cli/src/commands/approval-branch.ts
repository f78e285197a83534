/**
 * `octw approvals approve --branch`: the approval as a branch whose only change is the tenant's
 * policy in the stack file, ready to push and open as a pull request (whose preview, with the
 * policy pack, shows only that tenant's egress proxy changing).
 *
 * The commit is built with git's plumbing (hash-object, a throw-away index, write-tree,
 * commit-tree) on top of HEAD: the operator's working tree, index and checked-out branch are
 * not touched, and nothing else they have changed can slip into the commit.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import type { Destination } from "./approvals";

const run = promisify(execFile);

async function git(cwd: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  try {
    if (options.input !== undefined) {
      // promisified execFile takes no stdin; hash-object --stdin gets the text through spawn
      return await new Promise((ok, fail) => {
        const child = spawn("git", args, { cwd, env: { ...process.env, ...options.env } });
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        child.on("close", (code) => (code === 0 ? ok(out.trim()) : fail(new Error(err.trim() || `git ${args[0]} exited ${code}`))));
        child.stdin.end(options.input);
      });
    }
    const { stdout } = await run("git", args, { cwd, env: { ...process.env, ...options.env } });
    return stdout.trim();
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`git ${args[0]}: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** A ref-safe default branch name: octw/approve-<tenant>-<host>-<port>. */
export function approvalBranchName(tenant: string, d: Destination): string {
  return `octw/approve-${tenant}-${d.host.replace(/[^a-z0-9]+/g, "-")}-${d.port}`;
}

export interface PreparedBranch {
  branch: string;
  commit: string;
  /** the stack file's path inside the repository */
  path: string;
}

/**
 * Commits `text` as the new content of `stackFile` on a new branch off HEAD. Refuses when the
 * stack file has uncommitted changes (the approval must be made against what HEAD has), or the
 * branch exists.
 */
export async function prepareApprovalBranch(opts: { stackFile: string; text: string; branch: string; message: string }): Promise<PreparedBranch> {
  const dir = dirname(resolve(opts.stackFile));
  const root = await git(dir, ["rev-parse", "--show-toplevel"]).catch(() => {
    throw new Error(`--branch: ${opts.stackFile} is not in a git repository`);
  });
  const path = relative(root, resolve(opts.stackFile)).split("\\").join("/");
  if (await git(root, ["status", "--porcelain", "--", path])) {
    throw new Error(`--branch: ${path} has uncommitted changes; commit or stash them first (the branch is made from HEAD and holds only the approval)`);
  }
  await git(root, ["check-ref-format", "--branch", opts.branch]).catch(() => {
    throw new Error(`--branch: "${opts.branch}" is not a valid branch name`);
  });
  if (await git(root, ["rev-parse", "--verify", "--quiet", `refs/heads/${opts.branch}`]).catch(() => "")) {
    throw new Error(`--branch: branch ${opts.branch} already exists; pick another name with --branch <name>`);
  }
  const entry = await git(root, ["ls-tree", "HEAD", "--", path]);
  const mode = /^(\d{6}) blob /.exec(entry)?.[1];
  if (!mode) throw new Error(`--branch: ${path} is not committed at HEAD`);

  const blob = await git(root, ["hash-object", "-w", "--stdin"], { input: opts.text });
  const scratch = await mkdtemp(join(tmpdir(), "octw-approval-index-"));
  try {
    const env = { GIT_INDEX_FILE: join(scratch, "index") };
    await git(root, ["read-tree", "HEAD"], { env });
    await git(root, ["update-index", "--cacheinfo", `${mode},${blob},${path}`], { env });
    const tree = await git(root, ["write-tree"], { env });
    const commit = await git(root, ["commit-tree", tree, "-p", "HEAD", "-m", opts.message]);
    await git(root, ["branch", opts.branch, commit]);
    return { branch: opts.branch, commit, path };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
