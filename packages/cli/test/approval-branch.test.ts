// `octw approvals approve --branch`: the approval lands on a new branch whose only change is the
// tenant's policy in the stack file; the operator's working tree, index and checked-out branch
// are untouched, so nothing else they changed can slip into the pull request.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { approvalBranchName, prepareApprovalBranch } from "../src/commands/approval-branch";
import { approveInStackFile } from "../src/commands/approvals";

const LOCAL_STACK = readFileSync(fileURLToPath(new URL("../../../stacks/Pulumi.local.yaml", import.meta.url)), "utf8");
const D = { host: "api.weather.example.org", port: 443 };
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.invalid", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.invalid" } }).trim();
}

/** A repository with the local stack file and one other file committed on main. */
function repo(): string {
  const dir = mkdtempSync(join(tmpdir(), "octw-approval-branch-"));
  dirs.push(dir);
  git(dir, "init", "-q", "-b", "main");
  mkdirSync(join(dir, "stacks"));
  writeFileSync(join(dir, "stacks", "Pulumi.local.yaml"), LOCAL_STACK);
  writeFileSync(join(dir, "README.md"), "infra\n");
  git(dir, "add", ".");
  git(dir, "commit", "-q", "-m", "base");
  return dir;
}

function prepare(dir: string, branch = approvalBranchName("bravo", D)) {
  const file = join(dir, "stacks", "Pulumi.local.yaml");
  const { text } = approveInStackFile(readFileSync(file, "utf8"), "bravo", D);
  return prepareApprovalBranch({ stackFile: file, text, branch, message: "approve\n" });
}

type Platform = { config: { "octw:platform": { tenants: { id: string; policy?: unknown }[] } & Record<string, unknown> } & Record<string, unknown> };

describe("approval branch", () => {
  it("commits only the tenant's policy change on a new branch off HEAD, leaving the working tree alone", async () => {
    const dir = repo();
    // the operator has other work in progress: a staged and an unstaged change
    writeFileSync(join(dir, "README.md"), "infra, edited\n");
    writeFileSync(join(dir, "notes.txt"), "staged\n");
    git(dir, "add", "notes.txt");
    const prepared = await prepare(dir);

    expect(prepared.branch).toBe("octw/approve-bravo-api-weather-example-org-443");
    expect(git(dir, "rev-parse", `${prepared.branch}^`)).toBe(git(dir, "rev-parse", "main"));
    expect(git(dir, "diff", "--name-only", "main", prepared.branch)).toBe("stacks/Pulumi.local.yaml");
    // everything but bravo's policy is as on main
    const before = parse(git(dir, "show", "main:stacks/Pulumi.local.yaml")) as Platform;
    const after = parse(git(dir, "show", `${prepared.branch}:stacks/Pulumi.local.yaml`)) as Platform;
    const withoutBravoPolicy = (p: Platform) => ({ ...p, config: { ...p.config, "octw:platform": { ...p.config["octw:platform"], tenants: p.config["octw:platform"].tenants.map((t) => (t.id === "bravo" ? { ...t, policy: "-" } : t)) } } });
    expect(withoutBravoPolicy(after)).toEqual(withoutBravoPolicy(before));
    expect(JSON.stringify(after.config["octw:platform"].tenants.find((t) => t.id === "bravo")!.policy)).toContain("api.weather.example.org");
    expect(JSON.stringify(before.config["octw:platform"].tenants.find((t) => t.id === "bravo")!.policy)).not.toContain("api.weather.example.org");
    // the operator's state: same branch, same working tree, same index
    expect(git(dir, "branch", "--show-current")).toBe("main");
    expect(readFileSync(join(dir, "stacks", "Pulumi.local.yaml"), "utf8")).toBe(LOCAL_STACK);
    // (the helper trims the leading blank of " M README.md")
    expect(git(dir, "status", "--porcelain")).toBe("M README.md\nA  notes.txt");
  });

  it("refuses a stack file with uncommitted changes, an existing branch, an invalid name, a file outside git", async () => {
    const dir = repo();
    await prepare(dir);
    await expect(prepare(dir)).rejects.toThrow("--branch: branch octw/approve-bravo-api-weather-example-org-443 already exists");
    await expect(prepare(dir, "bad..name")).rejects.toThrow('--branch: "bad..name" is not a valid branch name');
    writeFileSync(join(dir, "stacks", "Pulumi.local.yaml"), `${LOCAL_STACK}\n# local edit\n`);
    await expect(prepare(dir, "other")).rejects.toThrow("--branch: stacks/Pulumi.local.yaml has uncommitted changes");
    const outside = mkdtempSync(join(tmpdir(), "octw-approval-nogit-"));
    dirs.push(outside);
    writeFileSync(join(outside, "Pulumi.local.yaml"), LOCAL_STACK);
    await expect(prepareApprovalBranch({ stackFile: join(outside, "Pulumi.local.yaml"), text: LOCAL_STACK, branch: "x", message: "m" })).rejects.toThrow("is not in a git repository");
  });
});
