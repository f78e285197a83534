// `octw tenant move` with a real OpenClaw gateway holding a conversation (issue 13's move check;
// tenant-move.docker.test.ts does the same with a stand-in gateway, for every interruption point).
// Host "a" is this test's engine, host "b" a second dockerd in a network namespace with TLS. On
// each, the test creates an internal network with a fake OpenAI-compatible model provider (a node
// script in the OpenClaw image: it records every request body and answers "ack:<nonce>" for the
// nonce of the last user message). The tenant's gateway is the locally built OpenClaw image,
// hardened (read-only root, no capability, its own user), named and mounted as the CLI expects
// (`<prefix>-<tenant>-gateway` on `<prefix>-<tenant>-state`), its config pointing at the
// provider's address, which is the same on both hosts (as a tenant's address plan is).
//
// The conversation goes through the gateway process: `openclaw agent --session-id <fixed>` run
// inside the container talks to the gateway over its loopback WebSocket with the gateway's token
// (not `--local`, which would run the turn in the CLI process), so the gateway is the one that
// writes the session's transcript into its state volume. Two turns on A, the move, a third turn
// on B: the provider on B must receive turns 1 and 2 (both user messages and both of the
// provider's own answers) in the request of turn 3. A turn still running when the move begins
// (the provider holds its answer back) is drained by OpenClaw on the quiesce's SIGTERM: it
// completes on A and its answer is part of the history on B.
//
// Needs: DOCKER_HOST, OCTW_IMAGE_OPENCLAW, OCTW_TEST_PG_URL. Missing = failure.
import { cpus } from "node:os";
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type Dockerode from "dockerode";
import pg from "pg";
import type { Engine } from "../../packages/cli/src/backup/engine";
import { gatewayName, stateVolumeName } from "../../packages/cli/src/backup/volume";
import { MoveStopped, moveTenant, readJournal, rollbackMove, type MoveOptions } from "../../packages/cli/src/backup/move";
import type { TarEntry } from "../../packages/cli/src/backup/tar-index";
import { directAudit } from "../../packages/cli/src/commands/connection";
import { octw } from "../../packages/cli/test/run-octw";
import { openclawModelsConfig, parseInferencePolicy } from "@octw/contracts";
import { requireEnv } from "./env";
import { execIn } from "./probe-exec";
import { gatewayHostConfig, TEST_GATEWAY_USER } from "./openclaw-test-gateway";
import { moveRun, runToEnd, SEED_MARKERS, startMoveHosts, stopMoveHosts, volumeIndex, type MoveHosts } from "./tenant-move-hosts";

const run = moveRun("oc");
const { prefix, dir, key, labels, report } = run;
const TENANTS = ["oc", "ocrb", "ocsw", "ockill"];
const SESSION = "octw-move-conversation";
const GATEWAY_TOKEN = randomBytes(24).toString("hex");
const GATEWAY_UID = Number(TEST_GATEWAY_USER.split(":")[0]);
// one /28 per run, the same on both hosts: the provider's address is in the moved config
const third = 1 + (parseInt(run.runId.slice(-4), 16) % 250);
const SUBNET = `10.252.${third}.0/28`;
const PROVIDER_IP = `10.252.${third}.2`;
const NETWORK = `${prefix}-net`;
const STATE_DIR = "/var/lib/openclaw";

let hosts: Partial<MoveHosts> = {};
let h: MoveHosts;
let image: string;
let pool: pg.Pool;

/** The fake provider: records each request's body; answers in OpenAI's streamed chat-completions format — an agent turn whose message says "(slow)" after SLOW_MS. */
const SLOW_MS = 6_000;
const PROVIDER = `
const http = require("http"); const calls = [];
const text = (m) => typeof m.content === "string" ? m.content : Array.isArray(m.content) ? m.content.map((p) => p.text || "").join("") : "";
http.createServer((req, res) => {
  if (req.url === "/__calls") { res.end(JSON.stringify(calls)); return; }
  let b = ""; req.on("data", (c) => b += c); req.on("end", () => {
    let j = {}; try { j = JSON.parse(b); } catch {}
    calls.push({ at: Date.now(), path: req.url, body: j });
    const users = (j.messages || []).filter((m) => m.role === "user").map(text).filter((t) => !t.includes("INTERNAL_CONTEXT"));
    const nonce = ((users.at(-1) || "").match(/nonce-[a-z0-9-]+/) || ["none"])[0];
    const base = { id: "c" + calls.length, created: 1, model: j.model, object: "chat.completion.chunk" };
    setTimeout(() => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: " + JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "ack:" + nonce }, finish_reason: null }] }) + "\\n\\n");
      res.write("data: " + JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }) + "\\n\\n");
      res.end("data: [DONE]\\n\\n");
    }, j.tools && (users.at(-1) || "").includes("(slow)") ? ${SLOW_MS} : 0);
  });
}).listen(8080, "0.0.0.0");`;

/** The tenant's config: token auth on loopback (no edge here), the models the platform renders (openclawModelsConfig) with the provider in the router's place. */
function gatewayConfig(): string {
  const inference = parseInferencePolicy({ providers: [{ name: "openai", api: "openai", baseUrl: "https://provider.invalid", models: ["gpt-mv"] }] });
  return JSON.stringify({
    gateway: { mode: "local", bind: "loopback", auth: { mode: "token", token: GATEWAY_TOKEN } },
    update: { checkOnStart: false },
    ...openclawModelsConfig({ routerAddress: PROVIDER_IP, tokenFile: `${STATE_DIR}/.octw/router-token`, inference }),
    agents: { defaults: { model: { primary: "openai/gpt-mv" } } },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The test network (internal) and the provider on one engine. */
async function prepareHost(docker: Dockerode): Promise<void> {
  await docker.createNetwork({ Name: NETWORK, Driver: "bridge", Internal: true, Labels: labels("net"), IPAM: { Config: [{ Subnet: SUBNET }] } });
  const c = await docker.createContainer({
    name: `${prefix}-provider`, Image: image, User: "10010:10010", Labels: labels("provider"),
    Entrypoint: ["/usr/local/bin/node", "-e", PROVIDER],
    HostConfig: { NetworkMode: NETWORK, ReadonlyRootfs: true, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"] },
    NetworkingConfig: { EndpointsConfig: { [NETWORK]: { IPAMConfig: { IPv4Address: PROVIDER_IP } } } },
  });
  await c.start();
}

interface Call {
  at: number;
  body: { tools?: unknown[]; messages?: { role: string; content: unknown }[] };
}

async function providerCalls(docker: Dockerode): Promise<Call[]> {
  const r = await execIn(docker, `${prefix}-provider`, ["/usr/local/bin/node", "-e", 'require("http").get("http://127.0.0.1:8080/__calls", r => { let b = ""; r.on("data", c => b += c); r.on("end", () => process.stdout.write(b)); })']);
  return JSON.parse(r.stdout) as Call[];
}

const textOf = (content: unknown): string =>
  typeof content === "string" ? content : Array.isArray(content) ? content.map((p) => { const t = (p as { text?: unknown }).text; return typeof t === "string" ? t : ""; }).join("") : "";

/** The agent turn's request for `nonce` (an agent turn offers tools; OpenClaw's side requests, e.g. the activity recap, do not). */
async function turnRequest(docker: Dockerode, nonce: string): Promise<Call> {
  const found = (await providerCalls(docker)).filter((c) => c.body.tools && (c.body.messages ?? []).some((m) => m.role === "user" && textOf(m.content).includes(`remember ${nonce}`)));
  expect(found.length, `agent requests naming ${nonce}`).toBeGreaterThan(0);
  // the turn's own request is the one whose last conversation message is it
  return found.find((c) => history(c, [nonce]).at(-1) === "user:0") ?? found[0]!;
}

/** The conversation a request carries, as `user:<i>` / `assistant:<i>` for the i-th of `nonces`; anything else is left out. */
function history(c: Call, nonces: string[]): string[] {
  const out: string[] = [];
  for (const m of c.body.messages ?? []) {
    const t = textOf(m.content);
    if (t.includes("INTERNAL_CONTEXT")) continue;
    const i = nonces.findIndex((n) => (m.role === "user" ? t.includes(`remember ${n}`) : m.role === "assistant" && t.trim() === `ack:${n}`));
    if (i >= 0) out.push(`${m.role}:${i}`);
  }
  return out;
}

const START_CHANGED = "SESSION_WORK_START_CHANGED";
const newNonce = (tenant: string, n: number) => `nonce-${tenant}-${n}-${randomBytes(3).toString("hex")}`;

/** One turn of the conversation through the gateway; returns its nonce. */
async function turn(docker: Dockerode, tenant: string, n: number, o: { session?: string; nonce?: string; slow?: boolean; retryIfStartChanged?: boolean } = {}): Promise<string> {
  const session = o.session ?? SESSION;
  const nonce = o.nonce ?? newNonce(tenant, n);
  const t = Date.now();
  const send = () => execIn(docker, gatewayName(prefix, tenant), ["openclaw", "agent", "--session-id", session, "--json", "--timeout", "180", "-m", `Turn ${n}: remember ${nonce}.${o.slow ? " (slow)" : ""}`], { timeoutMs: 300_000 });
  let r = await send();
  // OpenClaw's answer while it is still busy with the session (after a killed run it takes the
  // run up again on start): "Retry" — as a client does, every 3 s for up to a minute
  for (let retries = 1; o.retryIfStartChanged && r.stdout.includes(START_CHANGED) && retries <= 20; retries++) {
    report[`${tenant}Turn${n}Retries`] = retries;
    await sleep(3_000);
    r = await send();
  }
  report[`${tenant}Turn${n}Ms`] = Date.now() - t;
  const out = r.stdout.slice(Math.max(0, r.stdout.indexOf("{")));
  let j: { status?: string; result?: { payloads?: { text?: string }[]; meta?: { agentMeta?: { sessionId?: string } } } } = {};
  try {
    j = JSON.parse(out) as typeof j;
  } catch {
    // the assertion below shows the output
  }
  expect(j.status, `turn ${n} of ${tenant}: exit ${r.exitCode}\n${r.stdout.slice(-600)}\n${r.stderr.slice(-600)}`).toBe("ok");
  expect(j.result?.meta?.agentMeta?.sessionId).toBe(session);
  expect(j.result?.payloads?.map((p) => p.text).join("")).toBe(`ack:${nonce}`);
  return nonce;
}

/** The gateway's readiness endpoint, asked from inside its container (it listens on loopback). */
async function isReady(docker: Dockerode, tenant: string): Promise<boolean> {
  const probe = `exec 3<>/dev/tcp/127.0.0.1/18789 && printf 'GET /readyz HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 && head -n1 <&3`;
  const r = await execIn(docker, gatewayName(prefix, tenant), ["bash", "-c", probe], { timeoutMs: 10_000 }).catch(() => undefined);
  return r?.exitCode === 0 && / 200 /.test(r.stdout);
}

/** Polls readiness every 200 ms; resolves with the time it first answered 200. */
async function waitReady(docker: Dockerode, tenant: string, timeoutMs = 300_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await isReady(docker, tenant)) return Date.now();
    const s = await docker.getContainer(gatewayName(prefix, tenant)).inspect();
    if (!s.State.Running && s.State.Status !== "restarting") throw new Error(`the gateway of ${tenant} exited (${s.State.ExitCode})`);
    if (Date.now() > end) throw new Error(`the gateway of ${tenant} was not ready within ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** Creates and starts the tenant's OpenClaw gateway (what `pulumi up` creates on its host). */
async function startGateway(docker: Dockerode, tenant: string): Promise<void> {
  const c = await docker.createContainer({
    name: gatewayName(prefix, tenant), Image: image, User: TEST_GATEWAY_USER, Hostname: `${tenant}-gateway`, Labels: labels(tenant),
    HostConfig: { ...gatewayHostConfig(stateVolumeName(prefix, tenant)), NetworkMode: NETWORK, RestartPolicy: { Name: "unless-stopped" } },
  });
  await c.start();
}

/** The tenant's state volume on A: the markers, then OpenClaw's config. Returns the markers' index. */
async function seed(tenant: string): Promise<TarEntry[]> {
  const volume = stateVolumeName(prefix, tenant);
  await h.dk.createVolume({ Name: volume, Labels: labels(tenant) });
  await runToEnd(h.dk, image, SEED_MARKERS, volume, [`BIG=${1 << 20}`, `TENANT=${tenant}`, `OWNER=${GATEWAY_UID}`], labels("seed"));
  const markers = await volumeIndex(run, h.A, tenant);
  await runToEnd(h.dk, image, `printf %s "$CFG" > /state/openclaw.json && chown ${GATEWAY_UID}:${GATEWAY_UID} /state/openclaw.json && chmod 600 /state/openclaw.json`, volume, [`CFG=${gatewayConfig()}`], labels("seed"));
  return markers;
}

/** The markers' entries as they are now on `e`. */
async function markersOn(e: Engine, tenant: string, original: TarEntry[]): Promise<TarEntry[]> {
  const paths = new Set(original.map((x) => x.path));
  return volumeIndex(run, e, tenant, (p) => !paths.has(p));
}

/** OpenClaw's session store: the transcript rows, read by the gateway's own node (read-only) while it runs. */
async function transcript(docker: Dockerode, tenant: string): Promise<unknown[]> {
  const script = `const {DatabaseSync}=require('node:sqlite');const d=new DatabaseSync('${STATE_DIR}/agents/main/agent/openclaw-agent.sqlite',{readOnly:true});process.stdout.write(JSON.stringify(d.prepare('SELECT * FROM transcript_events ORDER BY rowid').all()))`;
  const r = await execIn(docker, gatewayName(prefix, tenant), ["node", "-e", script], { timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new Error(`reading the transcript of ${tenant} failed: ${r.stderr.slice(0, 400)}`);
  return JSON.parse(r.stdout) as unknown[];
}

/** OpenClaw's gateway owner lease: written at start, removed on a clean stop. */
const LEASE = /^tmp\/openclaw-[0-9]+\/gateway\.[^/]*lock$/;

/** The files OpenClaw keeps sessions in (its SQLite stores and their WAL), by path → sha256. */
const SESSION_FILES = /^(agents|state)\//;
async function sessionFiles(e: Engine, tenant: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const x of await volumeIndex(run, e, tenant)) if (SESSION_FILES.test(x.path) && x.sha256) out[x.path] = x.sha256;
  return out;
}

/** The operator's `pulumi up` with the new pin: the gateway gone on A, created on B (the volume is retainOnDelete); measures until B's gateway is ready. */
function switchToB(tenant: string, seen: { filesA?: Record<string, string>; filesB?: Record<string, string>; leasesOnB?: string[]; readyAt?: number; createdAt?: number }) {
  return async () => {
    // before anything runs on B: B's session files are A's (A's gateway stopped at quiesce)
    seen.filesA = await sessionFiles(h.A, tenant);
    seen.filesB = await sessionFiles(h.B, tenant);
    seen.leasesOnB = (await volumeIndex(run, h.B, tenant)).map((x) => x.path).filter((p) => LEASE.test(p));
    await h.dk.getContainer(gatewayName(prefix, tenant)).remove({ force: true });
    seen.createdAt = Date.now();
    await startGateway(h.sb.docker, tenant);
    seen.readyAt = await waitReady(h.sb.docker, tenant);
  };
}

const moveOptions = (tenant: string, extra: Partial<MoveOptions> = {}): MoveOptions => ({
  tenant, from: h.A, to: h.B, prefix, key, dir, stopGraceS: 30, audit: directAudit(pool), actor: "octw-cli:conformance", ...extra,
});

/** A gateway on A with two turns of the conversation; returns their nonces and the markers. */
async function conversationOnA(tenant: string): Promise<{ nonces: string[]; markers: TarEntry[] }> {
  const markers = await seed(tenant);
  const t = Date.now();
  await startGateway(h.dk, tenant);
  await waitReady(h.dk, tenant);
  report[`${tenant}GatewayStartAMs`] = Date.now() - t;
  const nonces = [await turn(h.dk, tenant, 1), await turn(h.dk, tenant, 2)];
  // positive control of the history check: turn 2's request carries turn 1
  expect(history(await turnRequest(h.dk, nonces[1]!), nonces)).toEqual(["user:0", "assistant:0", "user:1"]);
  return { nonces, markers };
}

/** A gateway on A after turn 1, with turn 2 sent and waiting for the (slow) model's answer: `running` is that turn. */
async function secondTurnWaitingOnA(tenant: string): Promise<{ markers: TarEntry[]; nonces: string[]; running: Promise<string> }> {
  const markers = await seed(tenant);
  await startGateway(h.dk, tenant);
  await waitReady(h.dk, tenant);
  const nonces = [await turn(h.dk, tenant, 1), newNonce(tenant, 2)];
  const running = turn(h.dk, tenant, 2, { nonce: nonces[1]!, slow: true });
  // awaited by the caller; until then a rejection must not count as unhandled
  void running.catch(() => undefined);
  for (const end = Date.now() + 120_000; !(await providerCalls(h.dk)).some((c) => c.body.tools && history(c, nonces).at(-1) === "user:1"); ) {
    if (Date.now() > end) throw new Error(`turn 2 of ${tenant} never reached the provider`);
    await sleep(200);
  }
  return { markers, nonces, running };
}

/** Turn 3 on `docker`: its request carries the whole conversation. */
async function thirdTurnCarriesHistory(docker: Dockerode, tenant: string, nonces: string[]): Promise<void> {
  const third = await turn(docker, tenant, 3);
  expect(history(await turnRequest(docker, third), [...nonces, third])).toEqual(["user:0", "assistant:0", "user:1", "assistant:1", "user:2"]);
}

async function auditTrail(tenant: string): Promise<{ verified: string; actions: string[] }> {
  const env = { OCTW_AUDIT_DATABASE_URL: h.audit.ownerUrl };
  const verify = await octw(["audit", "verify", "--tenant", tenant], env);
  const tail = await octw(["audit", "tail", "--tenant", tenant], env);
  return { verified: verify.stdout.trim(), actions: tail.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { action: string }).action) };
}

const loadavg = () => readFileSync("/proc/loadavg", "utf8").trim().split(" ").slice(0, 3).join(" ");

beforeAll(async () => {
  image = requireEnv("OCTW_IMAGE_OPENCLAW");
  report.cpus = cpus().length;
  report.loadAtStart = loadavg();
  hosts = await startMoveHosts(run, [image], TENANTS);
  h = hosts as MoveHosts;
  pool = new pg.Pool({ connectionString: h.audit.ownerUrl, max: 2 });
  for (const docker of [h.dk, h.sb.docker]) await prepareHost(docker);
}, 600_000);

afterAll(async () => {
  await pool?.end();
  await stopMoveHosts(run, hosts, "tenant move (OpenClaw)");
}, 300_000);

describe("octw tenant move a → b of a real OpenClaw gateway with a running conversation", () => {
  it("the conversation continues on B with its history; transcript, session files and markers intact; audit chain verifies; downtime measured", async () => {
    const tenant = "oc";
    const { nonces, markers } = await conversationOnA(tenant);
    const before = await transcript(h.dk, tenant);
    for (const n of nonces) expect(JSON.stringify(before)).toContain(n);
    const loadBefore = loadavg();
    const seen: Parameters<typeof switchToB>[1] = {};
    const t = Date.now();
    const j = await moveTenant(moveOptions(tenant, { switchPlacement: switchToB(tenant, seen) }));
    const wall = Date.now() - t;
    expect(j.state).toBe("done");
    // B's session files were A's, byte for byte, before B's gateway started
    expect(Object.keys(seen.filesA!).length).toBeGreaterThan(0);
    expect(Object.keys(seen.filesA!).some((p) => p.startsWith("agents/main/agent/openclaw-agent.sqlite"))).toBe(true);
    expect(seen.filesB).toEqual(seen.filesA);
    // OpenClaw stopped cleanly within the grace: it released its owner lease
    expect(seen.leasesOnB).toEqual([]);
    // the old copy is gone from A; B's gateway answers its readiness endpoint
    expect(await h.A.volume(stateVolumeName(prefix, tenant))).toBeUndefined();
    expect(await isReady(h.sb.docker, tenant)).toBe(true);
    // the transcript on B begins with everything A's had
    const after = await transcript(h.sb.docker, tenant);
    expect(after.slice(0, before.length)).toEqual(before);
    await thirdTurnCarriesHistory(h.sb.docker, tenant, nonces);
    // negative control: a turn in another session on B carries none of the conversation
    const other = await turn(h.sb.docker, tenant, 9, { session: "octw-move-other-session" });
    expect(history(await turnRequest(h.sb.docker, other), [...nonces, other])).toEqual(["user:2"]);
    expect(await markersOn(h.B, tenant, markers)).toEqual(markers);
    const trail = await auditTrail(tenant);
    expect(trail.verified).toContain(`${tenant}: ok (5 events verified)`);
    expect(trail.actions.slice(3)).toEqual(["tenant.move.started", "tenant.move.completed"]);
    const quiescedAt = Date.parse(j.quiescedAt!);
    Object.assign(report, {
      moveWallMs: wall, moveStepMs: j.stepMs, moveBytes: j.bytes, moveEntries: j.entries,
      downtimeToReadyMs: seen.readyAt! - quiescedAt,
      downtimeJournalMs: Date.parse(j.servingAt!) - quiescedAt,
      gatewayStartBMs: seen.readyAt! - seen.createdAt!,
      loadBeforeMove: loadBefore, loadAfterMove: loadavg(),
    });
    console.log(`OpenClaw move: downtime (quiesce → ready on B) ${seen.readyAt! - quiescedAt} ms, of which B's gateway start ${seen.readyAt! - seen.createdAt!} ms; steps ${JSON.stringify(j.stepMs)}; load ${loadBefore} → ${loadavg()}`);
    await h.sb.docker.getContainer(gatewayName(prefix, tenant)).stop({ t: 30 });
  }, 900_000);

  // verify-copy is the last step before the switch: B holds a complete, verified copy and A's
  // gateway is stopped — the widest pre-switch state to undo (the steps before it leave subsets
  // of it; the stand-in test rolls back after each of them).
  it("stopped after verify-copy and rolled back: A's gateway serves again and the conversation continues there", async () => {
    const tenant = "ocrb";
    const { nonces, markers } = await conversationOnA(tenant);
    await expect(moveTenant(moveOptions(tenant, { stopAfter: "verify-copy" }))).rejects.toBeInstanceOf(MoveStopped);
    expect(await h.B.volume(stateVolumeName(prefix, tenant))).toBeDefined();
    expect((await h.dk.getContainer(gatewayName(prefix, tenant)).inspect()).State.Running).toBe(false);
    const j = await rollbackMove({ tenant, from: h.A, to: h.B, dir, audit: directAudit(pool), actor: "octw-cli:conformance" });
    expect(j.state).toBe("rolled-back");
    expect(await h.B.volume(stateVolumeName(prefix, tenant))).toBeUndefined();
    await waitReady(h.dk, tenant);
    await thirdTurnCarriesHistory(h.dk, tenant, nonces);
    expect(await markersOn(h.A, tenant, markers)).toEqual(markers);
    const trail = await auditTrail(tenant);
    expect(trail.verified).toContain(`${tenant}: ok (5 events verified)`);
    expect(trail.actions.slice(3)).toEqual(["tenant.move.started", "tenant.move.rolled_back"]);
    await h.dk.getContainer(gatewayName(prefix, tenant)).stop({ t: 30 });
  }, 900_000);

  // switch is the one stop after which both copies exist and the real gateway on B already
  // writes its own: the resume must verify A's copy (untouched) and remove it, not trip over B's.
  // Turn 2 is still running when the move begins: the quiesce's SIGTERM lets OpenClaw drain it.
  it("a turn running at quiesce completes; stopped after the switch (B serving, A's copy still there) and resumed: the conversation continues on B", async () => {
    const tenant = "ocsw";
    const { markers, nonces, running } = await secondTurnWaitingOnA(tenant);
    const seen: Parameters<typeof switchToB>[1] = {};
    const t = Date.now();
    const stopped = moveTenant(moveOptions(tenant, { stopAfter: "switch", switchPlacement: switchToB(tenant, seen) }));
    // awaited below; until then a rejection must not count as unhandled
    void stopped.catch(() => undefined);
    // the turn completes with its answer though its gateway is being stopped
    await expect(running).resolves.toBe(nonces[1]);
    await expect(stopped).rejects.toBeInstanceOf(MoveStopped);
    const journal = readJournal(dir, tenant)!;
    report.ocswQuiesceWithTurnRunningMs = journal.stepMs.quiesce;
    report.ocswMoveToSwitchMs = Date.now() - t;
    expect(journal.done.switch).toBeDefined();
    expect(await h.A.volume(stateVolumeName(prefix, tenant))).toBeDefined();
    expect(seen.filesB).toEqual(seen.filesA);
    // B's gateway writes to its copy meanwhile
    const nonce3 = await turn(h.sb.docker, tenant, 3);
    const j = await moveTenant(moveOptions(tenant, { switchPlacement: () => Promise.reject(new Error("the switch is done: a resume must not switch again")) }));
    expect(j.state).toBe("done");
    expect(await h.A.volume(stateVolumeName(prefix, tenant))).toBeUndefined();
    const nonce4 = await turn(h.sb.docker, tenant, 4);
    expect(history(await turnRequest(h.sb.docker, nonce4), [...nonces, nonce3, nonce4])).toEqual(["user:0", "assistant:0", "user:1", "assistant:1", "user:2", "assistant:2", "user:3"]);
    expect(await markersOn(h.B, tenant, markers)).toEqual(markers);
    const trail = await auditTrail(tenant);
    expect(trail.verified).toContain(`${tenant}: ok (5 events verified)`);
    expect(trail.actions.slice(3)).toEqual(["tenant.move.started", "tenant.move.completed"]);
    await h.sb.docker.getContainer(gatewayName(prefix, tenant)).stop({ t: 30 });
  }, 900_000);

  // The other end of the quiesce: a grace shorter than the running turn. The engine kills the
  // gateway mid-turn, so that turn is lost (its client gets an error) and OpenClaw's owner lease
  // stays in the state dir. What was committed before moves intact, and the gateway on B takes
  // the stale lease over because it has the tenant's fixed hostname (as TenantGateway sets it;
  // with another hostname OpenClaw refuses to start for 5 minutes). Measured, not asserted: B's
  // gateway takes the cut run up again (report: ockillTurn2RerunOnB, ockillCarried).
  it("a turn outlasting --stop-grace is cut at quiesce; the committed history and the markers move; B's gateway starts despite the left lease", async () => {
    const tenant = "ockill";
    const { markers, nonces, running } = await secondTurnWaitingOnA(tenant);
    const outcome = running.then(() => "answered", () => "cut");
    const seen: Parameters<typeof switchToB>[1] = {};
    const j = await moveTenant(moveOptions(tenant, { stopGraceS: 1, switchPlacement: switchToB(tenant, seen) }));
    expect(j.state).toBe("done");
    expect(await outcome).toBe("cut");
    expect(seen.leasesOnB!.length).toBeGreaterThan(0);
    expect(seen.filesB).toEqual(seen.filesA);
    expect(await isReady(h.sb.docker, tenant)).toBe(true);
    const nonce3 = await turn(h.sb.docker, tenant, 3, { retryIfStartChanged: true });
    const carried = history(await turnRequest(h.sb.docker, nonce3), [...nonces, nonce3]);
    // turn 1 whole and turn 3 last; what became of the cut turn 2 is OpenClaw's (reported)
    expect(carried.slice(0, 2)).toEqual(["user:0", "assistant:0"]);
    expect(carried.at(-1)).toBe("user:2");
    report.ockillCarried = carried;
    report.ockillTurn2RerunOnB = (await providerCalls(h.sb.docker)).some((c) => c.body.tools && history(c, nonces).at(-1) === "user:1");
    expect(await markersOn(h.B, tenant, markers)).toEqual(markers);
    await h.sb.docker.getContainer(gatewayName(prefix, tenant)).stop({ t: 30 });
  }, 900_000);
});
