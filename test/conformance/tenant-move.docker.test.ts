// Backup, restore and move of a tenant's state volume between two real engines: this test's
// primary engine (host "a") and a second dockerd it starts in a network namespace with TLS
// (host "b", test/realize/second-engine.ts). The tenant's gateway is a stand-in, not OpenClaw:
// a container of the base image running as the tenant's UID, mounting the state volume and
// appending a timestamp line to it every 50 ms — so a move that loses a write, or lets the
// old copy be written after the backup, shows; and the gap in the lines is the downtime as the
// workload saw it. The markers cover what a state volume holds: modes (setgid, 0400, 0711),
// owners (the tenant's, root's, another group), a symlink, a hard link, a long name, an old
// mtime, a large random file.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type Dockerode from "dockerode";
import type { Engine } from "../../packages/cli/src/backup/engine";
import { indexVolume, stateVolumeName, gatewayName } from "../../packages/cli/src/backup/volume";
import { MOVE_STEPS, MoveStopped, moveTenant, readJournal, rollbackMove, journalPath, type MoveStep } from "../../packages/cli/src/backup/move";
import type { TarEntry } from "../../packages/cli/src/backup/tar-index";
import { octw } from "../../packages/cli/test/run-octw";
import type { TestAuditDb } from "../../packages/audit/test/pg-support";
import type { SecondEngine } from "../realize/second-engine";
import { requireEnv } from "./env";
import { execIn } from "./probe-exec";
import { moveRun, runToEnd as runIn, SEED_MARKERS, startMoveHosts, stopMoveHosts, volumeIndex, type MoveHosts } from "./tenant-move-hosts";

const run = moveRun("mv");
const { prefix, dir, keyText, key, keyFile, hostsFile, labels, report } = run;
let hosts: Partial<MoveHosts> = {};
let dk: Dockerode;
let sb: SecondEngine;
let A: Engine;
let B: Engine;
let baseImage: string;
let audit: TestAuditDb;

const STACK = `config:\n  octw:platform:\n    tenants:\n      - id: other\n        slot: 1\n      - id: cli\n        slot: 2\n      - id: clirb\n        slot: 3\n`;

const runToEnd = (d: Dockerode, cmd: string, volume: string, env: string[]) => runIn(d, baseImage, cmd, volume, env, labels("seed"));

/** A tenant's state volume on engine A, with the markers. */
async function seed(tenant: string, bigBytes: number): Promise<void> {
  const volume = stateVolumeName(prefix, tenant);
  await dk.createVolume({ Name: volume, Labels: labels(tenant) });
  await runToEnd(dk, SEED_MARKERS, volume, [`BIG=${bigBytes}`, `TENANT=${tenant}`, "OWNER=4242"]);
}

/** The stand-in gateway: the tenant's UID, no network, appends a line every 50 ms. */
async function startGateway(d: Dockerode, tenant: string): Promise<void> {
  const c = await d.createContainer({
    name: gatewayName(prefix, tenant), Image: baseImage, User: "4242:4242", Labels: labels(tenant),
    // stops on SIGTERM like a real service (bash as PID 1 would ignore it until the grace ends)
    Cmd: ["bash", "-c", "trap 'exit 0' TERM; while :; do date +%s%N >> /state/writes.log; sleep 0.05; done"],
    HostConfig: { NetworkMode: "none", RestartPolicy: { Name: "unless-stopped" }, Mounts: [{ Type: "volume", Source: stateVolumeName(prefix, tenant), Target: "/state" }] },
  });
  await c.start();
}

/** One file's content out of a (stopped or running) container, through the archive endpoint. */
async function readFileOf(d: Dockerode, container: string, path: string): Promise<string> {
  const stream = await d.getContainer(container).getArchive({ path });
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  const tar = Buffer.concat(chunks);
  let at = 0;
  // skip a pax header if there is one
  if (String.fromCharCode(tar[at + 156]!) === "x") at += 512 + Math.ceil(parseInt(tar.subarray(at + 124, at + 136).toString().trim(), 8) / 512) * 512;
  const size = parseInt(tar.subarray(at + 124, at + 136).toString().replace(/\0.*$/s, "").trim(), 8);
  return tar.subarray(at + 512, at + 512 + size).toString("utf8");
}

/** The markers: the volume's index without the gateway's log (which grows while it runs). */
const markers = (e: Engine, tenant: string): Promise<TarEntry[]> => volumeIndex(run, e, tenant, (p) => p === "writes.log");

/** What `pulumi up` with the new pin does to the gateway: gone on the old host, created on the new (the volume is retainOnDelete). */
function switchPlacement(tenant: string, seen: { logOnA?: string }) {
  return async () => {
    const name = gatewayName(prefix, tenant);
    seen.logOnA = await readFileOf(dk, name, "/state/writes.log");
    await dk.getContainer(name).remove({ force: true });
    await startGateway(sb.docker, tenant);
  };
}

beforeAll(async () => {
  baseImage = requireEnv("OCTW_IMAGE_BASE");
  hosts = await startMoveHosts(run, [baseImage], ["cli", "clirb"]);
  ({ dk, sb, A, B, audit } = hosts as MoveHosts);
}, 300_000);

afterAll(() => stopMoveHosts(run, hosts, "tenant move"), 300_000);

const cli = (args: string[], env: Record<string, string> = {}) => octw([...args, "--hosts", hostsFile, "--prefix", prefix], { DOCKER_HOST: requireEnv("DOCKER_HOST"), ...env });

describe("octw backup tenant / restore tenant between two engines", () => {
  const tenant = "rt";
  const archive = join(dir, "rt.octwbak");
  let original: TarEntry[];

  it("backs up through A's Engine API and restores onto B's over TLS: every marker equal (content, mode, owner, link, mtime)", async () => {
    await seed(tenant, 8 << 20);
    original = await markers(A, tenant);
    expect(original.find((e) => e.path === "sub")).toMatchObject({ mode: 0o2750, uid: 4242, gid: 4242 });
    expect(original.find((e) => e.path === "notes/m2.bin")).toMatchObject({ mode: 0o640, uid: 4242, gid: 4243 });
    expect(original.find((e) => e.path === "root-owned")).toMatchObject({ uid: 0, gid: 0 });
    expect(original.find((e) => e.path === "hard.bin")?.type).toMatch(/^[01]$/);
    let t = Date.now();
    const b = await cli(["backup", "tenant", tenant, "--host", "a", "--out", archive, "--key-file", keyFile]);
    report.backup8MiBMs = Date.now() - t;
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    expect(b.stdout + b.stderr).not.toContain(keyText);
    t = Date.now();
    const r = await cli(["restore", "tenant", tenant, "--host", "b", "--from-file", archive, "--key-file", keyFile]);
    report.restore8MiBMs = Date.now() - t;
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await markers(B, tenant)).toEqual(original);
    // the volume root too: the tenant's, 0700
    expect((await indexVolume(B, stateVolumeName(prefix, tenant))).find((e) => e.path === "")).toMatchObject({ mode: 0o700, uid: 4242, gid: 4242 });
    report.archiveBytes8MiB = readFileSync(archive).length;
  });

  it("refuses a non-empty target unless --replace, a wrong key, a changed archive, another tenant's archive — and leaves the target as it was", async () => {
    const before = await markers(B, tenant);
    const again = await cli(["restore", "tenant", tenant, "--host", "b", "--from-file", archive, "--key-file", keyFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("is not empty; pass --replace");
    const wrongKeyFile = join(dir, "wrong.key");
    writeFileSync(wrongKeyFile, randomBytes(32).toString("hex"), { mode: 0o600 });
    const wrong = await cli(["restore", "tenant", tenant, "--host", "b", "--replace", "--from-file", archive, "--key-file", wrongKeyFile]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("the key is not the one this backup was made with");
    const good = readFileSync(archive);
    const bad = Buffer.from(good);
    bad[4096]! ^= 0x20;
    writeFileSync(archive, bad);
    const tampered = await cli(["restore", "tenant", tenant, "--host", "b", "--replace", "--from-file", archive, "--key-file", keyFile]);
    writeFileSync(archive, good);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain("authentication failed");
    const other = await cli(["restore", "tenant", "other", "--host", "b", "--from-file", archive, "--key-file", keyFile]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("another tenant's backup");
    expect(await markers(B, tenant)).toEqual(before);
    // positive control: with --replace and the right key and archive it restores (after content was added on B)
    await runToEnd(sb.docker, "echo extra > /state/extra", stateVolumeName(prefix, tenant), []);
    expect((await markers(B, tenant)).some((e) => e.path === "extra")).toBe(true);
    const replaced = await cli(["restore", "tenant", tenant, "--host", "b", "--replace", "--from-file", archive, "--key-file", keyFile]);
    expect(replaced.stderr).toBe("");
    expect(replaced.stdout).toContain("replaced its content");
    expect(await markers(B, tenant)).toEqual(original);
  });
});

describe("octw tenant move a → b", () => {
  it("moves a tenant with a writing gateway: markers intact, no write lost, old copy removed; downtime measured", async () => {
    const tenant = "mv";
    const big = 64 << 20;
    await seed(tenant, big);
    const original = await markers(A, tenant);
    await startGateway(dk, tenant);
    await new Promise((r) => setTimeout(r, 1000));
    const seen: { logOnA?: string } = {};
    const t = Date.now();
    const j = await moveTenant({ tenant, from: A, to: B, prefix, key, dir, switchPlacement: switchPlacement(tenant, seen), stopGraceS: 5 });
    const wall = Date.now() - t;
    expect(j.state).toBe("done");
    // the old copy is gone from A, the new one serves on B
    expect(await A.volume(stateVolumeName(prefix, tenant))).toBeUndefined();
    expect((await sb.docker.getContainer(gatewayName(prefix, tenant)).inspect()).State.Running).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    // every line written on A is on B, and B went on writing after them
    const onB = (await execIn(sb.docker, gatewayName(prefix, tenant), ["cat", "/state/writes.log"])).stdout;
    expect(seen.logOnA!.length).toBeGreaterThan(0);
    expect(onB.startsWith(seen.logOnA!)).toBe(true);
    expect(onB.length).toBeGreaterThan(seen.logOnA!.length);
    const lastOnA = Number(seen.logOnA!.trim().split("\n").at(-1)!) / 1e6;
    const firstOnB = Number(onB.slice(seen.logOnA!.length).trim().split("\n")[0]!) / 1e6;
    await sb.docker.getContainer(gatewayName(prefix, tenant)).stop({ t: 2 });
    expect(await markers(B, tenant)).toEqual(original);
    Object.assign(report, {
      moveBytes: j.bytes, moveEntries: j.entries, moveWallMs: wall, moveStepMs: j.stepMs,
      downtimeJournalMs: Date.parse(j.servingAt!) - Date.parse(j.quiescedAt!),
      downtimeWorkloadMs: Math.round(firstOnB - lastOnA),
      archiveBytes64MiB: readFileSync(j.archive).length,
    });
  });

  // Each interruption point in turn: the move stops after step k (as a kill between steps would
  // leave it: the journal says k is done). Nothing is lost — A's copy is intact until cleanup —
  // and rerunning resumes to the end with every marker on B.
  const interruptible = MOVE_STEPS.filter((s) => s !== "cleanup");
  it.each(interruptible.map((s, i) => [s, i] as const))("a move stopped after %s loses nothing and resumes to the end", async (step: MoveStep, i: number) => {
    const tenant = `k${i}`;
    await seed(tenant, 1 << 20);
    const original = await markers(A, tenant);
    await startGateway(dk, tenant);
    const seen: { logOnA?: string } = {};
    await expect(moveTenant({ tenant, from: A, to: B, prefix, key, dir, stopAfter: step, switchPlacement: switchPlacement(tenant, seen), stopGraceS: 2 })).rejects.toBeInstanceOf(MoveStopped);
    expect(readJournal(dir, tenant)!.done[step]).toBeDefined();
    // nothing lost: A still has the volume with its markers
    expect(await markers(A, tenant)).toEqual(original);
    const j = await moveTenant({ tenant, from: A, to: B, prefix, key, dir, switchPlacement: switchPlacement(tenant, seen), stopGraceS: 2 });
    expect(j.state).toBe("done");
    expect(await A.volume(stateVolumeName(prefix, tenant))).toBeUndefined();
    await sb.docker.getContainer(gatewayName(prefix, tenant)).stop({ t: 2 });
    expect(await markers(B, tenant)).toEqual(original);
  });

  it.each(["check", "quiesce", "backup", "restore", "verify-copy"] as const)("a move stopped after %s rolls back: A serves again with its markers, B holds nothing", async (step) => {
    const tenant = `r-${step}`;
    await seed(tenant, 1 << 20);
    const original = await markers(A, tenant);
    await startGateway(dk, tenant);
    await expect(moveTenant({ tenant, from: A, to: B, prefix, key, dir, stopAfter: step, stopGraceS: 2 })).rejects.toBeInstanceOf(MoveStopped);
    const j = await rollbackMove({ tenant, from: A, to: B, dir });
    expect(j.state).toBe("rolled-back");
    expect(await B.volume(stateVolumeName(prefix, tenant))).toBeUndefined();
    expect((await dk.getContainer(gatewayName(prefix, tenant)).inspect()).State.Running).toBe(true);
    await dk.getContainer(gatewayName(prefix, tenant)).stop({ t: 2 });
    expect(await markers(A, tenant)).toEqual(original);
  });

  it("killed in the middle of the restore (partial content on B, the journal saying the restore began): the resume replaces it", async () => {
    const tenant = "mid";
    await seed(tenant, 1 << 20);
    const original = await markers(A, tenant);
    await startGateway(dk, tenant);
    await expect(moveTenant({ tenant, from: A, to: B, prefix, key, dir, stopAfter: "backup", stopGraceS: 2 })).rejects.toBeInstanceOf(MoveStopped);
    // what a kill during the PUT leaves: a volume on B with part of the tree, and the journal's mark
    await sb.docker.createVolume({ Name: stateVolumeName(prefix, tenant), Labels: labels(tenant) });
    await runToEnd(sb.docker, "mkdir -p /state/notes && head -c 100 /dev/zero > /state/big.bin", stateVolumeName(prefix, tenant), []);
    const p = journalPath(dir, tenant);
    writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, "utf8")), restoreStarted: true }));
    const seen: { logOnA?: string } = {};
    const j = await moveTenant({ tenant, from: A, to: B, prefix, key, dir, switchPlacement: switchPlacement(tenant, seen), stopGraceS: 2 });
    expect(j.state).toBe("done");
    await sb.docker.getContainer(gatewayName(prefix, tenant)).stop({ t: 2 });
    expect(await markers(B, tenant)).toEqual(original);
  });

  it("refuses to start a move onto a host that already holds data for the tenant (without a journal saying it is this move's)", async () => {
    const tenant = "busy";
    await seed(tenant, 1024);
    await sb.docker.createVolume({ Name: stateVolumeName(prefix, tenant), Labels: labels(tenant) });
    await runToEnd(sb.docker, "echo other > /state/other", stateVolumeName(prefix, tenant), []);
    await expect(moveTenant({ tenant, from: A, to: B, prefix, key, dir })).rejects.toThrow(/already holds data/);
    expect((await markers(B, tenant)).map((e) => e.path)).toEqual(["other"]);
    expect(await A.volume(stateVolumeName(prefix, tenant))).toBeDefined();
  });

  it("the CLI stops at the switch and says what to change; after the operator's switch a rerun finishes (exit 3, then 0)", async () => {
    const tenant = "cli";
    await seed(tenant, 1 << 20);
    const original = await markers(A, tenant);
    await startGateway(dk, tenant);
    const env = { OCTW_BACKUP_KEY: keyText, OCTW_AUDIT_DATABASE_URL: audit.ownerUrl };
    const stackFile = join(dir, "Pulumi.cli.yaml");
    writeFileSync(stackFile, STACK);
    const first = await cli(["tenant", "move", tenant, "--to", "b", "--journal-dir", dir, "--stack-file", stackFile], env);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(3);
    expect(first.stdout).toContain(`the pin of tenant ${tenant} is now host "b" in ${stackFile}: review it, run \`pulumi up\``);
    expect(readFileSync(stackFile, "utf8")).toBe(STACK.replace("      - id: cli\n", '      - id: cli\n        host: "b"\n'));
    expect(first.stdout + first.stderr).not.toContain(keyText);
    expect(readJournal(dir, tenant)!.state).toBe("awaiting-switch");
    // the operator's `pulumi up` with the new pin
    await switchPlacement(tenant, {})();
    const second = await cli(["tenant", "move", tenant, "--to", "b", "--from", "a", "--journal-dir", dir], env);
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/moved cli from a to b: .* downtime \d+ ms/);
    expect(existsSync(readJournal(dir, tenant)!.archive)).toBe(true);
    // the tenant's audit chain records the move once (two runs) and verifies across it
    const verify = await octw(["audit", "verify", "--tenant", tenant], { OCTW_AUDIT_DATABASE_URL: audit.ownerUrl });
    expect(verify.stdout).toContain(`${tenant}: ok (5 events verified)`);
    const tail = await octw(["audit", "tail", "--tenant", tenant], { OCTW_AUDIT_DATABASE_URL: audit.ownerUrl });
    const trail = tail.stdout.trim().split("\n").map((l) => JSON.parse(l) as { action: string; actor: string; details: Record<string, unknown> });
    expect(trail.map((e) => e.action)).toEqual(["edge.auth.allowed", "edge.auth.allowed", "edge.auth.allowed", "tenant.move.started", "tenant.move.completed"]);
    expect(trail[4]!.details).toMatchObject({ from: "a", to: "b" });
    expect(trail[4]!.details.contentDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof trail[4]!.details.downtimeMs).toBe("number");
    expect(trail[4]!.actor).toMatch(/^octw-cli:/);
    await sb.docker.getContainer(gatewayName(prefix, tenant)).stop({ t: 2 });
    expect(await markers(B, tenant)).toEqual(original);
  });

  it("the CLI rolls back a move waiting at the switch: the pin goes back, B's copy is removed, A's gateway runs again", async () => {
    const tenant = "clirb";
    await seed(tenant, 1 << 20);
    const original = await markers(A, tenant);
    await startGateway(dk, tenant);
    const env = { OCTW_BACKUP_KEY: keyText, OCTW_AUDIT_DATABASE_URL: audit.ownerUrl };
    const stackFile = join(dir, "Pulumi.clirb.yaml");
    writeFileSync(stackFile, STACK);
    const first = await cli(["tenant", "move", tenant, "--to", "b", "--journal-dir", dir, "--stack-file", stackFile], env);
    expect(first.code).toBe(3);
    expect(readFileSync(stackFile, "utf8")).toContain('- id: clirb\n        host: "b"');
    expect(await B.volume(stateVolumeName(prefix, tenant))).toBeDefined();
    const rb = await cli(["tenant", "move", tenant, "--to", "b", "--from", "a", "--journal-dir", dir, "--rollback"], env);
    expect(rb.stderr).toBe("");
    expect(rb.code).toBe(0);
    expect(rb.stdout).toContain(`the pin of ${tenant} in ${stackFile} is host "a" again`);
    expect(readFileSync(stackFile, "utf8")).toContain('- id: clirb\n        host: "a"');
    const tail = await octw(["audit", "tail", "--tenant", tenant], { OCTW_AUDIT_DATABASE_URL: audit.ownerUrl });
    expect(tail.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { action: string }).action).slice(3)).toEqual(["tenant.move.started", "tenant.move.rolled_back"]);
    expect((await octw(["audit", "verify", "--tenant", tenant], { OCTW_AUDIT_DATABASE_URL: audit.ownerUrl })).code).toBe(0);
    expect(await B.volume(stateVolumeName(prefix, tenant))).toBeUndefined();
    expect((await dk.getContainer(gatewayName(prefix, tenant)).inspect()).State.Running).toBe(true);
    await dk.getContainer(gatewayName(prefix, tenant)).stop({ t: 2 });
    expect(await markers(A, tenant)).toEqual(original);
  });
});
