// The plan comments the pull-request workflow (examples/github-pr-preview) posts, from the
// realized deployment (test/realize/deployment.ts: the engine's step generation and the
// providers' diffs, on the real Docker engine): the local stack's two tenants are deployed, then
// two pull requests are previewed against that state —
//  - "add a tenant": a third tenant in the stack file;
//  - "approve one egress destination": the stack file as `octw approvals approve` leaves it
//    (approveInStackFile: one allow rule in one tenant's policy, nothing else in the file).
// Each plan is printed as the comment, and the example's README must show exactly it.
// Needs: DOCKER_HOST, OCTW_TEST_PG_URL, images OPENCLAW, EGRESS, POSTGRES, EDGE, INFERENCE_ROUTER.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import type Dockerode from "dockerode";
import { OpenClawPlatform, type OpenClawPlatformArgs } from "@octw/pulumi";
import { approveInStackFile } from "../../packages/cli/src/commands/approvals";
import { newRunId, sweepDeadRuns } from "../realize/index";
import { createDeployment, type Deployment, type Plan } from "../realize/deployment";
import { stackForRun } from "../realize/stack-for-run";
import { engine, requireEnv } from "./env";

const runId = newRunId();
const prefix = `octw-${runId}`;
const h = (parseInt(runId.slice(1, 3), 16) % 200) + 20;
const edgePort = 20000 + (parseInt(runId.slice(3, 7), 16) % 10000);
const STACK_FILE = new URL("../../stacks/Pulumi.local.yaml", import.meta.url);
const README = new URL("../../examples/github-pr-preview/README.md", import.meta.url);

let dk: Dockerode;
let dep: Deployment;
let base: OpenClawPlatformArgs;
const comments: string[] = [];

type Platform = OpenClawPlatformArgs;

/** The platform config of a stack file's text, pointed at this run's names, addresses and images. */
async function forThisRun(stackText: string): Promise<Platform> {
  return (await stackForRun(stackText, { runId, prefix, h, edgePort }, "pr-preview", requireEnv)).config;
}

const program = (cfg: Platform) => () => {
  new OpenClawPlatform("local", cfg);
};

function comment(title: string, plan: Plan): string {
  const t = plan.table(title);
  comments.push(t);
  console.log(t);
  return t;
}

/** The README shows the comment exactly (so the example never drifts from what the workflow posts). */
function expectInReadme(t: string): void {
  const readme = readFileSync(README, "utf8");
  expect(readme.includes(t), `examples/github-pr-preview/README.md does not show this plan comment; replace the block with:\n\n${t}\n`).toBe(true);
}

beforeAll(async () => {
  dk = await engine();
  await sweepDeadRuns(dk);
  base = await forThisRun(readFileSync(STACK_FILE, "utf8"));
  dep = createDeployment({
    runId, docker: dk, project: "octw", stack: "local",
    defaultPostgresUrl: requireEnv("OCTW_TEST_PG_URL"),
    log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[deploy] ${l}`),
  });
  const first = await dep.up(program(base));
  expect(first.counts().create).toBeGreaterThan(30);
}, 900_000);

afterAll(async () => {
  // `pulumi destroy` first (roles before the embedded Postgres they live in), then the sweep
  if (dep) await dep.destroy().finally(() => dep.cleanup());
  if (comments.length) console.log(`\n[pr-preview] plan comments:\n\n${comments.join("\n\n")}`);
}, 300_000);

describe("the plan comment of a pull request", () => {
  it("add a tenant: only its resources are created, nothing else changes", async () => {
    const cfg: Platform = { ...base, tenants: [...(base.tenants ?? []), { id: "charlie", slot: 3, presets: ["restricted"] }] };
    const plan = await dep.preview(program(cfg));
    const t = comment("pulumi preview: add tenant charlie", plan);
    const changed = plan.changed().filter((s) => s.custom);
    expect(changed.filter((s) => s.op === "create").length).toBeGreaterThan(5);
    for (const s of changed.filter((x) => x.op === "create")) expect(s.name, `${s.type} ${s.name}`).toMatch(/charlie/);
    // charlie uses no model, so the router's tenant list (ServiceConfigFile) stays as it is
    expect(changed.filter((s) => s.op !== "create").map((s) => `${s.op} ${s.name}`)).toEqual([]);
    expectInReadme(t);
  });

  it("approve one egress destination: only that tenant's egress proxy changes", async () => {
    const { text, policyKey } = approveInStackFile(readFileSync(STACK_FILE, "utf8"), "bravo", { host: "api.weather.example.org", port: 443 });
    expect(policyKey).toBe("approved_api_weather_example_org_443");
    const approved = await forThisRun(text);
    const cfg: Platform = { ...base, tenants: approved.tenants };
    const plan = await dep.preview(program(cfg));
    const t = comment("pulumi preview: approve api.weather.example.org:443 for tenant bravo", plan);
    const changed = plan.changed().filter((s) => s.custom);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.map((s) => s.name).sort()).toEqual(["local-bravo-proxy"]);
    expectInReadme(t);
  });
});
