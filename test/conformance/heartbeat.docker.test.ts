// OpenClaw's heartbeat cadence as the platform writes it (heartbeatEveryS →
// agents.defaults.heartbeat.every in openclaw.json, packages/pulumi/src/planners/heartbeat.ts),
// on a real OpenClaw gateway: the heartbeat is a row of the `cron_jobs` table the waker reads,
// so what counts is what that row says after the gateway started with the config. One gateway,
// started three times on one state volume: OpenClaw's default (control), the platform's `0`
// (off), and an interval.
//
// Needs: DOCKER_HOST, OCTW_IMAGE_OPENCLAW. Missing = failure.
import { randomBytes } from "node:crypto";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderOpenClawConfig } from "../../packages/pulumi/src/planners/openclaw-config";
import { jobTimes, type JobRow } from "../../packages/waker/src/jobs";
import { engine, requireEnv } from "./env";
import { gatewayHostConfig, TEST_GATEWAY_USER, writeGatewayState } from "./openclaw-test-gateway";
import { execIn } from "./probe-exec";

const RUN = `octwt-hb-${randomBytes(3).toString("hex")}`;
const GW_TOKEN = randomBytes(24).toString("hex");
const MIN = 60_000;

let docker: Dockerode;
let image: string;
let volume: string;
let gw: Dockerode.Container | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The config the test gateway runs with: token auth on loopback (no edge here), plus exactly the `agents` section the platform renders. */
function configFor(heartbeatEveryS: number | undefined): string {
  const platform = JSON.parse(renderOpenClawConfig({ edgeAddress: "10.64.0.34", allowedOrigins: [], ...(heartbeatEveryS !== undefined ? { heartbeatEveryS } : {}) })) as { agents?: unknown };
  return JSON.stringify({ gateway: { mode: "local", bind: "loopback", auth: { mode: "token", token: GW_TOKEN } }, ...(platform.agents ? { agents: platform.agents } : {}) });
}

async function writeConfig(heartbeatEveryS: number | undefined): Promise<void> {
  await writeGatewayState(docker, image, volume, configFor(heartbeatEveryS), RUN);
}

async function startGateway(): Promise<number> {
  const c = await docker.createContainer({
    name: `${RUN}-gateway`,
    Image: image,
    Labels: { "octw.test": RUN },
    User: TEST_GATEWAY_USER,
    HostConfig: gatewayHostConfig(volume),
  });
  gw = c;
  const startedAt = Date.now();
  await c.start();
  const end = Date.now() + 240_000;
  for (;;) {
    const r = await execIn(docker, c.id, ["node", "-e", "fetch('http://127.0.0.1:18789/healthz').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"], { timeoutMs: 15_000 }).catch(() => undefined);
    if (r?.exitCode === 0) return startedAt;
    if (Date.now() > end) throw new Error("the gateway never answered /healthz");
    await sleep(1_000);
  }
}

async function removeGateway(): Promise<void> {
  if (!gw) return;
  await gw.stop({ t: 20 }).catch(() => {});
  await gw.remove({ force: true }).catch(() => {});
  gw = undefined;
}

interface CronRow extends JobRow {
  job_id: string;
  name: string;
  job_json: string;
}

/** Every row of cron_jobs, read inside the gateway as its own user (read-only). */
async function cronRows(): Promise<CronRow[]> {
  const script =
    "const {DatabaseSync}=require('node:sqlite');const d=new DatabaseSync('/var/lib/openclaw/state/openclaw.sqlite',{readOnly:true});" +
    "process.stdout.write(JSON.stringify(d.prepare('SELECT job_id,name,enabled,job_json,state_json FROM cron_jobs').all()))";
  const r = await execIn(docker, gw!.id, ["node", "-e", script], { timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`reading cron_jobs failed: ${r.stderr.slice(0, 300)}`);
  return JSON.parse(r.stdout) as CronRow[];
}

/** The heartbeat's row (OpenClaw: one system job per heartbeat-enabled agent, "heartbeat-<agent>"), polled until OpenClaw wrote the config through. */
async function heartbeat(want: (row: CronRow | undefined) => boolean): Promise<{ row: CronRow | undefined; all: CronRow[] }> {
  const end = Date.now() + 60_000;
  for (;;) {
    const all = await cronRows();
    const row = all.find((r) => r.job_id.startsWith("heartbeat") || /^heartbeat/i.test(r.name));
    if (want(row) || Date.now() > end) return { row, all };
    await sleep(2_000);
  }
}

const nextRunAt = (row: CronRow) => (JSON.parse(String(row.state_json)) as { nextRunAtMs?: number }).nextRunAtMs;
const everyMs = (row: CronRow) => (JSON.parse(row.job_json) as { schedule?: { everyMs?: number } }).schedule?.everyMs;

beforeAll(async () => {
  docker = await engine();
  image = requireEnv("OCTW_IMAGE_OPENCLAW");
  volume = `${RUN}-state`;
  await docker.createVolume({ Name: volume, Labels: { "octw.test": RUN } });
}, 60_000);

afterAll(async () => {
  await removeGateway();
  if (volume) await docker.getVolume(volume).remove().catch(() => {});
});

describe("the platform's heartbeat interval on a real OpenClaw gateway", () => {
  it("control: without the key OpenClaw's heartbeat is an enabled job every 30 min — a suspended tenant would be woken for it", async () => {
    await writeConfig(undefined);
    const startedAt = await startGateway();
    const { row, all } = await heartbeat((r) => r?.enabled === 1);
    console.log(`heartbeat (OpenClaw default): ${JSON.stringify(all.map((r) => ({ id: r.job_id, name: r.name, enabled: r.enabled, every: everyMs(r), nextRunInS: Math.round(((nextRunAt(r) ?? 0) - Date.now()) / 1000) })))}`);
    expect(row).toBeDefined();
    expect(row!.enabled).toBe(1);
    expect(everyMs(row!)).toBe(30 * MIN);
    expect(nextRunAt(row!)).toBeGreaterThan(startedAt);
    expect(nextRunAt(row!)).toBeLessThanOrEqual(Date.now() + 30 * MIN);
    // and it is what the waker would wake the tenant for (its nextDue is at most the heartbeat's)
    expect(jobTimes(all, Date.now(), 3_600_000).nextDueMs).toBeLessThanOrEqual(nextRunAt(row!)!);
    await removeGateway();
  });

  it("heartbeatEveryS 0 (the suspendable default): the heartbeat row is disabled, so the waker does not wake the tenant for it", async () => {
    await writeConfig(0);
    await startGateway();
    const { row, all } = await heartbeat((r) => r === undefined || r.enabled === 0);
    console.log(`heartbeat (0m): ${JSON.stringify(all.map((r) => ({ id: r.job_id, name: r.name, enabled: r.enabled, every: everyMs(r), nextRunInS: Math.round(((nextRunAt(r) ?? 0) - Date.now()) / 1000) })))}`);
    expect(row === undefined || row.enabled === 0).toBe(true);
    // the waker's fold ignores it: whatever is still due is another job's, never the heartbeat's
    const rest = all.filter((r) => r !== row);
    expect(jobTimes(all, Date.now(), 3_600_000)).toEqual(jobTimes(rest, Date.now(), 3_600_000));
    await removeGateway();
  });

  it("heartbeatEveryS 420: the heartbeat is enabled again with a 7-minute cadence and its next run follows it", async () => {
    await writeConfig(420);
    const startedAt = await startGateway();
    const { row } = await heartbeat((r) => r?.enabled === 1 && everyMs(r) === 7 * MIN);
    expect(row).toBeDefined();
    console.log(`heartbeat (7m): every ${everyMs(row!)} ms, next run in ${Math.round((nextRunAt(row!)! - Date.now()) / 1000)} s`);
    expect(row!.enabled).toBe(1);
    expect(everyMs(row!)).toBe(7 * MIN);
    expect(nextRunAt(row!)).toBeGreaterThan(startedAt);
    expect(nextRunAt(row!)).toBeLessThanOrEqual(Date.now() + 7 * MIN);
  });
});
