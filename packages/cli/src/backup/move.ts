// `octw tenant move`: a tenant's state from one host's engine to another's, as a journaled
// sequence of steps. Each step is recorded in the journal file when it is done (written
// atomically), so a move interrupted anywhere — a crash, a lost connection, an operator's ^C —
// is resumed from the first step not done, or rolled back. The old copy is the way back until
// the very last step: nothing removes it before the new copy is verified and serving.
// docs/tenant-move.md describes the sequence and its failure handling.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AuditEventInput } from "@octw/audit";
import type { BackupKey } from "./backup-key";
import { manifestPath, readManifest } from "./archive-file";
import type { Engine } from "./engine";
import { backupVolume, gatewayName, indexVolume, restoreVolume, stateVolumeName, verifyVolume, volumeIsEmpty } from "./volume";
import { indexDigest } from "./tar-index";
import { pinInStackFile, pinOf } from "./stack-pin";

export const MOVE_STEPS = ["check", "quiesce", "backup", "restore", "verify-copy", "switch", "verify", "cleanup"] as const;
export type MoveStep = (typeof MOVE_STEPS)[number];

export interface MoveJournal {
  version: 1;
  tenant: string;
  from: string;
  to: string;
  volume: string;
  gateway: string;
  archive: string;
  startedAt: string;
  state: "in-progress" | "awaiting-switch" | "done" | "rolled-back";
  done: Partial<Record<MoveStep, string>>;
  /** the restore step began: the target volume's content is this move's (it may be replaced) */
  restoreStarted?: boolean;
  /** the target volume did not exist before this move (rollback removes it) */
  targetCreated?: boolean;
  gatewayWasRunning?: boolean;
  /** the stack config file this move wrote the pin into, and the pin before (null: none) */
  pinFile?: string;
  previousPin?: string | null;
  /** the stopped gateway's start time: if it changes, something started it during the move */
  gatewayStartedAt?: string;
  quiescedAt?: string;
  servingAt?: string;
  bytes?: number;
  entries?: number;
  stepMs: Partial<Record<MoveStep, number>>;
}

export class MoveStopped extends Error {
  constructor(
    readonly journal: MoveJournal,
    message: string,
  ) {
    super(message);
    this.name = "MoveStopped";
  }
}

export interface MoveOptions {
  tenant: string;
  from: Engine;
  to: Engine;
  prefix: string;
  key: BackupKey;
  /** where journals and archives are kept */
  dir: string;
  /** The placement switch (the operator's `pulumi up` with the new pin). Absent: the move stops at "switch" and says what to change. */
  switchPlacement?: (j: MoveJournal) => Promise<void>;
  /** The stack config file (stacks/Pulumi.<stack>.yaml): the switch writes the tenant's pin there first. */
  stackFile?: string;
  /** Stop (as if killed) after this step: for inspection, and for the tests of every interruption. */
  stopAfter?: MoveStep;
  /** Seconds a stopping gateway gets (default DEFAULT_STOP_GRACE_S). */
  stopGraceS?: number;
  /** Waits for the target gateway to run after the switch. */
  servingTimeoutMs?: number;
  log?: (line: string) => void;
  /** Where the move is recorded in the tenant's audit chain (tenant.move.started|completed|rolled_back); a failed record fails the step. */
  audit?: { record(event: AuditEventInput): Promise<void> };
  actor?: string;
}

/**
 * How long the quiesce's stop waits before the engine kills the gateway. OpenClaw drains on
 * SIGTERM: an agent turn already running finishes (its answer reaches the user and the
 * transcript) before it exits — idle, it stops in well under a second. A turn still running when
 * the grace ends is cut by SIGKILL: its client gets an error instead of the answer (OpenClaw on
 * the target takes the committed run up again when it starts), and the gateway's owner lease
 * stays in the state dir (the gateway on the target takes it over only because it has the same
 * fixed hostname). OpenClaw's own stop budget is 330 s; the default here keeps the worst-case
 * downtime short, `--stop-grace` trades it for longer turns.
 */
export const DEFAULT_STOP_GRACE_S = 30;
export const MAX_STOP_GRACE_S = 3600;

/** `--stop-grace <seconds>`: a whole number from 1 to MAX_STOP_GRACE_S. */
export function stopGraceArg(value: string): number {
  const n = /^[0-9]{1,4}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_STOP_GRACE_S)) throw new Error(`--stop-grace: must be a whole number of seconds from 1 to ${MAX_STOP_GRACE_S}`);
  return n;
}

export const journalPath = (dir: string, tenant: string) => join(dir, `${tenant}.move.json`);

function writeAtomically(path: string, text: string, mode?: number): void {
  writeFileSync(`${path}.tmp`, text, mode === undefined ? {} : { mode });
  renameSync(`${path}.tmp`, path);
}

function save(dir: string, j: MoveJournal): void {
  writeAtomically(journalPath(dir, j.tenant), JSON.stringify(j, null, 2) + "\n", 0o600);
}

export function readJournal(dir: string, tenant: string): MoveJournal | undefined {
  const p = journalPath(dir, tenant);
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, "utf8")) as MoveJournal;
}

async function gatewayRunning(engine: Engine, name: string): Promise<{ running: boolean; startedAt?: string; mounts?: string[] }> {
  const c = await engine.container(name);
  if (!c) return { running: false };
  return { running: c.State.Running, startedAt: c.State.StartedAt, mounts: c.Mounts.filter((m) => m.Type === "volume").map((m) => m.Name ?? "") };
}

/** The target serves: its gateway runs with the tenant's volume; the source's does not run. */
async function servingOnTarget(o: MoveOptions, j: MoveJournal): Promise<string | undefined> {
  const t = await gatewayRunning(o.to, j.gateway);
  if (!t.running) return `the gateway ${j.gateway} is not running on host ${j.to}`;
  if (!t.mounts?.includes(j.volume)) return `the gateway on host ${j.to} does not mount ${j.volume}`;
  if ((await gatewayRunning(o.from, j.gateway)).running) return `the gateway ${j.gateway} still runs on host ${j.from}`;
  return undefined;
}

function runCommand(cmd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn("/bin/sh", ["-c", cmd], { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...env } });
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`--switch-command exited with ${code ?? "a signal"}`))));
  });
}

export function switchCommand(cmd: string): (j: MoveJournal) => Promise<void> {
  return (j) => runCommand(cmd, { OCTW_MOVE_TENANT: j.tenant, OCTW_MOVE_FROM: j.from, OCTW_MOVE_TO: j.to });
}

/** Starts or resumes the move of `tenant`. Returns the finished journal; throws MoveStopped when it stops before the end. */
export async function moveTenant(o: MoveOptions): Promise<MoveJournal> {
  const log = o.log ?? (() => undefined);
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  let j = readJournal(o.dir, o.tenant);
  if (j) {
    if (j.state === "done" || j.state === "rolled-back") throw new Error(`tenant ${o.tenant}: the journal ${journalPath(o.dir, o.tenant)} records a finished move (${j.state}); remove it to move again`);
    if (j.from !== o.from.endpoint.name || j.to !== o.to.endpoint.name) throw new Error(`tenant ${o.tenant}: a move ${j.from} → ${j.to} is in progress; resume it with --to ${j.to} or roll it back with --rollback`);
    log(`resuming the move of ${o.tenant} ${j.from} → ${j.to}: done ${Object.keys(j.done).join(", ") || "nothing"}`);
  } else {
    if (o.from.endpoint.name === o.to.endpoint.name) throw new Error("--to: must be another host than the tenant's (--from)");
    j = {
      version: 1, tenant: o.tenant, from: o.from.endpoint.name, to: o.to.endpoint.name,
      volume: stateVolumeName(o.prefix, o.tenant), gateway: gatewayName(o.prefix, o.tenant),
      archive: join(o.dir, `${o.tenant}-${new Date().toISOString().replace(/[:.]/g, "")}.octwbak`),
      startedAt: new Date().toISOString(), state: "in-progress", done: {}, stepMs: {},
    };
    save(o.dir, j);
  }
  const journal = j;
  const steps: Record<MoveStep, () => Promise<void>> = {
    async check() {
      if (!(await o.from.volume(journal.volume))) throw new Error(`host ${journal.from}: volume ${journal.volume} does not exist: nothing to move`);
      const target = await o.to.volume(journal.volume);
      if (target && !journal.restoreStarted && !(await volumeIsEmpty(o.to, journal.volume))) {
        throw new Error(`host ${journal.to}: volume ${journal.volume} already holds data (another copy of this tenant, or a gateway created there before the move): resolve it first`);
      }
      journal.targetCreated = journal.targetCreated ?? !target;
    },
    async quiesce() {
      const g = await gatewayRunning(o.from, journal.gateway);
      // on a resume after a stop, "was running" is what the first attempt saw
      journal.gatewayWasRunning = journal.gatewayWasRunning ?? g.running;
      journal.quiescedAt = journal.quiescedAt ?? new Date().toISOString();
      if (g.running) await o.from.stop(journal.gateway, o.stopGraceS ?? DEFAULT_STOP_GRACE_S);
      journal.gatewayStartedAt = (await gatewayRunning(o.from, journal.gateway)).startedAt;
    },
    async backup() {
      await assertStillQuiet(o, journal);
      for (const f of [journal.archive, manifestPath(journal.archive), `${journal.archive}.partial`]) rmSync(f, { force: true });
      const b = await backupVolume({ engine: o.from, volume: journal.volume, tenant: journal.tenant, file: journal.archive, key: o.key });
      // nothing may have run while the archive was read
      await assertStillQuiet(o, journal);
      journal.bytes = b.manifest.plaintextBytes;
      journal.entries = b.entries.length;
    },
    async restore() {
      await assertStillQuiet(o, journal);
      // only a copy this move began may be replaced: on the first attempt a target that filled
      // up since the check is refused, not overwritten
      const ours = journal.restoreStarted === true;
      journal.restoreStarted = true;
      save(o.dir, journal);
      await restoreVolume({ engine: o.to, volume: journal.volume, file: journal.archive, key: o.key, replace: ours });
    },
    async ["verify-copy"]() {
      const m = await readManifest(journal.archive, o.key, "tenant-volume");
      await verifyVolume(o.to, journal.volume, m);
      // and the source is still what was copied: nothing wrote there since
      if (indexDigest(await indexVolume(o.from, journal.volume)) !== m.contentDigest) throw new Error(`host ${journal.from}: volume ${journal.volume} changed after the backup: roll back and move again`);
    },
    async switch() {
      const serving = await servingOnTarget(o, journal);
      if (serving === undefined) return; // switched by the operator before this resume
      if (o.stackFile) {
        const text = readFileSync(o.stackFile, "utf8");
        const current = pinOf(text, journal.tenant);
        if (journal.pinFile === undefined) journal.previousPin = current ?? null;
        journal.pinFile = o.stackFile;
        if (current !== journal.to) writeAtomically(o.stackFile, pinInStackFile(text, journal.tenant, journal.to));
        save(o.dir, journal);
      }
      if (!o.switchPlacement) {
        journal.state = "awaiting-switch";
        save(o.dir, journal);
        const change = o.stackFile
          ? `the pin of tenant ${journal.tenant} is now host "${journal.to}" in ${o.stackFile}: review it, run \`pulumi up\``
          : `set the pin of tenant ${journal.tenant} to host "${journal.to}" in the platform config (tenants[].host), run \`pulumi up\``;
        throw new MoveStopped(journal, `the copy on host ${journal.to} is verified. Now switch the placement: ${change}, then resume: octw tenant move ${journal.tenant} --from ${journal.from} --to ${journal.to}`);
      }
      await o.switchPlacement(journal);
    },
    async verify() {
      const deadline = Date.now() + (o.servingTimeoutMs ?? 120_000);
      let why: string | undefined;
      while ((why = await servingOnTarget(o, journal)) !== undefined) {
        if (Date.now() > deadline) throw new Error(`after the switch: ${why}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      journal.servingAt = journal.servingAt ?? new Date().toISOString();
      // the old copy must still be the backup's content: it is the way back until cleanup
      const m = await readManifest(journal.archive, o.key, "tenant-volume");
      if (indexDigest(await indexVolume(o.from, journal.volume)) !== m.contentDigest) throw new Error(`host ${journal.from}: the old copy changed after the backup: not removing it`);
    },
    async cleanup() {
      const users = await o.from.containersUsing(journal.volume);
      if (users.length) throw new Error(`host ${journal.from}: volume ${journal.volume} is still used by ${users.map((u) => u.Names[0] ?? u.Id.slice(0, 12)).join(", ")} (did \`pulumi up\` remove the tenant's containers there?); resume when they are gone`);
      if (await o.from.volume(journal.volume)) await o.from.removeVolume(journal.volume);
    },
  };
  for (const step of MOVE_STEPS) {
    if (journal.done[step]) continue;
    // before anything is stopped: the tenant's trail says a move began (idempotent on resume)
    if (step === "quiesce") await record(o, journal, "started", {});
    const t = Date.now();
    journal.state = "in-progress";
    await steps[step]();
    journal.done[step] = new Date().toISOString();
    journal.stepMs[step] = Date.now() - t;
    save(o.dir, journal);
    log(`${step}: done in ${journal.stepMs[step]} ms`);
    if (o.stopAfter === step && step !== "cleanup") throw new MoveStopped(journal, `stopped after ${step} (--stop-after); resume with the same command without it`);
  }
  const m = await readManifest(journal.archive, o.key, "tenant-volume");
  await record(o, journal, "completed", {
    bytes: journal.bytes, entries: journal.entries, contentDigest: m.contentDigest, plaintextSha256: m.plaintextSha256,
    downtimeMs: Date.parse(journal.servingAt!) - Date.parse(journal.quiescedAt!),
  });
  journal.state = "done";
  save(o.dir, journal);
  return journal;
}

/** One event of the move in the tenant's chain; the key makes a resumed move record it once. */
async function record(o: Pick<MoveOptions, "audit" | "actor">, j: MoveJournal, phase: "started" | "completed" | "rolled_back", details: Record<string, unknown>): Promise<void> {
  await o.audit?.record({
    tenant: j.tenant, actor: o.actor ?? "octw-cli", action: `tenant.move.${phase}`, target: j.to,
    details: { from: j.from, to: j.to, volume: j.volume, ...details },
    idempotencyKey: `tenant-move:${j.tenant}:${j.startedAt.replace(/[^0-9]/g, "")}:${phase}`,
  });
}

async function assertStillQuiet(o: MoveOptions, j: MoveJournal): Promise<void> {
  const g = await gatewayRunning(o.from, j.gateway);
  if (g.running || g.startedAt !== j.gatewayStartedAt) {
    throw new Error(`host ${j.from}: the gateway ${j.gateway} was started during the move (by the waker or someone else): its state may have changed; roll back (--rollback) and move again`);
  }
}

/**
 * Undoes a move that has not switched: removes the target's copy if this move made it, restarts
 * the source gateway if it was running. After the switch the way back is the placement: the
 * operator sets the pin back and runs `pulumi up` first (the target's gateway must be gone).
 */
export async function rollbackMove(o: Pick<MoveOptions, "tenant" | "from" | "to" | "dir" | "log" | "audit" | "actor">): Promise<MoveJournal> {
  const log = o.log ?? (() => undefined);
  const j = readJournal(o.dir, o.tenant);
  if (!j) throw new Error(`tenant ${o.tenant}: no move journal in ${o.dir}`);
  if (j.state === "done") throw new Error(`tenant ${o.tenant}: the move finished (the old copy is removed); move it back instead`);
  if (j.state === "rolled-back") return j;
  if ((await gatewayRunning(o.to, j.gateway)).running) {
    throw new Error(`tenant ${o.tenant}: its gateway runs on host ${j.to}: set the pin back to "${j.from}", run \`pulumi up\`, then roll back`);
  }
  if (!(await o.from.volume(j.volume))) throw new Error(`host ${j.from}: volume ${j.volume} is gone: rolling back would lose the tenant; resume the move instead`);
  if (j.restoreStarted && j.targetCreated && (await o.to.volume(j.volume))) {
    const users = await o.to.containersUsing(j.volume);
    if (users.length) throw new Error(`host ${j.to}: the copy ${j.volume} is used by ${users.map((u) => u.Names[0] ?? u.Id.slice(0, 12)).join(", ")}: remove them (pulumi up with the old pin) first`);
    await o.to.removeVolume(j.volume);
    log(`removed the copy on host ${j.to}`);
  }
  if (j.pinFile !== undefined) {
    // the pin back (an unpinned tenant gets its old host written: the same placement, explicit)
    const text = readFileSync(j.pinFile, "utf8");
    if (pinOf(text, j.tenant) !== (j.previousPin ?? j.from)) writeAtomically(j.pinFile, pinInStackFile(text, j.tenant, j.previousPin ?? j.from));
    log(`the pin of ${j.tenant} in ${j.pinFile} is host "${j.previousPin ?? j.from}" again`);
  }
  if (j.gatewayWasRunning && (await o.from.container(j.gateway))) {
    await o.from.start(j.gateway);
    log(`restarted ${j.gateway} on host ${j.from}`);
  }
  await record(o, j, "rolled_back", { after: MOVE_STEPS.filter((st) => j.done[st]).at(-1) ?? "nothing" });
  j.state = "rolled-back";
  save(o.dir, j);
  return j;
}
